"""The general evolutionary algorithm of the CMU 10-703 lecture (Fragkiadaki & Kumar): mutate, evaluate, keep if better (chapter 4).

Fitness is **maximized**. A population of ``popsize`` parameter vectors (genotypes); each
generation (the CMU 10-703 lecture, "Evolutionary methods for policy search"):

1. make a random perturbation (mutation) of each parameter vector, ``x_i' = x_i + sigma eps_i``;
2. evaluate the perturbed vectors (fitness);
3. keep a perturbed vector if it improves on its parent (selection);
4. go to 1.

Each member is a (1+1) evolution strategy; the population only runs ``popsize`` of them side by
side. The first ``ask`` returns the initial population itself, so that parents have a fitness.
``adapt="one_fifth"`` adapts ``sigma`` with Rechenberg's 1/5 success rule (multiply by
``exp(1/3)`` on success and by ``exp(-1/12)`` on failure, per member, stable at a 1/5 success
rate); ``adapt="none"`` keeps it fixed.

With noisy fitness (RL returns) "keep if better" favours lucky evaluations: the parent's
fitness is never re-measured. Re-evaluate, or average several episodes, when that matters.
"""

from __future__ import annotations

import numpy as np

from pgnotes import _validate
from pgnotes.solvers.base import Solver

ADAPT_RULES = ("none", "one_fifth")


class SimpleEA(Solver):
    """Mutate each member, keep the mutant if it is better (chapter 4).

    Parameters
    ----------
    dim : int
        Dimension of a solution.
    popsize : int
        Number of parents (default 10).
    x0 : array_like, optional
        Centre of the initial population (default zeros).
    init_scale : float
        Standard deviation of the initial population around ``x0`` (> 0, default 1).
    sigma : float
        Mutation standard deviation (> 0, default 0.1).
    adapt : {"none", "one_fifth"}
        Fixed mutation strength, or the 1/5 success rule per member.
    rng : numpy.random.Generator or int
        Randomness of initialization and mutation.
    """

    _state_keys = ("parents", "parent_fitness", "sigmas")

    def __init__(self, dim: int, popsize: int = 10, *, x0=None, init_scale: float = 1.0, sigma: float = 0.1,
                 adapt: str = "none", rng: np.random.Generator | int = 0):
        super().__init__(dim, popsize, rng)
        x0 = self._initial_mean(x0, "x0")
        init_scale = _validate.positive("init_scale", init_scale)
        sigma = _validate.positive("sigma", sigma)
        if adapt not in ADAPT_RULES:
            raise ValueError(f"adapt must be one of {ADAPT_RULES}, got {adapt!r}")
        self.adapt = adapt
        self.parents = x0 + init_scale * self.rng.standard_normal((self.popsize, self.dim))
        self.parent_fitness = None  # unknown until the first tell
        self.sigmas = np.full(self.popsize, sigma)

    def _check_state(self, state) -> None:
        super()._check_state(state)
        if state["parent_fitness"] is not None:
            _validate.finite_array("state['parent_fitness']", state["parent_fitness"], shape=(self.popsize,))

    @property
    def mean(self) -> np.ndarray:
        """The best parent (the population's centre before the first ``tell``)."""
        if self.parent_fitness is None:
            return self.parents.mean(axis=0)
        return self.parents[int(np.argmax(self.parent_fitness))].copy()

    def _ask(self) -> np.ndarray:
        if self.parent_fitness is None:
            return self.parents.copy()
        return self.parents + self.sigmas[:, None] * self.rng.standard_normal((self.popsize, self.dim))

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        if self.parent_fitness is None:
            self.parents, self.parent_fitness = x.copy(), fitness.copy()
            return
        better = fitness > self.parent_fitness
        self.parents[better] = x[better]
        self.parent_fitness[better] = fitness[better]
        if self.adapt == "one_fifth":
            self.sigmas *= np.where(better, np.exp(1 / 3), np.exp(-1 / 12))
