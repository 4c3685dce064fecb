"""Noisy cross-entropy method on Tetris: the protocol of Szita & Lőrincz (2006) (chapter 5).

A linear controller puts each piece where ``w @ features`` of the resulting board is largest;
CEM searches the weights ``w`` (22 Bertsekas features on a 10 x 20 board). One iteration:

1. sample 100 weight vectors from ``N(mu, diag(sigma^2))`` (initially ``N(0, 100 I)``);
2. score each by the lines it clears in **one** game;
3. ``mu, sigma^2 <-`` mean and variance of the best 10, plus the extra noise ``Z_t``
   (none, constant ``Z = 4``, or decreasing ``Z_t = max(5 - t/10, 0)``);
4. score the new mean ``mu`` on 30 fresh games (the learning curve).

Run it (resumable: kill it at any point and run the same command again)::

    pgnotes tetris-cem --noise constant            # the full protocol
    pgnotes tetris-cem --noise decreasing --time-budget 600

The loop is the course's one runner, :func:`pgnotes.solvers.optimize`, driving
:class:`~pgnotes.solvers.cem.CEM`; the fitness is a :class:`TetrisGames` object, which owns the
process pool. Games are spread over the cores one game per task, so a free worker always takes
the next game; the evaluation games of iteration t run beside the sample games of iteration t+1
(both need only the state after ``tell``). Every game's piece sequence comes from a seed
derived from ``(seed, iteration, role, index)``, and the evaluations still owed are part of the
fitness object's state, so the result does not depend on the number of workers, on the overlap,
or on how often the run was interrupted. A portable JSON checkpoint is written atomically after
every iteration to ``results/checkpoints/`` and committed with the results, so a run continues
from a fresh clone on any machine. The results file (``results/tetris_cem_<noise>.json``)
carries the config, seed, commit and wall time, and says whether the run is complete
(``status``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from pgnotes import _validate, command
from pgnotes.checkpoint import check_resumable, load_portable_checkpoint, save_portable_checkpoint, write_json_atomic
from pgnotes.solvers.cem import CEM
from pgnotes.solvers.runner import History, optimize
from pgnotes.tetris.features import n_features
from pgnotes.tetris.games import EVALUATION, SAMPLE, executor, game_seed, play

@dataclass
class Config:
    """Settings of the experiment; the defaults are the protocol of Szita & Lőrincz (2006)."""

    #: extra noise Z_t: none, constant (noise_value) or decreasing (max(noise_start - t / noise_decay, 0))
    noise: Literal["none", "constant", "decreasing"] = "constant"
    iterations: int = 80  #: CEM iterations (raise it to extend a finished run)
    popsize: int = 100  #: weight vectors sampled per iteration
    elite_frac: float = 0.1  #: fraction kept as elites (10 of 100)
    sigma0: float = 10.0  #: initial standard deviation (variance 100)
    noise_value: float = 4.0  #: Z of the constant schedule
    noise_start: float = 5.0  #: Z_0 of the decreasing schedule
    noise_decay: float = 10.0  #: Z_t = max(noise_start - t / noise_decay, 0)
    games_per_sample: int = 1  #: games averaged for each sampled weight vector
    eval_games: int = 30  #: games played by the mean after each iteration
    #: features: bertsekas (22), dellacherie (6) or dellacherie8 (8)
    features: Literal["bertsekas", "dellacherie", "dellacherie8"] = "bertsekas"
    width: int = 10  #: board width
    height: int = 20  #: board height
    pieces: Literal["uniform", "bag"] = "uniform"  #: piece sequence: uniform (i.i.d., the protocol) or bag (7-bag)
    max_pieces: int | None = None  #: cap on the pieces of one game (none: play to the end, the protocol)
    seed: int = 0  #: seed of the solver and of every game's piece sequence
    out: str = "results/tetris_cem_{noise}.json"  #: results file, relative to the current directory ({field} filled in)
    #: checkpoint folder (file tetris_cem_<noise>_seed<seed>.json, committed with the results; none: no checkpoint)
    checkpoint: str | None = "results/checkpoints"
    time_budget: float | None = None  #: seconds for this invocation; run the command again to continue
    workers: int = os.cpu_count() or 1  #: processes playing games (1: play in this process)
    progress: bool = True  #: show a progress bar

    def validate(self) -> "Config":
        if self.noise not in ("none", "constant", "decreasing"):
            raise ValueError(f"noise must be 'none', 'constant' or 'decreasing', got {self.noise!r}")
        for name in ("iterations", "popsize", "games_per_sample", "eval_games"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        _validate.integer_at_least("workers", self.workers, 1)
        if self.time_budget is not None:
            _validate.positive("time_budget", self.time_budget)
        n_features(self.features, self.width)  # checks the feature set name
        return self



#: Config fields that may change between invocations of one run without changing its numbers.
RUN_OPTIONS = ("iterations", "out", "checkpoint", "time_budget", "workers", "progress")


def checkpoint_path(config: Config) -> Path | None:
    """The run's checkpoint file in the folder ``config.checkpoint`` (None: no checkpoint)."""
    if config.checkpoint is None:
        return None
    return Path(config.checkpoint) / f"tetris_cem_{config.noise}_seed{config.seed}.json"


class TetrisGames:
    """The experiment's fitness: lines cleared per game by the greedy controller of each weight vector.

    ``games(x)`` plays ``games_per_sample`` games per row of ``x`` (the samples of the next
    iteration) and returns the mean lines of each row, in order. Each row is its own task in the
    pool, so a free worker takes the next game at once (dynamic scheduling: game lengths are
    heavy-tailed, and a fixed split would leave workers idle).

    :meth:`after_generation` is a callback of :func:`~pgnotes.solvers.optimize`: after ``tell`` it
    owes the evaluation of the new mean on ``eval_games`` games. Those games are submitted behind
    the next iteration's samples and collected during the next call, so they fill the workers
    while the slowest sample game finishes; each completed iteration (its record) goes to
    ``on_record``. The evaluations still owed are part of :meth:`state_dict` (the weights and the
    game seeds follow from the record), so a resumed run replays them with the same numbers.
    Use it as a context manager: leaving it shuts the pool down.
    """

    def __init__(self, config: Config, *, on_record: Callable[[dict], None] | None = None):
        self.config = config.validate()
        self.on_record = on_record
        self.iteration = 0  # 0-based index of the next sample batch
        self.records: list[dict] = []  # completed iterations
        self.pending: list[dict] = []  # iterations whose evaluation is owed (records without eval_*), oldest first
        self.elapsed = 0.0  # wall seconds of all completed iterations, over every invocation
        self.pieces_here = 0  # pieces placed in this invocation
        self.busy_here = 0.0  # seconds workers spent playing in this invocation
        self.started = self._last_done = time.perf_counter()
        self._submitted: dict[int, list[Future]] = {}
        self._samples: tuple[np.ndarray, int, float] | None = None
        self._pool: Executor | None = None
        self.header = command.results_header("tetris_cem", self.config)  # once: it looks up the commit

    # -- the pool ------------------------------------------------------------------------------

    def __enter__(self) -> "TetrisGames":
        self.started = self._last_done = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._submitted.clear()

    def _submit(self, weights: np.ndarray, iteration: int, role: int, per: int) -> list[Future]:
        if self._pool is None:
            self._pool = executor(self.config.workers)
        cfg = self.config
        return [self._pool.submit(play, w, [game_seed(cfg.seed, iteration, role, i * per + k) for k in range(per)],
                                  cfg.features, cfg.width, cfg.height, cfg.pieces, cfg.max_pieces)
                for i, w in enumerate(weights)]

    def _collect(self, futures: list[Future]) -> tuple[np.ndarray, int, float]:
        """Total lines of each task in submission order, the pieces placed and the seconds workers played."""
        played = [f.result() for f in futures]
        lines = np.array([sum(g[0] for g in games) for games in played], dtype=np.float64)
        pieces = int(sum(g[1] for games in played for g in games))
        busy = float(sum(g[3] for games in played for g in games))
        self.pieces_here += pieces
        self.busy_here += busy
        return lines, pieces, busy

    # -- fitness and callback ------------------------------------------------------------------

    def __call__(self, x: np.ndarray) -> np.ndarray:
        per = self.config.games_per_sample
        samples = self._submit(x, self.iteration, SAMPLE, per)  # first: they are on the critical path
        self._submit_evaluations()  # behind them, the evaluations owed
        self._finish(keep=1)  # the workers play this iteration's samples while we wait for older evaluations
        lines, pieces, busy = self._collect(samples)
        self._samples = (lines / per, pieces, busy)
        self.iteration += 1
        return lines / per

    def after_generation(self, solver: CEM, history: History) -> None:
        """Owe the evaluation of the new mean; pay every evaluation owed once the run ends here.

        The run ends after this generation if it is the last one, or if ``time_budget`` is spent
        (the runner then starts no new generation); paying now means the checkpoint saved next
        owes nothing, so a resumed run does not replay those games.
        """
        fitness, pieces, busy = self._samples
        t = solver.generation - 1
        self.pending.append({
            "iteration": t + 1,
            "noise": solver.noise_at(t),
            "sample_lines_mean": float(fitness.mean()),
            "sample_lines_max": float(fitness.max()),
            "elite_lines_mean": float(np.sort(fitness)[-solver.n_elite:].mean()),
            "mean_weights": solver.mean.tolist(),  # the weights evaluated
            "mean_std": float(np.sqrt(solver.variance).mean()),
            "pieces": pieces,
            "worker_seconds": busy,
        })
        budget = self.config.time_budget
        if solver.generation >= self.config.iterations or (
                budget is not None and time.perf_counter() - self.started > budget):
            self.flush()

    def flush(self) -> None:
        """Play every evaluation still owed and complete its iteration."""
        self._submit_evaluations()
        self._finish(keep=0)

    def _submit_evaluations(self) -> None:
        for record in self.pending:
            t = record["iteration"] - 1
            if t not in self._submitted:
                weights = np.array(record["mean_weights"], dtype=np.float64)[None, :].repeat(self.config.eval_games, 0)
                self._submitted[t] = self._submit(weights, t, EVALUATION, 1)

    def _finish(self, keep: int) -> None:
        """Wait for the evaluations of all but the ``keep`` newest pending iterations; record them."""
        while len(self.pending) > keep:
            eval_lines, eval_pieces, eval_busy = self._collect(self._submitted.pop(self.pending[0]["iteration"] - 1))
            pending = self.pending.pop(0)
            now = time.perf_counter()
            record = {
                **pending,
                "eval_lines": eval_lines.astype(int).tolist(),
                "eval_mean": float(eval_lines.mean()),
                "eval_std": float(eval_lines.std(ddof=1)) if self.config.eval_games > 1 else 0.0,
                "pieces": pending["pieces"] + eval_pieces,
                "worker_seconds": pending["worker_seconds"] + eval_busy,
                "seconds": now - self._last_done,
            }
            self._last_done = now
            self.records.append(record)
            self.elapsed += record["seconds"]
            if self.on_record is not None:
                self.on_record(record)

    # -- state (saved in the runner's checkpoint) ----------------------------------------------

    def state_dict(self) -> dict:
        return {"iteration": self.iteration, "records": list(self.records), "pending": list(self.pending),
                "elapsed": self.elapsed}

    def load_state_dict(self, state: dict) -> None:
        _validate.mapping("state", state, ("iteration", "records", "pending", "elapsed"))
        self.close()
        self.iteration = int(state["iteration"])
        self.records = list(state["records"])
        self.pending = list(state["pending"])
        self.elapsed = float(state["elapsed"])


def _settings(config: Config) -> dict:
    return dataclasses.asdict(config)


def new_solver(cfg: Config) -> CEM:
    return CEM(
        n_features(cfg.features, cfg.width), cfg.popsize, sigma0=cfg.sigma0, elite_frac=cfg.elite_frac,
        noise=cfg.noise, noise_value=cfg.noise_value, noise_start=cfg.noise_start, noise_decay=cfg.noise_decay,
        rng=np.random.default_rng(cfg.seed),
    )


def _history_from_records(records: list[dict], popsize: int) -> History:
    """The runner's history of a run, rebuilt from its iteration records (for checkpoints written before
    the run went through :func:`~pgnotes.solvers.optimize`)."""
    history, wall = History(), 0.0
    for r in records:
        wall += r["seconds"]
        history.generation.append(r["iteration"])
        history.evaluations.append(r["iteration"] * popsize)
        history.generation_best.append(r["sample_lines_max"])
        history.generation_mean.append(r["sample_lines_mean"])
        history.best_so_far.append(max(r["sample_lines_max"], history.best_so_far[-1]) if history.best_so_far
                                   else r["sample_lines_max"])
        history.wall_time.append(wall)
    return history


def upgrade_checkpoint(saved: dict, config: Config) -> dict:
    """A checkpoint of the loop this module had before it used the runner (``config``, ``solver``,
    ``records``, ``elapsed``: every recorded iteration evaluated) as the runner's checkpoint."""
    records = saved["records"]
    games = {"iteration": len(records), "records": records, "pending": [], "elapsed": saved["elapsed"]}
    solver = saved["solver"]
    return {"solver": solver, "history": _history_from_records(records, config.popsize).to_dict(),
            "evaluations": len(records) * config.popsize, "elapsed": saved["elapsed"],
            "settings": {"solver": solver["solver"], "dim": solver["dim"], "popsize": solver["popsize"], **saved["config"]},
            "stopped": False, "fitness": games, "callbacks": [None], "upgraded": True}


def _read_checkpoint(path: Path | None, config: Config) -> dict | None:
    """The runner's checkpoint at ``path`` (an older checkpoint of this experiment upgraded), or None."""
    if path is None or not path.exists():
        return None
    saved = load_portable_checkpoint(path)
    if "records" in saved and "history" not in saved:
        saved = upgrade_checkpoint(saved, config)
    return saved


def run_cem(config: Config, *, on_iteration: Callable[[dict], None] | None = None) -> dict:
    """Run (or resume) noisy CEM on Tetris; return the results dict (also written to ``config.out``).

    The loop is :func:`~pgnotes.solvers.optimize` with a :class:`TetrisGames` fitness. With
    ``config.checkpoint`` set, a portable JSON checkpoint is saved atomically after every
    iteration and an existing one is resumed (it must come from the same settings, except
    :data:`RUN_OPTIONS`: ``iterations`` may be raised to extend a run). A run that is already
    complete is left as it is (no file is rewritten). Once ``config.time_budget`` seconds are
    spent, the run stops after the iteration in progress with ``"status": "stopped"``; the same
    call later continues it. ``on_iteration`` is called with each completed iteration's record.
    """
    config = config.validate()
    out, checkpoint = command.out_path(config), checkpoint_path(config)
    saved = _read_checkpoint(checkpoint, config)
    if saved is not None:
        check_resumable(checkpoint, saved["settings"], _settings(config), may_change=RUN_OPTIONS + ("solver", "dim"))
        done = saved["fitness"]["records"]
        if len(done) >= config.iterations and not saved["fitness"]["pending"] and out.exists():
            current = json.loads(out.read_text())
            if current.get("iterations_done") == len(done):
                return current  # complete: nothing to do, nothing rewritten
        if saved.get("upgraded"):
            save_portable_checkpoint(checkpoint, {k: v for k, v in saved.items() if k != "upgraded"})

    def record_done(record: dict) -> None:
        write_json_atomic(out, results(games, "stopped"))
        if on_iteration is not None:
            on_iteration(record)

    with TetrisGames(config, on_record=record_done) as games:
        optimize(games, new_solver(config), max_generations=config.iterations, callbacks=[games.after_generation],
                 vectorized=True, progress=config.progress, checkpoint=checkpoint, time_budget=config.time_budget,
                 settings=_settings(config), may_change=RUN_OPTIONS)
        games.flush()
        final = results(games, "complete" if len(games.records) >= config.iterations else "stopped")
    write_json_atomic(out, final)
    return final


def results(games: TetrisGames, status: str) -> dict:
    """The results file of a run: the header of every results file, the run's state, its records."""
    cfg, records = games.config, games.records
    seconds_here = time.perf_counter() - games.started
    last = records[-1] if records else None
    return {
        **games.header,
        "status": status,
        "iterations_done": len(records),
        "seed": cfg.seed,
        "wall_time_s": games.elapsed,
        "workers": cfg.workers,
        "last_invocation": {  # throughput of the latest command (compare with workers x one core's benchmark)
            "pieces": games.pieces_here, "seconds": seconds_here,
            "pieces_per_second": games.pieces_here / seconds_here if seconds_here > 0 else None,
            # share of workers x wall time spent playing games (1.0: no worker ever waited)
            "worker_busy_fraction": games.busy_here / (cfg.workers * seconds_here) if seconds_here > 0 else None,
        },
        "final": None if last is None else {
            "iteration": last["iteration"], "eval_mean": last["eval_mean"], "eval_std": last["eval_std"],
            "eval_min": min(last["eval_lines"]), "eval_max": max(last["eval_lines"]), "weights": last["mean_weights"],
        },
        "records": records,
    }


def run(config: Config) -> int:
    """``pgnotes tetris-cem``: run or resume the experiment, printing one line per iteration."""

    def report(r: dict) -> None:
        print(f"iteration {r['iteration']:3d}  Z={r['noise']:.2f}  eval mean {r['eval_mean']:12.1f} "
              f"(sd {r['eval_std']:.1f})  samples mean {r['sample_lines_mean']:10.1f}  {r['seconds']:7.1f} s", flush=True)

    data = run_cem(config, on_iteration=report)
    print(f"{data['status']}: {data['iterations_done']}/{config.iterations} iterations, "
          f"{data['wall_time_s']:.0f} s; results in {command.out_path(config)}")
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
