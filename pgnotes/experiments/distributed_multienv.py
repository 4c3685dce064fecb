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

    python -m pgnotes.experiments.distributed_multienv --workers 2 --seeds 0,1,2,3,4

writes ``results/distributed_multienv.json`` (settings, seeds, commit, per-run learning curves,
held-out returns, timings). Each training run is a ``torchrun`` job started with
:func:`pgnotes.distributed.launcher.launch`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pgnotes.checkpoint import write_json_atomic
from pgnotes.distributed.algorithm import ESConfig
from pgnotes.distributed.launcher import launch
from pgnotes.distributed.spmd_es import git_commit
from pgnotes.distributed.tasks import PolicyTask, cartpole_variants

#: The held-out test set: wider ranges than training (pole half-length, pole mass, push force).
HELDOUT_RANGES = dict(length=(0.15, 1.5), masspole=(0.05, 1.0), force_mag=(3.0, 15.0))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pgnotes.experiments.distributed_multienv", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated training seeds")
    p.add_argument("--variants", type=int, default=8, help="training variants of the multi-environment run")
    p.add_argument("--generations", type=int, default=60)
    p.add_argument("--directions", type=int, default=16)
    p.add_argument("--hidden", default="16")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--heldout", type=int, default=30, help="number of held-out test variants")
    p.add_argument("--heldout-seed", type=int, default=999)
    p.add_argument("--continue-to", type=int, default=150,
                   help="a run whose last 5 generations average below --stuck-below is resumed from its "
                        "checkpoint and trained up to this many generations (0: never)")
    p.add_argument("--stuck-below", type=float, default=400.0)
    p.add_argument("--out", default="results/distributed_multienv.json")
    return p.parse_args(argv)


def _evaluate(evaluator: PolicyTask, theta: np.ndarray, heldout) -> dict:
    nominal = evaluator.evaluate_on(theta, None, range(10)).ravel()
    held = evaluator.evaluate_on(theta, heldout, [7]).ravel()
    return {"nominal_returns": nominal.tolist(), "heldout_returns": held.tolist()}


def main(argv=None) -> int:
    args = parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    heldout = cartpole_variants(args.heldout, args.heldout_seed, **HELDOUT_RANGES)
    train_variants = cartpole_variants(args.variants, ESConfig.variant_seed)
    evaluator = PolicyTask("CartPole-v1", hidden, 500)
    runs = []
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="pgnotes_multienv_") as tmp:
        for regime, n_variants in (("nominal", 0), ("multi-environment", args.variants)):
            for seed in seeds:
                config = ESConfig(task="CartPole-v1", hidden=hidden, directions=args.directions,
                                  generations=args.generations, seed=seed, variants=n_variants, timeout_s=120.0,
                                  checkpoint=str(Path(tmp) / f"{regime}_{seed}.ckpt"), checkpoint_every=10)
                t0 = time.time()
                result = launch(config, nproc=args.workers, progress=False, timeout_s=3600).result
                stages = [{"generations": args.generations, **_evaluate(evaluator, np.asarray(result["theta"], np.float32), heldout)}]
                curve = [h["mean_return"] for h in result["history"]]
                if args.continue_to > args.generations and np.mean(curve[-5:]) < args.stuck_below:
                    # still on a plateau: resume from the checkpoint and train on
                    config = dataclasses.replace(config, generations=args.continue_to)
                    result = launch(config, nproc=args.workers, progress=False, timeout_s=3600).result
                    stages.append({"generations": args.continue_to,
                                   **_evaluate(evaluator, np.asarray(result["theta"], np.float32), heldout)})
                    curve = [h["mean_return"] for h in result["history"]]
                final = stages[-1]
                runs.append({"regime": regime, "seed": seed, "variants": n_variants, "curve": curve, "stages": stages,
                             "nominal_returns": final["nominal_returns"], "heldout_returns": final["heldout_returns"],
                             "train_s": time.time() - t0, "theta_sha256": result["theta_sha256"]})
                for stage in stages:
                    held = np.array(stage["heldout_returns"])
                    print(f"{regime:18s} seed {seed} after {stage['generations']:3d} generations: "
                          f"nominal {np.mean(stage['nominal_returns']):6.1f}, held-out mean {held.mean():6.1f}, "
                          f"solved {np.mean(held >= 475):4.0%}", flush=True)
    summary = {}
    for regime in ("nominal", "multi-environment"):
        for label, pick in (("first", 0), ("final", -1)):
            held = np.array([r["stages"][pick]["heldout_returns"] for r in runs if r["regime"] == regime])
            nominal = np.array([r["stages"][pick]["nominal_returns"] for r in runs if r["regime"] == regime])
            summary.setdefault(regime, {})[label] = {
                "heldout_mean": float(held.mean()), "heldout_mean_per_seed": held.mean(axis=1).tolist(),
                "heldout_solved_fraction": float(np.mean(held >= 475)), "nominal_mean": float(nominal.mean())}
            print(f"{regime:18s} ({label} stage): held-out mean {held.mean():6.1f} "
                  f"(per seed {np.round(held.mean(axis=1), 1).tolist()}), solved {np.mean(held >= 475):.0%}, "
                  f"nominal {nominal.mean():.1f}")
    write_json_atomic(args.out, {
        "experiment": "multi-environment search (chapter 6)",
        "command": "python -m pgnotes.experiments.distributed_multienv " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": vars(args), "commit": git_commit(), "train_variants": train_variants, "heldout_variants": heldout,
        "heldout_ranges": HELDOUT_RANGES, "runs": runs, "summary": summary, "wall_s": time.time() - start,
    })
    print(f"wrote {Path(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
