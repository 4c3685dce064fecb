r"""Natural evolution strategies: the search gradient and the natural search gradient (chapter 3).

Fitness is **maximized**. The search distribution is a Gaussian
:math:`p(x;\theta) = \mathcal N(\mu, \Sigma(\theta))` whose parameter vector
:math:`\theta` stacks the mean and a covariance parameterization:

================ ================================================ ======================================
``cov``          :math:`\theta` (a :mod:`pgnotes.distributions`)   :math:`\Sigma`
================ ================================================ ======================================
``"isotropic"``  ``[mu, log sigma]`` (IsotropicGaussian)           :math:`\sigma^2 I`
``"diagonal"``   ``[mu, log sigma_i]`` (DiagonalGaussian)          :math:`\operatorname{diag}(\sigma_i^2)`
``"full"``       ``[mu, log L_ii, L_ij (i>j)]`` (FullGaussian)     :math:`LL^\top`
``"fixed"``      ``[mu]`` (sigma stays constant)                   :math:`\sigma^2 I`
================ ================================================ ======================================

One generation is Algorithm 9 of Euskirchen's notes (Natural Search Gradient):

.. math::
    x^{(k)} \sim p(\cdot;\theta), \quad
    g^{(k)} = \nabla_\theta \log p(x^{(k)};\theta), \quad
    \nabla_\theta J = \frac1\lambda \sum_k u_k\, g^{(k)}, \quad
    F = \frac1\lambda \sum_k g^{(k)} g^{(k)\top}, \quad
    \theta \leftarrow \theta + \alpha\, F^{-1} \nabla_\theta J,

where :math:`u_k` is the fitness :math:`f(x^{(k)})` or a shaped version of it (``shaping``).
``fisher`` picks the matrix :math:`F`: ``"empirical"`` (line 7 of Algorithm 9, from the
scores), ``"exact"`` (the closed-form Fisher information of the Gaussian,
``distribution.fisher()``) or ``"none"`` (the *vanilla* search gradient of Algorithm 1,
:math:`\theta \leftarrow \theta + \alpha \nabla_\theta J`, for contrast).

The distributions, their scores and their closed-form Fisher matrices are those of
:mod:`pgnotes.distributions` (chapter 2, built on the scores of :mod:`pgnotes.score`,
chapter 1); this module adds the NES update on top of them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pgnotes import _validate
from pgnotes.distributions import DiagonalGaussian, FullGaussian, IsotropicGaussian
from pgnotes.shaping import SHAPINGS, check_shaping, shape_fitness  # noqa: F401 (nes.shape_fitness, nes.SHAPINGS)
from pgnotes.solvers.base import Solver, initial_scale

COVARIANCES = ("isotropic", "diagonal", "full", "fixed")
FISHERS = ("empirical", "exact", "none")


# -- pure functions: the pieces of Algorithm 9 ----------------------------------------------
def search_gradient(scores, utilities) -> np.ndarray:
    r"""Monte Carlo search gradient :math:`\frac1\lambda \sum_k u_k g^{(k)}` (Algorithm 9, line 6). Chapter 3.

    ``scores`` is (lambda, n_params), ``utilities`` (lambda,).
    """
    scores = _validate.finite_array("scores", scores, ndim=2)
    utilities = _validate.finite_array("utilities", utilities, shape=(scores.shape[0],))
    return utilities @ scores / scores.shape[0]


def empirical_fisher(scores) -> np.ndarray:
    r"""Empirical Fisher matrix :math:`\frac1\lambda \sum_k g^{(k)} g^{(k)\top}` (Algorithm 9, line 7). Chapter 3.

    Singular when there are fewer samples than parameters; :func:`natural_gradient` damps it.
    """
    scores = _validate.finite_array("scores", scores, ndim=2)
    return scores.T @ scores / scores.shape[0]


def natural_gradient(gradient, fisher, damping: float = 1e-8) -> np.ndarray:
    r"""Solve :math:`(F + \delta I)\, \tilde g = g` for the natural gradient :math:`\tilde g = F^{-1} g`. Chapter 3.

    The damping :math:`\delta` is relative to the mean of the diagonal of ``F``
    (``delta = damping * trace(F) / n``) so the solve stays defined when the empirical
    Fisher is singular (fewer samples than parameters). ``damping=0`` gives the plain solve.
    """
    gradient = _validate.finite_array("gradient", gradient, ndim=1)
    n = gradient.shape[0]
    fisher = _validate.finite_array("fisher", fisher, ndim=2)
    if fisher.shape != (n, n):
        raise ValueError(f"fisher must have shape ({n}, {n}) to match gradient of length {n}, got {fisher.shape}")
    damping = _validate.non_negative("damping", damping)
    if not np.allclose(fisher, fisher.T, rtol=1e-8, atol=1e-12 * max(1.0, float(np.abs(fisher).max()))):
        raise ValueError("fisher must be a symmetric positive semi-definite matrix, got a non-symmetric one")
    delta = damping * max(float(np.trace(fisher)) / n, np.finfo(float).tiny)
    matrix = fisher + delta * np.eye(n)
    try:  # a Fisher matrix is positive semi-definite: anything else would turn the step around
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        eig = np.linalg.eigvalsh(matrix)
        if eig[0] < -1e-10 * max(abs(eig[-1]), np.finfo(float).tiny):
            raise ValueError(
                f"fisher must be positive semi-definite (a Fisher matrix is), got smallest eigenvalue {eig[0]:.3g}"
            ) from None
    try:
        return np.linalg.solve(matrix, gradient)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(matrix, gradient, rcond=None)[0]


# -- the solver --------------------------------------------------------------------------
FAMILIES = {"isotropic": IsotropicGaussian, "diagonal": DiagonalGaussian, "full": FullGaussian, "fixed": IsotropicGaussian}


class NES(Solver):
    r"""Natural evolution strategies with a Gaussian search distribution, maximizing fitness (chapter 3).

    Algorithm 9 of Euskirchen's notes with a choice of Fisher matrix (``fisher``), covariance model
    (``cov``) and fitness shaping (``shaping``); see the module docstring for the equations.

    Parameters
    ----------
    dim : int
        Dimension of a solution.
    popsize : int
        Samples per generation ``lambda`` (>= 2).
    mean : array_like, optional
        Initial mean (default zeros).
    sigma0 : float or array_like
        Initial standard deviation (> 0; per coordinate allowed for ``cov="diagonal"`` and
        ``"full"``, where it becomes the diagonal of ``L``). Default 1.0.
    cov : {"isotropic", "diagonal", "full", "fixed"}
        Covariance model (default ``"full"``); ``"fixed"`` keeps ``sigma0`` and moves only the
        mean.
    fisher : {"empirical", "exact", "none"}
        ``"empirical"``: :func:`empirical_fisher` of the scores (Algorithm 9, line 7);
        ``"exact"``: the closed-form Fisher of the distribution; ``"none"``: the vanilla
        search gradient. Default ``"exact"``.
    lr : float
        Step size ``alpha`` for the mean parameters (default 1.0).
    lr_cov : float, optional
        Step size for the covariance parameters (default 0.5).
    shaping : {"none", "centered_ranks", "standardize", "nes_utilities"} or callable
        Fitness shaping applied before the gradient (default ``"centered_ranks"``;
        ``"none"`` is Algorithm 9 as written). See :func:`pgnotes.shaping.shape_fitness`.
    damping : float
        Relative damping of the Fisher solve (default 1e-8); see :func:`natural_gradient`.
    rng : numpy.random.Generator or int
        Randomness of the sampler.

    Attributes
    ----------
    theta : (n_params,) array
        The flat parameter vector the gradient acts on, ``distribution.params``.
    last_step : dict
        ``gradient``, ``fisher`` and ``step`` of the last update, for inspection.

    Notes
    -----
    The properties ``distribution`` (a :mod:`pgnotes.distributions` object built from
    ``theta``), ``mean``, ``covariance`` (the hook :mod:`pgnotes.viz` draws), ``cholesky``
    and ``sigma`` read the current search distribution.
    """

    _state_keys = ("theta",)

    def __init__(
        self,
        dim: int,
        popsize: int = 20,
        *,
        mean=None,
        sigma0: float | np.ndarray = 1.0,
        cov: str = "full",
        fisher: str = "exact",
        lr: float = 1.0,
        lr_cov: float | None = None,
        shaping: str | Callable = "centered_ranks",
        damping: float = 1e-8,
        rng: np.random.Generator | int = 0,
    ):
        super().__init__(dim, popsize, rng, min_popsize=2)
        if cov not in COVARIANCES:
            raise ValueError(f"cov must be one of {COVARIANCES}, got {cov!r}")
        if cov == "full":  # theta has dim + dim (dim + 1) / 2 entries, the Fisher matrix its square
            _validate.allocation("cov='full' (Fisher matrix of dim + dim (dim + 1) / 2 parameters)",
                                 FullGaussian.num_params_for(self.dim), FullGaussian.num_params_for(self.dim))
        if fisher not in FISHERS:
            raise ValueError(f"fisher must be one of {FISHERS}, got {fisher!r}")
        self.cov, self.fisher, self.shaping = cov, fisher, check_shaping(shaping)
        self.lr = _validate.positive("lr", lr)
        self.lr_cov = 0.5 if lr_cov is None else _validate.positive("lr_cov", lr_cov)
        self.damping = _validate.non_negative("damping", damping)
        mean = self._initial_mean(mean)
        if np.ndim(sigma0) != 0 and cov in ("isotropic", "fixed"):
            raise ValueError(f"sigma0 must be a scalar for cov={cov!r}, got shape {np.shape(sigma0)}")
        sigma0 = initial_scale("sigma0", sigma0, self.dim)
        if cov in ("isotropic", "fixed"):
            dist = IsotropicGaussian(mean, float(sigma0[0]))
        elif cov == "diagonal":
            dist = DiagonalGaussian(mean, sigma0)
        else:
            dist = FullGaussian(mean, np.diag(sigma0))
        self._fixed_log_sigma = float(np.log(sigma0[0]))
        self.theta = dist.params if cov != "fixed" else mean.astype(np.float64).copy()
        self.last_step: dict[str, np.ndarray] = {}

    # -- the distribution, read from theta -------------------------------------------------
    @property
    def n_params(self) -> int:
        """Length of theta: the mean plus the covariance parameters (none for ``"fixed"``)."""
        return self.theta.shape[0]

    @property
    def distribution(self):
        """The current search distribution, a :mod:`pgnotes.distributions` object."""
        if self.cov == "fixed":
            return IsotropicGaussian.from_params(np.r_[self.theta, self._fixed_log_sigma], self.dim)
        return FAMILIES[self.cov].from_params(self.theta, self.dim)

    @property
    def mean(self) -> np.ndarray:
        return self.theta[: self.dim].copy()

    @property
    def cholesky(self) -> np.ndarray:
        """Lower-triangular factor ``L`` with ``covariance = L L^T``."""
        return self.distribution.cholesky

    @property
    def covariance(self) -> np.ndarray:
        """Covariance matrix (dim, dim) of the search distribution."""
        return self.distribution.covariance

    @property
    def sigma(self) -> np.ndarray:
        """Standard deviation per coordinate, ``sqrt(diag(covariance))``."""
        return np.sqrt(np.diag(self.covariance))

    # -- ask / tell ------------------------------------------------------------------------
    def _ask(self) -> np.ndarray:
        z = self.rng.standard_normal((self.popsize, self.dim))
        return self.mean + z @ self.cholesky.T  # mu + L z, reparameterization (CMU 10-703 lecture)

    def scores(self, x) -> np.ndarray:
        """Scores of the candidates ``x`` (lambda, dim) with respect to theta, (lambda, n_params)."""
        g = self.distribution.score(x)
        return g[:, : self.dim] if self.cov == "fixed" else g

    def exact_fisher(self) -> np.ndarray:
        """Closed-form Fisher matrix at the current theta (the distribution's ``fisher()``)."""
        F = self.distribution.fisher()
        return F[: self.dim, : self.dim] if self.cov == "fixed" else F

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        u = shape_fitness(fitness, self.shaping)
        g = self.scores(x)
        grad = search_gradient(g, u)
        if self.fisher == "none":
            fisher, step = None, grad
        else:
            fisher = empirical_fisher(g) if self.fisher == "empirical" else self.exact_fisher()
            step = natural_gradient(grad, fisher, self.damping)
        rates = np.full(self.n_params, self.lr_cov)
        rates[: self.dim] = self.lr
        theta = self.theta + rates * step
        if not np.all(np.isfinite(theta)) or np.any(np.abs(theta[self.dim :]) > 700):
            raise _validate.NonFiniteUpdateError("NES update produced non-finite or overflowing parameters; lower lr/lr_cov or shape the fitness "
                                             "(x or fitness far outside the search distribution); the solver was left unchanged")
        self.theta = theta
        self.last_step = {"gradient": grad, "fisher": fisher, "step": step}
