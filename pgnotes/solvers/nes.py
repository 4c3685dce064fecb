r"""Natural evolution strategies: the search gradient and the natural search gradient (chapter 3).

Fitness is **maximized**. The search distribution is a Gaussian
:math:`p(x;\theta) = \mathcal N(\mu, \Sigma(\theta))` whose parameter vector
:math:`\theta` stacks the mean and a covariance parameterization:

================ ====================================== ======================================
``cov``          covariance parameters                  :math:`\Sigma`
================ ====================================== ======================================
``"isotropic"``  :math:`\log\sigma` (one number)        :math:`\sigma^2 I`
``"diagonal"``   :math:`\log\sigma_i` (``dim`` numbers) :math:`\operatorname{diag}(\sigma_i^2)`
``"full"``       lower triangle of the Cholesky factor  :math:`LL^\top`
                 :math:`L` (``dim (dim+1) / 2`` numbers)
``"fixed"``      none (:math:`\sigma` stays constant)   :math:`\sigma^2 I`
================ ====================================== ======================================

One generation is Algorithm 9 of seed 000 (Natural Search Gradient):

.. math::
    x^{(k)} \sim p(\cdot;\theta), \quad
    g^{(k)} = \nabla_\theta \log p(x^{(k)};\theta), \quad
    \nabla_\theta J = \frac1\lambda \sum_k u_k\, g^{(k)}, \quad
    F = \frac1\lambda \sum_k g^{(k)} g^{(k)\top}, \quad
    \theta \leftarrow \theta + \alpha\, F^{-1} \nabla_\theta J,

where :math:`u_k` is the fitness :math:`f(x^{(k)})` or a shaped version of it (``shaping``).
``fisher`` picks the matrix :math:`F`: ``"empirical"`` (line 7 of Algorithm 9, from the
scores), ``"exact"`` (the closed-form Fisher information of the Gaussian,
:func:`gaussian_fisher`) or ``"none"`` (the *vanilla* search gradient of Algorithm 1,
:math:`\theta \leftarrow \theta + \alpha \nabla_\theta J`, for contrast).

The scores come from :mod:`pgnotes.score` (chapter 1). The closed-form Fisher matrices live
here (:func:`gaussian_fisher`); they are tested against the average outer product of the
scores.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from pgnotes import _validate
from pgnotes.score import gaussian_score_log_std, gaussian_score_mean
from pgnotes.shaping import centered_ranks
from pgnotes.solvers.base import Solver

COVARIANCES = ("isotropic", "diagonal", "full", "fixed")
FISHERS = ("empirical", "exact", "none")
SHAPINGS = ("none", "centered_ranks", "standardize")


# -- pure functions: the pieces of Algorithm 9 ----------------------------------------------
def shape_fitness(fitness, shaping: str | Callable = "centered_ranks") -> np.ndarray:
    """Utilities ``u_k`` from fitness values (chapter 3).

    ``"none"``: the raw fitness (Algorithm 9 as written); ``"centered_ranks"``: ranks in
    [-0.5, 0.5] (:func:`pgnotes.shaping.centered_ranks`, Salimans et al. 2017);
    ``"standardize"``: ``(f - mean f) / std f`` (0 when all values are equal); a callable is
    applied to the fitness array and must return one finite number per entry.
    """
    fitness = _validate.finite_array("fitness", fitness, ndim=1)
    if callable(shaping):
        u = _validate.finite_array("shaping(fitness)", shaping(fitness), shape=fitness.shape)
        return u
    if shaping == "none":
        return fitness.copy()
    if shaping == "centered_ranks":
        return centered_ranks(fitness)
    if shaping == "standardize":
        std = fitness.std()
        return (fitness - fitness.mean()) / std if std > 0 else np.zeros_like(fitness)
    raise ValueError(f"shaping must be one of {SHAPINGS} or a callable, got {shaping!r}")


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
    fisher = _validate.finite_array("fisher", fisher, shape=(n, n))
    damping = _validate.non_negative("damping", damping)
    delta = damping * max(float(np.trace(fisher)) / n, np.finfo(float).tiny)
    matrix = fisher + delta * np.eye(n)
    try:
        return np.linalg.solve(matrix, gradient)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(matrix, gradient, rcond=None)[0]


def _tril_basis(dim: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(dim)


def gaussian_scores(x, mean, cov: str, cov_params) -> np.ndarray:
    r"""Scores :math:`\nabla_\theta \log p(x;\theta)` for a batch ``x`` (lambda, dim), flattened as theta. Chapter 3.

    ``theta = (mean, cov_params)`` in the layout of :class:`NES` (see the module table):
    ``cov_params`` is ``log sigma`` (isotropic: scalar; diagonal: (dim,)), the
    lower-triangular Cholesky factor ``L`` (full: (dim, dim)), or ``sigma`` (fixed; no
    covariance scores). Returns (lambda, n_params). The formulas are those of
    :mod:`pgnotes.score` (chapter 1): :func:`~pgnotes.score.gaussian_score_mean`,
    :func:`~pgnotes.score.gaussian_score_log_std` and :func:`~pgnotes.score.mvn_score`
    (the last re-implemented here with a dense inverse; tests check they agree).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if cov in ("isotropic", "diagonal", "fixed"):
        std = np.exp(cov_params) if cov != "fixed" else np.asarray(cov_params, dtype=np.float64)
        s_mean = gaussian_score_mean(x, mean, std)
        if cov == "fixed":
            return s_mean
        s_cov = gaussian_score_log_std(x, mean, std)
        return np.concatenate([s_mean, np.reshape(s_cov, (x.shape[0], -1))], axis=1)
    if cov == "full":
        # the formulas of pgnotes.score.mvn_score, with a small dense inverse (the factor is
        # tiny here, and scipy's triangular solver has a large per-call cost)
        L = np.asarray(cov_params, dtype=np.float64)
        L_inv = np.linalg.inv(L)
        z = (x - mean) @ L_inv.T  # L^{-1}(x - mu)
        s_mean = z @ L_inv  # L^{-T} z = Sigma^{-1}(x - mu)
        s_chol = np.tril(s_mean[:, :, None] * z[:, None, :]) - np.diag(1.0 / np.diag(L))
        rows, cols = _tril_basis(mean.shape[0])
        return np.concatenate([s_mean, s_chol[:, rows, cols]], axis=1)
    raise ValueError(f"cov must be one of {COVARIANCES}, got {cov!r}")


def gaussian_fisher(mean, cov: str, cov_params) -> np.ndarray:
    r"""Closed-form Fisher information of the Gaussian in the parameterization theta of :class:`NES`. Chapter 3.

    The mean block is :math:`\Sigma^{-1}`; mean and covariance parameters are orthogonal
    (zero cross terms). The covariance block is

    * isotropic, :math:`\log\sigma`: :math:`2\,d`;
    * diagonal, :math:`\log\sigma_i`: :math:`2 I`;
    * full, Cholesky entries :math:`L_{ab}` (:math:`a \ge b`):
      :math:`F_{ij} = \tfrac12 \operatorname{tr}(\Sigma^{-1} \partial_i\Sigma\, \Sigma^{-1} \partial_j\Sigma)`
      with :math:`\partial_{ab}\Sigma = E_{ab}L^\top + L E_{ba}`.

    tests/test_nes.py checks each block against the average outer product of the scores.
    """
    mean = np.asarray(mean, dtype=np.float64)
    d = mean.shape[0]
    if cov in ("isotropic", "diagonal", "fixed"):
        std = np.exp(cov_params) if cov != "fixed" else np.asarray(cov_params, dtype=np.float64)
        mean_block = np.diag(np.broadcast_to(1.0 / std**2, (d,)))
        if cov == "fixed":
            return mean_block
        cov_block = np.array([[2.0 * d]]) if cov == "isotropic" else 2.0 * np.eye(d)
    elif cov == "full":
        L = np.asarray(cov_params, dtype=np.float64)
        sigma = L @ L.T
        sigma_inv = np.linalg.inv(sigma)
        mean_block = sigma_inv
        rows, cols = _tril_basis(d)
        k = rows.size
        dsigma = np.zeros((k, d, d))
        for i, (a, b) in enumerate(zip(rows, cols)):
            e = np.zeros((d, d))
            e[a, b] = 1.0
            dsigma[i] = e @ L.T + L @ e.T
        m = sigma_inv[None] @ dsigma
        cov_block = 0.5 * np.einsum("iab,jba->ij", m, m)
    else:
        raise ValueError(f"cov must be one of {COVARIANCES}, got {cov!r}")
    n_mean, n_cov = mean_block.shape[0], cov_block.shape[0]
    fisher = np.zeros((n_mean + n_cov, n_mean + n_cov))
    fisher[:n_mean, :n_mean] = mean_block
    fisher[n_mean:, n_mean:] = cov_block
    return fisher


# -- the solver --------------------------------------------------------------------------
class NES(Solver):
    r"""Natural evolution strategies with a Gaussian search distribution, maximizing fitness (chapter 3).

    Algorithm 9 of seed 000 with a choice of Fisher matrix (``fisher``), covariance model
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
        Initial standard deviation (scalar; per coordinate allowed for ``cov="diagonal"``
        and ``"full"``, where it becomes the diagonal of ``L``). Default 1.0.
    cov : {"isotropic", "diagonal", "full", "fixed"}
        Covariance model (default ``"full"``).
    fisher : {"empirical", "exact", "none"}
        ``"empirical"``: :func:`empirical_fisher` of the scores (Algorithm 9);
        ``"exact"``: :func:`gaussian_fisher`; ``"none"``: the vanilla search gradient.
        Default ``"exact"``.
    lr : float
        Step size ``alpha`` for the mean parameters (default 1.0).
    lr_cov : float, optional
        Step size for the covariance parameters (default 0.5).
    shaping : {"none", "centered_ranks", "standardize"} or callable
        Fitness shaping applied before the gradient (default ``"centered_ranks"``;
        ``"none"`` is Algorithm 9 as written). See :func:`shape_fitness`.
    damping : float
        Relative damping of the Fisher solve (default 1e-8); see :func:`natural_gradient`.
    rng : numpy.random.Generator or int
        Randomness of the sampler.

    Attributes
    ----------
    mean : (dim,) array
        Mean of the search distribution.
    covariance : (dim, dim) array
        Covariance of the search distribution (the hook :mod:`pgnotes.viz` draws).
    theta : (n_params,) array
        The flat parameter vector the gradient acts on.
    last_step : dict
        ``gradient``, ``fisher`` and ``step`` of the last update, for inspection.

    Notes
    -----
    With ``cov="full"`` a gradient step may flip the sign of a diagonal entry of ``L``.
    :math:`\Sigma = LL^\top` does not change when a column of ``L`` changes sign, so such
    columns are negated back; an exactly zero diagonal entry raises ``FloatingPointError``.
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
        if fisher not in FISHERS:
            raise ValueError(f"fisher must be one of {FISHERS}, got {fisher!r}")
        if not callable(shaping) and shaping not in SHAPINGS:
            raise ValueError(f"shaping must be one of {SHAPINGS} or a callable, got {shaping!r}")
        self.cov, self.fisher, self.shaping = cov, fisher, shaping
        self.lr = _validate.positive("lr", lr)
        self.lr_cov = 0.5 if lr_cov is None else _validate.positive("lr_cov", lr_cov)
        self.damping = _validate.non_negative("damping", damping)
        mean = np.zeros(self.dim) if mean is None else _validate.finite_array("mean", mean, shape=(self.dim,))
        if np.ndim(sigma0) == 0:
            if isinstance(sigma0, bool) or not isinstance(sigma0, numbers.Real):
                raise TypeError(f"sigma0 must be a real number > 0 or an array of them, got {type(sigma0).__name__}")
            sigma0 = np.full(self.dim, _validate.positive("sigma0", sigma0))
        else:
            if cov in ("isotropic", "fixed"):
                raise ValueError(f"sigma0 must be a scalar for cov={cov!r}, got shape {np.shape(sigma0)}")
            sigma0 = _validate.finite_array("sigma0", sigma0, shape=(self.dim,))
            if np.any(sigma0 <= 0):
                raise ValueError(f"sigma0 must be > 0 in every coordinate, got minimum {sigma0.min()!r}")
        if cov == "isotropic":
            cov_theta = np.log(sigma0[:1])
        elif cov == "diagonal":
            cov_theta = np.log(sigma0)
        elif cov == "full":
            cov_theta = np.diag(sigma0)[np.tril_indices(self.dim)]
        else:
            cov_theta = np.zeros(0)
            self._fixed_sigma = float(sigma0[0])
        self.theta = np.concatenate([mean.astype(np.float64), cov_theta])
        self.last_step: dict[str, np.ndarray] = {}

    # -- the distribution, read from theta -------------------------------------------------
    @property
    def n_params(self) -> int:
        """Length of theta: the mean plus the covariance parameters."""
        return self.theta.shape[0]

    @property
    def mean(self) -> np.ndarray:
        return self.theta[: self.dim]

    def _cov_params(self):
        rest = self.theta[self.dim :]
        if self.cov == "isotropic":
            return rest[0]
        if self.cov == "diagonal":
            return rest
        if self.cov == "full":
            L = np.zeros((self.dim, self.dim))
            L[np.tril_indices(self.dim)] = rest
            return L
        return self._fixed_sigma

    @property
    def cholesky(self) -> np.ndarray:
        """Lower-triangular factor ``L`` with ``covariance = L L^T`` (diagonal for the other models)."""
        p = self._cov_params()
        if self.cov == "full":
            return p
        std = np.exp(p) if self.cov != "fixed" else p
        return np.diag(np.broadcast_to(std, (self.dim,)).astype(np.float64))

    @property
    def covariance(self) -> np.ndarray:
        """Covariance matrix (dim, dim) of the search distribution."""
        L = self.cholesky
        return L @ L.T

    @property
    def sigma(self) -> np.ndarray:
        """Standard deviation per coordinate, ``sqrt(diag(covariance))``."""
        return np.sqrt(np.diag(self.covariance))

    # -- ask / tell ------------------------------------------------------------------------
    def _ask(self) -> np.ndarray:
        z = self.rng.standard_normal((self.popsize, self.dim))
        return self.mean + z @ self.cholesky.T  # mu + L z, reparameterization (seed 002)

    def scores(self, x) -> np.ndarray:
        """Scores of the candidates ``x`` (lambda, dim) under the current distribution, (lambda, n_params)."""
        return gaussian_scores(x, self.mean, self.cov, self._cov_params())

    def exact_fisher(self) -> np.ndarray:
        """Closed-form Fisher matrix at the current theta (:func:`gaussian_fisher`)."""
        return gaussian_fisher(self.mean, self.cov, self._cov_params())

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
        if not np.all(np.isfinite(theta)):
            raise FloatingPointError(
                "NES update produced non-finite parameters; lower lr/lr_cov or use fitness shaping"
            )
        if self.cov == "full":
            L = np.zeros((self.dim, self.dim))
            L[np.tril_indices(self.dim)] = theta[self.dim :]
            diag = np.diag(L)
            if np.any(diag == 0):
                raise FloatingPointError("NES update made the Cholesky factor singular; lower lr_cov")
            L = L * np.sign(diag)[None, :]  # negate columns: L L^T is unchanged
            theta[self.dim :] = L[np.tril_indices(self.dim)]
        self.theta = theta
        self.last_step = {"gradient": grad, "fisher": fisher, "step": step}
