r"""What every policy-gradient trainer shares: configuration, history, evaluation (chapters 2 and 7).

REINFORCE (:func:`pgnotes.rl.reinforce.train`), off-policy REINFORCE with a replay buffer
(:func:`pgnotes.rl.offpolicy.train`), TRPO (:func:`pgnotes.rl.natural_pg.train`) and PPO
(:func:`pgnotes.rl.ppo.train`) differ only in how they turn a batch of episodes into an update.
Around the update they run the same loop, and this module is that common part, written once:

* :func:`run_training`: the loop itself (environments, networks, generator, progress bar,
  history, evaluations); each trainer passes the step that collects its batch and updates;

* :class:`TrainerConfig`: the fields every trainer has (environment, discount, network sizes,
  step limit, evaluation protocol, seed), validated in one place; each trainer's config
  dataclass extends it with the fields of its update;
* :func:`build_networks`: the policy (:func:`~pgnotes.rl.policies.make_policy`) and the value
  network :math:`V_\phi`, both built from the config's seed (``seed`` and ``seed + 1``)
  without touching torch's global generator;
* :class:`TrainingHistory`: one entry per update (episodes and environment steps so far, the
  batch's mean return, the value loss, wall time) plus the evaluations, with ``record``,
  ``plot``, ``to_dict`` and ``from_dict``; :class:`~pgnotes.rl.reinforce.ReinforceHistory` and
  :class:`OnPolicyHistory` add their update's diagnostic (gradient norm, KL);
* :func:`evaluate_and_record` and :func:`evaluate_if_due`: chapter 2's evaluation protocol
  (the stochastic policy on ``eval_episodes`` fresh episodes through
  :func:`pgnotes.rl.rollouts.evaluate_policy`), run when a training batch's mean return reaches
  ``eval_threshold``, recording the first that reaches ``target``.

All episodes, training and evaluation, come from :mod:`pgnotes.rl.rollouts`, the one trajectory
collector of the policy-gradient chapters.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, ClassVar

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from pgnotes import _validate
from pgnotes.rl.policies import Policy, ValueFunction, make_policy
from pgnotes.rl.rollouts import evaluate_policy, make_vector_env

__all__ = [
    "TrainerConfig",
    "OnPolicyConfig",
    "build_networks",
    "gradient_norm",
    "TrainingHistory",
    "OnPolicyHistory",
    "evaluate_and_record",
    "evaluate_config",
    "evaluate_if_due",
    "run_training",
]


@dataclass
class TrainerConfig:
    """The fields every policy-gradient trainer shares (chapters 2 and 7); trainers' configs extend it."""

    env_id: str = "CartPole-v1"
    """Gymnasium id of the environment."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    hidden: tuple[int, ...] = (32,)
    """Hidden layer sizes of the policy (and of the value network)."""
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
    seed: int = 0
    """Seed of everything: network initialization, action noise, minibatch order, environments."""

    def __post_init__(self):
        if ":" not in str(self.env_id):  # "module:Env-v0" imports a module that registers the id
            _validate.env_id("env_id", self.env_id)
        _validate.probability("gamma", self.gamma, open_low=False)
        if isinstance(self.hidden, (str, bytes)) or not hasattr(self.hidden, "__iter__"):
            raise TypeError(f"hidden must be a sequence of layer sizes, e.g. (32,), got {type(self.hidden).__name__}")
        for i, h in enumerate(self.hidden):
            _validate.integer_at_least(f"hidden[{i}]", h, 1)
        if self.max_steps is not None:
            _validate.integer_at_least("max_steps", self.max_steps, 1)
        _validate.real("log_std_init", self.log_std_init)
        _validate.integer_at_least("eval_episodes", self.eval_episodes, 1)
        for name in ("eval_threshold", "target"):
            if getattr(self, name) is not None:
                _validate.real(name, getattr(self, name))
        _validate.boolean("stop_at_target", self.stop_at_target)
        _validate.seed("seed", self.seed)
        self.hidden = tuple(int(h) for h in self.hidden)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def with_overrides(cls, config: "TrainerConfig | None", overrides: dict):
        """``config`` (or the defaults) with the fields in ``overrides`` replaced, validated: ``train(config, **overrides)``."""
        if config is not None:
            _validate.instance("config", config, cls, f"{cls.__name__} or None")
        return cls(**{**(config.to_dict() if config else {}), **overrides})


@dataclass
class OnPolicyConfig(TrainerConfig):
    """The fields TRPO and PPO share (chapter 7): a batch is at least ``steps_per_batch`` steps of whole episodes with GAE advantages.

    Defaults are PPO's CartPole-v1 setting; :class:`~pgnotes.rl.natural_pg.TRPOConfig` changes
    ``total_steps``, ``steps_per_batch`` and ``lam``.
    """

    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the policy and of the value network (separate networks)."""
    total_steps: int = 100_000
    """Training budget in environment steps (of kept episodes)."""
    steps_per_batch: int = 1024
    """Minimum environment steps per update (whole episodes)."""
    num_envs: int = 8
    """Sub-environments of the ``SyncVectorEnv``."""
    lam: float = 0.95
    """GAE parameter :math:`\\lambda`."""
    normalize_advantages: bool = True
    """Standardize the advantages (TRPO: per batch; PPO: per minibatch)."""

    def __post_init__(self):
        _validate.integer_at_least("total_steps", self.total_steps, 1)
        _validate.integer_at_least("steps_per_batch", self.steps_per_batch, 1)
        _validate.integer_at_least("num_envs", self.num_envs, 1)
        _validate.probability("lam", self.lam, open_low=False)
        _validate.boolean("normalize_advantages", self.normalize_advantages)
        super().__post_init__()


def build_networks(envs: gym.vector.VectorEnv, config: TrainerConfig, *, value: bool = True) -> tuple[Policy, ValueFunction | None]:
    """The policy for the environment's spaces (seed ``config.seed``) and, if ``value``, a value network (seed ``config.seed + 1``)."""
    policy_kwargs = {} if isinstance(envs.single_action_space, gym.spaces.Discrete) else {"log_std_init": config.log_std_init}
    policy = make_policy(envs.single_observation_space, envs.single_action_space, config.hidden, seed=config.seed, **policy_kwargs)
    value_fn = ValueFunction(policy.obs_dim, config.hidden, seed=config.seed + 1) if value else None
    return policy, value_fn


def gradient_norm(module: torch.nn.Module) -> float:
    """Euclidean norm of the module's current gradients (parameters without a gradient are skipped)."""
    return float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in module.parameters() if p.grad is not None)))


_AXIS_LABELS = {"episodes": "episodes", "env_steps": "environment steps", "wall_time": "wall time (s)"}


@dataclass
class TrainingHistory:
    """What happened during training, one entry per update; ``plot()`` draws the learning curve (chapters 2 and 7).

    ``eval_at`` counts in the unit of :attr:`eval_unit` (episodes for REINFORCE, environment
    steps for TRPO and PPO), and so does ``solved_at``.
    """

    eval_unit: ClassVar[str] = "episodes"

    episodes: list[int] = field(default_factory=list)
    """Training episodes so far, after each update."""
    env_steps: list[int] = field(default_factory=list)
    """Environment steps of the training episodes so far."""
    mean_return: list[float] = field(default_factory=list)
    """Mean undiscounted return of each update's fresh episodes."""
    value_loss: list[float] = field(default_factory=list)
    """Value-network regression loss of each update (NaN without a value network)."""
    wall_time: list[float] = field(default_factory=list)
    """Seconds since the start of training."""
    eval_at: list[int] = field(default_factory=list)
    """When each evaluation ran (in :attr:`eval_unit`)."""
    eval_mean: list[float] = field(default_factory=list)
    """Mean return of each evaluation."""
    eval_std: list[float] = field(default_factory=list)
    """Standard deviation of the returns of each evaluation."""
    solved_at: int | None = None
    """First evaluation reaching the target (in :attr:`eval_unit`); None if never."""

    def __len__(self) -> int:
        return len(self.episodes)

    def record(self, *, episodes: int, env_steps: int, returns: np.ndarray, value_loss: float, wall_time: float, **diagnostics) -> None:
        """Append one update: totals so far, the batch's episode returns, the value loss, and the update's own diagnostics (e.g. ``kl=...``)."""
        self.episodes.append(episodes)
        self.env_steps.append(env_steps)
        self.mean_return.append(float(np.mean(returns)))
        self.value_loss.append(value_loss)
        self.wall_time.append(wall_time)
        for name, value in diagnostics.items():
            getattr(self, name).append(value)

    def record_evaluation(self, returns: np.ndarray, *, at: int, target: float | None = None) -> None:
        """Append an evaluation's mean and standard deviation at ``at``; the first reaching ``target`` sets ``solved_at``."""
        self.eval_at.append(int(at))
        self.eval_mean.append(float(returns.mean()))
        self.eval_std.append(float(returns.std()))
        if target is not None and self.solved_at is None and returns.mean() >= target:
            self.solved_at = int(at)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        return cls(**{k: (list(v) if isinstance(v, list) else v) for k, v in data.items() if k in known})

    def plot(self, ax=None, *, x: str | None = None, label: str | None = None, window: int = 1):
        """Batch mean return (moving average over ``window`` updates) against ``x``, evaluations (mean ± std) as dots.

        ``x`` is ``"episodes"``, ``"env_steps"`` or ``"wall_time"`` (default :attr:`eval_unit`);
        evaluations are drawn when ``x`` is the unit they were recorded in.
        """
        import matplotlib.pyplot as plt

        x = self.eval_unit if x is None else x
        if x not in _AXIS_LABELS:
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
        if self.eval_at and x == self.eval_unit:
            ax.errorbar(self.eval_at, self.eval_mean, yerr=self.eval_std, fmt="o", ms=4, color=line.get_color(), alpha=0.8,
                        label=f"{label or 'policy'}: evaluation")
        ax.set_xlabel(_AXIS_LABELS[x])
        ax.set_ylabel("return (maximized)")
        ax.legend(fontsize="small")
        return ax


@dataclass
class OnPolicyHistory(TrainingHistory):
    """:class:`TrainingHistory` of TRPO and PPO (chapter 7): evaluations counted in environment steps, plus each update's KL."""

    eval_unit: ClassVar[str] = "env_steps"

    kl: list[float] = field(default_factory=list)
    """Mean KL divergence between the policy before and after each update."""


def evaluate_and_record(history: TrainingHistory, policy: Policy, env_id: str, *, at: int, seed: int, episodes: int = 100,
                        target: float | None = None, max_steps: int | None = None) -> float:
    """Evaluate the stochastic policy on ``episodes`` fresh episodes (chapter 2's protocol) and record it at ``at``; returns the mean."""
    returns = evaluate_policy(policy, env_id, episodes, seed=seed, max_steps=max_steps)
    history.record_evaluation(returns, at=at, target=target)
    return float(returns.mean())


def evaluate_config(history: TrainingHistory, policy: Policy, config: TrainerConfig, at: int) -> float:
    """:func:`evaluate_and_record` with the config's protocol; the episodes' seed is ``10_000 * (seed + 1) + at``."""
    return evaluate_and_record(history, policy, config.env_id, at=at, seed=10_000 * (config.seed + 1) + at,
                               episodes=config.eval_episodes, target=config.target, max_steps=config.max_steps)


def evaluate_if_due(history: TrainingHistory, policy: Policy, config: TrainerConfig, *, at: int, batch_mean: float) -> bool:
    """Evaluate (:func:`evaluate_config`) if the batch mean reached ``eval_threshold`` and the target is not met yet; True: stop training."""
    if config.eval_threshold is None or history.solved_at is not None or not batch_mean >= config.eval_threshold:
        return False
    evaluate_config(history, policy, config, at)
    return history.solved_at is not None and config.stop_at_target


Step = Callable[[int, "int | None"], "tuple[np.ndarray, int, dict]"]


def run_training(config: TrainerConfig, history: TrainingHistory, make_step: Callable[..., Step], *, total: int, num_envs: int,
                 name: str, progress: bool = True, value: bool = True, final_eval: bool = False,
                 callback: Callable[[Policy, ValueFunction | None], bool | None] | None = None) -> tuple[Policy, ValueFunction | None]:
    """The loop every policy-gradient trainer runs (chapters 2 and 7); the trainer passes what differs.

    Builds ``num_envs`` environments (:func:`~pgnotes.rl.rollouts.make_vector_env`), the networks
    (:func:`build_networks`; a value network if ``value``) and a ``torch.Generator`` seeded by
    ``config.seed``, then ``step = make_step(envs, policy, value_fn, generator)``. Each iteration
    calls ``step(done, seed)``, which collects fresh episodes through :mod:`pgnotes.rl.rollouts`
    (resetting the environments with ``seed``, given on the first call only) and updates, and
    returns the episodes' returns, their number of steps and the update's diagnostics
    (``value_loss`` and the history's own series, e.g. ``grad_norm`` or ``kl``). ``done`` counts
    in ``history.eval_unit`` (episodes or environment steps) up to ``total``. After each
    update: a history entry, an evaluation when due (:func:`evaluate_if_due`), then
    ``callback(policy, value_fn)``, which may return True to stop. With ``final_eval``, the final
    policy is evaluated unless the last update just was. Returns ``(policy, value_fn)``.
    """
    torch.set_num_threads(1)
    _validate.boolean("progress", progress)
    envs = make_vector_env(config.env_id, num_envs, max_steps=config.max_steps)
    try:
        policy, value_fn = build_networks(envs, config, value=value)
        step = make_step(envs, policy, value_fn, torch.Generator().manual_seed(config.seed))
        episodes = steps = done = 0
        start = time.perf_counter()
        with tqdm(total=total, desc=name, disable=not progress, leave=False) as bar:
            while done < total:
                returns, num_steps, diagnostics = step(done, config.seed if done == 0 else None)
                episodes += len(returns)
                steps += num_steps
                history.record(episodes=episodes, env_steps=steps, returns=returns, wall_time=time.perf_counter() - start, **diagnostics)
                now = episodes if history.eval_unit == "episodes" else steps
                bar.update(min(now - done, total - bar.n))
                bar.set_postfix(ret=f"{history.mean_return[-1]:.1f}", refresh=False)
                done = now
                if evaluate_if_due(history, policy, config, at=done, batch_mean=history.mean_return[-1]):
                    break
                if callback is not None and callback(policy, value_fn):
                    break
        if final_eval and (not history.eval_at or history.eval_at[-1] != done):
            evaluate_config(history, policy, config, done)
    finally:
        envs.close()
    return policy, value_fn
