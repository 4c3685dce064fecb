"""The ask/tell interface shared by every black-box solver of the course.

Every solver **maximizes** fitness. One generation is::

    x = solver.ask()            # (popsize, dim) array of candidate solutions
    fitness = [f(xi) for xi in x]
    solver.tell(x, fitness)     # update the search distribution

``solver.mean`` is the centre of the search distribution, ``solver.best`` the best
candidate told so far, and ``state_dict()`` / ``load_state_dict()`` checkpoint the
solver exactly (random generator included), so a resumed run continues bit for bit.
The shape follows pycma, estool and evosax.

Non-finite fitness policy: ``tell`` raises ``ValueError`` on NaN or inf fitness.
Wrap the objective (e.g. map failures to a large negative number) if you want
something else; nothing non-finite is ever averaged in silently.
"""

from __future__ import annotations

import copy
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from pgnotes import _validate


@dataclass(frozen=True)
class Candidate:
    """A solution and its fitness (higher is better)."""

    x: np.ndarray
    fitness: float


def initial_scale(name: str, value, dim: int) -> np.ndarray:
    """A (dim,) array of positive standard deviations from one number or one per coordinate (a copy)."""
    if np.ndim(value) == 0:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number > 0 or an array of them, got {type(value).__name__}")
        return np.full(dim, _validate.positive(name, value))
    value = _validate.finite_array(name, value, shape=(dim,))
    if np.any(value <= 0):
        raise ValueError(f"{name} must be > 0 in every coordinate, got minimum {value.min()!r}")
    return value.copy()


class Solver(ABC):
    """Base class: subclasses implement ``_ask`` and ``_tell`` and list their state.

    Parameters
    ----------
    dim : int
        Dimension of a solution (>= 1).
    popsize : int
        Candidates per generation (>= 1; subclasses may require more).
    rng : numpy.random.Generator or int
        Source of all randomness of the solver.

    Subclasses name the attributes that make up their state in ``_state_keys``;
    ``state_dict`` copies them together with the generator, the generation
    counter and the best candidate. A subclass that keeps the centre of its search
    distribution in ``_mean`` gets ``mean`` from here; the others override it.
    """

    _state_keys: tuple[str, ...] = ()

    def __init__(self, dim: int, popsize: int, rng: np.random.Generator | int = 0, *, min_popsize: int = 1):
        self.dim = _validate.integer_at_least("dim", dim, 1, _validate.MAX_ELEMENTS)
        self.popsize = _validate.integer_at_least("popsize", popsize, min_popsize)
        _validate.allocation("popsize * dim (one population)", self.popsize, self.dim)
        self.rng = _validate.generator(rng)
        self.generation = 0
        self._best: Candidate | None = None

    def _initial_mean(self, mean, name: str = "mean") -> np.ndarray:
        """The initial centre: zeros for None, else a checked (dim,) float64 copy of ``mean``."""
        return np.zeros(self.dim) if mean is None else _validate.finite_array(name, mean, shape=(self.dim,)).copy()

    # -- the interface -------------------------------------------------------------
    def ask(self) -> np.ndarray:
        """Return a (popsize, dim) array of candidates to evaluate."""
        x = np.asarray(self._ask(), dtype=np.float64)
        if x.shape != (self.popsize, self.dim):
            raise RuntimeError(f"{type(self).__name__}._ask returned shape {x.shape}, expected {(self.popsize, self.dim)}")
        return x

    def tell(self, x: np.ndarray, fitness) -> None:
        """Update the solver with candidates ``x`` (popsize, dim) and their ``fitness`` (popsize,), maximized."""
        x = _validate.finite_array("x", x, shape=(self.popsize, self.dim))
        fitness = _validate._as_float_array("fitness", fitness)
        if fitness.shape != (self.popsize,):
            raise ValueError(f"fitness must have shape ({self.popsize},) to match x, got {fitness.shape}")
        if not np.all(np.isfinite(fitness)):
            bad = np.flatnonzero(~np.isfinite(fitness)).tolist()
            raise ValueError(f"fitness must be finite; non-finite values at indices {bad}")
        self._check_tell(x, fitness)
        # Atomic: a tell that fails half way (a schedule or shaping callable that raises, an
        # update that overflows) leaves the solver exactly as it was.
        shallow, saved = self.__dict__.copy(), self.state_dict()
        try:
            i = int(np.argmax(fitness))
            if self._best is None or fitness[i] > self._best.fitness:
                self._best = Candidate(x[i].copy(), float(fitness[i]))
            try:
                self._tell(x, fitness)
            except (FloatingPointError, OverflowError, np.linalg.LinAlgError) as error:
                if isinstance(error, _validate.NonFiniteUpdateError):
                    raise
                raise _validate.NonFiniteUpdateError(
                    f"{type(self).__name__}.tell: the update failed ({error}), usually because x or fitness is far "
                    "outside the range of the search distribution; the solver was left unchanged"
                ) from error
            _validate.check_finite_state(f"{type(self).__name__}.tell", self._finite_state())
            self.generation += 1
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(shallow)
            self._apply_state(saved)
            raise

    def _check_tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        """Hook: reject candidates this solver cannot update from (before anything changes)."""

    def _finite_state(self) -> dict[str, Any]:
        """The state that must stay finite after an update (checked by ``tell``)."""
        return {key: getattr(self, key) for key in self._state_keys}

    @property
    def mean(self) -> np.ndarray:
        """Centre of the search distribution (dim,), a copy."""
        return self._mean.copy()

    @property
    def best(self) -> Candidate | None:
        """Best candidate told so far (None before the first ``tell``)."""
        return self._best

    @abstractmethod
    def _ask(self) -> np.ndarray: ...

    @abstractmethod
    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None: ...

    # -- checkpoints ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly: plain Python and numpy values."""
        state = {key: copy.deepcopy(getattr(self, key)) for key in self._state_keys}
        state.update(
            solver=type(self).__name__,
            dim=self.dim,
            popsize=self.popsize,
            generation=self.generation,
            best=None if self._best is None else (self._best.x.copy(), self._best.fitness),
            rng=copy.deepcopy(self.rng.bit_generator.state),
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by ``state_dict`` of the same solver class and shape.

        Atomic: the whole state is checked first, and a state that is rejected leaves the
        solver exactly as it was.
        """
        _validate.mapping("state", state, ("solver", "dim", "popsize", "generation", "best", "rng"))
        if state.get("solver") != type(self).__name__:
            raise ValueError(f"state was saved by {state.get('solver')!r}, not {type(self).__name__!r}")
        if (state["dim"], state["popsize"]) != (self.dim, self.popsize):
            raise ValueError(
                f"state has dim={state['dim']}, popsize={state['popsize']}; this solver has dim={self.dim}, popsize={self.popsize}"
            )
        self._check_state(state)
        shallow, saved = self.__dict__.copy(), self.state_dict()
        try:
            self._apply_state(state)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(shallow)
            self._apply_state(saved)
            raise

    def _check_state(self, state: dict[str, Any]) -> None:
        """Check every entry of ``state`` against this solver before any of it is applied."""
        _validate.mapping("state", state, self._state_keys)
        for key in self._state_keys:
            current, new = getattr(self, key), state[key]
            if isinstance(current, np.ndarray) and current.dtype.kind == "f":
                _validate.finite_array(f"state[{key!r}]", new, shape=current.shape)
            elif isinstance(new, np.ndarray) and new.dtype.kind == "f":
                _validate.finite_array(f"state[{key!r}]", new)
            elif isinstance(current, float):
                _validate.real(f"state[{key!r}]", new)
        _validate.integer_at_least("state['generation']", state["generation"], 0, None)
        if state["best"] is not None:
            if not isinstance(state["best"], (tuple, list)) or len(state["best"]) != 2:
                raise ValueError(f"state['best'] must be None or a pair (x, fitness), got {state['best']!r:.80}")
            _validate.finite_array("state['best'][0]", state["best"][0], shape=(self.dim,))
            _validate.real("state['best'][1]", state["best"][1])
        probe = copy.deepcopy(self.rng.bit_generator)
        try:
            probe.state = copy.deepcopy(state["rng"])
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"state['rng'] must be the state of a {type(probe).__name__} bit generator ({error})") from None

    def _apply_state(self, state: dict[str, Any]) -> None:
        for key in self._state_keys:
            setattr(self, key, copy.deepcopy(state[key]))
        self.generation = int(state["generation"])
        self._best = None if state["best"] is None else Candidate(np.array(state["best"][0]), float(state["best"][1]))
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, popsize={self.popsize}, generation={self.generation})"
