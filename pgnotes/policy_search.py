r"""Evolution strategies on policy weights: the search loop and its record (chapter 3).

Algorithm 8 of Euskirchen's notes ("Search Gradient algorithm applied to neural network weights"):
the black-box solver sees the policy's parameters as one flat vector, and the fitness of a
vector is the return of the policy it defines (**maximized**). The pieces live in one module
each; import them from there:

* policies and flat parameter vectors -- :mod:`pgnotes.mlp_policy` (:class:`MLPPolicy`,
  :func:`make_policy`, :func:`get_flat_params`, :func:`set_flat_params`, :func:`num_params`,
  :func:`batched_policy`);
* returns of parameter vectors -- :mod:`pgnotes.evaluation` (:class:`PolicyFitness`,
  :func:`rollout`, :class:`RunningMeanStd`, :func:`make_vector_env`);
* the loop -- :func:`pgnotes.solvers.optimize`, which :func:`search_policy` (here) drives with
  a callback that evaluates the solver's mean policy and stops at a target return; solver,
  fitness (observation statistics, seeds, counters) and evaluations are checkpointed together.

One fitness value goes from :func:`pgnotes.evaluation.rollout` (the returns) through
:class:`~pgnotes.evaluation.PolicyFitness` to :func:`~pgnotes.solvers.optimize`, which hands it
to the solver's ``tell``: three files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pgnotes import _validate
from pgnotes.evaluation import PolicyFitness, RolloutResult, RunningMeanStd, make_vector_env, rollout
from pgnotes.mlp_policy import (ACTIVATIONS, SQUASHES, MLPPolicy, batched_policy, get_flat_params, make_policy,
                                num_params, set_flat_params)

__all__ = ["PolicySearchResult", "MeanPolicyEvaluation", "search_policy"]


@dataclass
class PolicySearchResult:
    """What :func:`search_policy` returns: the solver's history and the evaluations of the mean policy."""

    history: Any  #: pgnotes.solvers.History (per generation: best/mean fitness, evaluations, wall time)
    eval_generation: list[int] = field(default_factory=list)
    eval_return: list[float] = field(default_factory=list)
    eval_train_episodes: list[int] = field(default_factory=list)
    eval_train_steps: list[int] = field(default_factory=list)
    confirmations: list[tuple[int, float]] = field(default_factory=list)  #: (generation, mean return) of confirmations
    solved_generation: int | None = None  #: first generation whose mean policy reached ``target``
    solved_train_episodes: int | None = None
    solved_train_steps: int | None = None
    train_episodes: int = 0
    train_steps: int = 0
    eval_episodes: int = 0
    eval_steps: int = 0
    seconds: float = 0.0
    rollout_seconds: float = 0.0
    final_params: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("history", "final_params")}
        out["history"] = self.history.to_dict()
        out["final_params"] = None if self.final_params is None else self.final_params.tolist()
        return out

    def plot(self, ax=None, *, x: str = "train_episodes", label: str | None = None, target: float | None = None):
        """Evaluated return of the mean policy against training episodes (or "generation", "train_steps")."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        xs = {"train_episodes": self.eval_train_episodes, "generation": self.eval_generation, "train_steps": self.eval_train_steps}[x]
        ax.plot(xs, self.eval_return, label=label or "mean policy")
        if target is not None:
            ax.axhline(target, color="gray", linestyle=":", label=f"target {target:g}")
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel("evaluation return")
        ax.legend(fontsize="small")
        return ax


class MeanPolicyEvaluation:
    """Callback of :func:`pgnotes.solvers.optimize`: every ``eval_every`` generations, the return of the solver's mean.

    Plays ``eval_episodes`` fresh episodes (normalizer frozen, not training episodes); with
    ``confirm_episodes``, an evaluation that reaches ``target`` is confirmed on that many more.
    Returns True (stop) at the first generation that reaches the target (confirmed). Its record,
    ``result``, is checkpointed with the run (``state_dict``).
    """

    _keys = ("eval_generation", "eval_return", "eval_train_episodes", "eval_train_steps", "confirmations",
             "solved_generation", "solved_train_episodes", "solved_train_steps")

    def __init__(self, fitness: PolicyFitness, *, eval_every: int, eval_episodes: int, target: float | None,
                 confirm_episodes: int | None):
        self.fitness, self.eval_every, self.eval_episodes = fitness, eval_every, eval_episodes
        self.target, self.confirm_episodes = target, confirm_episodes
        self.result = PolicySearchResult(history=None)

    def __call__(self, solver, history) -> bool:
        if solver.generation % self.eval_every:
            return False
        fitness, result, target = self.fitness, self.result, self.target
        score = float(fitness.evaluate(solver.mean, self.eval_episodes).returns.mean())
        result.eval_generation.append(solver.generation)
        result.eval_return.append(score)
        result.eval_train_episodes.append(fitness.train_episodes)
        result.eval_train_steps.append(fitness.train_steps)
        if target is not None and score >= target and self.confirm_episodes is not None:
            score = float(fitness.evaluate(solver.mean, self.confirm_episodes).returns.mean())
            result.confirmations.append((solver.generation, score))
        if target is not None and score >= target and result.solved_generation is None:
            result.solved_generation = solver.generation
            result.solved_train_episodes = fitness.train_episodes
            result.solved_train_steps = fitness.train_steps
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self.result, k) for k in self._keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = _validate.mapping("state", state, self._keys)
        for k in self._keys:
            setattr(self.result, k, list(state[k]) if isinstance(state[k], list) else state[k])


def search_policy(
    fitness: PolicyFitness,
    solver,
    *,
    max_generations: int,
    eval_every: int = 1,
    eval_episodes: int = 10,
    target: float | None = None,
    confirm_episodes: int | None = None,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    time_budget: float | None = None,
    settings: dict | None = None,
) -> PolicySearchResult:
    """Optimize a policy with any ask/tell solver; evaluate the solver's mean every ``eval_every`` generations (chapter 3).

    Stops after ``max_generations`` or as soon as the mean policy's evaluation return
    (``eval_episodes`` fresh episodes) reaches ``target``. With ``confirm_episodes``, an
    evaluation that reaches the target is confirmed on that many further fresh episodes
    (e.g. 100), and the run counts as solved only if the confirmation's mean reaches it too.
    Runs :func:`pgnotes.solvers.optimize` with a :class:`MeanPolicyEvaluation` callback;
    evaluation episodes are counted separately from training episodes (``eval_episodes`` of
    the result). With ``checkpoint`` the run is resumable (solver, fitness and evaluations are
    saved after every generation; ``settings``, e.g. the experiment's config, must match on
    resume, ``max_generations`` may grow), and ``time_budget`` bounds this call's seconds.
    """
    from pgnotes.solvers.base import Solver
    from pgnotes.solvers.runner import optimize

    _validate.instance("fitness", fitness, PolicyFitness, "PolicyFitness")
    _validate.instance("solver", solver, Solver, "pgnotes.solvers Solver")
    if solver.dim != num_params(fitness.policy):
        raise ValueError(f"solver has dim={solver.dim} but the policy of fitness has {num_params(fitness.policy)} parameters")
    _validate.integer_at_least("max_generations", max_generations, 1)
    eval_every = _validate.integer_at_least("eval_every", eval_every, 1)
    _validate.integer_at_least("eval_episodes", eval_episodes, 1, 10**5)
    if target is not None:
        _validate.real("target", target)
    _validate.optional_integer("confirm_episodes", confirm_episodes, 1, 10**5)
    evaluation = MeanPolicyEvaluation(fitness, eval_every=eval_every, eval_episodes=eval_episodes, target=target,
                                      confirm_episodes=confirm_episodes)
    run_settings = {"env_id": fitness.env_id, "episodes": fitness.episodes, "max_steps": fitness.max_steps,
                    "normalize_obs": fitness.normalizer is not None, "eval_every": eval_every,
                    "eval_episodes": eval_episodes, "target": target, "confirm_episodes": confirm_episodes,
                    **(settings or {})}
    start = time.perf_counter()
    history = optimize(fitness, solver, max_generations=max_generations, callbacks=[evaluation], vectorized=True,
                       progress=progress, checkpoint=checkpoint, time_budget=time_budget, settings=run_settings,
                       may_change=("max_generations",))
    result = evaluation.result
    result.history = history
    result.seconds = time.perf_counter() - start
    result.rollout_seconds = fitness.rollout_seconds
    result.train_episodes, result.train_steps = fitness.train_episodes, fitness.train_steps
    result.eval_episodes, result.eval_steps = fitness.eval_episodes, fitness.eval_steps
    result.final_params = np.array(solver.mean)
    return result
