"""Multi-environment search with distributed ES (chapter 6): train on one CartPole or on many, test on unseen physics.

Seed 002 closes with ES's weakness (it gets stuck in local optima) and an empirical remedy:
search over *several related environments* at once. Here the fitness of a parameter vector
is its return averaged over ``--variants`` CartPole variants whose pole length, pole mass and
push force are drawn at random (:func:`pgnotes.distributed.tasks.cartpole_variants`); the
baseline trains on the nominal CartPole only. Both are then evaluated on held-out variants
drawn from a wider range, and on the nominal environment.

Usage (about 10 minutes on 2 idle cores with the defaults; 15 on a busy machine)::

    python -m pgnotes.experiments.distributed_multienv --workers 2 --seeds 0,1,2

writes ``results/distributed_multienv.json`` (settings, seeds, commit, per-run learning curves,
held-out returns, timings). Each training run is a ``torchrun`` job started with
:func:`pgnotes.distributed.launcher.launch`.
"""

from __future__ import annotations

import argparse
import sys
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
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    p.add_argument("--variants", type=int, default=8, help="training variants of the multi-environment run")
    p.add_argument("--generations", type=int, default=60)
    p.add_argument("--directions", type=int, default=16)
    p.add_argument("--hidden", default="16")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--heldout", type=int, default=30, help="number of held-out test variants")
    p.add_argument("--heldout-seed", type=int, default=999)
    p.add_argument("--out", default="results/distributed_multienv.json")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    heldout = cartpole_variants(args.heldout, args.heldout_seed, **HELDOUT_RANGES)
    train_variants = cartpole_variants(args.variants, ESConfig.variant_seed)
    evaluator = PolicyTask("CartPole-v1", hidden, 500)
    runs = []
    start = time.time()
    for regime, n_variants in (("nominal", 0), ("multi-environment", args.variants)):
        for seed in seeds:
            config = ESConfig(task="CartPole-v1", hidden=hidden, directions=args.directions,
                              generations=args.generations, seed=seed, variants=n_variants, timeout_s=120.0)
            t0 = time.time()
            result = launch(config, nproc=args.workers, progress=False, timeout_s=3600).result
            theta = np.asarray(result["theta"], dtype=np.float32)
            nominal = evaluator.evaluate_on(theta, None, range(10)).ravel()
            held = evaluator.evaluate_on(theta, heldout, [7]).ravel()
            runs.append({
                "regime": regime, "seed": seed, "variants": n_variants,
                "curve": [h["mean_return"] for h in result["history"]],
                "nominal_returns": nominal.tolist(), "heldout_returns": held.tolist(),
                "train_s": time.time() - t0, "theta_sha256": result["theta_sha256"],
            })
            print(f"{regime:18s} seed {seed}: nominal {nominal.mean():6.1f}, held-out mean {held.mean():6.1f}, "
                  f"solved {np.mean(held >= 475):4.0%} ({time.time() - t0:.0f} s)", flush=True)
    summary = {}
    for regime in ("nominal", "multi-environment"):
        held = np.array([r["heldout_returns"] for r in runs if r["regime"] == regime])
        nominal = np.array([r["nominal_returns"] for r in runs if r["regime"] == regime])
        summary[regime] = {"heldout_mean": float(held.mean()), "heldout_mean_per_seed": held.mean(axis=1).tolist(),
                           "heldout_solved_fraction": float(np.mean(held >= 475)), "nominal_mean": float(nominal.mean())}
        print(f"{regime:18s}: held-out mean {held.mean():6.1f} (per seed {np.round(held.mean(axis=1), 1).tolist()}), "
              f"solved {np.mean(held >= 475):.0%}, nominal {nominal.mean():.1f}")
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
