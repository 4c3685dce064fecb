"""Generate pgnotes/grading/cases/ch03.json from the reference implementation in pgnotes.

Run: .venv/bin/python tools/cases/ch03.py   (deterministic: fixed seeds)

Exercises of chapter 3 (natural evolution strategies and OpenAI ES): the ES gradient estimate,
centred ranks, one OpenAI ES step with antithetic pairs, the closed-form Fisher matrix of an
isotropic Gaussian, and the natural-gradient step of Algorithm 9 with the empirical Fisher.
Expected values come from pgnotes.solvers.openai_es, pgnotes.shaping, pgnotes.distributions and
pgnotes.solvers.nes; the learner works in NumPy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pgnotes.distributions import IsotropicGaussian
from pgnotes.shaping import centered_ranks
from pgnotes.solvers.nes import empirical_fisher, natural_gradient, search_gradient
from pgnotes.solvers.openai_es import es_gradient

OUT = Path(__file__).resolve().parents[2] / "pgnotes" / "grading" / "cases" / "ch03.json"


def arr(a) -> dict:
    return {"__ndarray__": np.asarray(a, dtype=np.float64).tolist(), "dtype": "float64"}


def close(name, args, expected, hint, points=1) -> dict:
    return {"name": name, "args": args, "kwargs": {}, "expected": expected, "compare": "allclose",
            "rtol": 1e-6, "atol": 1e-9, "points": points, "hint": hint}


def es_gradient_cases() -> list[dict]:
    rng = np.random.default_rng(301)
    cases = []
    for name, n, d, sigma in [("4 samples in 2-D", 4, 2, 0.5), ("10 samples in 3-D, small sigma", 10, 3, 0.02),
                              ("one sample", 1, 5, 1.0)]:
        noise, fitness = rng.standard_normal((n, d)), rng.normal(size=n) * 10
        cases.append(close(name, [arr(noise), arr(fitness), sigma], arr(es_gradient(noise, fitness, sigma)),
                           "sum_i F_i eps_i, divided by n * sigma (n = number of rows of noise)"))
    cases.append({"name": "sigma = 0 is rejected", "args": [arr(np.ones((2, 2))), arr([1.0, 2.0]), 0.0], "kwargs": {},
                  "expected": "ValueError", "compare": "raises", "points": 1,
                  "hint": "raise ValueError when sigma <= 0 (the estimate divides by sigma)"})
    return cases


def rank_cases() -> list[dict]:
    rng = np.random.default_rng(302)
    cases = []
    for name, f in [("two values", np.array([3.0, -1.0])), ("five values", rng.normal(size=5) * 100),
                    ("already sorted", np.arange(6.0))]:
        cases.append(close(name, [arr(f)], arr(centered_ranks(f)),
                           "rank 0 for the lowest value, n-1 for the highest; then rank / (n - 1) - 0.5"))
    return cases


def antithetic_step(mean, eps, f_plus, f_minus, sigma, lr):
    noise = np.concatenate([eps, -eps])
    shaped = centered_ranks(np.concatenate([f_plus, f_minus]))
    return mean + lr * es_gradient(noise, shaped, sigma)


def antithetic_cases() -> list[dict]:
    rng = np.random.default_rng(303)
    cases = []
    for name, pairs, d, sigma, lr in [("2 pairs in 2-D", 2, 2, 0.1, 0.5), ("5 pairs in 4-D", 5, 4, 0.05, 0.01),
                                      ("1 pair in 3-D", 1, 3, 1.0, 1.0)]:
        mean, eps = rng.normal(size=d), rng.standard_normal((pairs, d))
        f_plus, f_minus = rng.normal(size=pairs), rng.normal(size=pairs)
        cases.append(close(name, [arr(mean), arr(eps), arr(f_plus), arr(f_minus), sigma, lr],
                           arr(antithetic_step(mean, eps, f_plus, f_minus, sigma, lr)),
                           "rank all 2n fitness values together (plus then minus), pair them with the noise "
                           "rows [eps; -eps], and take the es_gradient step mean + lr * g"))
    return cases


def fisher_cases() -> list[dict]:
    cases = []
    for name, sigma, dim in [("sigma 1 in 2-D", 1.0, 2), ("sigma 0.5 in 3-D", 0.5, 3), ("sigma 3 in 1-D", 3.0, 1)]:
        expected = IsotropicGaussian(np.zeros(dim), sigma).fisher()
        cases.append(close(name, [sigma, dim], arr(expected),
                           "theta = (mu, log sigma): the mean block is I / sigma^2, the log-sigma entry is 2 * dim, "
                           "and the cross terms are zero"))
    return cases


def natural_step(scores, fitness, lr):
    return lr * natural_gradient(search_gradient(scores, fitness), empirical_fisher(scores), damping=0.0)


def natural_cases() -> list[dict]:
    rng = np.random.default_rng(305)
    cases = []
    for name, n, p, lr in [("20 samples, 3 parameters", 20, 3, 0.1), ("50 samples, 5 parameters", 50, 5, 1.0),
                           ("8 samples, 2 parameters", 8, 2, 0.5)]:
        scores, fitness = rng.standard_normal((n, p)), rng.normal(size=n)
        cases.append(close(name, [arr(scores), arr(fitness), lr], arr(natural_step(scores, fitness, lr)),
                           "grad = mean_k f_k g_k; F = mean_k g_k g_k^T; return lr * solve(F, grad)"))
    return cases


def main() -> None:
    exercises = [
        {"id": "ch03.es_gradient", "function": "es_gradient", "points": 3,
         "description": "the ES estimate (1/(n sigma)) sum_i F_i eps_i of the gradient of E[F]",
         "idea": "each perturbation is weighted by its fitness; the sum is averaged over the perturbations and "
                 "rescaled by the noise scale, which must be positive",
         "section": 'Chapter 3, "3. OpenAI ES (Salimans et al. 2017)"',
         "hint": "one matrix-vector product: fitness @ noise", "cases": es_gradient_cases()},
        {"id": "ch03.centered_ranks", "function": "centered_ranks", "points": 2,
         "description": "centred ranks in [-0.5, 0.5] (Salimans et al. 2017)",
         "idea": "replace each value by its position in sorted order (lowest first), mapped linearly so the lowest "
                 "gets -0.5 and the highest 0.5; the permutation that sorts an array is not the same as the rank "
                 "of each element",
         "section": 'Chapter 3, "3. OpenAI ES (Salimans et al. 2017)"',
         "hint": "np.argsort gives the order; place 0..n-1 at those positions", "cases": rank_cases()},
        {"id": "ch03.antithetic_es_step", "function": "antithetic_es_step", "points": 3,
         "description": "one OpenAI ES step with antithetic pairs and centred ranks (plain SGD)",
         "idea": "each pair gives two candidates, one on each side of the mean; all 2n fitness values are ranked "
                 "together and each is paired with its own perturbation, sign included; the step goes uphill",
         "section": 'Chapter 3, "3. OpenAI ES (Salimans et al. 2017)"',
         "hint": "candidates mean + sigma eps and mean - sigma eps", "cases": antithetic_cases()},
        {"id": "ch03.isotropic_fisher", "function": "isotropic_fisher", "points": 2,
         "description": "closed-form Fisher matrix of N(mu, sigma^2 I) in theta = (mu, log sigma)",
         "idea": "the Fisher matrix is the expected outer product of the score; the moments of a Gaussian (odd "
                 "ones vanish) give each block",
         "section": 'Chapter 3, "2. The natural gradient (Algorithm 9)"',
         "hint": "E[g g^T] with g = ((x - mu)/sigma^2, |x - mu|^2/sigma^2 - d)", "cases": fisher_cases()},
        {"id": "ch03.natural_gradient_step", "function": "natural_gradient_step", "points": 3,
         "description": "lines 6-8 of Algorithm 9 with the empirical Fisher matrix",
         "idea": "the gradient and the Fisher matrix are both averages over the lambda samples, and the natural "
                 "step solves a linear system with the Fisher matrix",
         "section": 'Chapter 3, "2. The natural gradient (Algorithm 9)"',
         "hint": "np.linalg.solve(F, grad) rather than an explicit inverse", "cases": natural_cases()},
    ]
    OUT.write_text(json.dumps({"exercises": exercises}, indent=1) + "\n")
    print(f"wrote {OUT} ({sum(len(e['cases']) for e in exercises)} cases)")


if __name__ == "__main__":
    main()
