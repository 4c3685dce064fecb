"""Fitness shaping: rank transformations that make ES updates invariant to monotone changes of fitness."""

from __future__ import annotations

import numpy as np

from pgnotes import _validate


def centered_ranks(fitness) -> np.ndarray:
    """Map fitness values to centred ranks in [-0.5, 0.5] (Salimans et al. 2017).

    The lowest fitness gets -0.5, the highest +0.5, equally spaced in between:
    ``u_i = rank_i / (n - 1) - 0.5`` with ranks 0..n-1 (ties broken by order).
    For a single value the result is 0.
    """
    fitness = _validate._as_float_array("fitness", fitness)
    if fitness.ndim != 1 or fitness.size == 0:
        raise ValueError(f"fitness must be a non-empty 1-D array, got shape {fitness.shape}")
    if not np.all(np.isfinite(fitness)):
        raise ValueError("fitness must contain only finite values")
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
    fitness = np.asarray(fitness, dtype=np.float64)
    if fitness.ndim != 1 or fitness.size == 0:
        raise ValueError(f"fitness must be a non-empty 1-D array, got shape {fitness.shape}")
    if not np.all(np.isfinite(fitness)):
        raise ValueError("fitness must contain only finite values")
    lam = fitness.size
    weights = np.maximum(0.0, np.log(lam / 2 + 1) - np.log(np.arange(1, lam + 1)))
    weights = weights / weights.sum() - 1.0 / lam
    u = np.empty(lam)
    u[np.argsort(-fitness, kind="stable")] = weights  # rank 1 = the largest fitness
    return u
