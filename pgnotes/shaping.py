"""Fitness shaping: rank transformations that make ES updates invariant to monotone changes of fitness."""

from __future__ import annotations

import numpy as np


def centered_ranks(fitness) -> np.ndarray:
    """Map fitness values to centred ranks in [-0.5, 0.5] (Salimans et al. 2017).

    The lowest fitness gets -0.5, the highest +0.5, equally spaced in between:
    ``u_i = rank_i / (n - 1) - 0.5`` with ranks 0..n-1 (ties broken by order).
    For a single value the result is 0.
    """
    fitness = np.asarray(fitness, dtype=np.float64)
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
