"""Augmented Random Search (Mania, Guy & Recht 2018): V1, V1-t, V2, V2-t (chapter 4).

Fitness (return) is **maximized**. One iteration of ARS (the gradient-free lecture slides, "Augmented Random Search"):

1. sample directions ``delta_1..delta_N ~ N(0, I)``;
2. evaluate ``r_k^+ = f(theta + nu delta_k)`` and ``r_k^- = f(theta - nu delta_k)`` (antithetic pairs);
3. keep the ``b`` directions with the largest ``max(r_k^+, r_k^-)`` (the "-t" versions; ``b = N`` otherwise);
4. ``sigma_R`` = standard deviation of the ``2b`` kept returns;
5. ``theta <- theta + alpha / (b sigma_R) sum_k (r_k^+ - r_k^-) delta_k``.

Without step 4 (``scale_by_std=False``) and with ``b = N`` this is Basic Random Search (BRS).
V2 adds online observation normalization: a linear policy acts on
``diag(Sigma)^{-1/2} (s - mu)`` where ``mu, Sigma`` are the running mean and variance of every
state seen in training rollouts so far, frozen within an iteration.

This module holds the update only (:class:`ARS` on the ask/tell interface, for any black-box
``f``) and :func:`version_settings`. The episodes of linear policies, their observation statistics
and worker processes live in the evaluator (:class:`pgnotes.evaluation.LinearPolicyFitness`),
and the training loop (:func:`pgnotes.ars_training.train_ars`) runs both through
:func:`pgnotes.solvers.optimize`.
"""

from __future__ import annotations

import numpy as np

from pgnotes import _validate
from pgnotes.solvers.base import Solver

VERSIONS = ("V1", "V1-t", "V2", "V2-t")


class ARS(Solver):
    """ARS update on the ask/tell interface; maximizes fitness (chapter 4).

    ``ask`` returns ``2 N`` candidates in antithetic pairs: rows ``2k`` and ``2k+1`` are
    ``theta + nu delta_k`` and ``theta - nu delta_k``; ``tell`` must receive them in that order.

    Parameters
    ----------
    x0 : array_like
        Initial parameters ``theta`` (zeros for the paper's linear policies).
    n_directions : int
        ``N``, directions per iteration (>= 1).
    top_b : int, optional
        ``b``, directions kept (1 <= b <= N); default ``N`` (V1/V2), smaller for V1-t/V2-t.
    step_size : float
        ``alpha`` (> 0, default 0.02).
    noise : float
        ``nu``, the exploration noise (> 0, default 0.03).
    scale_by_std : bool
        Divide the step by ``sigma_R`` (ARS, default) or not (BRS).
    rng : numpy.random.Generator or int
        Randomness of the directions.
    """

    _state_keys = ("theta",)

    def __init__(self, x0, n_directions: int = 8, top_b: int | None = None, *, step_size: float = 0.02,
                 noise: float = 0.03, scale_by_std: bool = True, rng: np.random.Generator | int = 0):
        x0 = _validate.finite_array("x0", x0, ndim=1)
        n = _validate.integer_at_least("n_directions", n_directions, 1)
        super().__init__(x0.size, 2 * n, rng, min_popsize=2)
        self.n_directions = n
        self.top_b = n if top_b is None else _validate.integer_at_least("top_b", top_b, 1)
        if self.top_b > n:
            raise ValueError(f"top_b must be <= n_directions ({n}), got {self.top_b}")
        self.step_size = _validate.positive("step_size", step_size)
        self.noise = _validate.positive("noise", noise)
        self.scale_by_std = _validate.boolean("scale_by_std", scale_by_std)
        self.theta = x0.copy()
        self.last_sigma_r = float("nan")

    @property
    def mean(self) -> np.ndarray:
        return self.theta

    @property
    def covariance(self) -> np.ndarray:
        """Covariance ``nu^2 I`` of the perturbations (for the 2-D animations)."""
        return self.noise**2 * np.eye(self.dim)

    def _ask(self) -> np.ndarray:
        delta = self.rng.standard_normal((self.n_directions, self.dim))
        x = np.empty((self.popsize, self.dim))
        x[0::2] = self.theta + self.noise * delta
        x[1::2] = self.theta - self.noise * delta
        return x

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        self.theta = self.theta + self.step(x, fitness)

    def _check_tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        # rows 2k and 2k+1 must be theta + nu delta_k and theta - nu delta_k (what ask returned)
        midpoints = (x[0::2] + x[1::2]) / 2
        scale = 1.0 + np.abs(self.theta) + np.max(np.abs(x - self.theta), axis=0)
        if not np.all(np.abs(midpoints - self.theta) <= 1e-8 * scale):
            worst = int(np.argmax(np.max(np.abs(midpoints - self.theta) / scale, axis=1)))
            raise ValueError(
                "x must hold antithetic pairs around theta, as ask() returned them: rows 2k and 2k+1 are "
                f"theta + nu delta_k and theta - nu delta_k; the pair of rows {2 * worst} and {2 * worst + 1} "
                "is not centred on theta"
            )

    def step(self, x: np.ndarray, fitness: np.ndarray) -> np.ndarray:
        """The ARS step ``alpha / (b sigma_R) sum (r+ - r-) delta`` for antithetic pairs ``x``."""
        x = _validate.finite_array("x", x, shape=(self.popsize, self.dim))
        fitness = _validate.finite_array("fitness", fitness, shape=(self.popsize,))
        self._check_tell(x, fitness)
        delta = (x[0::2] - x[1::2]) / (2 * self.noise)
        r_plus, r_minus = fitness[0::2], fitness[1::2]
        keep = np.argsort(-np.maximum(r_plus, r_minus), kind="stable")[: self.top_b]
        kept = np.concatenate([r_plus[keep], r_minus[keep]])
        sigma_r = float(np.std(kept)) if self.scale_by_std else 1.0
        self.last_sigma_r = sigma_r
        if sigma_r < 1e-12:  # all kept returns equal: every difference is 0, no information
            return np.zeros(self.dim)
        return self.step_size / (self.top_b * sigma_r) * ((r_plus[keep] - r_minus[keep]) @ delta[keep])


def version_settings(version: str, n_directions: int, top_b: int | None) -> tuple[int, bool]:
    """``(b, normalize_observations)`` for an ARS version name ("V1", "V1-t", "V2", "V2-t")."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
    if version.endswith("-t"):
        if top_b is None:
            raise ValueError(f"version {version} uses the top-b directions: give top_b")
        b = top_b
    else:
        if top_b not in (None, n_directions):
            raise ValueError(f"version {version} uses all directions: top_b must be None or n_directions")
        b = n_directions
    return b, version.startswith("V2")
