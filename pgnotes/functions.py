"""Classic test functions for black-box optimization.

Each function takes ``x`` of shape (..., dim) and returns the objective value of shape (...),
written as in the literature, i.e. **to be minimized** (minimum 0 at the optimum).
The solvers of the course maximize fitness, so wrap them with :func:`as_fitness`,
which returns ``-f(x)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pgnotes import _validate


def _points(x, min_dim: int = 1) -> np.ndarray:
    """``x`` as a finite float64 array of shape (..., dim) with dim >= ``min_dim``."""
    x = _validate.finite_array("x", x)
    if x.ndim < 1 or x.shape[-1] < min_dim:
        raise ValueError(f"x must have shape (..., dim) with dim >= {min_dim}, got shape {x.shape}")
    return x


def sphere(x) -> np.ndarray:
    r"""Sphere :math:`f(x) = \sum_i x_i^2`; minimum 0 at the origin."""
    x = _points(x)
    return np.sum(x * x, axis=-1)


def ellipsoid(x, condition: float = 1e6) -> np.ndarray:
    r"""Ellipsoid :math:`f(x) = \sum_i c^{(i-1)/(n-1)} x_i^2` with condition number ``c`` (default 1e6).

    For ``dim == 1`` it is the sphere. This is pycma's ``ff.elli`` (``cond=1e6``).
    """
    x = _points(x)
    condition = _validate.real("condition", condition, 1.0)
    n = x.shape[-1]
    if n == 1:
        return np.sum(x * x, axis=-1)
    scales = condition ** (np.arange(n) / (n - 1))
    return np.sum(scales * x * x, axis=-1)


def rosenbrock(x) -> np.ndarray:
    r"""Rosenbrock :math:`f(x) = \sum_{i<n} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2`; minimum 0 at (1, ..., 1)."""
    x = _validate.finite_array("x", x)
    if x.ndim < 1 or x.shape[-1] < 2:
        raise ValueError(f"rosenbrock needs dim >= 2: x must have shape (..., dim), dim >= 2, got shape {x.shape}")
    head, tail = x[..., :-1], x[..., 1:]
    return np.sum(100.0 * (tail - head**2) ** 2 + (1.0 - head) ** 2, axis=-1)


def rastrigin(x) -> np.ndarray:
    r"""Rastrigin :math:`f(x) = 10 n + \sum_i [x_i^2 - 10 \cos(2 \pi x_i)]`; many local minima, global 0 at the origin."""
    x = _points(x)
    return 10.0 * x.shape[-1] + np.sum(x * x - 10.0 * np.cos(2 * np.pi * x), axis=-1)


def schaffer(x) -> np.ndarray:
    r"""Schaffer F6 in 2-D, :math:`0.5 + (\sin^2(\sqrt{x^2+y^2}) - 0.5) / (1 + 0.001 (x^2+y^2))^2`; minimum 0 at the origin."""
    x = _validate.finite_array("x", x)
    if x.ndim < 1 or x.shape[-1] != 2:
        raise ValueError(f"schaffer is defined for dim == 2: x must have shape (..., 2), got shape {x.shape}")
    r2 = np.sum(x * x, axis=-1)
    return 0.5 + (np.sin(np.sqrt(r2)) ** 2 - 0.5) / (1.0 + 0.001 * r2) ** 2


def as_fitness(objective: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Turn a minimized objective into a maximized fitness ``x -> -objective(x)``."""
    _validate.callable_("objective", objective)

    def fitness(x):
        return -objective(x)

    fitness.__name__ = f"neg_{getattr(objective, '__name__', 'objective')}"
    fitness.__doc__ = f"Fitness (maximized): minus {getattr(objective, '__name__', 'the objective')}."
    return fitness
