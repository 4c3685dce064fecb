"""Multi-environment search with distributed ES (chapter 6): train on one CartPole or on many, test on unseen physics.

The CMU 10-703 lecture (Fragkiadaki & Kumar) closes with ES's weakness (it gets stuck in local optima) and an empirical remedy:
search over *several related environments* at once. Here the fitness of a parameter vector
is its return averaged over ``--variants`` CartPole variants whose pole length, pole mass and
push force are drawn at random (:func:`pgnotes.distributed.tasks.cartpole_variants`); the
baseline trains on the nominal CartPole only. Both are then evaluated on held-out variants
drawn from a wider range, and on the nominal environment. A run still on a plateau after
``--generations`` (mean training return of its last 5 generations below ``--stuck-below``)
is resumed from its checkpoint and trained on to ``--continue-to`` generations; both stages
are evaluated and recorded.

Usage (about 15 minutes on 2 idle cores with the defaults)::

    pgnotes distributed-multienv            # or: python -m pgnotes.experiments.distributed_multienv

writes ``results/distributed_multienv.json`` (settings, seeds, commit, per-run learning curves,
held-out returns, timings). Each training run is a ``torchrun`` job started with
:func:`pgnotes.distributed.launcher.launch`. The file is rewritten after every (regime, seed)
and a re-run skips those already in it (:func:`pgnotes.command.run_jobs`); within a run, the
workers checkpoint every 10 generations into ``--checkpoint``, so a stopped run continues from
its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pgnotes import command
from pgnotes.distributed.algorithm import ESConfig
from pgnotes.distributed.launcher import launch
from pgnotes.distributed.tasks import PolicyTask, cartpole_variants

#: The held-out test set: wider ranges than training (pole half-length, pole mass, push force).
HELDOUT_RANGES = dict(length=(0.15, 1.5), masspole=(0.05, 1.0), force_mag=(3.0, 15.0))
#: Regime -> training variants (0: the nominal environment only; None: ``Config.variants``).
REGIMES = {"nominal": 0, "multi-environment": None}


@dataclass
class Config:
    """Settings of the multi-environment experiment (the defaults made the chapter's file)."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])  #: training seeds of both regimes
    variants: int = 8  #: training variants of the multi-environment run
    generations: int = 60  #: generations of the first stage
    directions: int = 16  #: perturbation directions per generation (antithetic pairs)
    hidden: list[int] = field(default_factory=lambda: [16])  #: hidden layer sizes of the policy (none: linear)
    workers: int = 2  #: torchrun worker processes per training run
    heldout: int = 30  #: number of held-out test variants
    heldout_seed: int = 999  #: seed of the held-out variant draw
    continue_to: int = 150  #: a run whose last 5 generations average below --stuck-below is trained on to this many generations (0: never)
    stuck_below: float = 400.0  #: mean training return below which a run counts as stuck on a plateau
    checkpoint: str = "checkpoints/distributed_multienv"  #: folder of the workers' checkpoints, relative to the current directory
    out: str = "results/distributed_multienv.json"  #: results file, relative to the current directory
    time_budget: float | None = None  #: seconds for this invocation (checked between runs); run the command again to continue

    def __post_init__(self):
        if min(self.workers, self.generations, self.variants, self.heldout, self.directions) < 1:
            raise ValueError("--workers, --generations, --variants, --heldout and --directions must be >= 1")


def _evaluate(evaluator: PolicyTask, theta: np.ndarray, heldout) -> dict:
    nominal = evaluator.evaluate_on(theta, None, range(10)).ravel()
    held = evaluator.evaluate_on(theta, heldout, [7]).ravel()
    return {"nominal_returns": nominal.tolist(), "heldout_returns": held.tolist()}


def summarize(runs: list[dict]) -> dict:
    """Per regime, for the first and the final stage: held-out mean (and per seed), solved fraction, nominal mean."""
    summary = {}
    for regime in REGIMES:
        if not any(r["regime"] == regime for r in runs):
            continue
        for label, pick in (("first", 0), ("final", -1)):
            held = np.array([r["stages"][pick]["heldout_returns"] for r in runs if r["regime"] == regime])
            nominal = np.array([r["stages"][pick]["nominal_returns"] for r in runs if r["regime"] == regime])
            summary.setdefault(regime, {})[label] = {
                "heldout_mean": float(held.mean()), "heldout_mean_per_seed": held.mean(axis=1).tolist(),
                "heldout_solved_fraction": float(np.mean(held >= 475)), "nominal_mean": float(nominal.mean())}
    return summary


def run(config: Config) -> int:
    hidden = tuple(config.hidden)
    heldout = cartpole_variants(config.heldout, config.heldout_seed, **HELDOUT_RANGES)
    train_variants = cartpole_variants(config.variants, ESConfig.variant_seed)
    evaluator = PolicyTask("CartPole-v1", hidden, 500)
    folder = Path(config.checkpoint)

    def train(regime: str, seed: int) -> dict:
        n_variants = config.variants if REGIMES[regime] is None else REGIMES[regime]
        first = folder / f"{regime}_{seed}.ckpt"
        es = ESConfig(task="CartPole-v1", hidden=hidden, directions=config.directions, generations=config.generations,
                      seed=seed, variants=n_variants, timeout_s=120.0, checkpoint=str(first), checkpoint_every=10)
        t0 = time.time()
        result = launch(es, nproc=config.workers, progress=False, timeout_s=3600).result
        stages = [{"generations": config.generations, **_evaluate(evaluator, np.asarray(result["theta"], np.float32), heldout)}]
        curve = [h["mean_return"] for h in result["history"]]
        continued = folder / f"{regime}_{seed}_continued.ckpt"
        if config.continue_to > config.generations and np.mean(curve[-5:]) < config.stuck_below:
            # still on a plateau: resume from (a copy of) the first stage's checkpoint and train on
            if not continued.exists():
                continued.write_bytes(first.read_bytes())
            es = dataclasses.replace(es, generations=config.continue_to, checkpoint=str(continued))
            result = launch(es, nproc=config.workers, progress=False, timeout_s=3600).result
            stages.append({"generations": config.continue_to,
                           **_evaluate(evaluator, np.asarray(result["theta"], np.float32), heldout)})
            curve = [h["mean_return"] for h in result["history"]]
        for path in (first, continued):  # the record is the run now; a later run of this job starts afresh
            path.unlink(missing_ok=True)
        final = stages[-1]
        return {"variants": n_variants, "curve": curve, "stages": stages,
                "nominal_returns": final["nominal_returns"], "heldout_returns": final["heldout_returns"],
                "train_s": time.time() - t0, "theta_sha256": result["theta_sha256"]}

    def report(record: dict) -> None:
        for stage in record["stages"]:
            held = np.array(stage["heldout_returns"])
            print(f"{record['regime']:18s} seed {record['seed']} after {stage['generations']:3d} generations: "
                  f"nominal {np.mean(stage['nominal_returns']):6.1f}, held-out mean {held.mean():6.1f}, "
                  f"solved {np.mean(held >= 475):4.0%}", flush=True)

    folder.mkdir(parents=True, exist_ok=True)
    jobs = [{"regime": regime, "seed": seed} for regime in REGIMES for seed in config.seeds]
    results = command.run_jobs(config, "distributed_multienv", jobs, train, summarize=summarize, report=report,
                               extra=lambda runs: {
                                   "train_variants": train_variants, "heldout_variants": heldout,
                                   "heldout_ranges": HELDOUT_RANGES,
                                   # the experiment's time: its runs' (training and evaluation), over every invocation
                                   "wall_s": sum(r["train_s"] for r in runs)})
    for regime, stages in results.get("summary", {}).items():
        for label, s in stages.items():
            print(f"{regime:18s} ({label} stage): held-out mean {s['heldout_mean']:6.1f} "
                  f"(per seed {np.round(s['heldout_mean_per_seed'], 1).tolist()}), "
                  f"solved {s['heldout_solved_fraction']:.0%}, nominal {s['nominal_mean']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
