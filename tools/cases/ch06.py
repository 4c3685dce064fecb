"""Generate pgnotes/grading/cases/ch06.json from the reference implementation in pgnotes.distributed.

Run: .venv/bin/python tools/cases/ch06.py   (deterministic: fixed seeds)

Exercises (chapter 6, distributed ES):
1. ``reconstruct_perturbations(noise, indices, dim)`` -- every worker's epsilon_j from the
   shared table and the gathered indices;
2. ``sort_gathered(rows, directions)`` -- all_gather output (blocks of rows ``[k, index, F]``,
   padded with ``k = -1``) into direction order: the step that makes the update independent
   of the number of workers;
3. ``algorithm2_update(theta, noise, indices, returns, sigma, alpha)`` -- line 11 of
   Algorithm 2 with raw returns.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pgnotes.distributed.algorithm import es_gradient_from_table, gather_to_arrays, partition
from pgnotes.distributed.noise_table import NoiseTable

OUT = Path(__file__).resolve().parents[2] / "pgnotes" / "grading" / "cases" / "ch06.json"


def arr(a, dtype="float64") -> dict:
    return {"__ndarray__": np.asarray(a).astype(dtype).tolist(), "dtype": dtype}


def table(seed: int, size: int) -> NoiseTable:
    return NoiseTable.build(seed, size)


def reconstruct_cases() -> list[dict]:
    cases = []
    for name, seed, size, dim, n in [
        ("3 perturbations of dimension 4", 1, 40, 4, 3),
        ("8 perturbations of dimension 10, a repeated index", 2, 100, 10, 8),
        ("the last valid index", 3, 30, 7, 2),
    ]:
        t = table(seed, size)
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, size - dim + 1, size=n)
        if "repeated" in name:
            idx[3] = idx[1]
        if "last" in name:
            idx[-1] = size - dim
        expected = np.stack([t.get(i, dim) for i in idx]).astype(np.float64)
        cases.append({"name": name, "args": [arr(t.noise), arr(idx, "int64"), dim], "kwargs": {},
                      "expected": arr(expected), "compare": "allclose", "rtol": 0, "atol": 0, "points": 1,
                      "hint": "perturbation j is the slice noise[indices[j] : indices[j] + dim], one row per index"})
    t = table(4, 20)
    hint = ("0 <= indices[j] and indices[j] + dim <= len(noise) for every j: raise ValueError instead of returning "
            "a short or wrapped-around slice")
    for name, idx, dim in [("an index too close to the end of the table", [3, 15], 8),
                           ("a single index whose slice runs past the end", [15], 8),
                           ("a single negative index", [-3], 4),
                           ("an index past the end of the table", [25], 1)]:
        cases.append({"name": name, "args": [arr(t.noise), arr(idx, "int64"), dim], "kwargs": {},
                      "expected": "ValueError", "compare": "raises", "points": 1, "hint": hint,
                      "idea": "a slice that does not fit in the table must be refused, even when it is the only one"})
    return cases


def gathered_rows(directions: int, world: int, seed: int) -> np.ndarray:
    """What all_gather returns: one padded block per rank, ranks in order."""
    rng = np.random.default_rng(seed)
    rows = np.column_stack([np.arange(directions), rng.integers(0, 10_000, directions),
                            np.round(rng.normal(50, 20, directions), 1)])
    width = -(-directions // world)
    blocks = []
    for r in range(world):
        block = rows[list(partition(directions, world, r))]
        blocks.append(np.vstack([block, np.full((width - len(block), 3), -1.0)]))
    return np.vstack(blocks)


def sort_cases() -> list[dict]:
    cases = []
    for name, directions, world, seed, shuffle in [
        ("one worker", 5, 1, 10, False),
        ("two workers, even split", 6, 2, 11, False),
        ("three workers, uneven split with padding", 7, 3, 12, False),
        ("four workers, blocks arriving out of order", 9, 4, 13, True),
    ]:
        rows = gathered_rows(directions, world, seed)
        if shuffle:
            width = -(-directions // world)
            blocks = rows.reshape(world, width, 3)[[2, 0, 3, 1]]
            rows = blocks.reshape(-1, 3)
        indices, returns = gather_to_arrays(rows, directions, 1)
        cases.append({"name": name, "args": [arr(rows), directions], "kwargs": {},
                      "expected": [arr(indices, "int64"), arr(returns[:, 0])],
                      "compare": "allclose", "rtol": 0, "atol": 0, "points": 1, "check_dtype": True,
                      "hint": "drop rows with k < 0 (padding), sort the rest by k, return (indices as int, returns)"})
    rows = gathered_rows(4, 2, 14)
    rows[2, 0] = 0.0  # direction 0 twice, direction 2 missing
    cases.append({"name": "a direction missing and another twice", "args": [arr(rows), 4], "kwargs": {},
                  "expected": "ValueError", "compare": "raises", "points": 1,
                  "hint": "after sorting, k must be exactly 0, 1, ..., directions - 1; otherwise raise ValueError"})
    return cases


def update_cases() -> list[dict]:
    cases = []
    for name, seed, size, dim, n, sigma, alpha in [
        ("4 workers' returns, dimension 3", 20, 200, 3, 4, 0.1, 0.01),
        ("16 directions, dimension 12", 21, 500, 12, 16, 0.05, 0.02),
        ("a single direction", 22, 50, 5, 1, 0.5, 1.0),
    ]:
        t = table(seed, size)
        rng = np.random.default_rng(seed)
        theta = rng.normal(size=dim)
        idx = rng.integers(0, size - dim + 1, size=n)
        returns = rng.normal(10, 5, size=n)
        new = theta + alpha * es_gradient_from_table(t, idx, returns, dim, sigma, n)
        cases.append({"name": name,
                      "args": [arr(theta), arr(t.noise), arr(idx, "int64"), arr(returns), sigma, alpha], "kwargs": {},
                      "expected": arr(new), "compare": "allclose", "rtol": 1e-9, "atol": 1e-12, "points": 1,
                      "hint": "theta + alpha / (n * sigma) * sum_j returns[j] * eps_j, with eps_j rebuilt from the table"})
    return cases


def main() -> None:
    exercises = [
        {"id": "ch06.reconstruct_perturbations", "function": "reconstruct_perturbations", "points": 3,
         "description": "rebuild every worker's perturbation from the shared noise table and the gathered indices",
         "idea": "each perturbation is a slice of the shared table starting at its index; a slice that would run "
                 "past either end of the table is an error, not a short row",
         "section": 'Chapter 6, "Key equations"',
         "hint": "a perturbation is a slice of the table; check the slice fits", "cases": reconstruct_cases()},
        {"id": "ch06.sort_gathered", "function": "sort_gathered", "points": 3,
         "description": "put all_gather's padded blocks of [k, index, return] rows into direction order",
         "idea": "drop the padding, put the rows in direction order, and make sure every direction appears exactly "
                 "once; the noise indices come back as integers",
         "section": 'Chapter 6, "The pgnotes code"',
         "hint": "the same order on every worker and for every world size gives the same update",
         "cases": sort_cases()},
        {"id": "ch06.algorithm2_update", "function": "algorithm2_update", "points": 3,
         "description": "line 11 of Algorithm 2: the update from indices and scalar returns only",
         "idea": "line 11 of Salimans et al.'s Algorithm 2: rebuild each perturbation from the table and weight it "
                 "by its raw return; the step goes uphill",
         "section": 'Chapter 6, "Pseudocode"',
         "hint": "theta + alpha / (n sigma) sum_j F_j eps_j", "cases": update_cases()},
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"exercises": exercises}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
