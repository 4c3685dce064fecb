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
             "compare": "allclose", "rtol": 0, "atol": 1e-12, "points": 1,
             "hint": "heights (one per column), |differences| of neighbours, max height, holes, then the constant 1"}
            for name, b in boards()[1:6]]


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
        bottom = PIECE_BOTTOM[piece, rotation, :pw]
        expected = int(fast._landing_row(heights.astype(np.int64), piece, rotation, column))
        cases.append({"name": f"piece {'IOTSZJL'[piece]}, rotation {rotation}, column {column}",
                      "args": [arr(heights, "int64"), arr(bottom, "int64"), column], "kwargs": {},
                      "expected": expected, "compare": "allclose", "rtol": 0, "atol": 0, "points": 1,
                      "hint": "the piece stops at the first row where one of its columns touches: max over i of heights[column + i] - bottom[i]"})
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
         "hint": "for each column, the empty cells below its highest filled cell", "cases": holes_cases()},
        {"id": "ch05.landing_row", "function": "landing_row", "points": 2,
         "description": "where a piece dropped straight down comes to rest",
         "hint": "only the column heights and the piece's lowest cell per column matter", "cases": landing_cases()},
        {"id": "ch05.bertsekas_features", "function": "bertsekas_features", "points": 3,
         "description": "the 2 * width + 2 Bertsekas features of a board",
         "hint": "heights, absolute differences of adjacent heights, max height, holes, 1", "cases": features_cases()},
        {"id": "ch05.noisy_cem_update", "function": "noisy_cem_update", "points": 3,
         "description": "one update of the noisy cross-entropy method (returns mean and variance)",
         "hint": "sort by fitness, keep the best n_elite, fit mean and variance, add the noise", "cases": cem_cases()},
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"exercises": exercises}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
