r"""Analytic score functions :math:`\nabla_\theta \log p(x; \theta)` (chapter 1, the log-derivative trick).

The log-derivative trick rewrites the gradient of a density as the density times its score,

.. math:: \nabla_\theta p(x; \theta) = p(x; \theta)\, \nabla_\theta \log p(x; \theta),

and the score is what every estimator in the course multiplies the fitness by. This module
gives the log-density and its score in closed form for the distributions used in the
course, vectorized over a leading batch axis. Every formula is tested against torch
autograd and finite differences (tests/test_score.py).

Shapes: ``x`` is a single point or a batch (n, ...) of points; outputs carry the same
batch axis.
"""

from __future__ import annotations

import numpy as np

from pgnotes import _validate

LOG_2PI = float(np.log(2.0 * np.pi))


def _gaussian_args(x, mean, std):
    mean = _validate.finite_array("mean", mean)
    std = _validate.finite_array("std", std)
    if np.any(std <= 0):
        raise ValueError("std must be > 0 everywhere")
    x = _validate.finite_array("x", x)
    try:
        np.broadcast_shapes(x.shape, mean.shape, std.shape)
    except ValueError:
        raise ValueError(f"x {x.shape}, mean {mean.shape} and std {std.shape} must broadcast") from None
    return x, mean, std


def gaussian_log_prob(x, mean, std) -> np.ndarray:
    r"""Log-density of a diagonal Gaussian, summed over the last axis.

    .. math:: \log p(x) = -\sum_i \Big[\frac{(x_i-\mu_i)^2}{2\sigma_i^2} + \log\sigma_i + \tfrac12\log 2\pi\Big]

    ``std`` may be a scalar (isotropic) or per dimension (diagonal). Chapter 1.
    """
    x, mean, std = _gaussian_args(x, mean, std)
    z = (x - mean) / std
    terms = -0.5 * z**2 - np.log(std) - 0.5 * LOG_2PI
    return np.sum(np.broadcast_to(terms, np.broadcast_shapes(x.shape, mean.shape, std.shape)), axis=-1)


def gaussian_score_mean(x, mean, std) -> np.ndarray:
    r"""Score with respect to the mean: :math:`\nabla_\mu \log p(x) = (x - \mu) / \sigma^2`. Chapter 1."""
    x, mean, std = _gaussian_args(x, mean, std)
    return (x - mean) / std**2


def gaussian_score_log_std(x, mean, std) -> np.ndarray:
    r"""Score with respect to the log standard deviation. Chapter 1.

    Per dimension (diagonal Gaussian, ``std`` of the same length as ``x``):

    .. math:: \frac{\partial}{\partial \log\sigma_i} \log p(x) = \frac{(x_i-\mu_i)^2}{\sigma_i^2} - 1.

    For an isotropic Gaussian (``std`` a scalar) there is one log-std shared by all
    dimensions and the score is the sum over dimensions, one number per sample.
    """
    x, mean, std = _gaussian_args(x, mean, std)
    per_dim = ((x - mean) / std) ** 2 - 1.0
    if std.ndim == 0:
        return np.sum(np.atleast_1d(per_dim), axis=-1) if per_dim.ndim else per_dim
    return per_dim


def _cholesky_args(x, mean, cholesky):
    mean = _validate.finite_array("mean", mean, ndim=1)
    d = mean.shape[0]
    cholesky = _validate.finite_array("cholesky", cholesky, ndim=2)
    if cholesky.shape != (d, d):
        raise ValueError(f"cholesky must have shape ({d}, {d}) to match mean of length {d}, got {cholesky.shape}")
    if np.any(np.triu(cholesky, 1) != 0):
        raise ValueError("cholesky must be lower triangular (the Cholesky factor L of the covariance L L^T)")
    if np.any(np.diag(cholesky) <= 0):
        raise ValueError("cholesky must have a strictly positive diagonal")
    x = _validate.finite_array("x", x)
    if x.shape[-1] != d or x.ndim > 2:
        raise ValueError(f"x must have shape ({d},) or (n, {d}), got {x.shape}")
    return x, mean, cholesky


def _whiten(x, mean, cholesky):
    from scipy.linalg import solve_triangular

    diff = np.atleast_2d(x - mean)
    return solve_triangular(cholesky, diff.T, lower=True).T  # z = L^{-1}(x - mu), shape (n, d)


def mvn_log_prob(x, mean, cholesky) -> np.ndarray:
    r"""Log-density of :math:`\mathcal N(\mu, LL^\top)` with Cholesky factor ``L`` (lower triangular). Chapter 1.

    .. math:: \log p(x) = -\tfrac12 \lVert L^{-1}(x-\mu)\rVert^2 - \sum_i \log L_{ii} - \tfrac d2 \log 2\pi
    """
    x, mean, cholesky = _cholesky_args(x, mean, cholesky)
    z = _whiten(x, mean, cholesky)
    out = -0.5 * np.sum(z**2, axis=-1) - np.sum(np.log(np.diag(cholesky))) - 0.5 * mean.size * LOG_2PI
    return out if x.ndim == 2 else out[0]


def mvn_score(x, mean, cholesky) -> tuple[np.ndarray, np.ndarray]:
    r"""Scores of :math:`\mathcal N(\mu, LL^\top)` with respect to ``mean`` and the Cholesky factor ``L``. Chapter 1.

    With :math:`z = L^{-1}(x-\mu)`:

    .. math::
        \nabla_\mu \log p = L^{-\top} z = \Sigma^{-1}(x-\mu), \qquad
        \nabla_L \log p = \operatorname{tril}\big(L^{-\top} z z^\top\big) - \operatorname{diag}(1/L_{ii}).

    Returns ``(score_mean, score_cholesky)`` with shapes (n, d) and (n, d, d) for a
    batch, or (d,) and (d, d) for a single point. ``score_cholesky`` is lower triangular.
    """
    from scipy.linalg import solve_triangular

    x, mean, cholesky = _cholesky_args(x, mean, cholesky)
    z = _whiten(x, mean, cholesky)
    score_mean = solve_triangular(cholesky, z.T, lower=True, trans="T").T  # L^{-T} z
    score_chol = np.tril(score_mean[:, :, None] * z[:, None, :]) - np.diag(1.0 / np.diag(cholesky))
    if x.ndim == 1:
        return score_mean[0], score_chol[0]
    return score_mean, score_chol


def _binary(x):
    x = _validate.finite_array("x", x)
    if not np.all((x == 0) | (x == 1)):
        raise ValueError("x must contain only 0 and 1 for a Bernoulli distribution")
    return x


def bernoulli_log_prob(x, logit) -> np.ndarray:
    r"""Log-probability of a Bernoulli with logit :math:`\eta` (:math:`p = \sigma(\eta)`). Chapter 1.

    .. math:: \log p(x) = x \eta - \log(1 + e^{\eta})
    """
    x = _binary(x)
    logit = _validate.finite_array("logit", logit)
    return x * logit - np.logaddexp(0.0, logit)


def bernoulli_score(x, logit) -> np.ndarray:
    r"""Score of a Bernoulli with respect to its logit: :math:`\partial_\eta \log p(x) = x - \sigma(\eta)`. Chapter 1."""
    x = _binary(x)
    logit = _validate.finite_array("logit", logit)
    return x - 1.0 / (1.0 + np.exp(-logit))


def _categorical_args(x, logits):
    logits = _validate.finite_array("logits", logits)
    if logits.ndim < 1 or logits.shape[-1] < 2:
        raise ValueError(f"logits must have at least 2 categories on the last axis, got shape {logits.shape}")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"x must hold integer category indices, got dtype {x.dtype}")
    k = logits.shape[-1]
    if np.any((x < 0) | (x >= k)):
        raise ValueError(f"x must hold category indices in [0, {k - 1}]")
    return x, logits


def softmax(logits) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    logits = _validate.finite_array("logits", logits)
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., K) with K >= 1 categories, got shape {logits.shape}")
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def categorical_log_prob(x, logits) -> np.ndarray:
    r"""Log-probability of category ``x`` under softmax ``logits``: :math:`\log \pi_x = \eta_x - \log\sum_k e^{\eta_k}`. Chapter 1."""
    x, logits = _categorical_args(x, logits)
    log_norm = np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1)) + logits.max(-1)
    chosen = np.take_along_axis(np.broadcast_to(logits, x.shape + logits.shape[-1:]), x[..., None], -1)[..., 0]
    return chosen - log_norm


def categorical_score(x, logits) -> np.ndarray:
    r"""Score of a softmax categorical with respect to its logits: :math:`\nabla_\eta \log \pi_x = e_x - \operatorname{softmax}(\eta)`. Chapter 1.

    Returns an array of shape ``x.shape + (K,)``.
    """
    x, logits = _categorical_args(x, logits)
    probs = np.broadcast_to(softmax(logits), x.shape + logits.shape[-1:])
    one_hot = np.eye(logits.shape[-1])[x]
    return one_hot - probs
