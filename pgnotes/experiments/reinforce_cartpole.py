"""CartPole-v1 learning curves: whole return vs reward-to-go vs reward-to-go with a learned baseline (chapter 2).

Run (about 5-10 CPU-minutes for the default 3 variants x 5 seeds x 1,000 episodes, one core)::

    python -m pgnotes.experiments.reinforce_cartpole                  # writes results/reinforce_cartpole.json
    python -m pgnotes.experiments.reinforce_cartpole --seeds 0 1 --episodes 300 --out /tmp/quick.json

Every run trains with :func:`pgnotes.rl.reinforce.train` (defaults of
:class:`~pgnotes.rl.reinforce.ReinforceConfig`: 10 episodes per batch through a 10-env
``SyncVectorEnv``, MLP 4-32-2, Adam 0.01, gamma 0.99) for the full budget. Whenever a training
batch averages >= 450, the *stochastic* policy is evaluated on 100 fresh episodes, until one
evaluation reaches 475 (the CartPole-v1 threshold); that episode count is ``solved_at``. The
final policy is evaluated on 100 episodes too. The file is rewritten after every run and a
re-run skips runs already in it (same config), so an interrupted sweep resumes
(:func:`pgnotes.command.run_jobs`; ``--time-budget`` stops it on purpose).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pgnotes import command

VARIANTS = {
    "whole_return": {"estimator": "whole_return", "baseline": "none"},
    "reward_to_go": {"estimator": "reward_to_go", "baseline": "none"},
    "reward_to_go+value": {"estimator": "reward_to_go", "baseline": "value"},
}
"""Variant name -> ReinforceConfig fields (Algorithm 4; Algorithms 5-7; 5-7 with a learned V(s))."""
VariantName = Literal["whole_return", "reward_to_go", "reward_to_go+value"]


@dataclass
class Config:
    """Settings of the CartPole comparison (the defaults made the chapter's file)."""

    variants: list[VariantName] = field(default_factory=lambda: list(VARIANTS))  #: estimators to compare (see VARIANTS)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])  #: seeds of every variant
    episodes: int = 1000  #: training episodes per run
    out: str = "results/reinforce_cartpole.json"  #: results file, relative to the current directory
    time_budget: float | None = None  #: seconds for this invocation; run the command again to continue
    progress: bool = True  #: a progress bar per run

    def __post_init__(self):
        if self.episodes < 1:
            raise ValueError("--episodes must be >= 1")


def final_params(policy) -> list[float]:
    """The policy's parameters as one flat list (``parameters_to_vector`` order), for ``results/``."""
    from torch.nn.utils import parameters_to_vector

    return parameters_to_vector(policy.parameters()).detach().double().tolist()


#: Chapter 2's CartPole evaluation, shared by every policy-gradient run on CartPole (here and in
#: :mod:`pgnotes.experiments.ppo_cartpole`): whenever a training batch averages >= 450, the stochastic
#: policy plays 100 fresh episodes; the run is solved at the first evaluation averaging >= 475.
CARTPOLE_EVALUATION = {"eval_threshold": 450.0, "target": 475.0, "eval_episodes": 100}


def train_on_cartpole(train, *, seed: int, progress: bool, **settings) -> tuple:
    """``train(**settings)`` on CartPole-v1 with :data:`CARTPOLE_EVALUATION`, timed.

    Returns the trainer's result and the start of the run's record: the trainer's configuration,
    its CPU and wall seconds.
    """
    result, seconds = command.timed(train, seed=seed, progress=progress, **CARTPOLE_EVALUATION, **settings)
    return result, {"config": result.config.to_dict(), **seconds}


def run_one(variant: str, seed: int, episodes: int, progress: bool = False) -> dict:
    """Train one variant with one seed; return a JSON-ready record (curves, evaluations, timings)."""
    from pgnotes.rl.reinforce import train

    result, record = train_on_cartpole(train, seed=seed, progress=progress, **VARIANTS[variant], total_episodes=episodes)
    h = result.history
    return {
        "variant": variant,
        "seed": seed,
        **record,
        "solved_at": h.solved_at,
        "final_eval_mean": h.eval_mean[-1],
        "final_eval_std": h.eval_std[-1],
        "episodes": h.episodes,
        "env_steps": h.env_steps,
        "mean_return": h.mean_return,
        "eval_at": h.eval_at,
        "eval_mean": h.eval_mean,
        # the trained policy, flat (torch.nn.utils.parameters_to_vector order): chapter 2 watches it act
        "final_params": final_params(result.policy),
    }


def summarize(runs: list[dict]) -> dict:
    """Per variant: episodes to 475 per seed and their median (None = not solved), final evaluation."""
    out = {}
    for variant in VARIANTS:
        rs = sorted((r for r in runs if r["variant"] == variant), key=lambda r: r["seed"])
        if not rs:
            continue
        solved = [r["solved_at"] for r in rs]
        # median over seeds with unsolved runs counted as "more than the budget"
        budget = rs[0]["config"]["total_episodes"]
        as_numbers = [s if s is not None else np.inf for s in solved]
        median = float(np.median(as_numbers))
        out[variant] = {
            "seeds": [r["seed"] for r in rs],
            "solved_at": solved,
            "median_solved_at": None if not np.isfinite(median) else median,
            "solved_within_budget": int(sum(s is not None for s in solved)),
            "budget_episodes": budget,
            "final_eval_mean": [r["final_eval_mean"] for r in rs],
            "cpu_seconds": float(sum(r["cpu_seconds"] for r in rs)),
        }
    return out


def run(config: Config) -> int:
    def report(record: dict) -> None:
        print(f"{record['variant']:20s} seed {record['seed']}: solved_at={record['solved_at']}, "
              f"final eval {record['final_eval_mean']:.1f}, {record['cpu_seconds']:.1f} CPU-s", flush=True)

    jobs = [{"variant": variant, "seed": seed} for variant in config.variants for seed in config.seeds]
    results = command.run_jobs(
        config, "reinforce_cartpole", jobs, lambda variant, seed: run_one(variant, seed, config.episodes, config.progress),
        summarize=summarize, report=report,
        extra={"env_id": "CartPole-v1", "target": CARTPOLE_EVALUATION["target"],
               "eval_episodes": CARTPOLE_EVALUATION["eval_episodes"],
               "evaluation": "stochastic policy, 100 fresh episodes; evaluated whenever a training batch averages >= 450, "
                             "until 475 is reached, and at the end"})
    for variant, s in results.get("summary", {}).items():
        print(f"{variant:20s} solved_at per seed {s['solved_at']} -> median {s['median_solved_at']}; "
              f"final eval {np.round(s['final_eval_mean'], 1).tolist()}; {s['cpu_seconds'] / 60:.1f} CPU-min")
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
