"""Board features for linear Tetris controllers, written to be read (chapter 5).

A board is a boolean array ``board[row, col]`` with row 0 at the **bottom**. These functions
are the readable definitions; :mod:`pgnotes.tetris.fast` computes the same numbers with
bitboards and is tested against them.

Three feature sets are provided (``kind`` argument everywhere):

``"bertsekas"`` (Bertsekas & Tsitsiklis 1996; ``2 * width + 2`` features, 22 on a 10-wide board)
    the height of each column, the absolute height difference of each pair of adjacent
    columns, the maximum height, the number of holes, and a constant 1.
``"dellacherie"`` (Dellacherie, reported by Fahey 2003; 6 features)
    landing height, eroded piece cells, row transitions, column transitions, holes, well sums.
``"dellacherie8"`` (Thiery & Scherrer 2009; 8 features)
    Dellacherie's six plus hole depth and the number of rows with holes.

Definitions (all after the piece has been dropped and full lines removed):

- *column height*: one plus the row of the highest filled cell of the column (0 if empty);
- *hole*: an empty cell with at least one filled cell above it in its column;
- *landing height*: the row of the bottom of the piece's bounding box plus half of (box height - 1);
- *eroded piece cells*: lines cleared times the number of the piece's own cells that were removed;
- *row transitions*: for each row of the board, the number of neighbouring cell pairs (the
  side walls count as filled) that differ; an empty row counts 2, as in Fahey's implementation
  of Dellacherie's controller (counting only the rows below the maximum height instead costs
  that controller an order of magnitude in lines: about 75,000 instead of over a million on
  our simulator);
- *column transitions*: for each column, the number of vertically neighbouring cell pairs that
  differ, from the floor (filled) up to the top row;
- *well sums*: a well cell is an empty cell whose left and right neighbours are filled (walls
  count as filled); each well cell counts 1 plus the number of empty cells directly below it
  (so an open well of depth d counts 1 + 2 + ... + d), as in Thiery & Scherrer's MDPTetris;
- *hole depth*: for each hole, the number of filled cells above it in its column, summed;
- *rows with holes*: the number of rows containing at least one hole.
"""

from __future__ import annotations

import numpy as np

from pgnotes import _validate


FEATURE_SETS = ("bertsekas", "dellacherie", "dellacherie8")

#: Dellacherie's hand-tuned weights for the six features of ``"dellacherie"`` (Fahey 2003).
DELLACHERIE_WEIGHTS = np.array([-1.0, 1.0, -1.0, -1.0, -4.0, -1.0])


def _check_kind(kind: str) -> str:
    if kind not in FEATURE_SETS:
        raise ValueError(f"kind must be one of {FEATURE_SETS}, got {kind!r}")
    return kind


def _width(width) -> int:
    return _validate.integer_at_least("width", width, 1, 60)


def _board(board) -> np.ndarray:
    """``board`` as a 2-D boolean array (height, width); 0/1 numbers are accepted."""
    if type(board) is np.ndarray and board.dtype == bool and board.ndim == 2:
        return board
    array = np.asarray(board)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"board must be a 2-D array (height, width) of booleans, got shape {array.shape}")
    if array.dtype != bool:
        if not (np.issubdtype(array.dtype, np.number) and np.all((array == 0) | (array == 1))):
            raise ValueError(f"board must hold booleans (or 0 and 1), got dtype {array.dtype}")
        array = array.astype(bool)
    return array


def n_features(kind: str = "bertsekas", width: int = 10) -> int:
    """Number of features of ``kind`` on a board ``width`` columns wide."""
    _check_kind(kind)
    width = _width(width)
    return {"bertsekas": 2 * width + 2, "dellacherie": 6, "dellacherie8": 8}[kind]


def feature_names(kind: str = "bertsekas", width: int = 10) -> list[str]:
    """Names of the features of ``kind``, in the order of the feature vector."""
    _check_kind(kind)
    width = _width(width)
    if kind == "bertsekas":
        return (
            [f"height[{j}]" for j in range(width)]
            + [f"|height[{j}]-height[{j + 1}]|" for j in range(width - 1)]
            + ["max height", "holes", "constant"]
        )
    six = ["landing height", "eroded piece cells", "row transitions", "column transitions", "holes", "well sums"]
    return six if kind == "dellacherie" else six + ["hole depth", "rows with holes"]


def check_weights(weights, kind: str = "bertsekas", width: int = 10) -> np.ndarray:
    """Return ``weights`` as a float64 vector after checking its length and that it is finite."""
    n = n_features(kind, width)
    w = _validate._as_float_array("weights", weights)
    if w.shape != (n,):
        raise ValueError(f"weights for kind={kind!r} on a {width}-wide board must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite (no NaN or inf)")
    return w


# -- features of a board --------------------------------------------------------------
def column_heights(board: np.ndarray) -> np.ndarray:
    """Height of each column: 1 + row of its highest filled cell, 0 for an empty column."""
    board = _board(board)
    height = board.shape[0]
    filled = board.any(axis=0)
    top = height - np.argmax(board[::-1, :], axis=0)  # first filled cell seen from the top
    return np.where(filled, top, 0).astype(np.int64)


def hole_mask(board: np.ndarray) -> np.ndarray:
    """Boolean mask of the holes: empty cells with a filled cell somewhere above them."""
    board = _board(board)
    covered = np.logical_or.accumulate(board[::-1, :], axis=0)[::-1, :]  # filled at or above
    above = np.zeros_like(board)
    above[:-1] = covered[1:]
    return above & ~board


def holes(board: np.ndarray) -> int:
    """Number of holes (empty cells below the top of their column)."""
    board = _board(board)
    return int(hole_mask(board).sum())


def row_transitions(board: np.ndarray) -> int:
    """Filled/empty changes along every row of the board, walls counted as filled (an empty row: 2)."""
    board = _board(board)
    total = 0
    for row in board:
        padded = np.concatenate([[True], row, [True]])
        total += int(np.sum(padded[1:] != padded[:-1]))
    return total


def column_transitions(board: np.ndarray) -> int:
    """Filled/empty changes up each column, from the (filled) floor to the top row."""
    board = _board(board)
    padded = np.vstack([np.ones((1, board.shape[1]), bool), board])
    return int(np.sum(padded[1:] != padded[:-1]))


def well_sums(board: np.ndarray) -> int:
    """Sum over well cells of 1 + the number of empty cells directly below (see module doc)."""
    board = _board(board)
    height, width = board.shape
    total = 0
    for col in range(width):
        for row in range(height):
            left = col == 0 or board[row, col - 1]
            right = col == width - 1 or board[row, col + 1]
            if not board[row, col] and left and right:
                total += 1
                below = row - 1
                while below >= 0 and not board[below, col]:
                    total += 1
                    below -= 1
    return total


def hole_depth(board: np.ndarray) -> int:
    """For each hole, the number of filled cells above it in its column, summed."""
    board = _board(board)
    filled_above = np.cumsum(board[::-1, :], axis=0)[::-1, :] - board  # strictly above
    return int(filled_above[hole_mask(board)].sum())


def rows_with_holes(board: np.ndarray) -> int:
    """Number of rows that contain at least one hole."""
    board = _board(board)
    return int(hole_mask(board).any(axis=1).sum())


def bertsekas_features(board: np.ndarray) -> np.ndarray:
    """The ``2 * width + 2`` Bertsekas features of a board (see the module doc)."""
    board = _board(board)
    h = column_heights(board)
    return np.concatenate([h, np.abs(np.diff(h)), [h.max(initial=0), holes(board), 1]]).astype(np.float64)


def features(placement, kind: str = "bertsekas") -> np.ndarray:
    """Feature vector of a :class:`~pgnotes.tetris.reference.Placement` (board after the move).

    Dellacherie's features need the move itself (landing height, eroded cells), which is why
    they take a placement rather than a board.
    """
    _check_kind(kind)
    from pgnotes.tetris.reference import Placement

    _validate.instance("placement", placement, Placement, "pgnotes.tetris.reference.Placement")
    board = placement.board
    if kind == "bertsekas":
        return bertsekas_features(board)
    six = [
        placement.landing_height,
        placement.lines * placement.piece_cells_cleared,
        row_transitions(board),
        column_transitions(board),
        holes(board),
        well_sums(board),
    ]
    if kind == "dellacherie8":
        six += [hole_depth(board), rows_with_holes(board)]
    return np.array(six, dtype=np.float64)
