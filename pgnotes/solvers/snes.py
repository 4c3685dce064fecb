r"""Separable natural evolution strategies (SNES), maximizing fitness (chapter 3).

SNES (Schaul, Glasmachers & Schmidhuber 2011; Wierstra et al. 2014, section on separable NES) searches with
a diagonal Gaussian :math:`\mathcal N(\mu, \operatorname{diag}\sigma^2)` and follows the natural
gradient of the expected fitness with respect to :math:`\mu` **and** :math:`\sigma`, so the step
size of every coordinate adapts itself. One generation, in local coordinates
:math:`z = (x - \mu)/\sigma`:

.. math::
    z_k \sim \mathcal N(0, I), \quad x_k = \mu + \sigma \odot z_k, \quad
    u_k = \text{utility of the rank of } f(x_k), \\
    \nabla_\mu J = \sum_k u_k z_k, \quad
    \nabla_\sigma J = \sum_k u_k (z_k^2 - 1), \\
    \mu \leftarrow \mu + \eta_\mu\, \sigma \odot \nabla_\mu J, \quad
    \sigma \leftarrow \sigma \odot \exp\!\bigl(\tfrac{\eta_\sigma}{2} \nabla_\sigma J\bigr).

The utilities are those of :func:`pgnotes.shaping.nes_utilities` (they sum to zero; only the
better half of the population gets positive weight).

**Relation to chapter 3's NES.** For the diagonal Gaussian with parameters
:math:`\theta = [\mu, \log\sigma]` (:class:`pgnotes.distributions.DiagonalGaussian`) the exact
Fisher matrix is :math:`\operatorname{diag}(1/\sigma^2, 2)` and the scores are
:math:`z/\sigma` and :math:`z^2 - 1`. The natural gradient
:math:`F^{-1}\frac1\lambda\sum_k \tilde u_k \nabla_\theta\log p(x_k)` with
:math:`\tilde u_k = \lambda u_k` is therefore :math:`\sigma\sum_k u_k z_k` for :math:`\mu` and
:math:`\frac12\sum_k u_k(z_k^2-1)` for :math:`\log\sigma`: one SNES step **is** one step of
:class:`pgnotes.solvers.nes.NES` with ``cov="diagonal"``, ``fisher="exact"``, ``lr`` =
:math:`\eta_\mu`, ``lr_cov`` = :math:`\eta_\sigma` and utilities :math:`\lambda u_k` (the
exponential update of :math:`\sigma` is a plain gradient step on :math:`\log\sigma`). The
test suite and chapter 3 check this equality.

**Defaults** (Wierstra et al. 2014, Table 1, "default parameter values"; the same values in
Schaul et al. 2011): population :math:`\lambda = 4 + \lfloor 3\ln d\rfloor`, :math:`\eta_\mu = 1`,
:math:`\eta_\sigma = (3 + \ln d)/(5\sqrt d)`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pgnotes import _validate
from pgnotes.shaping import check_shaping, shape_fitness
from pgnotes.solvers.base import Solver, initial_scale


def default_popsize(dim: int) -> int:
    r"""The NES default population :math:`4 + \lfloor 3 \ln d \rfloor` (Wierstra et al. 2014, Table 1). Chapter 3."""
    dim = _validate.integer_at_least("dim", dim, 1)
    return 4 + int(np.floor(3 * np.log(dim)))


def default_lr_sigma(dim: int) -> float:
    r"""SNES's default step-size learning rate :math:`(3 + \ln d)/(5\sqrt d)` (Wierstra et al. 2014, Table 1). Chapter 3."""
    dim = _validate.integer_at_least("dim", dim, 1)
    return (3 + np.log(dim)) / (5 * np.sqrt(dim))


class LocalCoordinatesNES(Solver):
    r"""What SNES and xNES share: natural-gradient steps in the local coordinates of a Gaussian (chapter 3).

    A candidate is :math:`x = \mu + T(s)` with :math:`s \sim \mathcal N(0, I)` and a linear map
    :math:`T` that each subclass defines (``_to_global``; its inverse ``_to_local``): in these
    coordinates the Fisher matrix is the identity, so the natural gradient is the plain
    utility-weighted sum that ``_update`` turns into a step. Fitness is **maximized**.

    Parameters
    ----------
    dim : int
        Dimension of a solution.
    popsize : int, optional
        Samples per generation :math:`\lambda` (>= 2); default :math:`4 + \lfloor 3\ln d\rfloor`
        (:func:`default_popsize`).
    mean : array_like, optional
        Initial mean (default zeros).
    lr_mean : float
        :math:`\eta_\mu` (> 0); default 1.0.
    shaping : str or callable
        Fitness shaping (default ``"nes_utilities"``, the papers'); see
        :func:`pgnotes.shaping.shape_fitness`.
    rng : numpy.random.Generator or int
        Randomness of the sampler.

    ``last_step`` holds the utilities and the natural gradients of the last update, for
    inspection; ``tell`` validates everything before it changes the state.
    """

    def __init__(self, dim: int, popsize: int | None, *, mean, lr_mean: float, shaping: str | Callable,
                 rng: np.random.Generator | int):
        popsize = default_popsize(dim) if popsize is None else popsize
        super().__init__(dim, popsize, rng, min_popsize=2)
        self._mean = self._initial_mean(mean)
        self.lr_mean = _validate.positive("lr_mean", lr_mean)
        self.shaping = check_shaping(shaping)
        self.last_step: dict[str, np.ndarray] = {}

    def _to_global(self, s: np.ndarray) -> np.ndarray:
        """Rows of local coordinates to offsets from the mean."""
        raise NotImplementedError

    def _to_local(self, offsets: np.ndarray) -> np.ndarray:
        """Rows of offsets from the mean to local coordinates (the inverse of ``_to_global``)."""
        raise NotImplementedError

    def _update(self, s: np.ndarray, u: np.ndarray) -> None:
        """One natural-gradient step from local coordinates ``s`` (popsize, dim) and utilities ``u``."""
        raise NotImplementedError

    def _ask(self) -> np.ndarray:
        return self._mean + self._to_global(self.rng.standard_normal((self.popsize, self.dim)))

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        self._update(self._to_local(x - self._mean), shape_fitness(fitness, self.shaping))


class SNES(LocalCoordinatesNES):
    r"""Separable NES: a diagonal Gaussian whose mean and per-coordinate step sizes follow the natural gradient (chapter 3).

    Fitness is **maximized**. See the module docstring for the update and its sources.

    Parameters
    ----------
    sigma0 : float or array_like
        Initial standard deviation, one number or one per coordinate (> 0). Default 1.0.
    lr_sigma : float, optional
        :math:`\eta_\sigma` (> 0); default :math:`(3 + \ln d)/(5\sqrt d)` (:func:`default_lr_sigma`).
    dim, popsize, mean, lr_mean, shaping, rng
        As for :class:`LocalCoordinatesNES`.

    Notes
    -----
    The state is ``mean`` and ``sigma`` (both (dim,)); ``covariance`` is
    ``diag(sigma**2)``. ``last_step`` holds the utilities and the two natural gradients.
    """

    _state_keys = ("_mean", "sigma")

    def __init__(
        self,
        dim: int,
        popsize: int | None = None,
        *,
        mean=None,
        sigma0: float | np.ndarray = 1.0,
        lr_mean: float = 1.0,
        lr_sigma: float | None = None,
        shaping: str | Callable = "nes_utilities",
        rng: np.random.Generator | int = 0,
    ):
        super().__init__(dim, popsize, mean=mean, lr_mean=lr_mean, shaping=shaping, rng=rng)
        self.sigma = initial_scale("sigma0", sigma0, self.dim)
        self.lr_sigma = default_lr_sigma(self.dim) if lr_sigma is None else _validate.positive("lr_sigma", lr_sigma)

    @property
    def covariance(self) -> np.ndarray:
        """``diag(sigma**2)`` (dim, dim), the covariance of the search distribution."""
        return np.diag(self.sigma**2)

    def _to_global(self, z: np.ndarray) -> np.ndarray:
        return self.sigma * z

    def _to_local(self, offsets: np.ndarray) -> np.ndarray:
        return offsets / self.sigma

    def _update(self, z: np.ndarray, u: np.ndarray) -> None:
        grad_mu = u @ z
        grad_sigma = u @ (z**2 - 1.0)
        mean = self._mean + self.lr_mean * self.sigma * grad_mu
        sigma = self.sigma * np.exp(0.5 * self.lr_sigma * grad_sigma)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(sigma)) and np.all(sigma > 0)):
            raise FloatingPointError("SNES update produced non-finite parameters or a zero step size")
        self._mean, self.sigma = mean, sigma
        self.last_step = {"utilities": u, "grad_mean": grad_mu, "grad_sigma": grad_sigma}
