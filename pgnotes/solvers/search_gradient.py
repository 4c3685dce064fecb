r"""The Search Gradient algorithm (Algorithms 1, 2 and 8 of Euskirchen's notes; chapter 2).

Fitness is **maximized**. The search distribution :math:`p(x;\theta)` is one of
:mod:`pgnotes.distributions`; one generation of Algorithm 1 is

.. math::
    x^{(k)} \sim p(\cdot;\theta),\quad f^{(k)} = f(x^{(k)}),\quad
    g^{(k)} = \nabla_\theta \log p(x^{(k)};\theta),\quad
    \theta \leftarrow \theta + \alpha\,\frac1\lambda \sum_{k=1}^{\lambda} (f^{(k)} - b)\, g^{(k)},

for :math:`k = 1..\lambda`: "mutation", evaluation, the log-derivative, the gradient of the
expected fitness and "selection". ``popsize=1`` is Algorithm 2 (one offspring per update,
the shape of episodic REINFORCE). :attr:`SearchGradient.last_generation_best` is the best sample
of the final generation, what Algorithm 8 returns when the solutions are network weights;
``best`` (from :class:`~pgnotes.solvers.base.Solver`) is the best over the whole run.

The plain algorithm uses :math:`b = 0`. Options beyond the pseudocode, all off by default:
a baseline :math:`b` (see :func:`pgnotes.estimators.score_function_gradient`), centred-rank
fitness shaping (:func:`pgnotes.shaping.shape_fitness`), and a separate step size for the
scale parameters (``scale_learning_rate=0`` keeps the scale fixed).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pgnotes import _validate
from pgnotes.distributions import SearchDistribution, make_distribution
from pgnotes.estimators import BASELINES, score_function_gradient
from pgnotes.shaping import SHAPINGS, check_shaping, shape_fitness  # noqa: F401 (search_gradient.SHAPINGS)
from pgnotes.solvers.base import Candidate, Solver



class SearchGradient(Solver):
    """Search Gradient algorithm (Algorithm 1; ``popsize=1`` is Algorithm 2), maximizing fitness. Chapter 2.

    Parameters
    ----------
    dim : int
        Dimension of a solution.
    popsize : int
        Offspring per update, :math:`\\lambda` >= 1 (default 10).
    distribution : {"isotropic", "diagonal", "full"} or SearchDistribution
        Family of the search distribution (default ``"isotropic"``), or an instance whose
        dimension is ``dim`` (then ``mean`` and ``sigma0`` are ignored).
    mean : array_like, optional
        Initial mean (default zeros).
    sigma0 : float
        Initial scale (default 1.0).
    learning_rate : float
        Step size :math:`\\alpha` for the mean (default 0.1).
    scale_learning_rate : float, optional
        Step size for the (log-)scale parameters; default equal to ``learning_rate``;
        0 keeps the scale fixed.
    baseline : None, float, "mean" or "leave_one_out"
        Subtracted from fitness before weighting the scores (default None, as in Algorithm 1).
    shaping : {"none", "centered_ranks", "standardize", "nes_utilities"} or callable
        Fitness shaping before the update (default "none", as in Algorithm 1); see
        :func:`pgnotes.shaping.shape_fitness`.
    rng : numpy.random.Generator or int
        Randomness of the sampler.
    """

    _state_keys = ("_theta", "_last_best")

    def __init__(
        self,
        dim: int,
        popsize: int = 10,
        *,
        distribution: str | SearchDistribution = "isotropic",
        mean=None,
        sigma0: float = 1.0,
        learning_rate: float = 0.1,
        scale_learning_rate: float | None = None,
        baseline=None,
        shaping: str | Callable = "none",
        rng: np.random.Generator | int = 0,
    ):
        super().__init__(dim, popsize, rng)
        if isinstance(distribution, SearchDistribution):
            if distribution.dim != self.dim:
                raise ValueError(f"distribution has dim={distribution.dim}, but dim={self.dim}")
            dist = distribution
        elif isinstance(distribution, str):
            _validate.one_of("distribution", distribution, ("isotropic", "diagonal", "full"))
            mean = self._initial_mean(mean)
            dist = make_distribution(distribution, mean, sigma0)
        else:
            raise TypeError(f"distribution must be 'isotropic', 'diagonal', 'full' or a SearchDistribution, got {type(distribution).__name__}")
        self._family = type(dist)
        self._theta = dist.params
        self.learning_rate = _validate.positive("learning_rate", learning_rate)
        self.scale_learning_rate = (
            self.learning_rate if scale_learning_rate is None else _validate.non_negative("scale_learning_rate", scale_learning_rate)
        )
        self.shaping = check_shaping(shaping)
        if isinstance(baseline, str):
            if baseline not in BASELINES:
                raise ValueError(f"baseline must be None, a finite number or one of {BASELINES}, got {baseline!r}")
            if baseline == "leave_one_out" and self.popsize < 2:
                raise ValueError("baseline='leave_one_out' needs popsize >= 2")
        elif baseline is not None:
            baseline = _validate.finite_array("baseline", baseline, ndim=0).item()
        self.baseline = baseline
        self._last_best: tuple[np.ndarray, float] | None = None
        self.last_gradient: np.ndarray | None = None

    @property
    def distribution(self) -> SearchDistribution:
        """The current search distribution :math:`p(\\cdot;\\theta)`."""
        return self._family.from_params(self._theta, self.dim)

    @property
    def params(self) -> np.ndarray:
        """The flat parameter vector :math:`\\theta` (copy)."""
        return self._theta.copy()

    @property
    def mean(self) -> np.ndarray:
        return self._theta[: self.dim].copy()

    @property
    def last_generation_best(self) -> Candidate | None:
        """Best sample of the most recent generation (what Algorithm 8 returns), or None before ``tell``."""
        if self._last_best is None:
            return None
        return Candidate(self._last_best[0].copy(), self._last_best[1])

    def _ask(self) -> np.ndarray:
        return self.distribution.sample(self.popsize, self.rng)

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        i = int(np.argmax(fitness))
        self._last_best = (x[i].copy(), float(fitness[i]))
        weights = shape_fitness(fitness, self.shaping)
        scores = self.distribution.score(x)  # g^(k), shape (popsize, num_params)
        grad = score_function_gradient(weights, scores, self.baseline).value
        step = np.full(grad.size, self.scale_learning_rate)
        step[: self.dim] = self.learning_rate
        self.last_gradient = grad
        self._theta = self._theta + step * grad
