"""Generate pgnotes/grading/cases/ch04.json from the reference implementation in pgnotes.

Run: .venv/bin/python tools/cases/ch04.py   (deterministic: fixed seeds)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pgnotes.planning import CEMPlanner, pendulum_dynamics, pendulum_reward
from pgnotes.solvers.ars import ARS
from pgnotes.solvers.cmaes import cma_parameters

OUT = Path(__file__).resolve().parents[2] / "pgnotes" / "grading" / "cases" / "ch04.json"


def arr(a, dtype="float64") -> dict:
    return {"__ndarray__": np.asarray(a).astype(dtype).tolist(), "dtype": dtype}


def ars_cases() -> list[dict]:
    cases = []
    for seed, (name, n, b, d, alpha) in enumerate([
        ("one direction (Swimmer's N = b = 1)", 1, 1, 16, 0.02),
        ("all of 4 directions (V1)", 4, 4, 5, 0.02),
        ("top 3 of 8 directions (V1-t)", 8, 3, 6, 0.05),
        ("top 4 of 32 directions (as for HalfCheetah, V2-t)", 32, 4, 12, 0.02),
    ]):
        rng = np.random.default_rng(400 + seed)
        theta = rng.normal(0, 0.1, d)
        solver = ARS(theta, n, b, step_size=alpha, noise=0.03, rng=seed)
        x = solver.ask()
        deltas = (x[0::2] - x[1::2]) / (2 * 0.03)
        returns = rng.normal(100.0, 30.0, 2 * n).round(3)
        solver.tell(x, returns)
        cases.append({"name": name, "args": [arr(theta), arr(deltas), arr(returns[0::2]), arr(returns[1::2]), alpha, b],
                      "kwargs": {}, "expected": arr(solver.theta), "compare": "allclose", "rtol": 1e-9, "atol": 1e-12,
                      "points": 1,
                      "hint": "rank directions by max(r+, r-), keep the top_b; sigma_R is the std (divisor 2b) of their "
                              "2b returns; step = step_size / (top_b * sigma_R) * sum (r+ - r-) delta"})
    return cases


def weights_cases() -> list[dict]:
    return [{"name": f"popsize {lam}", "args": [lam], "kwargs": {},
             "expected": arr(cma_parameters(4, lam)["weights"][: lam // 2]), "compare": "allclose", "rtol": 1e-10,
             "atol": 1e-12, "points": 1,
             "hint": "mu = popsize // 2; w'_i = ln((popsize + 1) / 2) - ln(i) for i = 1..mu, divided by their sum"}
            for lam in (2, 5, 10, 12, 100)]


def plan_cases() -> list[dict]:
    cases = []
    planner = CEMPlanner(pendulum_dynamics, pendulum_reward, horizon=1)
    for seed, (name, obs, p, h) in enumerate([
        ("hanging down, at rest, one plan of 3 zero torques", [-1.0, 0.0, 0.0], 1, 3),
        ("upright, a small push", [1.0, 0.0, 0.5], 4, 5),
        ("random start, torques beyond the limit get clipped", None, 6, 10),
        ("fast spin hits the speed limit", [0.0, 1.0, 7.9], 3, 8),
    ]):
        rng = np.random.default_rng(700 + seed)
        if obs is None:
            angle = rng.uniform(-np.pi, np.pi)
            obs = [np.cos(angle), np.sin(angle), rng.uniform(-1, 1)]
        plans = np.zeros((p, h)) if seed == 0 else rng.uniform(-3.0, 3.0, size=(p, h)).round(4)
        cases.append({"name": name, "args": [arr(obs), arr(plans)], "kwargs": {},
                      "expected": arr(planner.predicted_return(np.asarray(obs), plans)), "compare": "allclose",
                      "rtol": 1e-9, "atol": 1e-9, "points": 1,
                      "hint": "clip u to [-2, 2]; add the reward of (s, u) *before* stepping; theta_dot is clipped "
                              "to [-8, 8] before it moves theta; theta = atan2(sin, cos)"})
    return cases


def main() -> None:
    exercises = [
        {"id": "ch04.ars_update", "function": "ars_update", "points": 3,
         "description": "one ARS update (V1-t) from antithetic returns",
         "idea": "in V1-t only the best directions (by the better of their two returns) take part, both in the step "
                 "and in the spread of returns that normalizes it",
         "section": 'Chapter 4, "Augmented Random Search"',
         "hint": "top-b directions by max(r+, r-), scaled by the std of their returns", "cases": ars_cases()},
        {"id": "ch04.cma_weights", "function": "cma_weights", "points": 2,
         "description": "CMA-ES's positive recombination weights for a population size",
         "idea": "only the better half of the population gets a weight, the weights fall off with the logarithm of "
                 "the rank, and they sum to one",
         "section": 'Chapter 4, "CMA-ES"',
         "hint": "log-linear in the rank, normalized to sum to one", "cases": weights_cases()},
        {"id": "ch04.plan_return", "function": "plan_return", "points": 3,
         "description": "predicted return of action sequences through the Pendulum model",
         "idea": "simulate one action at a time exactly as the exercise states it: clip the torque, score the "
                 "current state, then move; the speed limit applies before the angle moves",
         "section": 'Chapter 4, "Evolution for action selection: planning with CEM through a model"',
         "hint": "roll the dynamics forward once per action, summing rewards", "cases": plan_cases()},
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"exercises": exercises}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
