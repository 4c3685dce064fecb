"""Noisy cross-entropy method on Tetris: the protocol of Szita & Lőrincz (2006) (chapter 5).

A linear controller puts each piece where ``w @ features`` of the resulting board is largest;
CEM searches the weights ``w`` (22 Bertsekas features on a 10 x 20 board). One iteration:

1. sample 100 weight vectors from ``N(mu, diag(sigma^2))`` (initially ``N(0, 100 I)``);
2. score each by the lines it clears in **one** game;
3. ``mu, sigma^2 <-`` mean and variance of the best 10, plus the extra noise ``Z_t``
   (none, constant ``Z = 4``, or decreasing ``Z_t = max(5 - t/10, 0)``);
4. score the new mean ``mu`` on 30 fresh games (the learning curve).

Run it (resumable: kill it at any point and run the same command again)::

    python -m pgnotes.experiments.tetris_cem --noise constant            # the full protocol
    python -m pgnotes.experiments.tetris_cem --noise decreasing --time-budget 600

Games are spread over the machine's cores with a process pool, one game per task, so a free
worker always takes the next game; the evaluation games of iteration t run beside the sample
games of iteration t+1. Every game's piece sequence comes from a seed derived from
``(seed, iteration, role, index)`` and the solver's generator is saved in the checkpoint, so
the result does not depend on the number of workers, on the overlap, or on how often the run
was interrupted. A portable JSON checkpoint is written atomically after every iteration to
``results/checkpoints/`` and committed with the results, so a run continues from a fresh
clone on any machine. The results file (``results/tetris_cem_<noise>.json``) carries the
config, seed, commit and wall time, and says whether the run is complete (``status``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pgnotes import _validate
from pgnotes.checkpoint import load_portable_checkpoint, save_portable_checkpoint, write_json_atomic
from pgnotes.solvers.cem import CEM
from pgnotes.tetris import fast
from pgnotes.tetris.features import n_features
from pgnotes.provenance import git_commit

ROOT = Path(__file__).resolve().parents[2]
SAMPLE, EVALUATION = 0, 1  # roles in the seed of a game


@dataclass
class Config:
    """Hyperparameters; the defaults are the protocol of Szita & Lőrincz (2006)."""

    noise: str = "constant"  # "none", "constant" (Z = noise_value) or "decreasing" (max(noise_start - t/noise_decay, 0))
    iterations: int = 80  # CEM iterations
    popsize: int = 100  # weight vectors sampled per iteration
    elite_frac: float = 0.1  # fraction kept as elites (10 of 100)
    sigma0: float = 10.0  # initial standard deviation (variance 100)
    noise_value: float = 4.0  # Z of the constant schedule
    noise_start: float = 5.0  # Z_0 of the decreasing schedule
    noise_decay: float = 10.0  # Z_t = max(noise_start - t / noise_decay, 0)
    games_per_sample: int = 1  # games averaged for each sampled weight vector
    eval_games: int = 30  # games played by the mean after each iteration
    features: str = "bertsekas"  # "bertsekas" (22), "dellacherie" (6) or "dellacherie8" (8)
    width: int = 10
    height: int = 20
    pieces: str = "uniform"  # "uniform" (i.i.d., the protocol) or "bag"
    max_pieces: int | None = None  # cap on the pieces of one game (None: play to the end, the protocol)
    seed: int = 0

    def validate(self) -> "Config":
        if self.noise not in ("none", "constant", "decreasing"):
            raise ValueError(f"noise must be 'none', 'constant' or 'decreasing', got {self.noise!r}")
        for name in ("iterations", "popsize", "games_per_sample", "eval_games"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        n_features(self.features, self.width)  # checks the feature set name
        return self


def game_seed(seed: int, iteration: int, role: int, index: int) -> int:
    """The seed of one game's piece sequence, derived from the run seed and the game's place."""
    return int(np.random.SeedSequence([seed, iteration, role, index]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _play(args) -> tuple[int, int, float]:
    """Worker: play the games of one weight vector; return (total lines, total pieces, seconds busy)."""
    weights, seeds, kind, width, height, pieces, max_pieces = args
    started = time.perf_counter()
    lines = placed = 0
    for s in seeds:
        result = fast.play_game(weights, kind, width=width, height=height, seed=s, pieces=pieces, max_pieces=max_pieces)
        lines += result.lines
        placed += result.pieces
    return lines, placed, time.perf_counter() - started


class _InlineExecutor(Executor):
    """Runs each submitted game at once in this process (``workers=1``): the same code path as a pool."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _submit_games(cfg: Config, weights: np.ndarray, iteration: int, role: int, per: int, pool: Executor) -> list[Future]:
    """One future per row of ``weights``: the lines and pieces of its ``per`` games.

    Each row is its own task, so a free worker takes the next game at once (dynamic
    scheduling: game lengths are heavy-tailed, and a fixed split would leave workers idle).
    """
    return [
        pool.submit(_play, (w, [game_seed(cfg.seed, iteration, role, i * per + k) for k in range(per)],
                            cfg.features, cfg.width, cfg.height, cfg.pieces, cfg.max_pieces))
        for i, w in enumerate(weights)
    ]


def _collect(futures: list[Future], per: int) -> tuple[np.ndarray, int, float]:
    """Lines (averaged over ``per`` games) of each task in submission order, the pieces they
    placed, and the seconds workers spent playing them."""
    out = [f.result() for f in futures]
    return np.array([o[0] for o in out], dtype=np.float64) / per, int(sum(o[1] for o in out)), float(sum(o[2] for o in out))


def new_solver(cfg: Config) -> CEM:
    return CEM(
        n_features(cfg.features, cfg.width), cfg.popsize, sigma0=cfg.sigma0, elite_frac=cfg.elite_frac,
        noise=cfg.noise, noise_value=cfg.noise_value, noise_start=cfg.noise_start, noise_decay=cfg.noise_decay,
        rng=np.random.default_rng(cfg.seed),
    )


def default_paths(cfg: Config) -> tuple[Path, Path]:
    """Results file and checkpoint of a run, relative to the current directory.

    The checkpoint lives in ``results/checkpoints/`` and is committed with the results, so the
    run continues from a fresh clone on any machine.
    """
    results = Path("results")
    return results / f"tetris_cem_{cfg.noise}.json", results / "checkpoints" / f"tetris_cem_{cfg.noise}_seed{cfg.seed}.json"


def _load(checkpoint: Path, cfg: Config, solver: CEM) -> tuple[list[dict], float]:
    saved = load_portable_checkpoint(checkpoint)
    same = {k: v for k, v in saved["config"].items() if k != "iterations"}
    if same != {k: v for k, v in dataclasses.asdict(cfg).items() if k != "iterations"}:
        raise ValueError(f"checkpoint {checkpoint} was written with another config: {saved['config']}")
    solver.load_state_dict(saved["solver"])
    return saved["records"], saved["elapsed"]


def run_cem(
    cfg: Config,
    *,
    checkpoint: str | Path | None = None,
    output: str | Path | None = None,
    workers: int = 1,
    time_budget: float | None = None,
    progress: bool = True,
    on_iteration: Callable[[dict], None] | None = None,
) -> dict:
    """Run (or resume) noisy CEM on Tetris; return the results dict (also written to ``output``).

    The evaluation games of iteration ``t`` and the sample games of iteration ``t + 1`` both
    need only the solver's state after ``tell`` at ``t``, so they run side by side: the
    evaluation games fill the workers while the slowest sample game finishes. Every game's
    seed depends only on its place, and ``ask``/``tell`` run in the same order as in a plain
    loop, so the numbers do not depend on ``workers``, on the overlap, or on interruptions.

    Parameters
    ----------
    cfg : Config
        Hyperparameters (the defaults are the published protocol).
    checkpoint : path, optional
        A portable JSON checkpoint (:func:`pgnotes.checkpoint.save_portable_checkpoint`) saved
        atomically after every iteration; if it exists, the run resumes from it (its config must
        equal ``cfg``, except ``iterations``, which may be raised to extend a run).
    output : path, optional
        Where the results JSON goes (rewritten after every iteration).
    workers : int
        Processes playing games in parallel (1: play in this process).
    time_budget : float, optional
        Seconds after which this invocation starts no new iteration; the results are marked
        ``"status": "stopped"`` and the same call later continues the run.
    on_iteration : callable, optional
        Called with each new iteration record (e.g. to print or plot).
    """
    cfg = cfg.validate()
    workers = _validate.integer_at_least("workers", workers, 1)
    solver = new_solver(cfg)
    records: list[dict] = []
    elapsed = 0.0
    if checkpoint is not None and Path(checkpoint).exists():
        records, elapsed = _load(Path(checkpoint), cfg, solver)

    started = last_done = time.perf_counter()
    pieces_here, busy_here = 0, 0.0  # pieces placed and seconds workers were busy in this invocation
    pool: Executor = ProcessPoolExecutor(workers) if workers > 1 else _InlineExecutor()
    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.iterations, initial=len(records), disable=not progress, desc=f"CEM {cfg.noise}", leave=False)

    def go_on(t: int) -> bool:
        in_budget = time_budget is None or time.perf_counter() - started <= time_budget
        return t < cfg.iterations and in_budget

    def finish(pending: dict) -> None:
        """Wait for one iteration's evaluation games, then record and checkpoint it."""
        nonlocal elapsed, last_done, pieces_here, busy_here
        eval_lines, eval_pieces, eval_busy = _collect(pending.pop("eval"), 1)
        state = pending.pop("state")
        now = time.perf_counter()
        record = {
            **pending,
            "eval_lines": eval_lines.astype(int).tolist(),
            "eval_mean": float(eval_lines.mean()),
            "eval_std": float(eval_lines.std(ddof=1)) if cfg.eval_games > 1 else 0.0,
            "pieces": pending["pieces"] + eval_pieces,
            "worker_seconds": pending["worker_seconds"] + eval_busy,
            "seconds": now - last_done,
        }
        last_done = now
        records.append(record)
        elapsed += record["seconds"]
        pieces_here += record["pieces"]
        busy_here += record["worker_seconds"]
        if checkpoint is not None:
            save_portable_checkpoint(checkpoint, {"config": dataclasses.asdict(cfg), "solver": state,
                                                  "records": records, "elapsed": elapsed})
        if output is not None:
            write_json_atomic(output, _results(cfg, records, elapsed, workers, pieces_here, busy_here, now - started))
        if on_iteration is not None:
            on_iteration(record)
        bar.update(1)
        bar.set_postfix(eval_mean=f"{record['eval_mean']:.4g}", refresh=False)

    try:
        t = len(records)
        pending = None
        if go_on(t):
            x = solver.ask()
            sample = _submit_games(cfg, x, t, SAMPLE, cfg.games_per_sample, pool)
            while sample is not None:
                fitness, pieces, busy = _collect(sample, cfg.games_per_sample)
                z = solver.noise_at(t)
                solver.tell(x, fitness)
                current = {  # iteration t, complete once its evaluation games are in
                    "iteration": t + 1,
                    "noise": z,
                    "sample_lines_mean": float(fitness.mean()),
                    "sample_lines_max": float(fitness.max()),
                    "elite_lines_mean": float(np.sort(fitness)[-solver.n_elite:].mean()),
                    "mean_weights": solver.mean.tolist(),
                    "mean_std": float(np.sqrt(solver.variance).mean()),
                    "pieces": pieces,
                    "worker_seconds": busy,
                    "state": solver.state_dict(),  # what a resumed run starts from
                }
                evaluated = solver.mean[None, :].repeat(cfg.eval_games, 0)
                t += 1
                sample = None
                if go_on(t):  # the next iteration's samples go first: they are on the critical path
                    x = solver.ask()
                    sample = _submit_games(cfg, x, t, SAMPLE, cfg.games_per_sample, pool)
                current["eval"] = _submit_games(cfg, evaluated, t - 1, EVALUATION, 1, pool)
                if pending is not None:
                    finish(pending)
                pending = current
            if pending is not None:
                finish(pending)
        bar.close()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    results = _results(cfg, records, elapsed, workers, pieces_here, busy_here, time.perf_counter() - started)
    if output is not None:
        write_json_atomic(output, results)
    return results


def _results(cfg: Config, records: list[dict], elapsed: float, workers: int, pieces_here: int = 0,
             busy_here: float = 0.0, seconds_here: float = 0.0) -> dict:
    complete = len(records) >= cfg.iterations
    last = records[-1] if records else None
    return {
        "experiment": "tetris_cem",
        "status": "complete" if complete else "stopped",
        "iterations_done": len(records),
        "config": dataclasses.asdict(cfg),
        "seed": cfg.seed,
        "commit": git_commit(),
        "wall_time_s": elapsed,
        "workers": workers,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "last_invocation": {  # throughput of the latest command (compare with workers x one core's benchmark)
            "pieces": pieces_here, "seconds": seconds_here,
            "pieces_per_second": pieces_here / seconds_here if seconds_here > 0 else None,
            # share of workers x wall time spent playing games (1.0: no worker ever waited)
            "worker_busy_fraction": busy_here / (workers * seconds_here) if seconds_here > 0 else None,
        },
        "final": None if last is None else {
            "iteration": last["iteration"], "eval_mean": last["eval_mean"], "eval_std": last["eval_std"],
            "eval_min": min(last["eval_lines"]), "eval_max": max(last["eval_lines"]), "weights": last["mean_weights"],
        },
        "records": records,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for field in dataclasses.fields(Config):
        kind = {"int": int, "float": float, "str": str}[str(field.type).split(" ")[0]]
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=field.default,
                            help=f"(default: {field.default})")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes playing games (default: all cores)")
    parser.add_argument("--time-budget", type=float, default=None, help="stop (resumably) after this many seconds")
    parser.add_argument("--output", default=None, help="results JSON (default: results/tetris_cem_<noise>.json under the current directory)")
    parser.add_argument("--checkpoint", default=None, help="portable checkpoint (default: results/checkpoints/tetris_cem_<noise>_seed<seed>.json)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``pgnotes tetris-cem`` and of ``python -m pgnotes.experiments.tetris_cem``."""
    cfg = Config(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Config)})
    default_output, default_checkpoint = default_paths(cfg)
    output = args.output or default_output
    checkpoint = args.checkpoint or default_checkpoint

    def report(r: dict) -> None:
        print(f"iteration {r['iteration']:3d}  Z={r['noise']:.2f}  eval mean {r['eval_mean']:12.1f} "
              f"(sd {r['eval_std']:.1f})  samples mean {r['sample_lines_mean']:10.1f}  {r['seconds']:7.1f} s", flush=True)

    results = run_cem(cfg, checkpoint=checkpoint, output=output, workers=args.workers, time_budget=args.time_budget,
                  progress=not args.no_progress, on_iteration=report)
    print(f"{results['status']}: {results['iterations_done']}/{cfg.iterations} iterations, "
          f"{results['wall_time_s']:.0f} s; results in {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
