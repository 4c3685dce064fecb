"""CMA-ES, the covariance matrix adaptation evolution strategy (chapter 4).

Fitness is **maximized** (the candidates with the *highest* fitness are ranked first); to
minimize an objective ``f`` pass ``pgnotes.functions.as_fitness(f)``.

The algorithm and every default are those of Hansen's tutorial, "The CMA Evolution Strategy:
A Tutorial" (arXiv:1604.00772, 2016), Table 1 and Section "Summary of the algorithm",
including the negative ("active") weights that the tutorial uses by default. One generation:

1. sample ``y_k = B D z_k`` with ``z_k ~ N(0, I)`` and ``x_k = m + sigma y_k``
   (``C = B D^2 B^T``), ``k = 1..lambda``;
2. rank the candidates by fitness (best first) and recombine the ``mu`` best,
   ``<y>_w = sum_{i<=mu} w_i y_{i:lambda}``, ``m <- m + c_m sigma <y>_w``;
3. cumulative step-size adaptation (CSA):
   ``p_sigma <- (1-c_sigma) p_sigma + sqrt(c_sigma (2-c_sigma) mu_eff) C^{-1/2} <y>_w``,
   ``sigma <- sigma exp(c_sigma/d_sigma (|p_sigma| / E|N(0,I)| - 1))``;
4. covariance: the evolution path ``p_c`` (rank-one update) and the weighted scatter of all
   ``lambda`` steps (rank-mu update, negative weights rescaled by ``n / |C^{-1/2} y|^2``)::

       C <- (1 + c_1 delta(h_sigma) - c_1 - c_mu sum_j w_j) C
            + c_1 p_c p_c^T + c_mu sum_i w_i^o y_{i:lambda} y_{i:lambda}^T

The eigendecomposition of ``C`` is refreshed lazily, every
``lambda / ((c_1 + c_mu) n 10)`` evaluations, as in the tutorial's reference code.
"""

from __future__ import annotations

import numpy as np

from pgnotes import _validate
from pgnotes.solvers.base import Solver


def default_popsize(dim: int) -> int:
    """Default population size ``4 + floor(3 ln n)`` (Hansen 2016, Table 1)."""
    dim = _validate.integer_at_least("dim", dim, 1, _validate.MAX_ELEMENTS)
    return 4 + int(np.floor(3 * np.log(dim)))


def cma_parameters(dim: int, popsize: int, mu: int | None = None) -> dict:
    """The strategy parameters of Hansen's tutorial (2016), Table 1, for ``dim`` and ``popsize``.

    Returns a dict with ``weights`` (length ``popsize``, the last ``popsize - mu`` negative),
    ``mu``, ``mueff``, ``cm``, ``cs``, ``damps``, ``cc``, ``c1``, ``cmu`` and ``chiN``.
    """
    n = _validate.integer_at_least("dim", dim, 1, _validate.MAX_ELEMENTS)
    lam = _validate.integer_at_least("popsize", popsize, 2)
    if mu is not None:
        mu = _validate.integer_at_least("mu", mu, 1, lam)
    mu = lam // 2 if mu is None else mu
    if mu < 1:
        raise ValueError(f"popsize must be >= 2 so that CMA-ES has at least one positive weight, got {popsize}")
    raw = np.log((lam + 1) / 2) - np.log(np.arange(1, lam + 1))
    pos, neg = raw[:mu], raw[mu:]
    mueff = pos.sum() ** 2 / np.sum(pos**2)
    mueff_neg = neg.sum() ** 2 / np.sum(neg**2) if neg.size and np.any(neg != 0) else 0.0
    cm = 1.0
    cs = (mueff + 2) / (n + mueff + 5)
    damps = 1 + 2 * max(0.0, np.sqrt((mueff - 1) / (n + 1)) - 1) + cs
    cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
    alpha_cov = 2.0
    c1 = alpha_cov / ((n + 1.3) ** 2 + mueff)
    cmu = min(1 - c1, alpha_cov * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + alpha_cov * mueff / 2))
    weights = np.empty(lam)
    weights[:mu] = pos / pos.sum()
    if neg.size:
        neg_sum = np.abs(neg).sum()
        alpha_mu = 1 + c1 / cmu if cmu > 0 else np.inf
        alpha_mueff = 1 + 2 * mueff_neg / (mueff + 2)
        alpha_posdef = (1 - c1 - cmu) / (n * cmu) if cmu > 0 else np.inf
        scale = min(alpha_mu, alpha_mueff, alpha_posdef)
        weights[mu:] = scale * neg / neg_sum if neg_sum > 0 else 0.0
    chiN = np.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n**2))
    return dict(weights=weights, mu=mu, mueff=mueff, cm=cm, cs=cs, damps=damps, cc=cc, c1=c1, cmu=cmu, chiN=chiN)


class CMAES(Solver):
    """CMA-ES with weighted recombination, CSA, rank-one and rank-mu updates; maximizes fitness (chapter 4).

    The state of the strategy is ``mean``, ``sigma``, ``C``, ``p_sigma`` and ``p_c``;
    ``covariance`` is ``sigma**2 * C``, the covariance of the sampling distribution (used by
    the chapter's 2-D animations).

    Parameters
    ----------
    x0 : array_like
        Initial mean ``m`` (its length is the dimension).
    sigma0 : float
        Initial step size ``sigma`` (> 0).
    popsize : int, optional
        ``lambda``; default ``4 + floor(3 ln n)``; must be >= 2.
    mu : int, optional
        Number of positively weighted parents; default ``popsize // 2``.
    active : bool
        Use the negative weights of the tutorial for the rank-mu update (default True, as in
        Hansen 2016 and pycma); False gives the classic (non-active) CMA-ES.
    rng : numpy.random.Generator or int
        Randomness of the sampler.

    """

    _state_keys = ("_mean", "sigma", "C", "B", "D", "p_sigma", "p_c", "_eigen_evals", "_evals", "_recent_best")

    def __init__(
        self,
        x0,
        sigma0: float,
        popsize: int | None = None,
        *,
        mu: int | None = None,
        active: bool = True,
        rng: np.random.Generator | int = 0,
    ):
        x0 = _validate.finite_array("x0", x0, ndim=1)
        dim = x0.size
        if dim < 1:
            raise ValueError("x0 must have at least one coordinate")
        _validate.allocation("x0 (the covariance matrix C is dim x dim)", dim, dim)
        popsize = default_popsize(dim) if popsize is None else popsize
        super().__init__(dim, popsize, rng, min_popsize=2)
        if mu is not None:
            mu = _validate.integer_at_least("mu", mu, 1)
            if mu > self.popsize:
                raise ValueError(f"mu must be <= popsize ({self.popsize}), got {mu}")
        self.sigma = _validate.positive("sigma0", sigma0)
        params = cma_parameters(dim, self.popsize, mu)
        if not active:
            params["weights"][params["mu"]:] = 0.0
        self.__dict__.update(params)
        self.active = bool(active)
        self._mean = x0.copy()
        self.C = np.eye(dim)
        self.B = np.eye(dim)
        self.D = np.ones(dim)
        self.p_sigma = np.zeros(dim)
        self.p_c = np.zeros(dim)
        self._eigen_evals = 0
        self._evals = 0
        self._recent_best: list[float] = []

    # -- views -----------------------------------------------------------------------
    @property
    def covariance(self) -> np.ndarray:
        """Covariance ``sigma^2 C`` of the sampling distribution, (dim, dim)."""
        return self.sigma**2 * self.C

    @property
    def condition_number(self) -> float:
        """Condition number of ``C`` (ratio of its largest to smallest eigenvalue)."""
        return float((self.D.max() / self.D.min()) ** 2)

    def _inv_sqrt_C(self, y: np.ndarray) -> np.ndarray:
        """``C^{-1/2} y`` for rows ``y``, via the current eigendecomposition."""
        return ((y @ self.B) / self.D) @ self.B.T

    # -- ask/tell ----------------------------------------------------------------------
    def _ask(self) -> np.ndarray:
        z = self.rng.standard_normal((self.popsize, self.dim))
        y = (z * self.D) @ self.B.T
        return self._mean + self.sigma * y

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        n, lam, mu = self.dim, self.popsize, self.mu
        w = self.weights
        order = np.argsort(-fitness, kind="stable")  # best (highest fitness) first
        y = (x[order] - self._mean) / self.sigma
        y_w = w[:mu] @ y[:mu]
        self._mean = self._mean + self.cm * self.sigma * y_w
        self._evals += lam
        self._recent_best = (self._recent_best + [float(fitness[order[0]])])[-(10 + int(np.ceil(30 * n / lam))):]

        # step-size control (CSA)
        cs, cc, c1, cmu = self.cs, self.cc, self.c1, self.cmu
        self.p_sigma = (1 - cs) * self.p_sigma + np.sqrt(cs * (2 - cs) * self.mueff) * self._inv_sqrt_C(y_w)
        norm_ps = np.linalg.norm(self.p_sigma)
        g = self.generation + 1
        h_sigma = norm_ps / np.sqrt(1 - (1 - cs) ** (2 * g)) < (1.4 + 2 / (n + 1)) * self.chiN
        self.p_c = (1 - cc) * self.p_c + h_sigma * np.sqrt(cc * (2 - cc) * self.mueff) * y_w

        # covariance: rank-one + rank-mu (negative weights rescaled)
        w_circ = w.copy()
        if self.active and lam > mu:
            mahal2 = np.sum(self._inv_sqrt_C(y[mu:]) ** 2, axis=1)
            w_circ[mu:] *= n / np.maximum(mahal2, 1e-300)
        delta_h = (1 - h_sigma) * cc * (2 - cc)
        rank_mu = (y.T * w_circ) @ y
        self.C = (1 + c1 * delta_h - c1 - cmu * w.sum()) * self.C + c1 * np.outer(self.p_c, self.p_c) + cmu * rank_mu
        self.C = (self.C + self.C.T) / 2

        self.sigma *= np.exp(min(1.0, (cs / self.damps) * (norm_ps / self.chiN - 1)))

        if self._evals - self._eigen_evals > lam / ((c1 + cmu) * n * 10):
            self._update_eigen()

    def _update_eigen(self) -> None:
        self._eigen_evals = self._evals
        eigvals, B = np.linalg.eigh(self.C)
        # Round-off can push the smallest eigenvalue of a badly conditioned C to <= 0; such a run
        # has stalled already (see ``stop``: "conditioncov"), so floor it instead of failing.
        eigvals = np.maximum(eigvals, eigvals.max() * 1e-20)
        self.B, self.D = B, np.sqrt(eigvals)

    def stop(self, *, tolx: float = 1e-11, tolfun: float = 1e-11, max_condition: float = 1e14) -> dict[str, float]:
        """Termination criteria that hold now (empty dict: keep going), after Hansen (2016), Appendix B.

        ``"tolx"``: all standard deviations ``sigma sqrt(C_ii)`` and ``sigma |p_c|`` below ``tolx``;
        ``"tolfun"``: the best fitness of the last ``10 + ceil(30 n / lambda)`` generations spans
        less than ``tolfun``; ``"conditioncov"``: condition number of ``C`` above ``max_condition``.
        Use with the runner as ``callbacks=[lambda s, h: bool(s.stop())]``.
        """
        reasons: dict[str, float] = {}
        std = self.sigma * np.sqrt(np.diag(self.C))
        if np.all(std < tolx) and self.sigma * np.linalg.norm(self.p_c) < tolx:
            reasons["tolx"] = tolx
        window = 10 + int(np.ceil(30 * self.dim / self.popsize))
        if len(self._recent_best) >= window and np.ptp(self._recent_best) < tolfun:
            reasons["tolfun"] = tolfun
        if self.condition_number > max_condition:
            reasons["conditioncov"] = max_condition
        return reasons
