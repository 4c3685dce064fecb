"""Generate pgnotes/grading/cases/ch01.json from the reference implementation in pgnotes.

Run: .venv/bin/python tools/cases/ch01.py   (deterministic: fixed seeds)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pgnotes import estimators, score

OUT = Path(__file__).resolve().parents[2] / "pgnotes" / "grading" / "cases" / "ch01.json"


def arr(a) -> dict:
    return {"__ndarray__": np.asarray(a, dtype=np.float64).tolist(), "dtype": "float64"}


def score_cases(function, hint_scale: str) -> list[dict]:
    rng = np.random.default_rng(101)
    cases = []
    for name, n, d in [("one sample, one dimension", 1, 1), ("batch of 5 in 3-D", 5, 3), ("batch of 8 in 2-D, wide std", 8, 2)]:
        mean, std = rng.normal(size=d), np.exp(rng.normal(size=d))
        x = mean + std * rng.standard_normal((n, d))
        cases.append({
            "name": name, "args": [arr(x), arr(mean), arr(std)], "kwargs": {},
            "expected": arr(function(x, mean, std)), "compare": "allclose", "rtol": 1e-6, "atol": 1e-9,
            "points": 1, "hint": hint_scale,
        })
    return cases


def estimate_cases() -> list[dict]:
    rng = np.random.default_rng(202)
    cases = []
    for name, n, d, b in [("no baseline", 6, 2, 0.0), ("constant baseline", 10, 3, 2.5), ("single sample", 1, 4, -1.0)]:
        fitness, scores = rng.normal(size=n) * 3, rng.normal(size=(n, d))
        expected = estimators.score_function_gradient(fitness, scores, baseline=b).value
        cases.append({
            "name": name, "args": [arr(fitness), arr(scores)], "kwargs": {"baseline": b},
            "expected": arr(expected), "compare": "allclose", "rtol": 1e-6, "atol": 1e-9, "points": 1,
            "hint": "average over samples (axis 0) of (fitness - baseline) times the score row",
        })
    return cases


def quadratic_cases() -> list[dict]:
    """Statistical cases: exact gradient -2 (mean - center); stderr of the no-baseline estimator.

    The per-sample term of the plain score-function estimator is f(x) (x - mu)/sigma^2; its
    standard deviation is measured from 400,000 reference samples and divided by sqrt(n),
    so any unbiased estimator at least as good as the plain one passes at z = 4.
    """
    cases = []
    for seed, (name, mean, std, center, n) in enumerate([
        ("2-D, unit std", [0.0, 1.0], [1.0, 1.0], [2.0, -1.0], 2000),
        ("3-D, mixed std", [1.0, -0.5, 0.0], [0.5, 2.0, 1.0], [0.0, 0.0, 3.0], 4000),
    ]):
        mean, std, center = (np.array(v, dtype=float) for v in (mean, std, center))
        f = lambda x: -np.sum((x - center) ** 2, axis=-1)
        reference = estimators.gaussian_score_function_gradient(f, mean, std, 400_000, np.random.default_rng(900 + seed))
        per_sample_std = reference["mean"].stderr * np.sqrt(400_000)
        cases.append({
            "name": name, "args": [arr(mean), arr(std), arr(center), n, {"__rng__": 1000 + seed}], "kwargs": {},
            "expected": {"value": (-2 * (mean - center)).tolist(), "stderr": (per_sample_std / np.sqrt(n)).tolist(), "z": 4},
            "compare": "statistical", "points": 1,
            "hint": "sample x = mean + std * rng.standard_normal((n, d)), weight the score (x - mean)/std^2 by f(x), average",
        })
    return cases


def main() -> None:
    exercises = [
        {"id": "ch01.gaussian_score_mean", "function": "gaussian_score_mean", "points": 3,
         "description": "score of a diagonal Gaussian with respect to its mean",
         "idea": "the score is the derivative of the log-density; of a Gaussian's log-density only the exponent "
                 "depends on the mean, and the answer has one row per sample",
         "section": 'Chapter 1, "The score functions in pgnotes"',
         "hint": "differentiate -(x - mean)^2 / (2 std^2) with respect to mean",
         "cases": score_cases(score.gaussian_score_mean, "(x - mean) divided by the variance std**2")},
        {"id": "ch01.gaussian_score_log_std", "function": "gaussian_score_log_std", "points": 3,
         "description": "score of a diagonal Gaussian with respect to log std",
         "idea": "write the log-density as a function of s = log std (the exponent and the normalizer both depend "
                 "on it) and differentiate with respect to s, one dimension at a time",
         "section": 'Chapter 1, "The score functions in pgnotes"',
         "hint": "with s = log std, d/ds of -(x-mean)^2 exp(-2s)/2 - s",
         "cases": score_cases(score.gaussian_score_log_std, "((x - mean)/std)**2 - 1, per dimension")},
        {"id": "ch01.score_function_estimate", "function": "score_function_estimate", "points": 3,
         "description": "the score-function estimator with a constant baseline",
         "idea": "the estimate averages, over the samples, each sample's score weighted by how far its fitness "
                 "lies above the baseline",
         "section": 'Chapter 1, "From the identity to a gradient estimate, step by step"',
         "hint": "mean over samples of (fitness - baseline) * scores", "cases": estimate_cases()},
        {"id": "ch01.estimate_quadratic_gradient", "function": "estimate_quadratic_gradient", "points": 2,
         "description": "a Monte Carlo gradient estimate from samples (checked statistically)",
         "idea": "draw the samples from the search distribution with the rng you are given, evaluate f, and weight "
                 "each sample's score by its fitness; a baseline must not use the sample it is applied to",
         "section": 'Chapter 1, "From the identity to a gradient estimate, step by step"',
         "hint": "draw the samples with the rng you are given; use the score-function estimator",
         "cases": quadratic_cases()},
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"exercises": exercises}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
