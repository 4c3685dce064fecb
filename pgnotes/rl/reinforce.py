r"""REINFORCE: the search gradient with trajectories as solutions (Algorithms 4-7; chapter 2).

Read a trajectory :math:`\tau` as a solution and its return as the fitness. The search
gradient :math:`\mathbb E[f(\tau)\nabla_\theta\log p(\tau;\theta)]` needs the score of the
trajectory, and since :math:`p(\tau;\theta) = p(s_0)\prod_t \pi_\theta(a_t\mid s_t)\,p(s_{t+1}\mid s_t,a_t)`
the dynamics drop out: :math:`\nabla_\theta\log p(\tau;\theta) = \sum_t \nabla_\theta\log\pi_\theta(a_t\mid s_t)`.

Estimators of :math:`\nabla_\theta J` from a batch of :math:`N` episodes, all of the form
:math:`\frac1N\sum_i\sum_t w_{i,t}\,\nabla_\theta\log\pi_\theta(a_{i,t}\mid s_{i,t})`:

================== ================================================== ==============
``estimator``      weight :math:`w_t`                                 pseudocode
================== ================================================== ==============
``"whole_return"`` :math:`R(\tau) = \sum_{t} \gamma^{t} r_{t+1}`      Algorithm 4
``"reward_to_go"`` :math:`G_t = \sum_{t'\ge t}\gamma^{t'-t} r_{t'+1}` Algorithms 5-7
================== ================================================== ==============

minus a baseline :math:`b` that does not depend on the action :math:`a_t` (so
:math:`\mathbb E[b\,\nabla\log\pi(a_t\mid s_t)] = 0` and the estimate stays unbiased):

* ``"none"``;
* ``"mean"``: the batch average of the weight (the average return; for reward-to-go, the
  average of :math:`G_t` over the batch's episodes that reached step :math:`t`);
* ``"value"`` (reward-to-go only): a learned state value :math:`V_\phi(s_t)`, fitted by
  regression to :math:`G_t` *after* the policy step, so this batch's actions never enter
  their own baseline.

Two conventions to know. The reward-to-go weight drops the factor :math:`\gamma^t` that the
exact gradient of the discounted objective carries (like nearly every implementation; with
:math:`\gamma` near 1 it is the gradient of the undiscounted return, slightly biased); the tabular
check of chapter 2 keeps it. And Algorithms 5-7 update after every time step; here the updates are
batched, one step per batch of episodes (the sum over :math:`t` is the same gradient).

:func:`train` runs the whole loop (episodes through a vector env, Adam on the surrogate loss,
a ``tqdm`` bar) and returns a :class:`ReinforceResult` whose ``history`` plots itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from pgnotes import _validate
from pgnotes.rl.policies import Policy, ValueFunction
from pgnotes.rl.rollouts import EpisodeBatch, collect_episodes
from pgnotes.rl.training import TrainerConfig, TrainingHistory, gradient_norm, run_training

__all__ = [
    "ESTIMATORS",
    "BASELINES",
    "reward_to_go",
    "discounted_return",
    "policy_gradient_weights",
    "surrogate_loss",
    "policy_gradient",
    "fit_value_function",
    "ReinforceConfig",
    "ReinforceHistory",
    "ReinforceResult",
    "gradient_step",
    "train",
]

ESTIMATORS = ("whole_return", "reward_to_go")
BASELINES = ("none", "mean", "value")


def reward_to_go(rewards, gamma: float = 1.0) -> np.ndarray:
    r"""Reward-to-go :math:`G_t = \sum_{t'=t}^{T-1}\gamma^{t'-t} r_{t'}` of one episode's rewards, shape (T,). Chapter 2.

    Computed backwards, :math:`G_t = r_t + \gamma G_{t+1}`, in O(T).
    """
    rewards = _validate.finite_array("rewards", rewards, ndim=1)
    gamma = _validate.probability("gamma", gamma, open_low=False)
    out = np.empty_like(rewards)
    running = 0.0
    for t in range(rewards.size - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def discounted_return(rewards, gamma: float = 1.0) -> float:
    r"""Return of a whole episode :math:`R(\tau) = \sum_t \gamma^t r_t` (the fitness of Algorithm 4). Chapter 2."""
    rewards = _validate.finite_array("rewards", rewards, ndim=1)
    gamma = _validate.probability("gamma", gamma, open_low=False)
    return float(np.sum(rewards * gamma ** np.arange(rewards.size)))


def _check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    return _validate.one_of(name, value, choices)


def policy_gradient_weights(
    batch: EpisodeBatch,
    *,
    estimator: str = "reward_to_go",
    baseline: str = "none",
    gamma: float = 0.99,
    value_fn: ValueFunction | None = None,
) -> np.ndarray:
    r"""The weight :math:`w_{i,t}` of every :math:`\nabla\log\pi(a_{i,t}\mid s_{i,t})` in the batch, shape (num_steps,). Chapter 2.

    See the module docstring for the estimators and baselines. Also returns nothing else:
    the reward-to-go targets for the value function are :func:`reward_to_go` per episode.
    """
    _validate.instance("batch", batch, EpisodeBatch, "pgnotes.rl.rollouts.EpisodeBatch")
    _check_choice("estimator", estimator, ESTIMATORS)
    _check_choice("baseline", baseline, BASELINES)
    gamma = _validate.probability("gamma", gamma, open_low=False)
    if value_fn is not None:
        _validate.instance("value_fn", value_fn, ValueFunction, "pgnotes.rl.policies.ValueFunction or None")
    if estimator == "whole_return":
        per_episode = np.array([discounted_return(e.rewards, gamma) for e in batch.episodes])
        if baseline == "value":
            raise ValueError("baseline='value' needs estimator='reward_to_go' (V(s_t) estimates the reward-to-go)")
        if baseline == "mean":
            per_episode = per_episode - per_episode.mean()
        return per_episode[batch.episode_index]
    g = np.concatenate([reward_to_go(e.rewards, gamma) for e in batch.episodes])
    if baseline == "mean":
        t = batch.time_index
        sums = np.bincount(t, weights=g)
        counts = np.bincount(t)
        g = g - (sums / counts)[t]
    elif baseline == "value":
        if value_fn is None:
            raise ValueError("baseline='value' needs value_fn")
        with torch.no_grad():
            g = g - value_fn(batch.observations).double().numpy()
    return g


def surrogate_loss(policy: Policy, batch: EpisodeBatch, weights) -> torch.Tensor:
    r"""Surrogate loss :math:`L(\theta) = -\frac1N\sum_{i,t} w_{i,t}\log\pi_\theta(a_{i,t}\mid s_{i,t})`. Chapter 2.

    ``weights`` are held constant, so :math:`-\nabla_\theta L` is the REINFORCE estimate of
    :math:`\nabla_\theta J`; :math:`L` itself is not the objective (its value means little).
    """
    _validate.instance("policy", policy, Policy, "pgnotes.rl.policies.Policy")
    _validate.instance("batch", batch, EpisodeBatch, "pgnotes.rl.rollouts.EpisodeBatch")
    weights = torch.as_tensor(_validate.finite_array("weights", weights))
    if weights.shape != (batch.num_steps,):
        raise ValueError(f"weights must have one entry per step, shape ({batch.num_steps},), got {tuple(weights.shape)}")
    logp = policy.log_prob(batch.observations, batch.actions)
    return -(weights.to(logp.dtype) * logp).sum() / len(batch)


def policy_gradient(policy: Policy, batch: EpisodeBatch, weights) -> np.ndarray:
    """The REINFORCE gradient estimate as one flat vector over ``policy.parameters()``. Chapter 2."""
    params = [p for p in policy.parameters() if p.requires_grad]
    grads = torch.autograd.grad(-surrogate_loss(policy, batch, weights), params)
    return torch.cat([g.reshape(-1) for g in grads]).double().numpy()


def fit_value_function(value_fn: ValueFunction, optimizer: torch.optim.Optimizer, batch: EpisodeBatch, gamma: float, iterations: int = 5) -> float:
    """Regress :math:`V_\\phi(s_t)` on the reward-to-go :math:`G_t` by ``iterations`` full-batch steps; returns the last MSE. Chapter 2."""
    _validate.instance("value_fn", value_fn, ValueFunction, "pgnotes.rl.policies.ValueFunction")
    _validate.instance("optimizer", optimizer, torch.optim.Optimizer, "torch.optim.Optimizer")
    _validate.instance("batch", batch, EpisodeBatch, "pgnotes.rl.rollouts.EpisodeBatch")
    iterations = _validate.integer_at_least("iterations", iterations, 1, 10**6)
    targets = torch.as_tensor(np.concatenate([reward_to_go(e.rewards, gamma) for e in batch.episodes]), dtype=torch.float32)
    loss = torch.zeros(())
    for _ in range(iterations):
        optimizer.zero_grad()
        loss = torch.mean((value_fn(batch.observations) - targets) ** 2)
        loss.backward()
        optimizer.step()
    return float(loss.detach())


@dataclass
class ReinforceConfig(TrainerConfig):
    """Every hyperparameter of :func:`train` (chapter 2): the fields of :class:`~pgnotes.rl.training.TrainerConfig` and these.

    Defaults are the CartPole-v1 setting of the chapter.
    """

    estimator: str = "reward_to_go"
    """``"whole_return"`` (Algorithm 4) or ``"reward_to_go"`` (Algorithms 5-7)."""
    baseline: str = "value"
    """``"none"``, ``"mean"`` or ``"value"`` (learned :math:`V_\\phi`, reward-to-go only)."""
    total_episodes: int = 1000
    """Training budget in episodes."""
    episodes_per_batch: int = 10
    """Episodes per gradient step (>= 1)."""
    num_envs: int | None = None
    """Sub-environments of the vector env (default: ``episodes_per_batch``)."""
    learning_rate: float = 0.01
    """Adam step size of the policy."""
    normalize_weights: bool = False
    """Standardize the weights in each batch (zero mean, unit std): a batch-mean baseline plus an adaptive step size."""
    value_learning_rate: float = 0.01
    """Adam step size of the value network."""
    value_iterations: int = 10
    """Full-batch regression steps of the value network per batch."""
    final_eval: bool = True
    """Evaluate the final policy with ``eval_episodes`` episodes."""

    def __post_init__(self):
        _check_choice("estimator", self.estimator, ESTIMATORS)
        _check_choice("baseline", self.baseline, BASELINES)
        if self.baseline == "value" and self.estimator != "reward_to_go":
            raise ValueError("baseline='value' needs estimator='reward_to_go'")
        _validate.integer_at_least("total_episodes", self.total_episodes, 1)
        _validate.integer_at_least("episodes_per_batch", self.episodes_per_batch, 1)
        if self.num_envs is not None:
            _validate.integer_at_least("num_envs", self.num_envs, 1)
        _validate.positive("learning_rate", self.learning_rate)
        _validate.positive("value_learning_rate", self.value_learning_rate)
        _validate.integer_at_least("value_iterations", self.value_iterations, 1)
        for name in ("normalize_weights", "final_eval"):
            _validate.boolean(name, getattr(self, name))
        super().__post_init__()


@dataclass
class ReinforceHistory(TrainingHistory):
    """:class:`~pgnotes.rl.training.TrainingHistory` of REINFORCE (chapter 2): evaluations counted in episodes, plus every episode's return and each step's gradient norm.

    ``plot()`` draws the learning curve; ``record(..., grad_norm=...)`` appends one gradient step.
    """

    episode_returns: list[float] = field(default_factory=list)
    """Undiscounted return of every training episode, in order."""
    grad_norm: list[float] = field(default_factory=list)
    """Norm of each step's policy gradient (before the optimizer step)."""

    def record(self, *, returns: np.ndarray, **entries) -> None:
        """Append one gradient step (see :meth:`TrainingHistory.record`) and the batch's episode returns."""
        super().record(returns=returns, **entries)
        self.episode_returns.extend(float(r) for r in returns)


@dataclass
class ReinforceResult:
    """Outcome of :func:`train`: the trained ``policy``, the ``value_fn`` (or None), the ``history`` and the ``config``."""

    policy: Policy
    value_fn: ValueFunction | None
    history: ReinforceHistory
    config: ReinforceConfig


def gradient_step(policy: Policy, optimizer: torch.optim.Optimizer, batch: EpisodeBatch, weights) -> float:
    """One ``optimizer`` step on :func:`surrogate_loss`; returns the norm of the gradient it took. Chapter 2."""
    optimizer.zero_grad()
    surrogate_loss(policy, batch, weights).backward()
    norm = gradient_norm(policy)
    optimizer.step()
    return norm


def train(
    config: ReinforceConfig | None = None,
    *,
    progress: bool = True,
    callback: Callable[["ReinforceResult"], bool | None] | None = None,
    **overrides,
) -> ReinforceResult:
    """Train a policy with REINFORCE (Algorithms 4-7, batched). Chapter 2.

    Each step of the loop (:func:`~pgnotes.rl.training.run_training`): collect
    ``episodes_per_batch`` episodes through a ``SyncVectorEnv``, compute the weights
    (:func:`policy_gradient_weights`), take one Adam step on :func:`surrogate_loss`
    (:func:`gradient_step`), then refit the value baseline if there is one.

    Parameters
    ----------
    config : ReinforceConfig, optional
        All hyperparameters; keyword ``overrides`` replace fields (``train(estimator="whole_return")``).
    progress : bool
        Show a ``tqdm`` bar over episodes.
    callback : callable, optional
        ``callback(result)`` after every gradient step, with a :class:`ReinforceResult` of the
        training so far (policy, value function, history, config); returning True stops training.

    Returns
    -------
    ReinforceResult
    """
    _validate.boolean("progress", progress)
    if callback is not None:
        _validate.callable_("callback", callback)
    config = ReinforceConfig.with_overrides(config, overrides)

    def make_step(envs, policy, value_fn, generator):
        optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
        value_opt = None if value_fn is None else torch.optim.Adam(value_fn.parameters(), lr=config.value_learning_rate)

        def step(done: int, seed: int | None):
            n = min(config.episodes_per_batch, config.total_episodes - done)
            batch = EpisodeBatch(collect_episodes(envs, policy, n, generator=generator, seed=seed, max_steps=config.max_steps))
            weights = policy_gradient_weights(batch, estimator=config.estimator, baseline=config.baseline, gamma=config.gamma, value_fn=value_fn)
            if config.normalize_weights and weights.size > 1:
                weights = (weights - weights.mean()) / (weights.std() + 1e-8)
            norm = gradient_step(policy, optimizer, batch, weights)
            value_loss = float("nan")
            if value_fn is not None:
                value_loss = fit_value_function(value_fn, value_opt, batch, config.gamma, config.value_iterations)
            return batch.total_rewards, batch.num_steps, {"grad_norm": norm, "value_loss": value_loss}

        return step

    history = ReinforceHistory()
    on_step = None if callback is None else (lambda policy, value_fn: callback(ReinforceResult(policy, value_fn, history, config)))
    policy, value_fn = run_training(config, history, make_step, total=config.total_episodes,
                                    num_envs=config.num_envs or config.episodes_per_batch,
                                    name=f"REINFORCE {config.estimator}/{config.baseline}", progress=progress,
                                    value=config.baseline == "value", final_eval=config.final_eval, callback=on_step)
    return ReinforceResult(policy, value_fn, history, config)
