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

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, Sequence

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from pgnotes import _validate
from pgnotes.rl.policies import Policy, ValueFunction, make_policy
from pgnotes.rl.rollouts import EpisodeBatch, collect_episodes, evaluate_policy, make_vector_env

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
class ReinforceConfig:
    """Every hyperparameter of :func:`train` (chapter 2). Defaults are the CartPole-v1 setting of the chapter."""

    env_id: str = "CartPole-v1"
    """Gymnasium id of the environment."""
    estimator: str = "reward_to_go"
    """``"whole_return"`` (Algorithm 4) or ``"reward_to_go"`` (Algorithms 5-7)."""
    baseline: str = "value"
    """``"none"``, ``"mean"`` or ``"value"`` (learned :math:`V_\\phi`, reward-to-go only)."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    total_episodes: int = 1000
    """Training budget in episodes."""
    episodes_per_batch: int = 10
    """Episodes per gradient step (>= 1)."""
    num_envs: int | None = None
    """Sub-environments of the vector env (default: ``episodes_per_batch``)."""
    hidden: tuple[int, ...] = (32,)
    """Hidden layer sizes of the policy (and of the value network)."""
    learning_rate: float = 0.01
    """Adam step size of the policy."""
    normalize_weights: bool = False
    """Standardize the weights in each batch (zero mean, unit std): a batch-mean baseline plus an adaptive step size."""
    value_learning_rate: float = 0.01
    """Adam step size of the value network."""
    value_iterations: int = 10
    """Full-batch regression steps of the value network per batch."""
    max_steps: int | None = None
    """Step limit per episode (default: the environment's own)."""
    log_std_init: float = -0.5
    """Initial log standard deviation of a Gaussian policy (continuous actions only)."""
    eval_episodes: int = 100
    """Episodes per evaluation of the stochastic policy."""
    eval_threshold: float | None = None
    """Evaluate whenever a training batch's mean return reaches this (until ``target`` is met). None: never."""
    target: float | None = None
    """Return that counts as solved (e.g. 475 for CartPole-v1): the first evaluation reaching it is recorded."""
    stop_at_target: bool = False
    """Stop training when an evaluation reaches ``target``."""
    final_eval: bool = True
    """Evaluate the final policy with ``eval_episodes`` episodes."""
    seed: int = 0
    """Seed of everything: network initialization, action noise, environments."""

    def __post_init__(self):
        _check_choice("estimator", self.estimator, ESTIMATORS)
        _check_choice("baseline", self.baseline, BASELINES)
        if self.baseline == "value" and self.estimator != "reward_to_go":
            raise ValueError("baseline='value' needs estimator='reward_to_go'")
        _validate.probability("gamma", self.gamma, open_low=False)
        _validate.integer_at_least("total_episodes", self.total_episodes, 1)
        _validate.integer_at_least("episodes_per_batch", self.episodes_per_batch, 1)
        if self.num_envs is not None:
            _validate.integer_at_least("num_envs", self.num_envs, 1)
        _validate.positive("learning_rate", self.learning_rate)
        _validate.positive("value_learning_rate", self.value_learning_rate)
        _validate.integer_at_least("value_iterations", self.value_iterations, 1)
        _validate.integer_at_least("eval_episodes", self.eval_episodes, 1)
        if self.max_steps is not None:
            _validate.integer_at_least("max_steps", self.max_steps, 1)
        if ":" not in str(self.env_id):
            _validate.env_id("env_id", self.env_id)
        if isinstance(self.hidden, (str, bytes)) or not hasattr(self.hidden, "__iter__"):
            raise TypeError(f"hidden must be a sequence of layer sizes, e.g. (32,), got {type(self.hidden).__name__}")
        for i, h in enumerate(self.hidden):
            _validate.integer_at_least(f"hidden[{i}]", h, 1)
        for name in ("eval_threshold", "target"):
            if getattr(self, name) is not None:
                _validate.real(name, getattr(self, name))
        _validate.real("log_std_init", self.log_std_init)
        _validate.seed("seed", self.seed)
        for name in ("normalize_weights", "stop_at_target", "final_eval"):
            _validate.boolean(name, getattr(self, name))
        self.hidden = tuple(int(h) for h in self.hidden)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ReinforceHistory:
    """What happened during :func:`train`, one entry per gradient step; ``plot()`` draws the learning curve. Chapter 2."""

    episodes: list[int] = field(default_factory=list)
    env_steps: list[int] = field(default_factory=list)
    mean_return: list[float] = field(default_factory=list)
    episode_returns: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    value_loss: list[float] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    eval_at: list[int] = field(default_factory=list)
    eval_mean: list[float] = field(default_factory=list)
    eval_std: list[float] = field(default_factory=list)
    solved_at: int | None = None

    def __len__(self) -> int:
        return len(self.episodes)

    def record(self, *, episodes: int, env_steps: int, returns: np.ndarray, grad_norm: float,
               value_loss: float, wall_time: float) -> None:
        """Append one gradient step: totals so far, the batch's episode returns and the step's diagnostics."""
        self.episodes.append(episodes)
        self.env_steps.append(env_steps)
        self.mean_return.append(float(np.mean(returns)))
        self.episode_returns.extend(float(r) for r in returns)
        self.grad_norm.append(grad_norm)
        self.value_loss.append(value_loss)
        self.wall_time.append(wall_time)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ReinforceHistory":
        known = {f.name for f in fields(cls)}
        return cls(**{k: (list(v) if isinstance(v, list) else v) for k, v in data.items() if k in known})

    def plot(self, ax=None, *, x: str = "episodes", label: str | None = None, window: int = 1):
        """Batch mean return (moving average over ``window`` batches) against ``x`` ("episodes", "env_steps" or "wall_time"), evaluations as dots."""
        import matplotlib.pyplot as plt

        if x not in ("episodes", "env_steps", "wall_time"):
            raise ValueError(f"x must be 'episodes', 'env_steps' or 'wall_time', got {x!r}")
        window = _validate.integer_at_least("window", window, 1)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        xs = np.asarray(getattr(self, x))
        ys = np.asarray(self.mean_return)
        if window > 1 and ys.size >= window:
            ys = np.convolve(ys, np.ones(window) / window, mode="valid")
            xs = xs[window - 1 :]
        (line,) = ax.plot(xs, ys, label=label or "training batches")
        if self.eval_at and x == "episodes":
            ax.errorbar(self.eval_at, self.eval_mean, yerr=self.eval_std, fmt="o", ms=4, color=line.get_color(), alpha=0.8,
                        label=f"{label or 'policy'}: evaluation")
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel("return (maximized)")
        ax.legend(fontsize="small")
        return ax


@dataclass
class ReinforceResult:
    """Outcome of :func:`train`: the trained ``policy``, the ``value_fn`` (or None), the ``history`` and the ``config``."""

    policy: Policy
    value_fn: ValueFunction | None
    history: ReinforceHistory
    config: ReinforceConfig


def train(
    config: ReinforceConfig | None = None,
    *,
    progress: bool = True,
    callback: Callable[["ReinforceResult"], bool | None] | None = None,
    **overrides,
) -> ReinforceResult:
    """Train a policy with REINFORCE (Algorithms 4-7, batched). Chapter 2.

    Each step: collect ``episodes_per_batch`` episodes through a ``SyncVectorEnv``, compute
    the weights (:func:`policy_gradient_weights`), take one Adam step on
    :func:`surrogate_loss`, then refit the value baseline if there is one.

    Parameters
    ----------
    config : ReinforceConfig, optional
        All hyperparameters; keyword ``overrides`` replace fields (``train(estimator="whole_return")``).
    progress : bool
        Show a ``tqdm`` bar over episodes.
    callback : callable, optional
        ``callback(result)`` after every gradient step, with the :class:`ReinforceResult` so far
        (policy, value function, history, config); returning True stops training.

    Returns
    -------
    ReinforceResult
    """
    torch.set_num_threads(1)
    if config is not None:
        _validate.instance("config", config, ReinforceConfig, "ReinforceConfig or None")
    _validate.boolean("progress", progress)
    if callback is not None:
        _validate.callable_("callback", callback)
    config = ReinforceConfig(**{**(config.to_dict() if config else {}), **overrides})
    num_envs = config.num_envs or config.episodes_per_batch
    envs = make_vector_env(config.env_id, num_envs, max_steps=config.max_steps)
    try:
        policy_kwargs = {} if isinstance(envs.single_action_space, gym.spaces.Discrete) else {"log_std_init": config.log_std_init}
        policy = make_policy(envs.single_observation_space, envs.single_action_space, config.hidden, seed=config.seed, **policy_kwargs)
        optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
        value_fn = value_opt = None
        if config.baseline == "value":
            value_fn = ValueFunction(policy.obs_dim, config.hidden, seed=config.seed + 1)
            value_opt = torch.optim.Adam(value_fn.parameters(), lr=config.value_learning_rate)
        generator = torch.Generator().manual_seed(config.seed)
        history = ReinforceHistory()
        result = ReinforceResult(policy, value_fn, history, config)
        done_episodes, env_steps, start = 0, 0, time.perf_counter()
        first = True
        with tqdm(total=config.total_episodes, desc=f"REINFORCE {config.estimator}/{config.baseline}", disable=not progress, leave=False) as bar:
            while done_episodes < config.total_episodes:
                n = min(config.episodes_per_batch, config.total_episodes - done_episodes)
                episodes = collect_episodes(envs, policy, n, generator=generator, seed=config.seed if first else None, max_steps=config.max_steps)
                first = False
                batch = EpisodeBatch(episodes)
                weights = policy_gradient_weights(batch, estimator=config.estimator, baseline=config.baseline, gamma=config.gamma, value_fn=value_fn)
                if config.normalize_weights and weights.size > 1:
                    weights = (weights - weights.mean()) / (weights.std() + 1e-8)
                optimizer.zero_grad()
                surrogate_loss(policy, batch, weights).backward()
                grad_norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in policy.parameters() if p.grad is not None)))
                optimizer.step()
                value_loss = float("nan")
                if value_fn is not None:
                    value_loss = fit_value_function(value_fn, value_opt, batch, config.gamma, config.value_iterations)
                done_episodes += n
                env_steps += batch.num_steps
                returns = batch.total_rewards
                history.record(episodes=done_episodes, env_steps=env_steps, returns=returns, grad_norm=grad_norm,
                               value_loss=value_loss, wall_time=time.perf_counter() - start)
                bar.update(n)
                bar.set_postfix(ret=f"{returns.mean():.1f}", refresh=False)
                if (
                    config.eval_threshold is not None
                    and history.solved_at is None
                    and returns.mean() >= config.eval_threshold
                ):
                    _evaluate(history, policy, config, done_episodes)
                    if history.solved_at is not None and config.stop_at_target:
                        break
                if callback is not None and callback(result):
                    break
        if config.final_eval and (not history.eval_at or history.eval_at[-1] != done_episodes):
            _evaluate(history, policy, config, done_episodes)
    finally:
        envs.close()
    return result


def _evaluate(history: ReinforceHistory, policy: Policy, config: ReinforceConfig, at: int) -> None:
    returns = evaluate_policy(policy, config.env_id, config.eval_episodes, seed=10_000 * (config.seed + 1) + at, max_steps=config.max_steps)
    history.eval_at.append(at)
    history.eval_mean.append(float(returns.mean()))
    history.eval_std.append(float(returns.std()))
    if config.target is not None and history.solved_at is None and returns.mean() >= config.target:
        history.solved_at = at
