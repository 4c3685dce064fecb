"""Tetris as a Gymnasium environment at the level of placements: ``pgnotes/Tetris-v0`` (chapter 5).

One step places one piece: the action is ``rotation * width + column`` (``Discrete(4 * width)``),
the piece falls straight down, full rows are removed, and the reward is the number of rows
removed. Not every action is legal for every piece and board; ``info["action_mask"]`` marks
the legal ones (an int8 array of length ``4 * width``). The observation is a dict with the
``board`` (``(height, width)`` int8, **top row first**, as it is drawn) and the current
``piece`` (0..6 = I, O, T, S, Z, J, L). The episode terminates when the next piece has no
legal placement.

An illegal action raises ``ValueError`` saying why, and the board is left as it was
(``invalid_action="raise"``, the default). Gymnasium's ``check_env`` steps with unmasked random
actions, so for it (and for agents that learn to avoid illegal moves) ``invalid_action="end"``
instead ends the episode with reward 0 and ``info["invalid_action"] = True``, board untouched.

The id is registered when :mod:`pgnotes.tetris` is imported; without that import use
``gymnasium.make("pgnotes.tetris:pgnotes/Tetris-v0")``, which imports it first.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pgnotes import _validate
from pgnotes.tetris.fast import Board
from pgnotes.tetris.pieces import N_PIECES, PIECE_NAMES, PieceSource

# Colours of the rgb_array rendering: background, settled cells, the piece just placed, grid.
_COLOURS = np.array([[18, 18, 24], [150, 150, 165], [240, 170, 40], [40, 40, 50]], dtype=np.uint8)


class TetrisEnv(gym.Env):
    """Placement-level Tetris (Gymnasium API), registered as ``pgnotes/Tetris-v0``.

    Parameters
    ----------
    width, height : int
        Board size (default 10 x 20, the research protocol); ``4 <= width <= 60``, ``height >= 4``.
    pieces : {"uniform", "bag"}
        I.i.d. uniform pieces (the protocol) or the 7-bag.
    max_pieces : int, optional
        Truncate the episode after this many pieces (default: never).
    invalid_action : {"raise", "end"}
        What an illegal action does: raise ``ValueError`` (default) or end the episode.
    render_mode : {None, "ansi", "rgb_array"}
        ``"ansi"`` returns the board as text, ``"rgb_array"`` as an image (8 pixels a cell).

    Notes
    -----
    The simulator behind it is :class:`pgnotes.tetris.fast.Board` (``env.unwrapped.board``);
    ``env.unwrapped.placements(kind)`` gives the features of every action for linear
    controllers. Introduced in chapter 5.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    CELL = 8

    def __init__(
        self,
        width: int = 10,
        height: int = 20,
        pieces: str = "uniform",
        max_pieces: int | None = None,
        invalid_action: str = "raise",
        render_mode: str | None = None,
    ):
        self.board = Board(width, height)
        self.width, self.height = self.board.width, self.board.height
        if pieces not in ("uniform", "bag"):
            raise ValueError(f"pieces must be 'uniform' or 'bag', got {pieces!r}")
        if invalid_action not in ("raise", "end"):
            raise ValueError(f"invalid_action must be 'raise' or 'end', got {invalid_action!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.pieces_kind = pieces
        self.max_pieces = None if max_pieces is None else _validate.integer_at_least("max_pieces", max_pieces, 1, None)
        self.invalid_action = invalid_action
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(self.board.n_actions)
        self.observation_space = spaces.Dict(
            {
                "board": spaces.Box(0, 1, shape=(self.height, self.width), dtype=np.int8),
                "piece": spaces.Discrete(N_PIECES),
            }
        )
        self.piece: int | None = None
        self._source: PieceSource | None = None
        self._done = True
        self._last_cells: np.ndarray | None = None

    # -- helpers ----------------------------------------------------------------------
    def _observation(self) -> dict:
        return {"board": self.board.to_array()[::-1].astype(np.int8), "piece": int(self.piece)}

    def _info(self, **extra) -> dict:
        info = {
            "action_mask": self.board.legal_actions(self.piece).astype(np.int8),
            "lines": self.board.lines,
            "pieces": self.board.pieces,
        }
        info.update(extra)
        return info

    def placements(self, kind: str = "bertsekas"):
        """Legality, landing row, lines and features of every action for the current piece."""
        if self.piece is None:
            raise RuntimeError("call reset() first")
        return self.board.placements(self.piece, kind)

    # -- the Gymnasium API --------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start a game on an empty board; return ``(observation, info)``."""
        super().reset(seed=seed)
        self.board = Board(self.width, self.height)
        self._source = PieceSource(self.np_random, self.pieces_kind)
        self.piece = self._source.next()
        self._done = False
        self._last_cells = None
        return self._observation(), self._info()

    def step(self, action):
        """Place the current piece with ``action``; return ``(obs, lines, terminated, truncated, info)``."""
        if self.piece is None or self._done:
            raise RuntimeError("the episode is over (or never started): call reset()")
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or not 0 <= action < self.board.n_actions:
            raise ValueError(f"action must be an integer in [0, {self.board.n_actions - 1}], got {action!r}")
        action = int(action)
        if not self.board.legal_actions(self.piece)[action]:
            if self.invalid_action == "raise":
                self.board.place(self.piece, action)  # raises ValueError saying why; the board is untouched
            self._done = True
            return self._observation(), 0.0, True, False, self._info(invalid_action=True)
        before = self.board.to_array()
        lines = self.board.place(self.piece, action)
        self._last_cells = None if lines else (self.board.to_array() & ~before)
        self.piece = self._source.next()
        terminated = not self.board.legal_actions(self.piece).any()
        truncated = not terminated and self.max_pieces is not None and self.board.pieces >= self.max_pieces
        self._done = terminated or truncated
        return self._observation(), float(lines), terminated, truncated, self._info()

    def render(self):
        """The board as text (``"ansi"``) or as an RGB image (``"rgb_array"``)."""
        if self.render_mode is None or self.piece is None:
            return None
        cells = self.board.to_array()
        if self.render_mode == "ansi":
            rows = ["|" + "".join("#" if c else "." for c in row) + "|" for row in cells[::-1]]
            rows.append("+" + "-" * self.width + "+")
            rows.append(f"lines {self.board.lines}  pieces {self.board.pieces}  next {PIECE_NAMES[self.piece]}")
            return "\n".join(rows) + "\n"
        index = cells.astype(np.int64)
        if self._last_cells is not None:
            index[self._last_cells] = 2
        image = _COLOURS[index[::-1]]
        image = np.repeat(np.repeat(image, self.CELL, axis=0), self.CELL, axis=1)
        image[:: self.CELL, :, :] = _COLOURS[3]
        image[:, :: self.CELL, :] = _COLOURS[3]
        return image
