"""PPO and TRPO on CartPole-v1: environment steps to a mean return of 475 over 100 episodes (chapter 7).

Run (about 1 CPU-minute per PPO seed and 1-2 per TRPO seed, one core)::

    python -m pgnotes.experiments.ppo_cartpole                  # PPO, 5 seeds -> results/ppo_cartpole.json
    python -m pgnotes.experiments.ppo_cartpole --algo trpo      # TRPO, 5 seeds -> results/trpo_cartpole.json
    pgnotes ppo-cartpole --algo ppo --seeds 0 --out /tmp/quick.json

Each seed trains with :func:`pgnotes.rl.ppo.train` or :func:`pgnotes.rl.natural_pg.train` (all
hyperparameters are the defaults of :class:`~pgnotes.rl.ppo.PPOConfig` /
:class:`~pgnotes.rl.natural_pg.TRPOConfig`, stored in the file). The evaluation is chapter 2's:
whenever a training batch averages >= 450, the *stochastic* policy plays 100 fresh episodes;
the run is solved at the training steps of the first evaluation averaging >= 475, and stops
there. Steps count the training episodes only (evaluation episodes are not training data).
An unsolved seed counts as "more than the budget" in the median. Results are written relative
to the current directory, after every seed; a re-run skips seeds already in the file (same
configuration), so an interrupted sweep resumes (:func:`pgnotes.command.run_jobs`;
``--time-budget`` stops it on purpose).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pgnotes import command
from pgnotes.experiments.reinforce_cartpole import CARTPOLE_EVALUATION, train_on_cartpole

ALGOS = ("ppo", "trpo")
BUDGET = {"ppo": 200_000, "trpo": 300_000}
"""Training-step budget per seed (the issue's target for PPO is at most 100,000 steps)."""


@dataclass
class Config:
    """Settings of the CartPole runs of chapter 7 (the defaults made the chapter's files)."""

    algo: Literal["ppo", "trpo"] = "ppo"  #: the trainer (pgnotes.rl.ppo or pgnotes.rl.natural_pg, its default settings)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])  #: training seeds, one run each
    budget: int | None = None  #: training steps per seed (none: 200,000 for PPO, 300,000 for TRPO)
    out: str = "results/{algo}_cartpole.json"  #: results file, relative to the current directory ({algo} is replaced)
    time_budget: float | None = None  #: seconds for this invocation; run the command again to continue
    progress: bool = True  #: a progress bar per seed

    def __post_init__(self):
        if self.budget is not None and self.budget < 1:
            raise ValueError("--budget must be >= 1")


def run_seed(algo: str, seed: int, budget: int, progress: bool = False) -> dict:
    """Train one seed until solved or out of budget; a JSON-ready record."""
    if algo == "ppo":
        from pgnotes.rl.ppo import train
    else:
        from pgnotes.rl.natural_pg import train
    result, record = train_on_cartpole(train, seed=seed, progress=progress, total_steps=budget, stop_at_target=True)
    return {"algo": algo, "seed": seed, **record, "solved_at_steps": result.history.solved_at,
            "history": result.history.to_dict()}


def summarize(runs: list[dict]) -> dict:
    """Steps to 475 per seed, their median (unsolved = above the budget), solved count, CPU time."""
    runs = sorted(runs, key=lambda r: r["seed"])
    solved = [r["solved_at_steps"] for r in runs]
    median = float(np.median([s if s is not None else np.inf for s in solved])) if runs else np.inf
    return {
        "seeds": [r["seed"] for r in runs],
        "solved_at_steps": solved,
        "median_steps_to_solve": None if not np.isfinite(median) else median,
        "solved": int(sum(s is not None for s in solved)),
        "budget_steps": runs[0]["config"]["total_steps"] if runs else None,
        "cpu_seconds": [round(r["cpu_seconds"], 1) for r in runs],
        "total_cpu_seconds": float(sum(r["cpu_seconds"] for r in runs)),
    }


def run(config: Config) -> int:
    budget = config.budget or BUDGET[config.algo]

    def report(record: dict) -> None:
        print(f"{record['algo']} seed {record['seed']}: solved at {record['solved_at_steps']} steps, "
              f"{record['cpu_seconds']:.1f} CPU-s", flush=True)

    jobs = [{"algo": config.algo, "seed": seed} for seed in config.seeds]
    results = command.run_jobs(
        config, "ppo_cartpole", jobs, lambda algo, seed: run_seed(algo, seed, budget, config.progress),
        summarize=summarize, report=report,
        extra={"algo": config.algo, "env_id": "CartPole-v1", "target": CARTPOLE_EVALUATION["target"],
               "eval_episodes": CARTPOLE_EVALUATION["eval_episodes"],
               "evaluation": "stochastic policy, 100 fresh episodes, whenever a training batch averages >= 450, until one "
                             "reaches 475; steps are training steps of kept episodes (evaluation episodes not counted)"})
    if "summary" in results:
        s = results["summary"]
        print(f"{config.algo}: steps to 475 per seed {s['solved_at_steps']} -> median {s['median_steps_to_solve']}; "
              f"{s['total_cpu_seconds'] / 60:.1f} CPU-min")
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
