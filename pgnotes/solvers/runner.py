"""One runner for every ask/tell solver: budgets, a target, callbacks, progress, history, checkpoints.

:func:`optimize` drives every black-box search loop of the course (ES on policies, ARS, the
benchmarks). Its checkpoints hold the solver's state together with the fitness object's
(observation statistics, episode counters: anything with ``state_dict``/``load_state_dict``)
and the state of callbacks that have one (e.g. the periodic evaluations of the mean policy),
plus the run's settings, checked by :func:`pgnotes.checkpoint.check_resumable` on resume.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from tqdm.auto import tqdm

from pgnotes import _validate
from pgnotes.checkpoint import (check_resumable, load_checkpoint, load_portable_checkpoint, save_checkpoint,
                                save_portable_checkpoint)
from pgnotes.solvers.base import Solver


@dataclass
class History:
    """Per-generation record of a run (fitness maximized); ``plot()`` draws the learning curve."""

    generation: list[int] = field(default_factory=list)
    evaluations: list[int] = field(default_factory=list)
    best_so_far: list[float] = field(default_factory=list)
    generation_best: list[float] = field(default_factory=list)
    generation_mean: list[float] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)

    def record(self, generation: int, evaluations: int, fitness: np.ndarray, wall_time: float) -> None:
        best = float(np.max(fitness))
        self.generation.append(generation)
        self.evaluations.append(evaluations)
        self.generation_best.append(best)
        self.generation_mean.append(float(np.mean(fitness)))
        self.best_so_far.append(max(best, self.best_so_far[-1]) if self.best_so_far else best)
        self.wall_time.append(wall_time)

    def __len__(self) -> int:
        return len(self.generation)

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, list]) -> "History":
        return cls(**{key: list(value) for key, value in data.items()})

    def plot(self, ax=None, *, x: str = "evaluations", label: str | None = None, logy: bool = False):
        """Plot best-so-far and generation mean against ``x`` ("evaluations", "generation" or "wall_time")."""
        import matplotlib.pyplot as plt

        if x not in ("evaluations", "generation", "wall_time"):
            raise ValueError(f"x must be 'evaluations', 'generation' or 'wall_time', got {x!r}")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        xs = getattr(self, x)
        line, = ax.plot(xs, self.best_so_far, label=f"{label or 'run'}: best so far")
        ax.plot(xs, self.generation_mean, color=line.get_color(), alpha=0.5, linestyle="--", label=f"{label or 'run'}: generation mean")
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel("fitness (maximized)")
        if logy:
            ax.set_yscale("symlog")
        ax.legend(fontsize="small")
        return ax


Callback = Callable[[Solver, History], bool | None]


def _writable_file(name: str, path: Path) -> None:
    """Fail before any work if ``path`` cannot be written (a directory, or a folder we cannot create or write)."""
    if path.is_dir():
        raise ValueError(f"{name} must be a file path, got the directory {str(path)!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"{name}: cannot create the folder {str(path.parent)!r} ({error})") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.R_OK | os.W_OK)):
        raise ValueError(f"{name}: {str(path)!r} is not writable")


def _evaluate(f: Callable, x: np.ndarray, vectorized: bool) -> np.ndarray:
    if vectorized:
        fitness = np.asarray(f(x), dtype=np.float64)
    else:
        fitness = np.array([f(xi) for xi in x], dtype=np.float64)
    if fitness.shape != (x.shape[0],):
        raise ValueError(f"f must return one fitness per candidate: expected shape ({x.shape[0]},), got {fitness.shape}")
    return fitness


def optimize(
    f: Callable[[np.ndarray], float],
    solver: Solver,
    *,
    max_generations: int | None = None,
    max_evaluations: int | None = None,
    target: float | None = None,
    callbacks: Iterable[Callback] = (),
    vectorized: bool = False,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1,
    time_budget: float | None = None,
    settings: dict | None = None,
    may_change: tuple[str, ...] = (),
) -> History:
    """Maximize ``f`` with ``solver`` until a budget is spent or ``target`` is reached.

    Parameters
    ----------
    f : callable
        Fitness of one candidate ``f(x) -> float`` (or of a whole population
        ``f(X) -> (popsize,)`` when ``vectorized=True``). Maximized.
    solver : Solver
        Any ask/tell solver of :mod:`pgnotes.solvers`.
    max_generations, max_evaluations : int, optional
        Budgets; at least one of them (or ``target``) must be given.
    target : float, optional
        Stop as soon as the best fitness so far is >= ``target``.
    callbacks : iterable of callables
        Called as ``cb(solver, history)`` after each generation; returning True stops the run.
    checkpoint : path, optional
        If given, the state of the solver, of ``f`` and of every callback that has
        ``state_dict``/``load_state_dict``, and the history, are saved there atomically every
        ``checkpoint_every`` generations, and a run started with an existing checkpoint
        resumes from it (bit-identical to an uninterrupted run). A path ending in ``.json`` is
        written as portable JSON (:func:`pgnotes.checkpoint.save_portable_checkpoint`: every
        state must then be made of dicts, lists, numbers, strings and arrays), for checkpoints
        committed with their results; any other path is pickled.
    time_budget : float, optional
        Seconds this call may run: no generation starts after it is spent (resume by calling
        again with the same ``checkpoint``).
    settings : dict, optional
        The run's settings (e.g. ``dataclasses.asdict(config)``), stored in the checkpoint; a
        resumed run must have the same ones, except the keys in ``may_change``
        (:func:`pgnotes.checkpoint.check_resumable`). The solver's class, dimension and
        population size are always part of them.

    Returns
    -------
    History
    """
    _validate.callable_("f", f)
    _validate.instance("solver", solver, Solver, "pgnotes.solvers Solver (e.g. CMAES(x0, sigma0))")
    if max_generations is None and max_evaluations is None and target is None:
        raise ValueError("give at least one of max_generations, max_evaluations or target")
    for name, value in (("max_generations", max_generations), ("max_evaluations", max_evaluations)):
        if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1 or None, got {value!r}")
        _validate.optional_integer(name, value, 1)
    if max_evaluations is not None and max_evaluations < solver.popsize:
        raise ValueError(
            f"max_evaluations must be >= the solver's popsize ({solver.popsize}) so that one generation fits, "
            f"got {max_evaluations}"
        )
    if target is not None:
        target = _validate.real("target", target)
    if not isinstance(checkpoint_every, int) or isinstance(checkpoint_every, bool) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be an integer >= 1, got {checkpoint_every!r}")
    _validate.integer_at_least("checkpoint_every", checkpoint_every, 1)
    _validate.boolean("vectorized", vectorized)
    _validate.boolean("progress", progress)
    if callable(callbacks) or isinstance(callbacks, (str, bytes)):
        raise TypeError(f"callbacks must be an iterable of callables (e.g. [cb]), got {type(callbacks).__name__}")
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError(f"callbacks must be an iterable of callables, got {type(callbacks).__name__}") from None
    for i, cb in enumerate(callbacks):
        _validate.callable_(f"callbacks[{i}]", cb)
    if checkpoint is not None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint must be a path (str or os.PathLike) or None, got {type(checkpoint).__name__}")
        _writable_file("checkpoint", Path(checkpoint))
    portable = checkpoint is not None and str(checkpoint).endswith(".json")
    if time_budget is not None:
        time_budget = _validate.positive("time_budget", time_budget)
    if settings is not None:
        _validate.instance("settings", settings, dict, "dict or None")
    run_settings = {"solver": type(solver).__name__, "dim": solver.dim, "popsize": solver.popsize, **(settings or {})}

    def has_state(obj) -> bool:
        return callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None))

    def states() -> dict:
        return {"fitness": f.state_dict() if has_state(f) else None,
                "callbacks": [cb.state_dict() if has_state(cb) else None for cb in callbacks]}

    history, evaluations, elapsed, stopped = History(), 0, 0.0, False
    if checkpoint is not None and Path(checkpoint).exists():
        saved = (load_portable_checkpoint if portable else load_checkpoint)(checkpoint)
        _validate.mapping(f"the checkpoint {str(checkpoint)!r}", saved, ("solver", "history", "evaluations", "elapsed"))
        check_resumable(checkpoint, saved.get("settings", {}), run_settings, may_change=may_change)
        solver.load_state_dict(saved["solver"])
        history = History.from_dict(saved["history"])
        evaluations, elapsed, stopped = saved["evaluations"], saved["elapsed"], bool(saved.get("stopped", False))
        for obj, state in zip((f, *callbacks), (saved.get("fitness"), *saved.get("callbacks", [None] * len(callbacks)))):
            if state is not None and has_state(obj):
                obj.load_state_dict(state)

    def done() -> bool:
        if stopped:  # a callback ended the run (e.g. a target reached): a resumed call does no more
            return True
        if max_generations is not None and len(history) >= max_generations:
            return True
        if max_evaluations is not None and evaluations + solver.popsize > max_evaluations:
            return True
        return target is not None and len(history) > 0 and history.best_so_far[-1] >= target

    total = max_generations if max_generations is not None else None
    with tqdm(total=total, initial=len(history), disable=not progress, desc=type(solver).__name__, leave=False) as bar:
        start = time.perf_counter() - elapsed
        call_start = time.perf_counter()
        while not done():
            if time_budget is not None and time.perf_counter() - call_start > time_budget:
                break
            x = solver.ask()
            fitness = _evaluate(f, x, vectorized)
            solver.tell(x, fitness)
            evaluations += len(fitness)
            history.record(solver.generation, evaluations, fitness, time.perf_counter() - start)
            bar.update(1)
            bar.set_postfix(best=f"{history.best_so_far[-1]:.4g}", refresh=False)
            stop = any(bool(cb(solver, history)) for cb in callbacks)
            if checkpoint is not None and (len(history) % checkpoint_every == 0 or stop or done()):
                (save_portable_checkpoint if portable else save_checkpoint)(
                    checkpoint,
                    {"solver": solver.state_dict(), "history": history.to_dict(), "evaluations": evaluations,
                     "elapsed": time.perf_counter() - start, "settings": run_settings, "stopped": stop, **states()},
                )
            if stop:
                break
    return history
