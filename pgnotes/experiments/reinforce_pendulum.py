"""REINFORCE with a Gaussian policy on Pendulum-v1, the chapter's continuous-action task (chapter 2).

Run (about 40 CPU-seconds per seed)::

    python -m pgnotes.experiments.reinforce_pendulum                 # writes results/reinforce_pendulum.json
    python -m pgnotes.experiments.reinforce_pendulum --seeds 0 --episodes 1000 --out /tmp/p.json

A :class:`~pgnotes.rl.policies.GaussianPolicy` (MLP 3-64-1, mean scaled by the torque bound 2,
state-independent learned log-std starting at 0) trained with reward-to-go and a learned value
baseline, weights standardized per batch, 20 episodes (of 200 steps) per batch, Adam 0.01,
gamma 0.9 (a short credit horizon: swinging up is decided within a few dozen steps). Rewards lie
in [-16.3, 0] per step; a random policy scores about -1,200 per episode, a good controller about
-150. The final stochastic policy is evaluated on 100 episodes. Vanilla REINFORCE is slow here:
report what it reaches, nothing more.
"""

from __future__ import annotations

import argparse
import sys
import time

from pgnotes.experiments.reinforce_cartpole import final_params
from pgnotes.provenance import environment, git_commit

CONFIG = {
    "env_id": "Pendulum-v1",
    "estimator": "reward_to_go",
    "baseline": "value",
    "gamma": 0.9,
    "episodes_per_batch": 20,
    "hidden": (64,),
    "learning_rate": 0.01,
    "normalize_weights": True,
    "log_std_init": 0.0,
    "eval_episodes": 100,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=6000)
    parser.add_argument("--out", default="results/reinforce_pendulum.json")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")

    import numpy as np

    from pgnotes.checkpoint import write_json_atomic
    from pgnotes.rl.reinforce import train

    runs = []
    for seed in args.seeds:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = train(**CONFIG, total_episodes=args.episodes, seed=seed, progress=False)
        h = result.history
        runs.append({
            "seed": seed,
            "config": result.config.to_dict(),
            "episodes": h.episodes,
            "mean_return": h.mean_return,
            "final_eval_mean": h.eval_mean[-1],
            "final_eval_std": h.eval_std[-1],
            "final_std": result.policy.log_std.exp().tolist(),
            # the trained policy, flat (parameters_to_vector order): chapter 2 watches it act
            "final_params": final_params(result.policy),
            "cpu_seconds": time.process_time() - cpu0,
            "wall_seconds": time.perf_counter() - wall0,
        })
        print(f"seed {seed}: final evaluation {h.eval_mean[-1]:.1f} +- {h.eval_std[-1]:.1f} (100 episodes), "
              f"last 5 batches {np.mean(h.mean_return[-5:]):.1f}, {runs[-1]['cpu_seconds']:.0f} CPU-s", flush=True)
    finals = [r["final_eval_mean"] for r in runs]
    write_json_atomic(args.out, {
        "experiment": "reinforce_pendulum",
        "command": "python -m pgnotes.experiments.reinforce_pendulum " + " ".join(sys.argv[1:] if argv is None else argv),
        "env_id": "Pendulum-v1",
        "evaluation": "stochastic policy, 100 fresh episodes after training",
        "commit": git_commit(),
        "environment": environment(),
        "summary": {"seeds": args.seeds, "final_eval_mean": finals, "median_final_eval": float(np.median(finals))},
        "runs": runs,
    })
    print(f"median final evaluation over seeds {args.seeds}: {np.median(finals):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
