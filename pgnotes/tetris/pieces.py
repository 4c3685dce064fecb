"""The seven tetrominoes, their distinct rotations, and seeded piece sequences (chapter 5).

A board has ``width`` columns (0 = left) and ``height`` rows (0 = bottom). A piece in one
rotation is a set of cells ``(row, col)`` inside its bounding box, row 0 being the box's
bottom row. An *action* is a pair ``(rotation, column)``: the piece is turned to
``rotation`` (an index into :data:`ROTATIONS` of that piece), its bounding box is put with its
left edge on ``column``, and it falls straight down until it rests on the floor or the stack.
This is the protocol of Szita & Lőrincz (2006) and of most of the Tetris literature: no
sliding under overhangs, no spins.
"""

from __future__ import annotations

import numpy as np

from pgnotes import _validate

#: Piece names, in the order of their integer ids 0..6.
PIECE_NAMES = ("I", "O", "T", "S", "Z", "J", "L")
N_PIECES = 7
#: The most rotations any piece has; the environment's action space is ``MAX_ROTATIONS * width``.
MAX_ROTATIONS = 4

# Spawn orientation of each piece, as rows drawn top to bottom ('#' = cell).
_SHAPES = {
    "I": ["####"],
    "O": ["##", "##"],
    "T": ["###", ".#."],
    "S": [".##", "##."],
    "Z": ["##.", ".##"],
    "J": ["#..", "###"],
    "L": ["..#", "###"],
}


def _cells_from_drawing(drawing: list[str]) -> frozenset[tuple[int, int]]:
    rows = len(drawing)
    return frozenset(
        (rows - 1 - i, j) for i, line in enumerate(drawing) for j, ch in enumerate(line) if ch == "#"
    )


def _normalize(cells) -> frozenset[tuple[int, int]]:
    r0 = min(r for r, _ in cells)
    c0 = min(c for _, c in cells)
    return frozenset((r - r0, c - c0) for r, c in cells)


def _rotate_clockwise(cells) -> frozenset[tuple[int, int]]:
    # (row, col) -> (-col, row) turns the picture a quarter clockwise (rows grow upwards).
    return _normalize({(-c, r) for r, c in cells})


def _distinct_rotations(cells) -> tuple[frozenset[tuple[int, int]], ...]:
    out: list[frozenset[tuple[int, int]]] = []
    current = _normalize(cells)
    for _ in range(4):
        if current not in out:
            out.append(current)
        current = _rotate_clockwise(current)
    return tuple(out)


#: ``ROTATIONS[p][r]``: the cells ``(row, col)`` of piece ``p`` in rotation ``r`` (distinct rotations
#: only: O has 1, I, S and Z have 2, T, J and L have 4).
ROTATIONS: tuple[tuple[frozenset[tuple[int, int]], ...], ...] = tuple(
    _distinct_rotations(_cells_from_drawing(_SHAPES[name])) for name in PIECE_NAMES
)


def rotation_size(piece: int, rotation: int) -> tuple[int, int]:
    """Return ``(rows, cols)`` of the bounding box of ``piece`` in ``rotation``."""
    cells = ROTATIONS[piece][rotation]
    return 1 + max(r for r, _ in cells), 1 + max(c for _, c in cells)


def _tables():
    """Per (piece, rotation) tables for the fast path (padded to 4 rotations x 4 columns/rows)."""
    n_rot = np.zeros(N_PIECES, np.int64)
    width = np.zeros((N_PIECES, MAX_ROTATIONS), np.int64)
    height = np.zeros((N_PIECES, MAX_ROTATIONS), np.int64)
    bottom = np.zeros((N_PIECES, MAX_ROTATIONS, 4), np.int64)  # lowest cell of each box column
    top = np.zeros((N_PIECES, MAX_ROTATIONS, 4), np.int64)  # highest cell + 1 of each box column
    row_mask = np.zeros((N_PIECES, MAX_ROTATIONS, 4), np.int64)  # bit c set: cell in box column c
    for p, rotations in enumerate(ROTATIONS):
        n_rot[p] = len(rotations)
        for r, cells in enumerate(rotations):
            h, w = rotation_size(p, r)
            height[p, r], width[p, r] = h, w
            for c in range(w):
                rows_c = [rr for rr, cc in cells if cc == c]
                bottom[p, r, c] = min(rows_c)
                top[p, r, c] = max(rows_c) + 1
            for rr, cc in cells:
                row_mask[p, r, rr] |= 1 << cc
    return n_rot, width, height, bottom, top, row_mask


N_ROT, PIECE_WIDTH, PIECE_HEIGHT, PIECE_BOTTOM, PIECE_TOP, PIECE_ROW_MASK = _tables()


class PieceSource:
    """A seeded, reproducible stream of piece ids (0..6).

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Source of the sequence; the same seed gives the same pieces.
    kind : {"uniform", "bag"}
        ``"uniform"`` draws each piece i.i.d. uniformly from the seven (the research protocol);
        ``"bag"`` deals random permutations of all seven one after the other (the "7-bag" of
        modern Tetris guidelines), so no piece is ever more than 12 pieces away.

    Notes
    -----
    Pieces are drawn in blocks (``next_block``), so the fast simulator and the readable one
    consume exactly the same sequence. Introduced in chapter 5.
    """

    BLOCK = 4096 - 4096 % N_PIECES  # pieces drawn from the generator at a time (a multiple of 7)

    def __init__(self, seed=0, kind: str = "uniform"):
        if kind not in ("uniform", "bag"):
            raise ValueError(f"kind must be 'uniform' or 'bag', got {kind!r}")
        self.kind = kind
        self.rng = _validate.generator(seed, "seed")
        self._buffer = np.empty(0, np.int64)

    def next_block(self, n: int) -> np.ndarray:
        """Return the next ``n`` piece ids as an int64 array."""
        n = _validate.integer_at_least("n", n, 1, 10**7)
        while self._buffer.size < n:
            # Always draw fixed-size blocks, so the sequence does not depend on how it is consumed.
            if self.kind == "uniform":
                fresh = self.rng.integers(0, N_PIECES, size=self.BLOCK, dtype=np.int64)
            else:
                fresh = np.concatenate([self.rng.permutation(N_PIECES) for _ in range(self.BLOCK // N_PIECES)])
            self._buffer = np.concatenate([self._buffer, fresh.astype(np.int64)])
        out, self._buffer = self._buffer[:n].copy(), self._buffer[n:]
        return out

    def next(self) -> int:
        """Return the next piece id."""
        return int(self.next_block(1)[0])
