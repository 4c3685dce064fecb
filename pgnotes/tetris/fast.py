"""The fast Tetris simulator: int64 bitboards and numba kernels (chapter 5).

Same rules, features and tie-breaking as :mod:`pgnotes.tetris.reference` (and tested against
it on random games), at C-like speed. A board is an array of rows, one int64 per row, bit
``c`` set when column ``c`` is filled, row 0 at the bottom, plus the column heights and the
count of filled cells, all kept up to date by every move. Because a piece falls straight
down, where it lands follows from the column heights alone:

    row = max over the piece's columns i of (height[column + i] - lowest cell of column i)

and the number of holes is ``sum(heights) - filled cells``, so the Bertsekas features of a
placement that clears no line cost a handful of integer operations.

Kernels are compiled by numba on first use and cached on disk (``cache=True``).

Why one module of about 450 lines: the kernels (landing row, line clearing, the three feature
sets, the placement enumerator and the game loop) work on one board representation and call
each other; numba compiles and caches them together, and the whole file is one side of the
game-by-game comparison with :mod:`pgnotes.tetris.reference`.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from pgnotes import _validate
from pgnotes.tetris import features as F
from pgnotes.tetris.pieces import (
    MAX_ROTATIONS,
    N_ROT,
    PIECE_BOTTOM,
    PIECE_HEIGHT,
    PIECE_ROW_MASK,
    PIECE_TOP,
    PIECE_WIDTH,
    PieceSource,
)
from pgnotes.tetris.reference import GameResult, _check_piece, check_board_size, _game_arguments

KIND_CODE = {"bertsekas": 0, "dellacherie": 1, "dellacherie8": 2}
_BLOCK = PieceSource.BLOCK

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@numba.njit(cache=True, inline="always")
def _popcount(x):
    v = np.uint64(x)
    v = v - ((v >> np.uint64(1)) & _M1)
    v = (v & _M2) + ((v >> np.uint64(2)) & _M2)
    v = (v + (v >> np.uint64(4))) & _M4
    return np.int64((v * _H01) >> np.uint64(56))


@numba.njit(cache=True)
def _landing_row(heights, p, r, c):
    y = 0
    for i in range(PIECE_WIDTH[p, r]):
        v = heights[c + i] - PIECE_BOTTOM[p, r, i]
        if v > y:
            y = v
    return y


@numba.njit(cache=True, inline="always")
def _legal_row(heights, p, r, c, height):
    """Landing row of piece ``p`` in rotation ``r`` with its left edge on column ``c``, or -1 if,
    once it rests, it sticks out of the top of the board (the one definition of a legal placement)."""
    y = _landing_row(heights, p, r, c)
    return y if y + PIECE_HEIGHT[p, r] <= height else -1


@numba.njit(cache=True)
def _result_board(rows, top, p, r, c, y, full, out):
    """Write the rows of the board after the move into ``out``; return (n_rows, lines, piece cells cleared).

    ``top`` is the number of non-empty rows before the move; rows above ``n_rows`` are empty.
    """
    ph = PIECE_HEIGHT[p, r]
    hi = max(top, y + ph)
    n = 0
    lines = 0
    cleared = 0
    for k in range(hi):
        row = rows[k]
        if y <= k < y + ph:
            m = PIECE_ROW_MASK[p, r, k - y] << c
            row |= m
            if row == full:
                lines += 1
                cleared += _popcount(m)
                continue
        out[n] = row
        n += 1
    return n, lines, cleared


@numba.njit(cache=True)
def _heights_of(board, n_rows, width, hout):
    """Column heights of the rows ``board[:n_rows]`` (scanning from the top)."""
    for j in range(width):
        hout[j] = 0
    remaining = (np.int64(1) << width) - 1
    k = n_rows - 1
    while k >= 0 and remaining != 0:
        hit = board[k] & remaining
        if hit != 0:
            for j in range(width):
                if (hit >> j) & 1:
                    hout[j] = k + 1
            remaining &= ~hit
        k -= 1


@numba.njit(cache=True)
def _bertsekas_into(hbuf, width, holes, f):
    maxh = 0
    for j in range(width):
        f[j] = hbuf[j]
        if hbuf[j] > maxh:
            maxh = hbuf[j]
    for j in range(width - 1):
        f[width + j] = abs(hbuf[j] - hbuf[j + 1])
    f[2 * width - 1] = maxh
    f[2 * width] = holes
    f[2 * width + 1] = 1.0


@numba.njit(cache=True)
def _features_bertsekas(rows, heights, top, filled, width, p, r, c, y, full, tmp, hbuf, f):
    """Bertsekas features of the move (rotation r, column c) landing on row y; returns lines."""
    ph = PIECE_HEIGHT[p, r]
    lines = 0
    for k in range(ph):
        if (rows[y + k] | (PIECE_ROW_MASK[p, r, k] << c)) == full:
            lines += 1
    if lines == 0:
        for j in range(width):
            hbuf[j] = heights[j]
        for i in range(PIECE_WIDTH[p, r]):
            hbuf[c + i] = y + PIECE_TOP[p, r, i]
    else:
        n, lines, _ = _result_board(rows, top, p, r, c, y, full, tmp)
        _heights_of(tmp, n, width, hbuf)
    total = 0
    for j in range(width):
        total += hbuf[j]
    _bertsekas_into(hbuf, width, total - (filled + 4 - lines * width), f)
    return lines


@numba.njit(cache=True)
def _features_dellacherie(rows, top, width, p, r, c, y, full, eight, tmp, acc, f):
    """Dellacherie's 6 (or 8, with ``eight``) features of the move; returns lines."""
    n, lines, cleared = _result_board(rows, top, p, r, c, y, full, tmp)
    row_tr = 0
    col_tr = 0
    prev = full  # the floor counts as filled
    for k in range(n):
        row = tmp[k]
        ext = (row << 1) | 1 | (np.int64(1) << (width + 1))  # walls on both sides
        row_tr += _popcount((ext ^ (ext >> 1)) & ((np.int64(1) << (width + 1)) - 1))
        col_tr += _popcount(row ^ prev)
        prev = row
    height = rows.shape[0] - 4  # rows has 4 spare rows above the board
    if n < height:  # the empty row above the stack, if on the board
        col_tr += _popcount(prev)
    row_tr += 2 * (height - n)  # each empty row: wall -> empty -> wall
    holes = 0
    hole_depth = 0
    rows_with_holes = 0
    wells = 0
    covered = np.int64(0)
    for j in range(width):
        acc[j] = 0  # well cells in the current run of empty cells (well sums) / filled above (hole depth)
    for k in range(n - 1, -1, -1):
        row = tmp[k]
        empty = full & ~row
        hole_cells = covered & empty
        if hole_cells != 0:
            holes += _popcount(hole_cells)
            rows_with_holes += 1
        covered |= row
        left = (row << 1) | 1
        right = (row >> 1) | (np.int64(1) << (width - 1))
        well = empty & left & right
        for j in range(width):
            if (empty >> j) & 1:
                acc[j] += (well >> j) & 1
                wells += acc[j]
            else:
                acc[j] = 0
    if eight:
        for j in range(width):
            acc[j] = 0  # filled cells above, per column
        for k in range(n - 1, -1, -1):
            row = tmp[k]
            for j in range(width):
                if (row >> j) & 1:
                    acc[j] += 1
                else:
                    hole_depth += acc[j]
    f[0] = y + (PIECE_HEIGHT[p, r] - 1) / 2.0
    f[1] = lines * cleared
    f[2] = row_tr
    f[3] = col_tr
    f[4] = holes
    f[5] = wells
    if eight:
        f[6] = hole_depth
        f[7] = rows_with_holes
    return lines


@numba.njit(cache=True)
def _move_features(kind, rows, heights, top, filled, width, p, r, c, y, full, tmp, hbuf, f):
    if kind == 0:
        return _features_bertsekas(rows, heights, top, filled, width, p, r, c, y, full, tmp, hbuf, f)
    return _features_dellacherie(rows, top, width, p, r, c, y, full, kind == 2, tmp, hbuf, f)


@numba.njit(cache=True)
def _apply(rows, heights, state, width, p, r, c, y, full, tmp):
    """Play the move on the board in place; update heights and state = [lines, pieces, filled, top]."""
    n, lines, _ = _result_board(rows, state[3], p, r, c, y, full, tmp)
    hi = max(state[3], y + PIECE_HEIGHT[p, r])
    for k in range(n):
        rows[k] = tmp[k]
    for k in range(n, hi):
        rows[k] = 0
    if lines == 0:
        for i in range(PIECE_WIDTH[p, r]):
            heights[c + i] = y + PIECE_TOP[p, r, i]
    else:
        _heights_of(rows, n, width, heights)
    state[0] += lines
    state[1] += 1
    state[2] += 4 - lines * width
    state[3] = n
    return lines


@numba.njit(cache=True)
def _play_block(rows, heights, state, pieces, weights, kind, width, height, max_pieces):
    """Play the pieces of one block greedily; return 1 if the game ended (top-out), 2 if capped, else 0."""
    full = (np.int64(1) << width) - 1
    nf = weights.shape[0]
    f = np.zeros(nf)
    tmp = np.zeros(rows.shape[0], np.int64)
    hbuf = np.zeros(width, np.int64)
    for idx in range(pieces.shape[0]):
        if max_pieces >= 0 and state[1] >= max_pieces:
            return 2
        p = pieces[idx]
        best = -np.inf
        br = -1
        bc = -1
        by = -1
        for r in range(N_ROT[p]):
            for c in range(width - PIECE_WIDTH[p, r] + 1):
                y = _legal_row(heights, p, r, c, height)
                if y < 0:
                    continue
                _move_features(kind, rows, heights, state[3], state[2], width, p, r, c, y, full, tmp, hbuf, f)
                v = 0.0
                for i in range(nf):
                    v += weights[i] * f[i]
                if br < 0 or v > best:
                    best = v
                    br = r
                    bc = c
                    by = y
        if br < 0:
            return 1
        _apply(rows, heights, state, width, p, br, bc, by, full, tmp)
    return 0


@numba.njit(cache=True)
def _enumerate(rows, heights, state, p, kind, width, height, nf, legal, out_row, out_lines, out_feat):
    """Fill, for every action index rotation * width + column, legality, landing row, lines and features."""
    full = (np.int64(1) << width) - 1
    f = np.zeros(nf)
    tmp = np.zeros(rows.shape[0], np.int64)
    hbuf = np.zeros(width, np.int64)
    for r in range(N_ROT[p]):
        for c in range(width - PIECE_WIDTH[p, r] + 1):
            y = _legal_row(heights, p, r, c, height)
            if y < 0:
                continue
            a = r * width + c
            legal[a] = True
            out_row[a] = y
            out_lines[a] = _move_features(kind, rows, heights, state[3], state[2], width, p, r, c, y, full, tmp, hbuf, f)
            for i in range(nf):
                out_feat[a, i] = f[i]


class Placements(NamedTuple):
    """All placements of one piece on one board, indexed by action ``rotation * width + column``.

    ``legal`` (bool), ``row`` (landing row of the box bottom), ``lines`` (rows removed) and
    ``features`` (one row per action; zeros where illegal).
    """

    legal: np.ndarray
    row: np.ndarray
    lines: np.ndarray
    features: np.ndarray


class Board:
    """A Tetris board on bitboards: the fast path's state, with moves checked before they are played.

    Parameters
    ----------
    width, height : int
        Board size; ``4 <= width <= 60``, ``height >= 4``.

    Notes
    -----
    Introduced in chapter 5. Actions are flat indices ``rotation * width + column`` with
    ``rotation < 4`` (pieces with fewer distinct rotations have fewer legal actions).
    """

    def __init__(self, width: int = 10, height: int = 20):
        self.width, self.height = check_board_size(width, height)
        self.rows = np.zeros(self.height + 4, np.int64)  # 4 spare rows above the top
        self.heights = np.zeros(self.width, np.int64)
        self.state = np.zeros(4, np.int64)  # lines, pieces, filled cells, non-empty rows

    @property
    def n_actions(self) -> int:
        return MAX_ROTATIONS * self.width

    @property
    def lines(self) -> int:
        return int(self.state[0])

    @property
    def pieces(self) -> int:
        return int(self.state[1])

    def copy(self) -> "Board":
        other = Board.__new__(Board)
        other.width, other.height = self.width, self.height
        other.rows, other.heights, other.state = self.rows.copy(), self.heights.copy(), self.state.copy()
        return other

    def to_array(self) -> np.ndarray:
        """The board as a ``(height, width)`` boolean array, row 0 at the bottom (as the reference)."""
        bits = (self.rows[: self.height, None] >> np.arange(self.width)) & 1
        return bits.astype(bool)

    @classmethod
    def from_array(cls, board: np.ndarray) -> "Board":
        """A board with the cells of a ``(height, width)`` boolean array (row 0 at the bottom)."""
        board = F._board(board)  # a 2-D array of booleans (or 0 and 1), else a named error
        if board.ndim != 2:
            raise ValueError(f"board must be a 2-D boolean array, got shape {board.shape}")
        out = cls(board.shape[1], board.shape[0])
        if board.all(axis=1).any():
            raise ValueError("board must not contain full rows (they would have been removed)")
        out.rows[: out.height] = (board.astype(np.int64) << np.arange(out.width)).sum(axis=1)
        filled_rows = np.flatnonzero(board.any(axis=1))
        out.state[3] = 0 if filled_rows.size == 0 else filled_rows[-1] + 1
        _heights_of(out.rows, int(out.state[3]), out.width, out.heights)
        out.state[2] = int(board.sum())
        return out

    def placements(self, piece: int, kind: str = "bertsekas") -> Placements:
        """Every action's legality, landing row, lines cleared and features (see :class:`Placements`)."""
        piece = _check_piece(piece)
        nf = F.n_features(kind, self.width)
        n = self.n_actions
        out = Placements(np.zeros(n, bool), np.full(n, -1, np.int64), np.zeros(n, np.int64), np.zeros((n, nf)))
        _enumerate(self.rows, self.heights, self.state, piece, KIND_CODE[kind], self.width, self.height, nf, *out)
        return out

    def legal_actions(self, piece: int) -> np.ndarray:
        """Boolean mask over the ``4 * width`` actions: True where the piece fits inside the board."""
        piece = _check_piece(piece)
        mask = np.zeros(self.n_actions, bool)
        for r in range(N_ROT[piece]):
            for c in range(self.width - PIECE_WIDTH[piece, r] + 1):
                mask[r * self.width + c] = _legal_row(self.heights, piece, r, c, self.height) >= 0
        return mask

    def place(self, piece: int, action: int) -> int:
        """Play ``action`` (``rotation * width + column``) with ``piece``; return the rows removed.

        Raises ``ValueError`` (and leaves the board untouched) if the action is not legal.
        """
        piece = _check_piece(piece)
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or not 0 <= action < self.n_actions:
            raise ValueError(f"action must be an integer in [0, {self.n_actions - 1}], got {action!r}")
        r, c = divmod(int(action), self.width)
        if not self.legal_actions(piece)[action]:
            why = (
                f"piece {piece} has {N_ROT[piece]} rotation(s)" if r >= N_ROT[piece]
                else f"in rotation {r} it is {PIECE_WIDTH[piece, r]} wide, so its left column must be <= {self.width - PIECE_WIDTH[piece, r]}"
                if c > self.width - PIECE_WIDTH[piece, r] else "it would stick out of the top of the board"
            )
            raise ValueError(f"illegal action {action} (rotation {r}, column {c}) for piece {piece}: {why}")
        y = _landing_row(self.heights, piece, r, c)
        full = (np.int64(1) << self.width) - 1
        return int(_apply(self.rows, self.heights, self.state, self.width, piece, r, c, y, full, np.zeros_like(self.rows)))

    def best_action(self, piece: int, weights, kind: str = "bertsekas") -> int:
        """The action maximizing ``weights @ features`` (first in action order on ties); -1 if none is legal."""
        weights = F.check_weights(weights, kind, self.width)
        p = self.placements(piece, kind)
        if not p.legal.any():
            return -1
        values = np.where(p.legal, p.features @ weights, -np.inf)
        return int(np.argmax(values))


def play_game(weights, kind: str = "bertsekas", *, width: int = 10, height: int = 20, seed=0,
              pieces: str = "uniform", max_pieces: int | None = None) -> GameResult:
    """Play one game with the greedy linear controller on the fast path.

    Each piece goes where ``weights @ features`` of the resulting board is largest (ties to the
    first action). Same arguments and same result as :func:`pgnotes.tetris.reference.play_game`,
    a hundred times faster or more. ``max_pieces`` caps the game length (``None``: play until
    the board tops out). Introduced in chapter 5.
    """
    width, height, weights, source, max_pieces = _game_arguments(weights, kind, width, height, seed, pieces, max_pieces)
    board = Board(width, height)
    code = KIND_CODE[kind]
    cap = -1 if max_pieces is None else max_pieces
    while True:
        status = _play_block(board.rows, board.heights, board.state, source.next_block(_BLOCK), weights, code, width, height, cap)
        if status:
            return GameResult(board.lines, board.pieces, status == 1)


def play_games(weights, seeds, kind: str = "bertsekas", **kwargs) -> np.ndarray:
    """Lines cleared in one game per seed (same keyword arguments as :func:`play_game`)."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a sequence of integer seeds, got {type(seeds).__name__} {seeds!r:.80}")
    seeds = [_validate.seed(f"seeds[{i}]", s) for i, s in enumerate(seeds)]  # 1.5 is an error, not seed 1
    return np.array([play_game(weights, kind, seed=int(s), **kwargs).lines for s in seeds], dtype=np.int64)
