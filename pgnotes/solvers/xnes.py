r"""Exponential natural evolution strategies (xNES), maximizing fitness (chapter 3).

xNES (Glasmachers, Schaul, Sun, Wierstra & Schmidhuber 2010; Wierstra et al. 2014,
section on xNES) searches with a full Gaussian :math:`\mathcal N(\mu, A A^\top)`, the factor written
as :math:`A = \sigma B` (a global step size times a shape matrix), and takes natural-gradient
steps in the **local coordinates** :math:`s = A^{-1}(x - \mu)` of the current distribution,
where the Fisher matrix is the identity. One generation:

.. math::
    s_k \sim \mathcal N(0, I), \quad x_k = \mu + \sigma B s_k, \quad
    u_k = \text{utility of the rank of } f(x_k), \\
    G_\delta = \sum_k u_k s_k, \quad
    G_M = \sum_k u_k (s_k s_k^\top - I), \quad
    G_\sigma = \operatorname{tr}(G_M)/d, \quad
    G_B = G_M - G_\sigma I, \\
    \mu \leftarrow \mu + \eta_\mu \sigma B G_\delta, \quad
    \sigma \leftarrow \sigma \exp\!\bigl(\tfrac{\eta_\sigma}{2} G_\sigma\bigr), \quad
    B \leftarrow B \exp\!\bigl(\tfrac{\eta_B}{2} G_B\bigr).

The matrix exponential of the symmetric :math:`G_B` keeps :math:`B` invertible (and, as
:math:`G_B` is traceless, keeps :math:`\det B` fixed), so any real step is a valid
distribution. Because every quantity is computed in local coordinates, xNES is invariant to
an invertible linear change of coordinates :math:`y = Mx`: started from :math:`(M\mu, \sigma, MB)`
with the same random numbers on :math:`f(M^{-1}y)` it produces the image under :math:`M` of the
original run (tested).

The utilities are :func:`pgnotes.shaping.nes_utilities`. **Defaults** (Wierstra et al. 2014,
Table 1; Glasmachers et al. 2010): :math:`\lambda = 4 + \lfloor 3 \ln d\rfloor`,
:math:`\eta_\mu = 1`, :math:`\eta_\sigma = \eta_B = \frac{3(3 + \ln d)}{5 d\sqrt d}`.
Adaptation sampling and restarts, optional in the papers, are left out.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pgnotes import _validate
from pgnotes.solvers.snes import LocalCoordinatesNES, default_popsize  # noqa: F401 (xnes.default_popsize)


def default_lr_cov(dim: int) -> float:
    r"""xNES's default :math:`\eta_\sigma = \eta_B = 3(3 + \ln d)/(5 d\sqrt d)` (Wierstra et al. 2014, Table 1). Chapter 3."""
    dim = _validate.integer_at_least("dim", dim, 1)
    return 3 * (3 + np.log(dim)) / (5 * dim * np.sqrt(dim))


def expm_symmetric(matrix) -> np.ndarray:
    r"""Matrix exponential of a symmetric matrix through its eigendecomposition, :math:`V e^{\Lambda} V^\top`. Chapter 3."""
    matrix = _validate.finite_array("matrix", matrix, ndim=2)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square, got shape {matrix.shape}")
    sym = 0.5 * (matrix + matrix.T)
    w, v = np.linalg.eigh(sym)
    return (v * np.exp(w)) @ v.T


class XNES(LocalCoordinatesNES):
    r"""Exponential NES: a full Gaussian :math:`\mathcal N(\mu, \sigma^2 BB^\top)` following the natural gradient in local coordinates (chapter 3).

    Fitness is **maximized**. See the module docstring for the update and its sources.

    Parameters
    ----------
    sigma0 : float
        Initial global step size :math:`\sigma` (> 0). Default 1.0.
    B0 : array_like, optional
        Initial shape matrix :math:`B` (dim, dim), invertible; default the identity.
    lr_sigma, lr_B : float, optional
        :math:`\eta_\sigma` and :math:`\eta_B` (> 0); default :func:`default_lr_cov`.
    dim, popsize, mean, lr_mean, shaping, rng
        As for :class:`~pgnotes.solvers.snes.LocalCoordinatesNES`.

    Notes
    -----
    The state is ``mean``, ``sigma`` and ``B``; ``covariance`` is ``sigma**2 * B @ B.T``.
    ``last_step`` holds the utilities and :math:`G_\delta`, :math:`G_\sigma`, :math:`G_B`.
    """

    _state_keys = ("_mean", "sigma", "B")

    def __init__(
        self,
        dim: int,
        popsize: int | None = None,
        *,
        mean=None,
        sigma0: float = 1.0,
        B0=None,
        lr_mean: float = 1.0,
        lr_sigma: float | None = None,
        lr_B: float | None = None,
        shaping: str | Callable = "nes_utilities",
        rng: np.random.Generator | int = 0,
    ):
        super().__init__(dim, popsize, mean=mean, lr_mean=lr_mean, shaping=shaping, rng=rng)
        self.sigma = _validate.positive("sigma0", sigma0)
        if B0 is None:
            self.B = np.eye(self.dim)
        else:
            B0 = _validate.finite_array("B0", B0, shape=(self.dim, self.dim))
            if np.linalg.matrix_rank(B0) < self.dim:
                raise ValueError("B0 must be an invertible (dim, dim) matrix")
            self.B = B0.copy()
        self.lr_sigma = default_lr_cov(self.dim) if lr_sigma is None else _validate.positive("lr_sigma", lr_sigma)
        self.lr_B = default_lr_cov(self.dim) if lr_B is None else _validate.positive("lr_B", lr_B)

    @property
    def A(self) -> np.ndarray:
        r"""The sampling factor :math:`A = \sigma B` (dim, dim): :math:`x = \mu + A s`."""
        return self.sigma * self.B

    @property
    def covariance(self) -> np.ndarray:
        """``sigma**2 B B^T`` (dim, dim), the covariance of the search distribution."""
        A = self.A
        return A @ A.T

    def _to_global(self, s: np.ndarray) -> np.ndarray:
        return s @ self.A.T

    def _to_local(self, offsets: np.ndarray) -> np.ndarray:
        return np.linalg.solve(self.A, offsets.T).T

    def _update(self, s: np.ndarray, u: np.ndarray) -> None:
        d = self.dim
        g_delta = u @ s
        g_M = (s * u[:, None]).T @ s - u.sum() * np.eye(d)
        g_sigma = np.trace(g_M) / d
        g_B = g_M - g_sigma * np.eye(d)
        mean = self._mean + self.lr_mean * self.sigma * (self.B @ g_delta)
        sigma = self.sigma * np.exp(0.5 * self.lr_sigma * g_sigma)
        B = self.B @ expm_symmetric(0.5 * self.lr_B * g_B)
        if not (np.all(np.isfinite(mean)) and np.isfinite(sigma) and sigma > 0 and np.all(np.isfinite(B))):
            raise FloatingPointError("xNES update produced non-finite parameters or a zero step size")
        self._mean, self.sigma, self.B = mean, float(sigma), B
        self.last_step = {"utilities": u, "g_delta": g_delta, "g_sigma": g_sigma, "g_B": g_B}
