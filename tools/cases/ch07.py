"""Generate pgnotes/grading/cases/ch07.json from the reference implementation in pgnotes.

Run: .venv/bin/python tools/cases/ch07.py   (deterministic: fixed seeds)

Exercises of chapter 7 (natural policy gradient, TRPO and PPO): PPO's clipped surrogate,
generalized advantage estimation, conjugate gradient for F x = g, and the full TRPO step scaled
to the KL radius. Expected values come from pgnotes.rl.ppo, pgnotes.rl.gae and
pgnotes.rl.natural_pg; the learner works in NumPy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pgnotes.rl.gae import gae
from pgnotes.rl.natural_pg import conjugate_gradient, trust_region_step
from pgnotes.rl.ppo import clipped_surrogate

OUT = Path(__file__).resolve().parents[2] / "pgnotes" / "grading" / "cases" / "ch07.json"
SECTION = "Chapter 7"


def arr(a) -> dict:
    return {"__ndarray__": np.asarray(a, dtype=np.float64).tolist(), "dtype": "float64"}


def close(name, args, expected, hint, points=1) -> dict:
    return {"name": name, "args": args, "kwargs": {}, "expected": expected, "compare": "allclose",
            "rtol": 1e-6, "atol": 1e-9, "points": points, "hint": hint}


def raises(name, args, hint) -> dict:
    return {"name": name, "args": args, "kwargs": {}, "expected": "ValueError", "compare": "raises", "points": 1, "hint": hint}


def surrogate_value(ratio, adv, clip) -> float:
    ratio = torch.as_tensor(ratio, dtype=torch.float64)
    return float(clipped_surrogate(torch.log(ratio), torch.zeros_like(ratio), torch.as_tensor(adv, dtype=torch.float64), clip))


def surrogate_cases() -> list[dict]:
    rng = np.random.default_rng(701)
    cases = []
    hint = "mean over samples of min(r * A, clip(r, 1 - eps, 1 + eps) * A)"
    fixed = [("every ratio 1", np.ones(4), np.array([1.0, -2.0, 0.5, 3.0]), 0.2),
             ("ratios past both edges, both signs of A", np.array([1.5, 0.5, 1.5, 0.5, 1.1, 0.9]),
              np.array([1.0, 1.0, -1.0, -1.0, 2.0, -2.0]), 0.2),
             ("wide clip range", np.array([0.2, 3.0, 1.0]), np.array([-1.0, 2.0, 5.0]), 0.5)]
    for name, ratio, adv, clip in fixed:
        cases.append(close(name, [arr(ratio), arr(adv), clip], surrogate_value(ratio, adv, clip), hint))
    ratio = np.exp(rng.normal(scale=0.4, size=50))
    adv = rng.normal(size=50)
    cases.append(close("50 random samples, eps 0.1", [arr(ratio), arr(adv), 0.1], surrogate_value(ratio, adv, 0.1), hint))
    cases.append(raises("clip = 0 is rejected", [arr([1.0]), arr([1.0]), 0.0], "raise ValueError when clip <= 0"))
    cases.append(raises("negative clip is rejected", [arr([1.0]), arr([1.0]), -0.2], "raise ValueError when clip <= 0"))
    return cases


def gae_cases() -> list[dict]:
    rng = np.random.default_rng(702)
    cases = []
    hint = "delta_t = r_t + gamma V_{t+1} - V_t with V_T = last_value; A_t = delta_t + gamma * lam * A_{t+1}, backwards"
    for name, T, last, gamma, lam in [("terminated episode, lambda 0.95", 6, 0.0, 0.99, 0.95),
                                      ("truncated episode: bootstrap with last_value", 5, 2.5, 0.9, 0.8),
                                      ("lambda 1: reward-to-go minus V", 7, 0.0, 0.95, 1.0),
                                      ("lambda 0: one-step TD errors", 4, -1.0, 0.9, 0.0),
                                      ("one step", 1, 3.0, 0.5, 0.5)]:
        rewards, values = rng.normal(size=T), rng.normal(size=T)
        adv, _ = gae(rewards, values, last, gamma=gamma, lam=lam)
        cases.append(close(name, [arr(rewards), arr(values), last, gamma, lam], arr(adv), hint))
    return cases


def spd(rng, n, cond=10.0):
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return Q @ np.diag(np.linspace(1.0, cond, n)) @ Q.T


def cg_cases() -> list[dict]:
    rng = np.random.default_rng(703)
    cases = []
    hint = ("x = 0, r = p = b; each iteration: alpha = r.r / p.Ap, x += alpha p, r -= alpha Ap, "
            "beta = r_new.r_new / r.r, p = r_new + beta p")
    for name, n, k in [("one iteration (a steepest-descent step)", 4, 1), ("2 of 5 iterations", 5, 2),
                       ("3 of 6 iterations", 6, 3), ("n iterations: the exact solution", 4, 4)]:
        A, b = spd(rng, n), rng.normal(size=n)
        x = conjugate_gradient(lambda v: A @ v, b, iterations=k, tol=1e-20)
        cases.append(close(name, [arr(A), arr(b), k], arr(x), hint))
    A = np.diag([2.0, 5.0, 1.0])
    b = np.array([0.0, 0.0, 0.0])
    cases.append(close("b = 0: x stays 0 (no division by zero)", [arr(A), arr(b), 3], arr(np.zeros(3)),
                       "stop as soon as r.r is (numerically) zero, before dividing by p.Ap"))
    return cases


def trpo_cases() -> list[dict]:
    rng = np.random.default_rng(704)
    cases = []
    hint = "x = solve(F, g); return sqrt(2 * max_kl / (x @ F @ x)) * x"
    for name, n, kl in [("2 parameters, delta 0.01", 2, 0.01), ("5 parameters, delta 0.05", 5, 0.05),
                        ("identity Fisher", 3, 0.02)]:
        F = np.eye(n) if name == "identity Fisher" else spd(rng, n, cond=20.0)
        g = rng.normal(size=n)
        x = np.linalg.solve(F, g)
        cases.append(close(name, [arr(F), arr(g), kl], arr(trust_region_step(x, F @ x, kl)), hint))
    cases.append(raises("max_kl = 0 is rejected", [arr(np.eye(2)), arr([1.0, 0.0]), 0.0], "raise ValueError when max_kl <= 0"))
    return cases


def main() -> None:
    exercises = [
        {"id": "ch07.clipped_surrogate", "function": "clipped_surrogate", "points": 3,
         "description": "PPO's clipped surrogate objective (Schulman et al. 2017), to maximize",
         "idea": "take the more pessimistic of the unclipped and the clipped importance-weighted advantage",
         "section": f"{SECTION}, \"From TRPO to PPO: clipping\"",
         "hint": "np.minimum(r * A, np.clip(r, 1 - clip, 1 + clip) * A).mean()", "cases": surrogate_cases()},
        {"id": "ch07.gae", "function": "gae", "points": 3,
         "description": "generalized advantage estimates of one episode (Schulman et al. 2016)",
         "idea": "TD errors first, then a discounted sum of them with factor gamma * lambda, from the end",
         "section": f"{SECTION}, \"Generalized advantage estimation\"",
         "hint": "one backward loop: running = delta[t] + gamma * lam * running", "cases": gae_cases()},
        {"id": "ch07.conjugate_gradient", "function": "conjugate_gradient", "points": 3,
         "description": "a fixed number of conjugate-gradient iterations for A x = b from x = 0",
         "idea": "each new search direction is the residual made A-conjugate to the previous direction",
         "section": f"{SECTION}, \"Conjugate gradient\"",
         "hint": "keep r.r from the previous iteration for beta", "cases": cg_cases()},
        {"id": "ch07.trpo_step", "function": "trpo_step", "points": 2,
         "description": "the full TRPO step: the natural direction scaled so that 1/2 step^T F step = max_kl",
         "idea": "solve for the natural direction, then choose its length from the quadratic KL model",
         "section": f"{SECTION}, \"The KL constraint: TRPO\"",
         "hint": "beta = sqrt(2 delta / x^T F x)", "cases": trpo_cases()},
    ]
    OUT.write_text(json.dumps({"exercises": exercises}, indent=1) + "\n")
    print(f"wrote {OUT} ({sum(len(e['cases']) for e in exercises)} cases)")


if __name__ == "__main__":
    main()
