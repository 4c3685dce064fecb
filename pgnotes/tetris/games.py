"""Playing many Tetris games on a pool of processes: seeds by a game's place, one game per task.

Shared by the experiments of chapter 5 (:mod:`pgnotes.experiments.tetris_cem`,
:mod:`pgnotes.experiments.tetris_dellacherie`). Every game's piece sequence comes from
:func:`game_seed`, a function of the run's seed and the game's place in the run (iteration, role,
index), never of the process that plays it, so results do not depend on the number of workers or
on the order in which games finish. :func:`play` is what a worker runs; submitting one task per
game lets a free worker take the next game at once (game lengths are heavy-tailed).
"""

from __future__ import annotations

import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor

import numpy as np

from pgnotes.tetris import fast

SAMPLE, EVALUATION = 0, 1  #: roles in the seed of a game (a sampled weight vector's game, an evaluation game)


def game_seed(seed: int, iteration: int, role: int, index: int) -> int:
    """The seed of one game's piece sequence, derived from the run seed and the game's place."""
    return int(np.random.SeedSequence([seed, iteration, role, index]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def play(weights, seeds, kind, width, height, pieces, max_pieces) -> list[tuple[int, int, bool, float]]:
    """Worker: play one game per seed; ``(lines, pieces, game over, seconds)`` of each."""
    played = []
    for s in seeds:
        started = time.perf_counter()
        result = fast.play_game(weights, kind, width=width, height=height, seed=s, pieces=pieces, max_pieces=max_pieces)
        played.append((result.lines, result.pieces, result.game_over, time.perf_counter() - started))
    return played


class InlineExecutor(Executor):
    """Runs each submitted task at once in this process (``workers=1``): the same code path as a pool."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Call ``fn`` with the given arguments now, in this process; return a finished future."""
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def executor(workers: int) -> Executor:
    """A process pool of ``workers`` processes, or an :class:`InlineExecutor` for one."""
    return ProcessPoolExecutor(workers) if workers > 1 else InlineExecutor()
