"""CEM planning by receding horizon on Pendulum-v1: true dynamics against models fitted from data (chapter 4).

Run::

    python -m pgnotes.experiments.cem_planning      # writes results/ch04_cem_planning.json

For each model (the true dynamics, a least-squares feature model and a small MLP, both fitted to
``--data-episodes`` episodes of uniformly random actions), the planner acts for ``--episodes``
full episodes (200 steps) from seeded start states; the file holds every return, the model
errors on held-out random data, the planner's settings, the commit and the wall time. The file
is rewritten after every model and a re-run skips models already in it
(:func:`pgnotes.command.run_jobs`), so a stopped run resumes.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from pgnotes import command
from pgnotes.planning import (CEMPlanner, FeatureModel, MLPModel, collect_random_transitions, pendulum_dynamics,
                              pendulum_reward, run_episode)

#: The models the planner plans with, in the order they are run.
MODELS = ("true dynamics", "least-squares features", "MLP (2 x 64, tanh)")


@dataclass
class Config:
    """Settings of the planning experiment (the defaults made the chapter's file)."""

    episodes: int = 5  #: planned episodes per model, from start states seeded 0, 1, ...
    data_episodes: int = 10  #: episodes of uniformly random actions the models are fitted to
    horizon: int = 20  #: planning horizon (steps)
    popsize: int = 100  #: action sequences sampled per CEM iteration
    iterations: int = 5  #: CEM iterations per step
    elite_frac: float = 0.1  #: fraction of the samples kept as elites
    sigma0: float = 1.0  #: initial standard deviation of the action sequences
    out: str = "results/ch04_cem_planning.json"  #: results file, relative to the current directory
    time_budget: float | None = None  #: seconds for this invocation; run the command again to continue

    def __post_init__(self):
        if min(self.episodes, self.data_episodes, self.horizon, self.popsize, self.iterations) < 1:
            raise ValueError("--episodes, --data-episodes, --horizon, --popsize and --iterations must be >= 1")


def fit_models(data_episodes: int) -> dict:
    """The true dynamics and the two models fitted to ``data_episodes`` random episodes (seed 1)."""
    data = collect_random_transitions(episodes=data_episodes, seed=1)
    models = {"true dynamics": pendulum_dynamics, "least-squares features": FeatureModel().fit(*data)}
    models["MLP (2 x 64, tanh)"] = MLPModel(hidden=64, seed=0).fit(*data)
    return models


def run(config: Config) -> int:
    planner_kwargs = dict(horizon=config.horizon, popsize=config.popsize, iterations=config.iterations,
                          elite_frac=config.elite_frac, sigma0=config.sigma0)
    held_out = collect_random_transitions(episodes=2, seed=2)
    fitted: dict = {}  # fitted on the first model still to run (deterministic: a resumed run refits the same)

    def run_model(model: str) -> dict:
        if not fitted:
            t = time.perf_counter()
            fitted.update(models=fit_models(config.data_episodes), seconds=time.perf_counter() - t)
        dynamics = fitted["models"][model]
        t = time.perf_counter()
        error = float(np.abs(dynamics(held_out[0], held_out[1]) - held_out[2]).mean())
        returns = [run_episode(CEMPlanner(dynamics, pendulum_reward, rng=seed, **planner_kwargs), seed=seed)
                   for seed in range(config.episodes)]
        return {"returns": returns, "mean_return": float(np.mean(returns)), "held_out_mean_abs_error": error,
                "seconds": time.perf_counter() - t}

    def report(row: dict) -> None:
        print(f"{row['model']:<24} mean return {row['mean_return']:8.1f}  returns {np.round(row['returns'], 1).tolist()}  "
              f"model error {row['held_out_mean_abs_error']:.2e}  ({row['seconds']:.0f} s)", flush=True)

    command.run_jobs(config, "cem_planning", [{"model": name} for name in MODELS], run_model, report=report,
                     records_key="rows",
                     extra=lambda rows: {"env": "Pendulum-v1", "episode_seeds": list(range(config.episodes)),
                                         "planner": planner_kwargs, "reward": "known (closed form)",
                                         "fit_seconds": fitted.get("seconds")})
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
