"""The readable Tetris simulator: boards as boolean arrays, one move at a time (chapter 5).

This is the definition of the game that the fast simulator (:mod:`pgnotes.tetris.fast`) is
tested against. It favours clarity over speed (a few thousand pieces per second).

The rules (Szita & Lőrincz 2006 and most of the literature since): a board of ``width`` x
``height`` cells starts empty; pieces come one at a time and the controller sees only the
current one; it picks a rotation and the column of the piece's left edge, and the piece falls
straight down until it rests on the floor or on a filled cell; full rows are removed and
everything above them moves down; the score is the number of rows removed. A placement is
*legal* when the piece, once dropped, lies entirely inside the board. The game ends when the
current piece has no legal placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgnotes import _validate
from pgnotes.tetris import features as F
from pgnotes.tetris.pieces import N_PIECES, ROTATIONS, PieceSource, rotation_size

#: Limits on the board: every rotation of every piece must fit, and a row must fit in an int64
#: bitboard with room for the walls.
MIN_WIDTH, MAX_WIDTH, MIN_HEIGHT = 4, 60, 4


def check_board_size(width: int, height: int) -> tuple[int, int]:
    """Validate a board size: ``4 <= width <= 60`` and ``height >= 4`` (every piece must fit)."""
    width = _validate.integer_at_least("width", width, MIN_WIDTH)
    height = _validate.integer_at_least("height", height, MIN_HEIGHT, 10**6)
    if width > MAX_WIDTH:
        raise ValueError(f"width must be an integer in [{MIN_WIDTH}, {MAX_WIDTH}], got {width}")
    return width, height


def empty_board(width: int = 10, height: int = 20) -> np.ndarray:
    """An empty board: a ``(height, width)`` boolean array, row 0 at the bottom."""
    width, height = check_board_size(width, height)
    return np.zeros((height, width), dtype=bool)


@dataclass(frozen=True)
class Placement:
    """One legal move of the current piece and what it leads to.

    Attributes
    ----------
    piece, rotation, column : int
        The piece id, its rotation index and the column of the left edge of its bounding box.
    row : int
        The row of the bottom of the bounding box once the piece rests.
    board : numpy.ndarray
        The board after the drop and after full rows were removed.
    lines : int
        Rows removed by this move (the reward).
    piece_cells_cleared : int
        How many of the piece's own four cells were in the removed rows.
    landing_height : float
        ``row + (box height - 1) / 2``, Dellacherie's landing height.
    """

    piece: int
    rotation: int
    column: int
    row: int
    board: np.ndarray
    lines: int
    piece_cells_cleared: int
    landing_height: float

    @property
    def action(self) -> int:
        """The flat action index ``rotation * width + column`` used by the environment."""
        return self.rotation * self.board.shape[1] + self.column


def _check_piece(piece) -> int:
    if isinstance(piece, bool) or not isinstance(piece, (int, np.integer)) or not 0 <= piece < N_PIECES:
        raise ValueError(f"piece must be an integer in [0, {N_PIECES - 1}], got {piece!r}")
    return int(piece)


def drop(board: np.ndarray, piece: int, rotation: int, column: int) -> Placement | None:
    """Drop ``piece`` turned to ``rotation`` with its left edge on ``column``.

    Returns the resulting :class:`Placement`, or ``None`` if the piece does not fit inside the
    board (out of the side walls, or sticking out of the top once it rests). ``board`` is not
    modified.
    """
    piece = _check_piece(piece)
    board = F._board(board)
    height, width = board.shape
    for name, value in (("rotation", rotation), ("column", column)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if not 0 <= rotation < len(ROTATIONS[piece]):
        raise ValueError(f"rotation must be in [0, {len(ROTATIONS[piece]) - 1}] for piece {piece}, got {rotation}")
    cells = ROTATIONS[piece][rotation]
    box_rows, box_cols = rotation_size(piece, rotation)
    if not 0 <= column <= width - box_cols:
        return None

    def collides(row: int) -> bool:
        return any(row + r < 0 or (row + r < height and board[row + r, column + c]) for r, c in cells)

    # Start above the board and move down while the next row down is free.
    row = height
    while not collides(row - 1):
        row -= 1
    if row + box_rows > height:
        return None  # the piece rests but sticks out of the top: not a legal placement

    after = board.copy()
    piece_cells = np.zeros_like(board)
    for r, c in cells:
        after[row + r, column + c] = True
        piece_cells[row + r, column + c] = True
    full = after.all(axis=1)
    lines = int(full.sum())
    cleared = int(piece_cells[full].sum())
    kept = after[~full]
    after = np.vstack([kept, np.zeros((lines, width), dtype=bool)])
    return Placement(piece, rotation, column, row, after, lines, cleared, row + (box_rows - 1) / 2)


def placements(board: np.ndarray, piece: int) -> list[Placement]:
    """Every legal placement of ``piece``, ordered by rotation then column (the action order)."""
    piece = _check_piece(piece)
    board = F._board(board)
    out = []
    for rotation in range(len(ROTATIONS[piece])):
        for column in range(board.shape[1]):
            placement = drop(board, piece, rotation, column)
            if placement is not None:
                out.append(placement)
    return out


def best_placement(board: np.ndarray, piece: int, weights, kind: str = "bertsekas") -> Placement | None:
    """The placement maximizing ``weights @ features``; ties go to the first in action order.

    Returns ``None`` when the piece has no legal placement (the game is over).
    """
    weights = F.check_weights(weights, kind, board.shape[1])
    best, best_value = None, -np.inf
    for placement in placements(board, piece):
        value = float(np.dot(weights, F.features(placement, kind)))
        if best is None or value > best_value:
            best, best_value = placement, value
    return best


@dataclass(frozen=True)
class GameResult:
    """Outcome of one game: rows removed, pieces placed, and whether it ended by topping out
    (``game_over``) rather than by reaching ``max_pieces``."""

    lines: int
    pieces: int
    game_over: bool


def _game_arguments(weights, kind, width, height, seed, pieces, max_pieces):
    """The checked arguments of ``play_game``, the same for both simulators (one set of checks, in one
    order): ``(width, height, weights, piece source, max_pieces)``."""
    width, height = check_board_size(width, height)
    weights = F.check_weights(weights, kind, width)
    if max_pieces is not None:
        max_pieces = _validate.integer_at_least("max_pieces", max_pieces, 1, None)
    return width, height, weights, PieceSource(seed, pieces), max_pieces


# play_game here and in pgnotes.tetris.fast are twins on purpose: the same signature (the contract
# the tests check game by game) over two implementations, one to read and one to run.
def play_game(weights, kind: str = "bertsekas", *, width: int = 10, height: int = 20, seed=0,
              pieces: str = "uniform", max_pieces: int | None = None) -> GameResult:
    """Play one game with the greedy linear controller, the readable way.

    Each piece goes where ``weights @ features`` of the resulting board is largest.
    ``pieces`` is ``"uniform"`` (i.i.d.) or ``"bag"`` (7-bag); ``seed`` fixes the sequence, so
    this returns exactly what :func:`pgnotes.tetris.fast.play_game` returns for the same
    arguments.
    """
    width, height, weights, source, max_pieces = _game_arguments(weights, kind, width, height, seed, pieces, max_pieces)
    board = empty_board(width, height)
    lines = placed = 0
    while max_pieces is None or placed < max_pieces:
        move = best_placement(board, source.next(), weights, kind)
        if move is None:
            return GameResult(lines, placed, True)
        board, lines, placed = move.board, lines + move.lines, placed + 1
    return GameResult(lines, placed, False)


def board_to_text(board: np.ndarray) -> str:
    """Draw a board as text, top row first: ``#`` filled, ``.`` empty, ``|`` walls."""
    board = F._board(board)
    return "\n".join("|" + "".join("#" if cell else "." for cell in row) + "|" for row in board[::-1]) + (
        "\n+" + "-" * board.shape[1] + "+"
    )


def board_from_text(text: str) -> np.ndarray:
    """Read a board drawn top row first with ``#`` (filled) and ``.`` (empty); walls optional.

    Handy for hand-drawn test boards::

        board_from_text('''
            ....
            #..#
            ##.#
        ''')
    """
    _validate.instance("text", text, str, "str")
    lines = [line.strip().strip("|") for line in text.strip().splitlines()]
    lines = [line for line in lines if line and not set(line) <= {"-", "+"}]
    if not lines or len({len(line) for line in lines}) != 1 or not set("".join(lines)) <= {"#", "."}:
        raise ValueError("text must be rows of equal length made of '#' and '.'")
    return np.array([[ch == "#" for ch in line] for line in lines[::-1]], dtype=bool)
