"""Pure random search, the simplest black-box baseline (chapter 4; the gradient-free lecture slides, "Random Search").

Fitness is **maximized**. Every generation draws ``popsize`` candidates independently from a
*fixed* distribution, scores them, and the answer is the best candidate seen so far:

1. randomly generate samples (uniform in a box, or Gaussian around a centre);
2. score each one;
3. choose the best.

Nothing is learned from the scores; that is the point of the baseline. ``mean`` and
``covariance`` describe the fixed sampling distribution (the box's centre and the uniform
distribution's diagonal covariance, or the Gaussian's); the answer is ``best``.
"""

from __future__ import annotations

import numpy as np

from pgnotes import _validate
from pgnotes.solvers.base import Solver


class RandomSearch(Solver):
    """Pure random search: i.i.d. samples from a fixed distribution, keep the best (chapter 4).

    Parameters
    ----------
    dim : int
        Dimension of a solution.
    popsize : int
        Samples per generation (default 10).
    low, high : float or array_like, optional
        If given, sample uniformly in the box ``[low, high]`` (``high > low`` everywhere).
    center : array_like, optional
        Centre of the Gaussian sampler (default zeros); used when no box is given.
    scale : float
        Standard deviation of the Gaussian sampler (> 0, default 1).
    rng : numpy.random.Generator or int
        Randomness of the sampler.
    """

    _state_keys = ()

    def __init__(self, dim: int, popsize: int = 10, *, low=None, high=None, center=None, scale: float = 1.0,
                 rng: np.random.Generator | int = 0):
        super().__init__(dim, popsize, rng)
        if (low is None) != (high is None):
            raise ValueError("give both low and high for a uniform box, or neither for the Gaussian sampler")
        if low is not None:
            self.low = _validate.finite_array("low", np.broadcast_to(low, (self.dim,)), shape=(self.dim,)).copy()
            self.high = _validate.finite_array("high", np.broadcast_to(high, (self.dim,)), shape=(self.dim,)).copy()
            if np.any(self.high <= self.low):
                raise ValueError("high must be > low in every coordinate")
            self.center = (self.low + self.high) / 2
        else:
            self.low = self.high = None
            self.center = self._initial_mean(center, "center")
        self.scale = _validate.positive("scale", scale)

    @property
    def mean(self) -> np.ndarray:
        """Centre of the (fixed) sampling distribution; the answer is ``best``."""
        return self.center.copy()

    @property
    def covariance(self) -> np.ndarray:
        """Covariance of the sampling distribution: ``diag((high - low)^2 / 12)`` or ``scale^2 I``."""
        if self.low is not None:
            return np.diag((self.high - self.low) ** 2 / 12)
        return self.scale**2 * np.eye(self.dim)

    def _ask(self) -> np.ndarray:
        if self.low is not None:
            return self.rng.uniform(self.low, self.high, size=(self.popsize, self.dim))
        return self.center + self.scale * self.rng.standard_normal((self.popsize, self.dim))

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        pass  # the best candidate is tracked by Solver.tell
