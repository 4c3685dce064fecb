"""Fitness shaping: rank transformations that make ES updates invariant to monotone changes of fitness.

:func:`shape_fitness` is the one shaping function of the course: every solver that shapes
fitness (:class:`~pgnotes.solvers.nes.NES`, :class:`~pgnotes.solvers.snes.SNES`,
:class:`~pgnotes.solvers.xnes.XNES`, :class:`~pgnotes.solvers.openai_es.OpenAIES`,
:class:`~pgnotes.solvers.search_gradient.SearchGradient` and the distributed ES of chapter 6)
calls it with the name of its shaping, so the same name means the same numbers everywhere.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pgnotes import _validate

SHAPINGS = ("none", "centered_ranks", "standardize", "nes_utilities")


def _check_fitness(fitness) -> np.ndarray:
    fitness = _validate._as_float_array("fitness", fitness)
    if fitness.ndim != 1 or fitness.size == 0:
        raise ValueError(f"fitness must be a non-empty 1-D array, got shape {fitness.shape}")
    if not np.all(np.isfinite(fitness)):
        raise ValueError("fitness must contain only finite values")
    return fitness


def centered_ranks(fitness) -> np.ndarray:
    """Map fitness values to centred ranks in [-0.5, 0.5] (Salimans et al. 2017).

    The lowest fitness gets -0.5, the highest +0.5, equally spaced in between:
    ``u_i = rank_i / (n - 1) - 0.5`` with ranks 0..n-1 (ties broken by order).
    For a single value the result is 0.
    """
    fitness = _check_fitness(fitness)
    n = fitness.size
    if n == 1:
        return np.zeros(1)
    ranks = np.empty(n)
    ranks[np.argsort(fitness, kind="stable")] = np.arange(n)
    return ranks / (n - 1) - 0.5


def nes_utilities(fitness) -> np.ndarray:
    r"""The rank-based utilities of SNES and xNES (Wierstra et al. 2014, section 3.1; chapter 3).

    With ``k`` the rank of a candidate (1 for the fittest, ``lambda`` for the worst; fitness is
    maximized)

    .. math::
        u_k = \frac{\max\bigl(0, \log(\tfrac\lambda2 + 1) - \log k\bigr)}
                   {\sum_{j=1}^{\lambda} \max\bigl(0, \log(\tfrac\lambda2 + 1) - \log j\bigr)}
              - \frac1\lambda ,

    so the utilities sum to 0, only the better half gets positive weight, and the update is
    invariant to any monotone transformation of fitness. Ties are broken by order (the
    earlier candidate ranks higher). For a single value the result is 0.
    """
    fitness = _check_fitness(fitness)
    lam = fitness.size
    weights = np.maximum(0.0, np.log(lam / 2 + 1) - np.log(np.arange(1, lam + 1)))
    weights = weights / weights.sum() - 1.0 / lam
    u = np.empty(lam)
    u[np.argsort(-fitness, kind="stable")] = weights  # rank 1 = the largest fitness
    return u


def check_shaping(shaping: str | Callable, *, allow_callable: bool = True) -> str | Callable:
    """Return ``shaping`` if :func:`shape_fitness` accepts it, else raise ``ValueError`` naming it."""
    if allow_callable and callable(shaping):
        return shaping
    if isinstance(shaping, str) and shaping in SHAPINGS:
        return shaping
    extra = " or a callable" if allow_callable else ""
    raise ValueError(f"shaping must be one of {SHAPINGS}{extra}, got {shaping!r}")


def shape_fitness(fitness, shaping: str | Callable = "centered_ranks") -> np.ndarray:
    """Utilities ``u_k`` from fitness values: the one fitness-shaping function of every solver (chapter 3).

    ``"none"``: the raw fitness (a float64 copy); ``"centered_ranks"``: :func:`centered_ranks`,
    ranks in [-0.5, 0.5] (Salimans et al. 2017); ``"standardize"``: ``(f - mean f) / std f``
    (0 when all values are equal); ``"nes_utilities"``: :func:`nes_utilities` (Wierstra et al.
    2014); a callable is applied to the fitness array and must return one finite number per entry.
    """
    fitness = _validate.finite_array("fitness", fitness, ndim=1)
    shaping = check_shaping(shaping)
    if callable(shaping):
        return _validate.finite_array("shaping(fitness)", shaping(fitness), shape=fitness.shape)
    if shaping == "none":
        return fitness.copy()
    if shaping == "centered_ranks":
        return centered_ranks(fitness)
    if shaping == "nes_utilities":
        return nes_utilities(fitness)
    std = fitness.std()  # "standardize"
    return (fitness - fitness.mean()) / std if std > 0 else np.zeros_like(fitness)
