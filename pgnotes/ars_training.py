"""Train a linear policy with Augmented Random Search on a Gymnasium task (chapter 4).

Three pieces meet here, each from its own module: the update (:class:`pgnotes.solvers.ars.ARS`),
the evaluator of returns (:class:`pgnotes.evaluation.LinearPolicyFitness`: episodes, observation
statistics, seeds, worker processes) and the one runner (:func:`pgnotes.solvers.optimize`),
which checkpoints all of them together with the periodic evaluations of ``theta``.
:class:`ARSConfig` holds every hyperparameter (its ``horizon`` is the evaluator's ``max_steps``;
the field keeps its name because the results files and checkpoints of chapter 4 store it).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pgnotes import _validate
from pgnotes.evaluation import LinearPolicyFitness
from pgnotes.solvers.ars import ARS, version_settings


@dataclass
class ARSConfig:
    """Every hyperparameter of an ARS run on a Gymnasium environment (chapter 4)."""

    env_id: str = "Swimmer-v5"
    version: str = "V2-t"  #: one of V1, V1-t, V2, V2-t
    n_directions: int = 1  #: N
    top_b: int | None = 1  #: b (None for V1/V2: all directions)
    step_size: float = 0.02  #: alpha
    noise: float = 0.01  #: nu
    shift: float = 0.0  #: subtracted from every reward in training rollouts (Hopper/Walker/Ant: 1)
    horizon: int = 1000  #: H, maximum episode length (the evaluator's max_steps)
    max_episodes: int = 20_000  #: training-episode budget
    threshold: float | None = 325.0  #: stop once an evaluation reaches it
    eval_every: int = 10  #: evaluate theta every this many iterations
    eval_episodes: int = 5  #: episodes per evaluation (not counted as training episodes)
    seed: int = 0
    workers: int = 1

    def __post_init__(self):
        if ":" not in str(self.env_id):
            _validate.env_id("env_id", self.env_id)
        version_settings(self.version, _validate.integer_at_least("n_directions", self.n_directions, 1), self.top_b)
        if self.top_b is not None:
            _validate.integer_at_least("top_b", self.top_b, 1, self.n_directions)
        _validate.positive("step_size", self.step_size)
        _validate.positive("noise", self.noise)
        _validate.real("shift", self.shift)
        _validate.integer_at_least("horizon", self.horizon, 1)  # 0 is an error, not "the default"
        _validate.integer_at_least("max_episodes", self.max_episodes, 1)
        if self.threshold is not None:
            _validate.real("threshold", self.threshold)
        _validate.integer_at_least("eval_every", self.eval_every, 1)
        _validate.integer_at_least("eval_episodes", self.eval_episodes, 1, 10**5)
        _validate.seed("seed", self.seed)
        _validate.integer_at_least("workers", self.workers, 1, 1024)


#: Settings that may change between invocations of one run (they do not change its numbers).
MAY_CHANGE = ("max_episodes", "workers")


@dataclass
class ARSHistory:
    """Evaluations of an ARS run: returns of ``theta`` against training episodes used."""

    iteration: list[int] = field(default_factory=list)
    episodes: list[int] = field(default_factory=list)
    timesteps: list[int] = field(default_factory=list)
    eval_return: list[float] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    episodes_to_threshold: int | None = None

    def plot(self, ax=None, label=None):
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(self.episodes, self.eval_return, label=label)
        ax.set_xlabel("training episodes")
        ax.set_ylabel("average return of theta")
        return ax


class EvaluateTheta:
    """Callback of :func:`pgnotes.solvers.optimize`: every ``eval_every`` iterations, the return of ``theta``.

    Evaluation episodes use raw rewards and are not training episodes. Returns True (stop) once an
    evaluation reaches ``threshold``. Its :class:`ARSHistory` is checkpointed with the run.
    """

    def __init__(self, fitness: LinearPolicyFitness, *, eval_every: int, eval_episodes: int, threshold: float | None):
        self.fitness, self.eval_every, self.eval_episodes, self.threshold = fitness, eval_every, eval_episodes, threshold
        self.history = ARSHistory()

    def __call__(self, solver: ARS, history) -> bool:
        if solver.generation % self.eval_every:
            return False
        value = float(np.mean(self.fitness.evaluate(solver.theta, self.eval_episodes)))
        h = self.history
        h.iteration.append(solver.generation)
        h.episodes.append(self.fitness.episodes)
        h.timesteps.append(self.fitness.steps)
        h.eval_return.append(value)
        h.wall_time.append(history.wall_time[-1])
        if self.threshold is not None and value >= self.threshold:
            h.episodes_to_threshold = self.fitness.episodes
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return asdict(self.history)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = ARSHistory(**_validate.mapping("state", state, ("iteration", "episodes", "eval_return")))


def train_ars(config: ARSConfig, *, checkpoint: str | Path | None = None, progress: bool = True,
              time_budget: float | None = None) -> tuple[ARSHistory, dict]:
    """Train a linear policy with ARS on ``config.env_id``; returns the history and the final state (chapter 4).

    Stops when ``config.threshold`` is reached by an evaluation, when ``max_episodes`` training
    episodes are used, or after ``time_budget`` seconds (then resume by calling again with the
    same ``checkpoint``: it is written atomically after every iteration, and a resumed run
    continues exactly as an uninterrupted one would).
    """
    from pgnotes.solvers.runner import optimize

    _validate.instance("config", config, ARSConfig, "ARSConfig")
    config.__post_init__()  # fields may have been changed after construction
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a path (str or os.PathLike) or None, got {type(checkpoint).__name__}")
    if time_budget is not None:
        _validate.positive("time_budget", time_budget)
    _validate.boolean("progress", progress)
    b, normalize = version_settings(config.version, config.n_directions, config.top_b)
    with LinearPolicyFitness(config.env_id, max_steps=config.horizon, normalize_obs=normalize, reward_shift=config.shift,
                             seed=config.seed, workers=config.workers) as fitness:
        solver = ARS(np.zeros(fitness.policy.n_params), config.n_directions, b, step_size=config.step_size,
                     noise=config.noise, rng=config.seed)
        evaluations = EvaluateTheta(fitness, eval_every=config.eval_every, eval_episodes=config.eval_episodes,
                                    threshold=config.threshold)
        optimize(fitness, solver, max_evaluations=config.max_episodes, callbacks=[evaluations], vectorized=True,
                 progress=progress, checkpoint=checkpoint, time_budget=time_budget, settings=asdict(config),
                 may_change=MAY_CHANGE)
        history, stats = evaluations.history, fitness.normalizer
        reached = history.episodes_to_threshold is not None
        final = {"theta": solver.theta.copy(), "obs_mean": stats.mean.copy(), "obs_std": stats.std + stats.eps,
                 "episodes": fitness.episodes, "timesteps": fitness.steps,
                 "finished": reached or fitness.episodes + solver.popsize > config.max_episodes}
    return history, final
