"""The cross-entropy method (CEM) with a diagonal Gaussian and optional extra noise (chapter 4).

Fitness is **maximized**. One generation (the CMU 10-703 lecture (Fragkiadaki & Kumar), "Cross-entropy method"):

1. sample ``theta_1..theta_n ~ N(mu, diag(sigma^2))``;
2. evaluate them and keep the ``n_elite = floor(rho * n)`` best (the elites);
3. ``mu <- mean(elites)``, ``sigma^2 <- var(elites) + Z_t``.

``Z_t`` is the *extra noise* of Szita & Lörincz (2006), which stops the variance from
collapsing before the mean has converged. Three schedules are built in, and any callable
``t -> Z_t`` is accepted:

- ``noise="none"``: ``Z_t = 0``;
- ``noise="constant"``: ``Z_t = noise_value`` (default 4.0, the paper's);
- ``noise="decreasing"``: ``Z_t = max(noise_start - t / noise_decay, 0)`` (defaults 5.0 and 10.0,
  i.e. Szita & Lörincz's ``max(5 - t/10, 0)``);
- a callable: ``Z_t = noise(t)``, which must return a finite number >= 0.

``t`` is the index of the update, 0 for the first ``tell``. The Tetris protocol of Szita &
Lörincz is ``CEM(22, popsize=100, elite_frac=0.1, sigma0=10.0, noise="decreasing")``
(initial ``N(0, 100 I)``).

Optional *smoothing* mixes the old distribution into the new one,
``mu <- (1 - s) mean(elites) + s mu_old`` and likewise for the variance (before ``Z_t`` is
added); ``smoothing=0`` (default) is the plain update of the seed.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from pgnotes import _validate
from pgnotes.solvers.base import Solver, initial_scale

NOISE_SCHEDULES = ("none", "constant", "decreasing")


def noise_schedule(
    noise: str | Callable[[int], float] = "none",
    *,
    noise_value: float = 4.0,
    noise_start: float = 5.0,
    noise_decay: float = 10.0,
) -> Callable[[int], float]:
    """Return the extra-noise schedule ``t -> Z_t`` of :class:`CEM` (chapter 4).

    ``"none"``: 0; ``"constant"``: ``noise_value``; ``"decreasing"``:
    ``max(noise_start - t / noise_decay, 0)`` (Szita & Lörincz 2006: 5 - t/10); a callable is
    returned as is (its values are checked when used).
    """
    if callable(noise):
        return noise
    if noise == "none":
        return lambda t: 0.0
    if noise == "constant":
        z = _validate.non_negative("noise_value", noise_value)
        return lambda t: z
    if noise == "decreasing":
        start = _validate.non_negative("noise_start", noise_start)
        decay = _validate.positive("noise_decay", noise_decay)
        return lambda t: max(start - t / decay, 0.0)
    raise ValueError(f"noise must be one of {NOISE_SCHEDULES} or a callable t -> Z_t, got {noise!r}")


class CEM(Solver):
    """Cross-entropy method with a diagonal Gaussian, maximizing fitness (chapter 4).

    The state is ``mean`` (dim,) and ``variance`` (dim,), the per-coordinate variance;
    ``covariance`` is its diagonal matrix.

    Parameters
    ----------
    dim : int
        Dimension of a solution.
    popsize : int
        Samples per generation ``n`` (default 100, as in Szita & Lörincz 2006).
    mean : array_like, optional
        Initial mean ``mu`` (default zeros).
    sigma0 : float or array_like
        Initial standard deviation per coordinate (default 10.0, i.e. variance 100).
    elite_frac : float
        Fraction ``rho`` of elites in (0, 1]; ``n_elite = floor(rho * n)`` must be >= 1.
    n_elite : int, optional
        Number of elites, overriding ``elite_frac``.
    smoothing : float
        Weight ``s`` in [0, 1) of the old mean and variance in the update (default 0).
    noise : {"none", "constant", "decreasing"} or callable
        Extra variance ``Z_t`` added after each update; see :func:`noise_schedule`.
    noise_value, noise_start, noise_decay : float
        Parameters of the built-in schedules (defaults 4.0, 5.0, 10.0).
    rng : numpy.random.Generator or int
        Randomness of the sampler.
    """

    _state_keys = ("_mean", "variance")

    def __init__(
        self,
        dim: int,
        popsize: int = 100,
        *,
        mean=None,
        sigma0: float | np.ndarray = 10.0,
        elite_frac: float = 0.1,
        n_elite: int | None = None,
        smoothing: float = 0.0,
        noise: str | Callable[[int], float] = "none",
        noise_value: float = 4.0,
        noise_start: float = 5.0,
        noise_decay: float = 10.0,
        rng: np.random.Generator | int = 0,
    ):
        super().__init__(dim, popsize, rng)
        if n_elite is None:
            elite_frac = _validate.probability("elite_frac", elite_frac)
            n_elite = int(np.floor(elite_frac * self.popsize + 1e-9))
            if n_elite < 1:
                raise ValueError(
                    f"elite_frac * popsize must give at least 1 elite: floor({elite_frac} * {self.popsize}) = {n_elite}; "
                    "raise elite_frac or popsize, or pass n_elite"
                )
        else:
            n_elite = _validate.integer_at_least("n_elite", n_elite, 1)
            if n_elite > self.popsize:
                raise ValueError(f"n_elite must be <= popsize ({self.popsize}), got {n_elite}")
        self.n_elite = n_elite
        self._mean = self._initial_mean(mean)
        self.variance = initial_scale("sigma0", sigma0, self.dim) ** 2
        if isinstance(smoothing, bool) or not isinstance(smoothing, numbers.Real) or not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be a number in [0, 1), got {smoothing!r}")
        self.smoothing = float(smoothing)
        self.noise = noise
        self._schedule = noise_schedule(noise, noise_value=noise_value, noise_start=noise_start, noise_decay=noise_decay)

    @property
    def covariance(self) -> np.ndarray:
        """The (dim, dim) diagonal covariance matrix of the sampling distribution."""
        return np.diag(self.variance)

    def noise_at(self, t: int) -> float:
        """Extra noise ``Z_t`` added to the variance at update ``t`` (0-based)."""
        z = self._schedule(t)
        if isinstance(z, bool) or not isinstance(z, numbers.Real) or not np.isfinite(z) or z < 0:
            raise ValueError(f"noise schedule must return a finite number >= 0, got {z!r} at t={t}")
        return float(z)

    def _ask(self) -> np.ndarray:
        eps = self.rng.standard_normal((self.popsize, self.dim))
        return self._mean + np.sqrt(self.variance) * eps

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        order = np.argsort(-fitness, kind="stable")
        elites = x[order[: self.n_elite]]
        new_mean = elites.mean(axis=0)
        new_var = elites.var(axis=0)  # 1/n_elite normalization, as in the CMU 10-703 lecture
        s = self.smoothing
        self._mean = (1 - s) * new_mean + s * self._mean
        self.variance = (1 - s) * new_var + s * self.variance + self.noise_at(self.generation)
