"""Generate pgnotes/grading/cases/ch05.json from the reference implementation in pgnotes.

Run: .venv/bin/python tools/cases/ch05.py   (deterministic: fixed seeds)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pgnotes.solvers.cem import CEM
from pgnotes.tetris import board_from_text, fast, features as F, reference
from pgnotes.tetris.pieces import N_ROT, PIECE_BOTTOM, PIECE_WIDTH, PieceSource

OUT = Path(__file__).resolve().parents[2] / "pgnotes" / "grading" / "cases" / "ch05.json"


def arr(a, dtype="float64") -> dict:
    return {"__ndarray__": np.asarray(a).astype(dtype).tolist(), "dtype": dtype}


def boards() -> list[tuple[str, np.ndarray]]:
    """Hand-drawn boards, then boards from real games (row 0 at the bottom)."""
    out = [
        ("empty 4 x 4 board", np.zeros((4, 4), bool)),
        ("one covered cell", board_from_text("""
            .#..
            ....
            .##.
        """)),
        ("overhangs and a deep hole", board_from_text("""
            ......
            .#....
            .#..#.
            ##.##.
            #..###
        """)),
        ("a cell floating over an empty column", board_from_text("""
            #...
            ....
            ....
            ....
        """)),
    ]
    rng = np.random.default_rng(505)
    for k, (width, height, n) in enumerate([(10, 20, 40), (10, 20, 120), (6, 12, 25)]):
        board, source = reference.empty_board(width, height), PieceSource(600 + k)
        for _ in range(n):
            moves = reference.placements(board, source.next())
            if not moves:
                break
            board = moves[rng.integers(len(moves))].board if rng.random() < 0.5 else reference.best_placement(
                board, moves[0].piece, np.r_[-1.0, 1.0, -1.0, -1.0, -4.0, -1.0], "dellacherie").board
        out.append((f"a {width} x {height} board after {n} pieces of a game", board))
    return out


def holes_cases() -> list[dict]:
    return [{"name": name, "args": [arr(b, "bool")], "kwargs": {}, "expected": F.holes(b), "compare": "allclose",
             "rtol": 0, "atol": 0, "points": 1,
             "hint": "a hole is an empty cell with a filled cell anywhere above it in its column (row 0 is the bottom)"}
            for name, b in boards()]


def features_cases() -> list[dict]:
    return [{"name": name, "args": [arr(b, "bool")], "kwargs": {}, "expected": arr(F.bertsekas_features(b)),
             "compare": "allclose", "rtol": 0, "atol": 1e-12, "points": 1, "check_dtype": True,
             "hint": "heights (one per column), |differences| of neighbours, max height, holes, then the constant 1"}
            for name, b in boards()[1:6]]


def _landing_case(name, heights, piece, rotation, column, idea="") -> dict:
    pw = int(PIECE_WIDTH[piece, rotation])
    bottom = PIECE_BOTTOM[piece, rotation, :pw]
    expected = int(fast._landing_row(np.asarray(heights, np.int64), piece, rotation, column))
    case = {"name": name, "args": [arr(heights, "int64"), arr(bottom, "int64"), column], "kwargs": {},
            "expected": expected, "compare": "allclose", "rtol": 0, "atol": 0, "points": 1, "check_dtype": True,
            "hint": "the piece stops at the first row where one of its columns touches: "
                    "max over i of heights[column + i] - bottom[i], as an int"}
    if idea:
        case["idea"] = idea
    return case


def _deciding_column(heights, piece, rotation, column) -> int | None:
    """The piece column that alone decides the landing row, or None when several tie."""
    pw = int(PIECE_WIDTH[piece, rotation])
    gaps = np.asarray(heights[column:column + pw]) - PIECE_BOTTOM[piece, rotation, :pw]
    best = np.flatnonzero(gaps == gaps.max())
    return int(best[0]) if len(best) == 1 else None


def landing_cases() -> list[dict]:
    rng = np.random.default_rng(77)
    cases = []
    for k in range(6):
        width = 10 if k < 4 else 6
        heights = rng.integers(0, 8, size=width)
        piece = int(rng.integers(7))
        rotation = int(rng.integers(N_ROT[piece]))
        pw = int(PIECE_WIDTH[piece, rotation])
        column = int(rng.integers(width - pw + 1))
        cases.append(_landing_case(f"piece {'IOTSZJL'[piece]}, rotation {rotation}, column {column}",
                                   heights, piece, rotation, column))
    # cases where a column other than the left one decides, and where the tallest column under
    # the piece is not the one that stops it (the piece's cell there sits higher)
    rng = np.random.default_rng(78)
    wanted = [("right", "the piece's right column decides"), ("middle", "the piece's middle column decides"),
              ("tallest", "the tallest column under the piece does not decide")]
    for kind, name in wanted:
        while True:
            piece = int(rng.integers(7))
            rotation = int(rng.integers(N_ROT[piece]))
            pw = int(PIECE_WIDTH[piece, rotation])
            if pw < (3 if kind == "middle" else 2):
                continue
            heights = rng.integers(0, 8, size=10)
            column = int(rng.integers(10 - pw + 1))
            decides = _deciding_column(heights, piece, rotation, column)
            under = heights[column:column + pw]
            bottom = PIECE_BOTTOM[piece, rotation, :pw]
            left_guess = int(under.max() - bottom[0])
            expected = int(fast._landing_row(heights.astype(np.int64), piece, rotation, column))
            if decides is None or expected == left_guess or expected == int(under[0] - bottom[0]):
                continue
            if kind == "right" and decides == pw - 1:
                break
            if kind == "middle" and 0 < decides < pw - 1:
                break
            if kind == "tallest" and int(np.argmax(under)) != decides and len(np.flatnonzero(under == under.max())) == 1:
                break
        cases.append(_landing_case(f"{name}: piece {'IOTSZJL'[piece]}, rotation {rotation}, column {column}",
                                   heights, piece, rotation, column,
                                   idea="every column of the piece can be the one that stops it"))
    return cases


def cem_cases() -> list[dict]:
    cases = []
    for seed, (name, n, d, n_elite, noise, ties) in enumerate([
        ("protocol sizes (100 samples, 10 elites, Z = 4)", 100, 22, 10, 4.0, False),
        ("no extra noise", 20, 3, 5, 0.0, False),
        ("tied fitness values (keep the earlier sample)", 12, 2, 3, 0.5, True),
    ]):
        rng = np.random.default_rng(300 + seed)
        solver = CEM(d, n, n_elite=n_elite, noise="constant", noise_value=noise, sigma0=10.0, rng=seed)
        x = solver.ask()
        fitness = rng.integers(0, 4, size=n).astype(float) if ties else rng.exponential(1000.0, size=n).round()
        solver.tell(x, fitness)
        cases.append({"name": name, "args": [arr(x), arr(fitness), n_elite, noise], "kwargs": {},
                      "expected": arr(np.vstack([solver.mean, solver.variance])), "compare": "allclose",
                      "rtol": 1e-9, "atol": 1e-9, "points": 1,
                      "hint": "elites = the n_elite highest fitness (a stable sort keeps earlier samples on ties); "
                              "mean and variance (divide by n_elite) per coordinate, then add noise to the variance"})
    return cases


def main() -> None:
    exercises = [
        {"id": "ch05.holes", "function": "holes", "points": 3,
         "description": "count the holes of a Tetris board",
         "idea": "a hole is an empty cell with a filled cell somewhere above it in the same column; count cells, "
                 "not columns, and row 0 is the bottom",
         "section": 'Chapter 5, "Features: what the controller sees"',
         "hint": "for each column, the empty cells below its highest filled cell", "cases": holes_cases()},
        {"id": "ch05.landing_row", "function": "landing_row", "points": 2,
         "description": "where a piece dropped straight down comes to rest",
         "idea": "the piece falls until any one of its columns touches the stack; any of its columns can be the one "
                 "that stops it, depending on the height under it and on the piece's lowest cell there",
         "section": 'Appendix "Under the hood: the Tetris simulator", "Bitboards"',
         "hint": "only the column heights and the piece's lowest cell per column matter", "cases": landing_cases()},
        {"id": "ch05.bertsekas_features", "function": "bertsekas_features", "points": 3,
         "description": "the 2 * width + 2 Bertsekas features of a board",
         "idea": "a column's height counts from the bottom up to and including its highest filled cell (0 for an "
                 "empty column, whatever lies below); the features follow the order of the chapter's table, as floats",
         "section": 'Chapter 5, "Features: what the controller sees"',
         "hint": "heights, absolute differences of adjacent heights, max height, holes, 1", "cases": features_cases()},
        {"id": "ch05.noisy_cem_update", "function": "noisy_cem_update", "points": 3,
         "description": "one update of the noisy cross-entropy method (returns mean and variance)",
         "idea": "keep the samples with the highest fitness (ties go to the earlier sample), fit a Gaussian to them "
                 "alone, then widen its variance, not its standard deviation, by the extra noise",
         "section": 'Chapter 5, "Key equations: CEM and its extra noise"',
         "hint": "sort by fitness, keep the best n_elite, fit mean and variance, add the noise", "cases": cem_cases()},
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"exercises": exercises}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
