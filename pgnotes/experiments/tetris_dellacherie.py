"""Dellacherie's hand-coded Tetris controller on our simulator: the reference row (chapter 5).

Six features and fixed weights (landing height -1, eroded piece cells +1, row transitions -1,
column transitions -1, holes -4, well sums -1; Fahey 2003), each piece put where the weighted
sum is largest, ties to the first action (Fahey's implementation breaks ties by a priority
rule we do not reproduce). Games are long (a million lines and more), so this is a command
that writes ``results/tetris_dellacherie.json``; the stored file came from::

    pgnotes tetris-dellacherie --games 5 --max-pieces 5000000

Game ``i`` plays the piece sequence of the ``i``-th evaluation game of the first iteration of
:mod:`~pgnotes.experiments.tetris_cem` with the same seed. The games are spread over the workers
one game per task, and the results file is rewritten after every finished game, so the command
is resumable: run it again and it plays only the games still missing (``--games`` may be
raised to add games). A capped game is counted with the lines it had cleared when it was
stopped, so with capped games the mean is a lower bound (``capped_games`` in the results says
how many).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

import numpy as np

from pgnotes import command
from pgnotes.checkpoint import check_resumable, write_json_atomic
from pgnotes.tetris import DELLACHERIE_WEIGHTS
from pgnotes.tetris.games import EVALUATION, executor, game_seed, play


@dataclass
class Config:
    """Settings of the Dellacherie reference run (the stored file: 5 games capped at 5,000,000 pieces)."""

    games: int = 10  #: games to play (raise it to add games to a finished run)
    seed: int = 0  #: seed of the piece sequences (those of tetris-cem's evaluation games with this seed)
    width: int = 10  #: board width
    height: int = 20  #: board height
    max_pieces: int | None = None  #: cap on the pieces of one game (none: play until the board tops out)
    out: str = "results/tetris_dellacherie.json"  #: results file, relative to the current directory
    time_budget: float | None = None  #: seconds for this invocation (games in progress finish); run again to continue
    workers: int = os.cpu_count() or 1  #: processes playing games, one game each at a time


def summarize(config: Config, played: list[dict], seconds: float) -> dict:
    """The results file: header, summary of the games played so far, and the games."""
    lines = np.array([g["lines"] for g in played], dtype=np.float64)
    return {
        **command.results_header("tetris_dellacherie", config),
        "status": "complete" if len(played) >= config.games else "stopped",
        "games_done": len(played),
        "seed": config.seed,
        "weights": DELLACHERIE_WEIGHTS.tolist(),
        "features": "dellacherie",
        "wall_time_s": seconds,
        "workers": config.workers,
        "mean_lines": float(lines.mean()) if len(played) else None,
        "std_lines": float(lines.std(ddof=1)) if len(played) > 1 else 0.0,
        "min_lines": int(lines.min()) if len(played) else None,
        "max_lines": int(lines.max()) if len(played) else None,
        "capped_games": int(sum(not g["game_over"] for g in played)),
        "pieces_per_s": float(sum(g["pieces"] for g in played) / sum(g["seconds"] for g in played)) if played else None,
        "games": played,
    }


def evaluate(config: Config) -> dict:
    """Play the games of ``config`` not yet in its results file; return (and write) the results."""
    out = command.out_path(config)
    played: list[dict] = []
    wall = 0.0
    if out.exists():
        saved = json.loads(out.read_text())
        # files written before this command had a Config also listed the fixed weights, features and pieces
        check_resumable(out, saved["config"], dataclasses.asdict(config),
                        may_change=("games", "out", "time_budget", "workers", "weights", "features", "pieces"))
        played, wall = saved["games"], saved["wall_time_s"]
    index = {game_seed(config.seed, 0, EVALUATION, i): i for i in range(config.games)}
    done = {g["seed"] for g in played}
    todo = [s for s in index if s not in done]
    start = time.perf_counter()
    pool, running = executor(config.workers), {}
    try:
        while todo or running:
            in_budget = config.time_budget is None or time.perf_counter() - start <= config.time_budget
            while todo and in_budget and len(running) < config.workers:  # one game per free worker
                seed = todo.pop(0)
                running[pool.submit(play, DELLACHERIE_WEIGHTS, [seed], "dellacherie", config.width, config.height,
                                    "uniform", config.max_pieces)] = seed
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                (lines, pieces, game_over, seconds), = future.result()
                played.append({"seed": running.pop(future), "lines": lines, "pieces": pieces, "game_over": game_over,
                               "seconds": seconds})
            played.sort(key=lambda g: index.get(g["seed"], len(index)))
            write_json_atomic(out, summarize(config, played, wall + time.perf_counter() - start))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    results = summarize(config, played, wall + time.perf_counter() - start)
    write_json_atomic(out, results)
    return results


def describe(results: dict) -> str:
    """One line about a results file of this command."""
    return (f"Dellacherie: mean {results['mean_lines']:,.0f} lines over {len(results['games'])} games "
            f"(sd {results['std_lines']:,.0f}, min {results['min_lines']:,}, max {results['max_lines']:,}); "
            f"{results['wall_time_s']:.0f} s; {results['status']}")


def run(config: Config) -> int:
    """``pgnotes tetris-dellacherie``: play the games still missing, then print a summary."""
    print(describe(evaluate(config)), "->", command.out_path(config))
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
