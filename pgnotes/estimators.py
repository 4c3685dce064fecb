r"""Monte Carlo estimators of :math:`\nabla_\theta\, \mathbb E_{x\sim p(x;\theta)}[f(x)]` (chapter 1).

Score function (likelihood ratio, REINFORCE) estimator, from the log-derivative trick:

.. math::
    \nabla_\theta \mathbb E[f(x)] = \mathbb E\big[(f(x) - b)\, \nabla_\theta \log p(x;\theta)\big]
    \approx \frac1\lambda \sum_{k=1}^{\lambda} (f(x^{(k)}) - b)\, \nabla_\theta \log p(x^{(k)};\theta),

unbiased for any constant baseline :math:`b` because :math:`\mathbb E[\nabla_\theta \log p] = 0`.
It needs only values of :math:`f`, never its gradient.

Pathwise (reparameterization) estimator for a Gaussian, :math:`x = \mu + \sigma\varepsilon`:

.. math::
    \nabla_\mu \mathbb E[f(x)] = \mathbb E[\nabla f(\mu + \sigma\varepsilon)], \qquad
    \nabla_{\log\sigma} \mathbb E[f(x)] = \mathbb E[\nabla f(\mu + \sigma\varepsilon) \cdot \sigma\varepsilon],

which needs :math:`\nabla f` but usually has far lower variance.

Every estimator returns an :class:`Estimate`: the average and its standard error
(sample standard deviation of the per-sample terms over :math:`\sqrt\lambda`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pgnotes import _validate
from pgnotes.score import gaussian_score_log_std, gaussian_score_mean

BASELINES = ("none", "mean", "leave_one_out")


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: ``value`` (the average), ``stderr`` (its standard error), ``n`` samples."""

    value: np.ndarray
    stderr: np.ndarray
    n: int

    @classmethod
    def from_terms(cls, terms: np.ndarray) -> "Estimate":
        """Average per-sample terms of shape (n, ...) and attach the standard error ``std(ddof=1)/sqrt(n)``."""
        terms = _validate.finite_array("terms", terms)
        if terms.ndim < 1 or terms.shape[0] < 1:
            raise ValueError(f"terms must have shape (n, ...) with n >= 1 samples, got shape {terms.shape}")
        n = terms.shape[0]
        stderr = terms.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(terms.shape[1:], np.inf)
        return cls(terms.mean(axis=0), stderr, n)


def _baseline_values(fitness: np.ndarray, baseline) -> np.ndarray:
    n = fitness.shape[0]
    if baseline is None or (isinstance(baseline, str) and baseline == "none"):
        return np.zeros(n)
    if isinstance(baseline, str):
        if baseline == "mean":
            return np.full(n, fitness.mean())
        if baseline == "leave_one_out":
            if n < 2:
                raise ValueError("baseline='leave_one_out' needs at least 2 samples")
            return (fitness.sum() - fitness) / (n - 1)
        raise ValueError(f"baseline must be None, a finite number or one of {BASELINES}, got {baseline!r}")
    if isinstance(baseline, np.ndarray) and baseline.ndim == 0:
        baseline = baseline.item()
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"baseline must be None, a finite number or one of {BASELINES}, got {type(baseline).__name__} {baseline!r:.80}"
        )
    value = float(baseline)
    if not np.isfinite(value):
        raise ValueError(f"baseline must be finite, got {baseline!r}")
    return np.full(n, value)


def score_function_gradient(fitness, scores, baseline=None) -> Estimate:
    r"""Score-function estimate :math:`\frac1\lambda\sum_k (f_k - b_k)\, g_k` from given values. Chapter 1.

    Parameters
    ----------
    fitness : array (n,)
        :math:`f(x^{(k)})` for the n samples (finite).
    scores : array (n, ...)
        :math:`g_k = \nabla_\theta \log p(x^{(k)}; \theta)` for the same samples.
    baseline : None, float, "mean" or "leave_one_out"
        ``None``: no baseline. A number: that constant (unbiased). ``"mean"``: the
        sample mean of ``fitness`` (slightly biased, O(1/n)). ``"leave_one_out"``: for
        sample k the mean of the other samples' fitness, which keeps the estimate unbiased.
    """
    fitness = _validate.finite_array("fitness", fitness, ndim=1)
    scores = _validate.finite_array("scores", scores)
    if scores.ndim < 1 or scores.shape[0] != fitness.shape[0]:
        raise ValueError(f"scores must have one row per fitness value: got {scores.shape} for {fitness.shape[0]} values")
    if fitness.shape[0] < 1:
        raise ValueError("fitness must hold at least one value")
    weights = fitness - _baseline_values(fitness, baseline)
    terms = weights.reshape((-1,) + (1,) * (scores.ndim - 1)) * scores
    return Estimate.from_terms(terms)


def _gaussian_samples(mean, std, num_samples, rng):
    mean = _validate.finite_array("mean", mean, ndim=1, min_size=1)
    std_arr = _validate.finite_array("std", std)
    if std_arr.ndim > 1 or std_arr.size not in (1, mean.size):
        raise ValueError(f"std must be a number or have shape {mean.shape} like mean, got shape {std_arr.shape}")
    std_arr = np.broadcast_to(std_arr, mean.shape).copy()
    if np.any(std_arr <= 0):
        raise ValueError(f"std must be > 0 everywhere, got minimum {std_arr.min()!r}")
    num_samples = _validate.integer_at_least("num_samples", num_samples, 2)
    _validate.allocation("num_samples * dim", num_samples, mean.size)
    rng = _validate.generator(rng)
    eps = rng.standard_normal((num_samples, mean.size))
    return mean, std_arr, eps, mean + std_arr * eps


def _fitness_values(f: Callable, x: np.ndarray) -> np.ndarray:
    values = _validate._as_float_array("f(x)", f(x))
    if values.shape != (x.shape[0],):
        raise ValueError(f"f must map (n, d) samples to (n,) values, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("f returned non-finite values")
    return values


def gaussian_score_function_gradient(f: Callable, mean, std, num_samples: int, rng, baseline=None) -> dict[str, Estimate]:
    r"""Score-function estimate of the gradient of :math:`\mathbb E_{x\sim\mathcal N(\mu,\operatorname{diag}\sigma^2)}[f(x)]`. Chapter 1.

    ``f`` maps a batch (n, d) to values (n,). Returns ``{"mean": Estimate, "log_std": Estimate}``,
    the gradients with respect to :math:`\mu` and to :math:`\log\sigma` (per dimension).
    """
    _validate.callable_("f", f)
    mean, std, _, x = _gaussian_samples(mean, std, num_samples, rng)
    fitness = _fitness_values(f, x)
    return {
        "mean": score_function_gradient(fitness, gaussian_score_mean(x, mean, std), baseline),
        "log_std": score_function_gradient(fitness, gaussian_score_log_std(x, mean, std), baseline),
    }


def gaussian_pathwise_gradient(grad_f: Callable, mean, std, num_samples: int, rng) -> dict[str, Estimate]:
    r"""Pathwise (reparameterization) estimate for :math:`x = \mu + \sigma\odot\varepsilon`, :math:`\varepsilon\sim\mathcal N(0, I)`. Chapter 1.

    ``grad_f`` maps a batch (n, d) to the gradients :math:`\nabla f(x)` (n, d).
    Returns ``{"mean": Estimate, "log_std": Estimate}``.
    """
    _validate.callable_("grad_f", grad_f)
    mean, std, eps, x = _gaussian_samples(mean, std, num_samples, rng)
    grads = _validate._as_float_array("grad_f(x)", grad_f(x))
    if grads.shape != x.shape:
        raise ValueError(f"grad_f must map (n, d) samples to (n, d) gradients, got shape {grads.shape}")
    if not np.all(np.isfinite(grads)):
        raise ValueError("grad_f returned non-finite values")
    return {"mean": Estimate.from_terms(grads), "log_std": Estimate.from_terms(grads * std * eps)}
