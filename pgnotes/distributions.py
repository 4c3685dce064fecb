r"""Gaussian search distributions :math:`p(x;\theta)` with a flat parameter vector (chapter 2).

Three families, one interface. Each object holds its parameters as one flat vector
``theta`` (``params``), so a search-gradient solver can do plain vector arithmetic,
:math:`\theta \leftarrow \theta + \alpha \nabla_\theta J`:

========================== ===================================== =============================================
class                      covariance                            ``theta`` (length)
========================== ===================================== =============================================
:class:`IsotropicGaussian` :math:`\sigma^2 I`                    ``[mu, log sigma]`` (d + 1)
:class:`DiagonalGaussian`  :math:`\operatorname{diag}(\sigma^2)` ``[mu, log sigma_1..d]`` (2d)
:class:`FullGaussian`      :math:`LL^\top` (Cholesky factor)     ``[mu, log L_ii, L_ij (i>j)]`` (d + d(d+1)/2)
========================== ===================================== =============================================

Scales enter through their logarithm (``log sigma``, and ``log L_ii`` on the diagonal of
the Cholesky factor), so any real ``theta`` is a valid distribution and a gradient step can
never make a scale negative.

Every family offers

* ``sample(n, rng)``: reparameterized draws :math:`x = \mu + L\varepsilon`,
  :math:`\varepsilon\sim\mathcal N(0, I)` (the CMU 10-703 lecture (Fragkiadaki & Kumar), "sampling"), with :math:`L = \sigma I`,
  :math:`\operatorname{diag}(\sigma)` or the Cholesky factor;
* ``log_prob(x)`` and ``score(x)`` :math:`= \nabla_\theta \log p(x;\theta)`, shape (n, len(theta)),
  built on the analytic scores of :mod:`pgnotes.score` (chapter 1);
* ``fisher()``: the exact Fisher information :math:`F = \mathbb E[\nabla\log p\,\nabla\log p^\top]`
  in the same parameterization (used by natural gradients, Algorithm 9);
* ``with_params(theta)``: the same family at other parameters.

All randomness comes from the ``rng`` argument (a ``numpy.random.Generator`` or a seed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from pgnotes import _validate
from pgnotes.score import (
    LOG_2PI,
    gaussian_log_prob,
    gaussian_score_log_std,
    gaussian_score_mean,
    mvn_log_prob,
    mvn_score,
)

__all__ = ["SearchDistribution", "IsotropicGaussian", "DiagonalGaussian", "FullGaussian", "make_distribution"]


class SearchDistribution(ABC):
    """A Gaussian search distribution with a flat parameter vector ``params`` (chapter 2)."""

    def __init__(self, mean):
        self.mean = _validate.finite_array("mean", mean, ndim=1).copy()
        if self.mean.size < 1:
            raise ValueError("mean must have at least one entry")
        self.dim = int(self.mean.size)

    # -- parameter vector ------------------------------------------------------------
    @property
    @abstractmethod
    def params(self) -> np.ndarray:
        """The flat parameter vector ``theta`` (a copy)."""

    @classmethod
    @abstractmethod
    def from_params(cls, theta, dim: int) -> "SearchDistribution":
        """Build the distribution of dimension ``dim`` from a flat parameter vector."""

    @staticmethod
    @abstractmethod
    def num_params_for(dim: int) -> int:
        """Length of ``theta`` for dimension ``dim``."""

    @property
    def num_params(self) -> int:
        """Length of ``theta``."""
        return self.num_params_for(self.dim)

    def with_params(self, theta) -> "SearchDistribution":
        """The same family and dimension at parameters ``theta``."""
        return self.from_params(theta, self.dim)

    @classmethod
    def _check_theta(cls, theta, dim: int) -> np.ndarray:
        dim = _validate.integer_at_least("dim", dim, 1)
        n = cls.num_params_for(dim)
        return _validate.finite_array("theta", theta, shape=(n,))

    # -- the distribution ------------------------------------------------------------
    @property
    @abstractmethod
    def cholesky(self) -> np.ndarray:
        """Lower-triangular :math:`L` with covariance :math:`LL^\\top`, shape (dim, dim)."""

    @property
    def covariance(self) -> np.ndarray:
        """Covariance matrix :math:`LL^\\top`, shape (dim, dim)."""
        L = self.cholesky
        return L @ L.T

    def _check_x(self, x) -> np.ndarray:
        x = _validate.finite_array("x", x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape ({self.dim},) or (n, {self.dim}), got {x.shape}")
        return x

    @abstractmethod
    def _transform(self, eps: np.ndarray) -> np.ndarray:
        """Map standard normal noise (n, dim) to samples mu + L eps."""

    def sample(self, n: int, rng, *, return_noise: bool = False):
        r"""Draw ``n`` samples :math:`x = \mu + L\varepsilon`, shape (n, dim).

        With ``return_noise=True`` returns ``(x, eps)``, the standard normal noise too
        (what ES implementations store instead of ``x``).
        """
        n = _validate.integer_at_least("n", n, 1)
        _validate.allocation("n * dim (the samples)", n, self.dim)
        rng = _validate.generator(rng)
        eps = rng.standard_normal((n, self.dim))
        x = self._transform(eps)
        return (x, eps) if return_noise else x

    @abstractmethod
    def log_prob(self, x) -> np.ndarray:
        """Log-density at ``x`` of shape (dim,) or (n, dim); returns a scalar or (n,)."""

    @abstractmethod
    def score(self, x) -> np.ndarray:
        r"""Score :math:`\nabla_\theta \log p(x;\theta)`, shape (num_params,) or (n, num_params)."""

    @abstractmethod
    def fisher(self) -> np.ndarray:
        r"""Exact Fisher information matrix :math:`\mathbb E[g g^\top]`, shape (num_params, num_params)."""

    def entropy(self) -> float:
        r"""Differential entropy :math:`\tfrac d2(1 + \log 2\pi) + \sum_i \log L_{ii}`."""
        return float(0.5 * self.dim * (1.0 + LOG_2PI) + np.sum(np.log(np.diag(self.cholesky))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"


class _ScaledGaussian(SearchDistribution):
    """What the isotropic and diagonal families share: :math:`L` is a scale times the identity,
    ``_scale`` (a number or one per coordinate), and ``theta = [mu, log _scale]``."""

    _scale: float | np.ndarray

    @property
    def params(self) -> np.ndarray:
        return np.concatenate([self.mean, np.atleast_1d(np.log(self._scale))])

    def _transform(self, eps):
        return self.mean + self._scale * eps

    def log_prob(self, x):
        return gaussian_log_prob(self._check_x(x), self.mean, self._scale)


class IsotropicGaussian(_ScaledGaussian):
    r""":math:`\mathcal N(\mu, \sigma^2 I)`, parameters ``theta = [mu, log sigma]`` (chapter 2).

    Score: :math:`\nabla_\mu \log p = (x-\mu)/\sigma^2`,
    :math:`\partial_{\log\sigma} \log p = \lVert x-\mu\rVert^2/\sigma^2 - d`.
    Fisher: :math:`\operatorname{diag}(I/\sigma^2,\ 2d)`.
    """

    def __init__(self, mean, sigma: float = 1.0):
        super().__init__(mean)
        self.sigma = _validate.positive("sigma", sigma)

    @property
    def _scale(self) -> float:
        return self.sigma

    @staticmethod
    def num_params_for(dim: int) -> int:
        return dim + 1

    @classmethod
    def from_params(cls, theta, dim: int) -> "IsotropicGaussian":
        theta = cls._check_theta(theta, dim)
        return cls(theta[:dim], float(np.exp(theta[dim])))

    @property
    def cholesky(self) -> np.ndarray:
        return self.sigma * np.eye(self.dim)

    def score(self, x):
        x = self._check_x(x)
        s_mean = gaussian_score_mean(x, self.mean, self.sigma)
        s_log = np.asarray(gaussian_score_log_std(x, self.mean, self.sigma))
        return np.concatenate([s_mean, s_log[..., None]], axis=-1)

    def fisher(self):
        return np.diag(np.concatenate([np.full(self.dim, 1.0 / self.sigma**2), [2.0 * self.dim]]))


class DiagonalGaussian(_ScaledGaussian):
    r""":math:`\mathcal N(\mu, \operatorname{diag}\sigma^2)`, parameters ``theta = [mu, log sigma]`` (chapter 2).

    Score: :math:`(x_i-\mu_i)/\sigma_i^2` and :math:`(x_i-\mu_i)^2/\sigma_i^2 - 1`.
    Fisher: :math:`\operatorname{diag}(1/\sigma_i^2,\ 2)`.
    """

    def __init__(self, mean, std=1.0):
        super().__init__(mean)
        std = np.broadcast_to(_validate.finite_array("std", std), self.mean.shape).copy()
        if np.any(std <= 0):
            raise ValueError(f"std must be > 0 in every coordinate, got minimum {std.min()!r}")
        self.std = std

    @property
    def _scale(self) -> np.ndarray:
        return self.std

    @staticmethod
    def num_params_for(dim: int) -> int:
        return 2 * dim

    @classmethod
    def from_params(cls, theta, dim: int) -> "DiagonalGaussian":
        theta = cls._check_theta(theta, dim)
        return cls(theta[:dim], np.exp(theta[dim:]))

    @property
    def cholesky(self) -> np.ndarray:
        return np.diag(self.std)

    def score(self, x):
        x = self._check_x(x)
        return np.concatenate(
            [gaussian_score_mean(x, self.mean, self.std), gaussian_score_log_std(x, self.mean, self.std)], axis=-1
        )

    def fisher(self):
        return np.diag(np.concatenate([1.0 / self.std**2, np.full(self.dim, 2.0)]))


class FullGaussian(SearchDistribution):
    r""":math:`\mathcal N(\mu, LL^\top)` with Cholesky factor ``L`` (chapter 2).

    ``theta = [mu, log L_11, ..., log L_dd, L_ij for i > j]`` (strictly lower entries in
    row-major order, ``numpy.tril_indices(d, -1)``). The score with respect to ``L`` is that of
    :func:`pgnotes.score.mvn_score`; on the diagonal it is multiplied by :math:`L_{ii}` (chain
    rule for :math:`\log L_{ii}`).

    Fisher information, with :math:`A = L^{-\top}` and :math:`\Sigma^{-1} = AA^\top`: the mean block
    is :math:`\Sigma^{-1}`, mean and ``L`` are uncorrelated, and for entries :math:`(i,j)`,
    :math:`(k,l)` of ``L``

    .. math:: F_{(ij),(kl)} = \Sigma^{-1}_{ik}\,\delta_{jl} + A_{il} A_{kj},

    (from the Gaussian fourth moments of :math:`z = L^{-1}(x-\mu)`), rescaled by
    :math:`L_{ii}` on rows and columns of diagonal entries.
    """

    def __init__(self, mean, cholesky=None):
        super().__init__(mean)
        _validate.allocation("mean (a full covariance is dim x dim)", self.dim, self.dim)
        if cholesky is None:
            cholesky = np.eye(self.dim)
        L = _validate.finite_array("cholesky", cholesky, shape=(self.dim, self.dim))
        if np.any(np.triu(L, 1) != 0):
            raise ValueError("cholesky must be lower triangular (the factor L of the covariance L L^T)")
        if np.any(np.diag(L) <= 0):
            raise ValueError("cholesky must have a strictly positive diagonal")
        self._L = L.copy()

    @classmethod
    def from_covariance(cls, mean, covariance) -> "FullGaussian":
        """Build from a symmetric positive definite covariance matrix."""
        cov = _validate.finite_array("covariance", covariance, ndim=2)
        if cov.shape[0] != cov.shape[1] or not np.allclose(cov, cov.T):
            raise ValueError(f"covariance must be a symmetric square matrix, got shape {cov.shape}")
        try:
            L = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError("covariance must be positive definite") from None
        return cls(mean, L)

    @property
    def cholesky(self) -> np.ndarray:
        return self._L.copy()

    @staticmethod
    def num_params_for(dim: int) -> int:
        return dim + dim * (dim + 1) // 2

    def _lower(self):
        return np.tril_indices(self.dim, -1)

    @property
    def params(self) -> np.ndarray:
        return np.concatenate([self.mean, np.log(np.diag(self._L)), self._L[self._lower()]])

    @classmethod
    def from_params(cls, theta, dim: int) -> "FullGaussian":
        theta = cls._check_theta(theta, dim)
        L = np.diag(np.exp(theta[dim : 2 * dim]))
        L[np.tril_indices(dim, -1)] = theta[2 * dim :]
        return cls(theta[:dim], L)

    def _transform(self, eps):
        return self.mean + eps @ self._L.T

    def log_prob(self, x):
        return mvn_log_prob(self._check_x(x), self.mean, self._L)

    def _flatten_L(self, grad_L: np.ndarray) -> np.ndarray:
        """(..., d, d) gradient w.r.t. L -> (..., d + d(d-1)/2) w.r.t. [log L_ii, L_ij]."""
        diag = np.diagonal(grad_L, axis1=-2, axis2=-1) * np.diag(self._L)
        rows, cols = self._lower()
        return np.concatenate([diag, grad_L[..., rows, cols]], axis=-1)

    def score(self, x):
        x = self._check_x(x)
        s_mean, s_L = mvn_score(x, self.mean, self._L)
        return np.concatenate([s_mean, self._flatten_L(s_L)], axis=-1)

    def fisher(self):
        d = self.dim
        A = np.linalg.inv(self._L).T  # L^{-T}, upper triangular
        prec = A @ A.T
        # entries of L in parameter order: diagonal first, then strictly lower (row-major)
        rows, cols = self._lower()
        idx_i = np.concatenate([np.arange(d), rows])
        idx_j = np.concatenate([np.arange(d), cols])
        cross = A[np.ix_(idx_i, idx_j)]  # cross[p, q] = A[i_p, j_q]
        block = prec[np.ix_(idx_i, idx_i)] * (idx_j[:, None] == idx_j[None, :]) + cross * cross.T
        # chain rule for log L_ii on the first d entries
        scale = np.concatenate([np.diag(self._L), np.ones(rows.size)])
        block = block * scale[:, None] * scale[None, :]
        n = self.num_params
        F = np.zeros((n, n))
        F[:d, :d] = prec
        F[d:, d:] = block
        return F


_FAMILIES = {"isotropic": IsotropicGaussian, "diagonal": DiagonalGaussian, "full": FullGaussian}


def make_distribution(kind: str, mean, sigma: float = 1.0) -> SearchDistribution:
    """Build a search distribution by name: ``"isotropic"``, ``"diagonal"`` or ``"full"``, scale ``sigma``. Chapter 2."""
    _validate.one_of("kind", kind, tuple(_FAMILIES))
    sigma = _validate.positive("sigma", sigma)
    mean = _validate.finite_array("mean", mean, ndim=1, min_size=1)
    if kind == "full":
        _validate.allocation("mean (a full covariance is dim x dim)", mean.size, mean.size)
    if kind == "isotropic":
        return IsotropicGaussian(mean, sigma)
    if kind == "diagonal":
        return DiagonalGaussian(mean, np.full(mean.size, sigma))
    return FullGaussian(mean, sigma * np.eye(mean.size))
