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

import sys
from dataclasses import dataclass, field

import numpy as np

from pgnotes import command
from pgnotes.experiments.reinforce_cartpole import final_params

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


@dataclass
class Config:
    """Settings of the Pendulum run (the defaults made the chapter's file; the trainer's settings are ``CONFIG``)."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  #: training seeds, one run each
    episodes: int = 6000  #: training episodes per run
    out: str = "results/reinforce_pendulum.json"  #: results file, relative to the current directory
    time_budget: float | None = None  #: seconds for this invocation; run the command again to continue

    def __post_init__(self):
        if self.episodes < 1:
            raise ValueError("--episodes must be >= 1")


def train_one(seed: int, episodes: int) -> dict:
    """Train one seed; a JSON-ready record (learning curve, final evaluation, final parameters)."""
    from pgnotes.rl.reinforce import train

    result, seconds = command.timed(train, **CONFIG, total_episodes=episodes, seed=seed, progress=False)
    h = result.history
    return {
        "seed": seed,
        "config": result.config.to_dict(),
        "episodes": h.episodes,
        "mean_return": h.mean_return,
        "final_eval_mean": h.eval_mean[-1],
        "final_eval_std": h.eval_std[-1],
        "final_std": result.policy.log_std.exp().tolist(),
        # the trained policy, flat (parameters_to_vector order): chapter 2 watches it act
        "final_params": final_params(result.policy),
        **seconds,
    }


def summarize(runs: list[dict]) -> dict:
    """The final evaluation per seed and their median."""
    finals = [r["final_eval_mean"] for r in runs]
    return {"seeds": [r["seed"] for r in runs], "final_eval_mean": finals, "median_final_eval": float(np.median(finals))}


def run(config: Config) -> int:
    def report(r: dict) -> None:
        print(f"seed {r['seed']}: final evaluation {r['final_eval_mean']:.1f} +- {r['final_eval_std']:.1f} (100 episodes), "
              f"last 5 batches {np.mean(r['mean_return'][-5:]):.1f}, {r['cpu_seconds']:.0f} CPU-s", flush=True)

    results = command.run_jobs(config, "reinforce_pendulum", [{"seed": seed} for seed in config.seeds],
                               lambda seed: train_one(seed, config.episodes), summarize=summarize, report=report,
                               extra={"env_id": "Pendulum-v1",
                                      "evaluation": "stochastic policy, 100 fresh episodes after training"})
    if "summary" in results:
        s = results["summary"]
        print(f"median final evaluation over seeds {s['seeds']}: {s['median_final_eval']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
