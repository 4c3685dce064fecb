"""Reusing episodes: REINFORCE with a replay buffer and importance weights on CartPole-v1 (chapter 2).

Run (about 2 CPU-minutes)::

    python -m pgnotes.experiments.reinforce_replay         # writes results/reinforce_replay.json

Same budget for every variant: 300 training episodes, 10 fresh episodes per iteration, 5 seeds,
the 4-32-2 policy with Adam 0.01, gamma 0.99, a learned value baseline inside the importance
weights (:func:`pgnotes.rl.offpolicy.train`). Variants:

=========================== ======== ============== ============================================
variant                     buffer   steps / iter.  weights
=========================== ======== ============== ============================================
``on-policy``               10       1              none needed (the batch is the fresh episodes)
``replay, per-decision``    20       2              per-decision, cumulative ratios clipped at 5
``replay, trajectory``      20       2              whole-trajectory ratio clipped at 5
``replay, no correction``   20       2              ratios set to 1 (old episodes used as if fresh)
=========================== ======== ============== ============================================

The final stochastic policy is evaluated on 100 fresh episodes.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from pgnotes.provenance import environment, git_commit

VARIANTS = {
    "on-policy": {"capacity": 10, "batches_per_iteration": 1, "mode": "per_decision", "clip": None},
    "replay, per-decision": {"capacity": 20, "batches_per_iteration": 2, "mode": "per_decision", "clip": 5.0},
    "replay, trajectory": {"capacity": 20, "batches_per_iteration": 2, "mode": "trajectory", "clip": 5.0},
    "replay, no correction": {"capacity": 20, "batches_per_iteration": 2, "mode": "none", "clip": None},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--out", default="results/reinforce_replay.json")
    args = parser.parse_args(argv)
    if args.episodes < 10:
        parser.error("--episodes must be >= 10")

    from pgnotes.checkpoint import write_json_atomic
    from pgnotes.rl.offpolicy import OffPolicyConfig, train

    cpu0 = time.process_time()
    runs = []
    for name, kw in VARIANTS.items():
        for seed in args.seeds:
            t = time.process_time()
            config = OffPolicyConfig(total_episodes=args.episodes, seed=seed, **kw)
            _, h = train(config, progress=False)
            runs.append({"variant": name, "seed": seed, "config": config.to_dict(), "episodes": h.episodes,
                         "mean_return": h.mean_return, "final_eval_mean": h.eval_mean[-1], "final_eval_std": h.eval_std[-1],
                         "cpu_seconds": time.process_time() - t})
        finals = [r["final_eval_mean"] for r in runs if r["variant"] == name]
        print(f"{name:22s} final evaluation per seed {np.round(finals, 1).tolist()}, median {np.median(finals):.1f}", flush=True)
    summary = {name: {"final_eval_mean": [r["final_eval_mean"] for r in runs if r["variant"] == name],
                      "median_final_eval": float(np.median([r["final_eval_mean"] for r in runs if r["variant"] == name]))}
               for name in VARIANTS}
    write_json_atomic(args.out, {
        "experiment": "reinforce_replay",
        "command": "python -m pgnotes.experiments.reinforce_replay " + " ".join(sys.argv[1:] if argv is None else argv),
        "env_id": "CartPole-v1",
        "evaluation": "stochastic policy, 100 fresh episodes after training",
        "commit": git_commit(),
        "environment": environment(),
        "cpu_seconds": time.process_time() - cpu0,
        "summary": summary,
        "runs": runs,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
