"""Tetris for black-box policy search (chapter 5): simulators, features, controllers, environment.

- :mod:`pgnotes.tetris.pieces`: the seven tetrominoes and seeded piece sequences;
- :mod:`pgnotes.tetris.features`: Bertsekas, Dellacherie and 8-feature sets, readable definitions;
- :mod:`pgnotes.tetris.reference`: the readable simulator (the definition of the game);
- :mod:`pgnotes.tetris.fast`: the bitboard + numba simulator, tested against the reference;
- :mod:`pgnotes.tetris.env`: the Gymnasium environment ``pgnotes/Tetris-v0``.
- :mod:`pgnotes.tetris.games`: many games on a pool of processes, seeded by each game's place.

Importing this package registers ``pgnotes/Tetris-v0`` with Gymnasium.
"""

from pgnotes.tetris.features import DELLACHERIE_WEIGHTS, FEATURE_SETS, feature_names, n_features
from pgnotes.tetris.pieces import PIECE_NAMES, PieceSource
from pgnotes.tetris.reference import GameResult, Placement, board_from_text, board_to_text

_ENV_ID = "pgnotes/Tetris-v0"


def _register() -> None:
    from gymnasium.envs.registration import register, registry

    if _ENV_ID not in registry:
        register(id=_ENV_ID, entry_point="pgnotes.tetris.env:TetrisEnv")


_register()

__all__ = [
    "DELLACHERIE_WEIGHTS",
    "FEATURE_SETS",
    "GameResult",
    "PIECE_NAMES",
    "PieceSource",
    "Placement",
    "board_from_text",
    "board_to_text",
    "feature_names",
    "n_features",
]
