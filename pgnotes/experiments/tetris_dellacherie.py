"""Dellacherie's hand-coded Tetris controller on our simulator: the reference row (chapter 5).

Six features and fixed weights (landing height -1, eroded piece cells +1, row transitions -1,
column transitions -1, holes -4, well sums -1; Fahey 2003), each piece put where the weighted
sum is largest, ties to the first action (Fahey's implementation breaks ties by a priority
rule we do not reproduce). Games are long (a million lines and more), so this is a command
that writes ``results/tetris_dellacherie.json``; the stored file came from::

    python -m pgnotes.experiments.tetris_dellacherie --games 5 --max-pieces 5000000

A capped game is counted with the lines it had cleared when it was stopped, so with capped
games the mean is a lower bound (``capped_games`` in the results says how many).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from pgnotes.checkpoint import write_json_atomic
from pgnotes.experiments.tetris_cem import EVALUATION, game_seed
from pgnotes.provenance import git_commit
from pgnotes.tetris import DELLACHERIE_WEIGHTS, fast


def _game(args):
    seed, width, height, max_pieces = args
    start = time.perf_counter()
    result = fast.play_game(DELLACHERIE_WEIGHTS, "dellacherie", width=width, height=height, seed=seed, max_pieces=max_pieces)
    return {"seed": seed, "lines": result.lines, "pieces": result.pieces, "game_over": result.game_over,
            "seconds": time.perf_counter() - start}


def evaluate(games: int = 10, *, seed: int = 0, width: int = 10, height: int = 20, max_pieces: int | None = None,
             workers: int = 1) -> dict:
    """Play ``games`` games with Dellacherie's controller; return per-game results and their summary."""
    tasks = [(game_seed(seed, 0, EVALUATION, i), width, height, max_pieces) for i in range(games)]
    start = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            played = list(pool.map(_game, tasks))
    else:
        played = [_game(t) for t in tasks]
    lines = np.array([g["lines"] for g in played], dtype=np.float64)
    return {
        "experiment": "tetris_dellacherie",
        "config": {"games": games, "seed": seed, "width": width, "height": height, "max_pieces": max_pieces,
                   "weights": DELLACHERIE_WEIGHTS.tolist(), "features": "dellacherie", "pieces": "uniform"},
        "seed": seed,
        "commit": git_commit(),
        "wall_time_s": time.perf_counter() - start,
        "workers": workers,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "mean_lines": float(lines.mean()),
        "std_lines": float(lines.std(ddof=1)) if games > 1 else 0.0,
        "min_lines": int(lines.min()),
        "max_lines": int(lines.max()),
        "capped_games": int(sum(not g["game_over"] for g in played)),
        "pieces_per_s": float(sum(g["pieces"] for g in played) / sum(g["seconds"] for g in played)),
        "games": played,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--games", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--height", type=int, default=20)
    parser.add_argument("--max-pieces", type=int, default=None, help="cap on the length of a game (default: none)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", default="results/tetris_dellacherie.json",
                        help="results JSON, relative to the current directory (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    results = evaluate(args.games, seed=args.seed, width=args.width, height=args.height,
                       max_pieces=args.max_pieces, workers=args.workers)
    write_json_atomic(Path(args.output), results)
    print(f"Dellacherie: mean {results['mean_lines']:,.0f} lines over {args.games} games "
          f"(sd {results['std_lines']:,.0f}, min {results['min_lines']:,}, max {results['max_lines']:,}); "
          f"{results['wall_time_s']:.0f} s; {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
