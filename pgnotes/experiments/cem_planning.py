"""CEM planning by receding horizon on Pendulum-v1: true dynamics against models fitted from data (chapter 4).

Run::

    python -m pgnotes.experiments.cem_planning      # writes results/ch04_cem_planning.json

For each model (the true dynamics, a least-squares feature model and a small MLP, both fitted to
``--data-episodes`` episodes of uniformly random actions), the planner acts for ``--episodes``
full episodes (200 steps) from seeded start states; the file holds every return, the model
errors on held-out random data, the planner's settings, the commit and the wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from pgnotes.checkpoint import write_json_atomic
from pgnotes.planning import (CEMPlanner, FeatureModel, MLPModel, collect_random_transitions, pendulum_dynamics,
                              pendulum_reward, run_episode)
from pgnotes.provenance import git_commit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--data-episodes", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--popsize", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--out", default="results/ch04_cem_planning.json", help="relative to the cwd")
    args = parser.parse_args(argv)

    data = collect_random_transitions(episodes=args.data_episodes, seed=1)
    held_out = collect_random_transitions(episodes=2, seed=2)
    t = time.perf_counter()
    models = {"true dynamics": pendulum_dynamics, "least-squares features": FeatureModel().fit(*data)}
    models["MLP (2 x 64, tanh)"] = MLPModel(hidden=64, seed=0).fit(*data)
    fit_seconds = time.perf_counter() - t
    planner_kwargs = dict(horizon=args.horizon, popsize=args.popsize, iterations=args.iterations, elite_frac=0.1,
                          sigma0=1.0)
    rows = []
    for name, model in models.items():
        t = time.perf_counter()
        error = float(np.abs(model(held_out[0], held_out[1]) - held_out[2]).mean())
        returns = [run_episode(CEMPlanner(model, pendulum_reward, rng=seed, **planner_kwargs), seed=seed)
                   for seed in range(args.episodes)]
        rows.append({"model": name, "returns": returns, "mean_return": float(np.mean(returns)),
                     "held_out_mean_abs_error": error, "seconds": time.perf_counter() - t})
        print(f"{name:<24} mean return {np.mean(returns):8.1f}  returns {np.round(returns, 1).tolist()}  "
              f"model error {error:.2e}  ({time.perf_counter() - t:.0f} s)", flush=True)
    commit = git_commit()
    write_json_atomic(args.out, {
        "config": {"env": "Pendulum-v1", "episodes": args.episodes, "episode_seeds": list(range(args.episodes)),
                   "data_episodes": args.data_episodes, "planner": planner_kwargs, "reward": "known (closed form)"},
        "commit": commit, "command": "python -m pgnotes.experiments.cem_planning", "fit_seconds": fit_seconds,
        "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
