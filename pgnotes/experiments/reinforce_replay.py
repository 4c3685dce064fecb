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

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from pgnotes import command

VARIANTS = {
    "on-policy": {"capacity": 10, "batches_per_iteration": 1, "mode": "per_decision", "clip": None},
    "replay, per-decision": {"capacity": 20, "batches_per_iteration": 2, "mode": "per_decision", "clip": 5.0},
    "replay, trajectory": {"capacity": 20, "batches_per_iteration": 2, "mode": "trajectory", "clip": 5.0},
    "replay, no correction": {"capacity": 20, "batches_per_iteration": 2, "mode": "none", "clip": None},
}


@dataclass
class Config:
    """Settings of the replay experiment (the defaults made the chapter's file)."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])  #: seeds of every variant
    episodes: int = 300  #: training episodes (environment samples) per run, at least 10
    out: str = "results/reinforce_replay.json"  #: results file, relative to the current directory
    time_budget: float | None = None  #: seconds for this invocation; run the command again to continue

    def __post_init__(self):
        if self.episodes < 10:
            raise ValueError("--episodes must be >= 10")


def train_one(variant: str, seed: int, episodes: int) -> dict:
    """Train one variant with one seed; a JSON-ready record (learning curve, final evaluation)."""
    from pgnotes.rl.offpolicy import OffPolicyConfig, train

    t = time.process_time()
    config = OffPolicyConfig(total_episodes=episodes, seed=seed, **VARIANTS[variant])
    _, h = train(config, progress=False)
    return {"variant": variant, "seed": seed, "config": config.to_dict(), "episodes": h.episodes,
            "mean_return": h.mean_return, "final_eval_mean": h.eval_mean[-1], "final_eval_std": h.eval_std[-1],
            "cpu_seconds": time.process_time() - t}


def summarize(runs: list[dict]) -> dict:
    """Per variant: the final evaluation of each seed and their median."""
    finals = {name: [r["final_eval_mean"] for r in runs if r["variant"] == name] for name in VARIANTS}
    return {name: {"final_eval_mean": f, "median_final_eval": float(np.median(f))} for name, f in finals.items() if f}


def run(config: Config) -> int:
    def report(record: dict) -> None:
        print(f"{record['variant']:22s} seed {record['seed']}: final evaluation {record['final_eval_mean']:.1f}", flush=True)

    jobs = [{"variant": name, "seed": seed} for name in VARIANTS for seed in config.seeds]
    command.run_jobs(config, "reinforce_replay", jobs, lambda variant, seed: train_one(variant, seed, config.episodes),
                     summarize=summarize, report=report,
                     extra=lambda runs: {"env_id": "CartPole-v1",
                                         "evaluation": "stochastic policy, 100 fresh episodes after training",
                                         "cpu_seconds": sum(r["cpu_seconds"] for r in runs)})
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
