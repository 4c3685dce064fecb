r"""Generalized advantage estimation and the on-policy batches shared by TRPO and PPO (chapter 7).

Chapter 2 weighted each score :math:`\nabla\log\pi(a_t\mid s_t)` by the reward-to-go minus a
learned baseline, :math:`G_t - V(s_t)`. Generalized advantage estimation (Schulman et al. 2016)
interpolates between that Monte Carlo weight and the one-step temporal-difference error

.. math::
    \delta_t = r_t + \gamma V(s_{t+1}) - V(s_t),\qquad
    \hat A_t^{\mathrm{GAE}(\gamma,\lambda)} = \sum_{k\ge 0} (\gamma\lambda)^k\,\delta_{t+k},

computed backwards as :math:`\hat A_t = \delta_t + \gamma\lambda\hat A_{t+1}`. With
:math:`\lambda = 1` the sum telescopes to :math:`G_t - V(s_t)` (unbiased, high variance); with
:math:`\lambda = 0` it is :math:`\delta_t` (low variance, biased unless :math:`V` is exact).
The value targets are the :math:`\lambda`-returns :math:`\hat A_t + V(s_t)`.

An episode that *terminated* has :math:`V(s_T) = 0`; one that was *truncated* (a time limit)
did not end, and its tail is bootstrapped with :math:`V(s_T)` of the observation after the last
step (:attr:`pgnotes.rl.rollouts.Episode.final_observation`).

:func:`collect_batch` gathers at least a given number of steps of whole episodes with the
course's collector (:func:`pgnotes.rl.rollouts.collect_episodes`) and attaches advantages and
value targets: the :class:`AdvantageBatch` that :func:`pgnotes.rl.natural_pg.trpo_step` and
:func:`pgnotes.rl.ppo.ppo_update` consume. :class:`OnPolicyHistory` records training and plots
itself against environment steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import gymnasium as gym
import numpy as np
import torch

from pgnotes import _validate
from pgnotes.rl.policies import Policy, ValueFunction
from pgnotes.rl.rollouts import Episode, EpisodeBatch, collect_episodes, evaluate_policy

__all__ = ["td_errors", "gae", "episode_advantages", "AdvantageBatch", "collect_batch", "OnPolicyHistory", "evaluate_and_record"]


def _check_episode(rewards, values, last_value):
    rewards = _validate.finite_array("rewards", rewards, ndim=1)
    values = _validate.finite_array("values", values, shape=(rewards.size,))
    last_value = _validate.finite_array("last_value", last_value, ndim=0).item()
    return rewards, values, last_value


def td_errors(rewards, values, last_value: float = 0.0, *, gamma: float = 0.99) -> np.ndarray:
    r"""One-step TD errors :math:`\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)` of one episode, shape (T,). Chapter 7.

    ``values`` are :math:`V(s_0),\dots,V(s_{T-1})`; ``last_value`` is :math:`V(s_T)` (0 for a
    terminated episode, the bootstrap for a truncated one).
    """
    rewards, values, last_value = _check_episode(rewards, values, last_value)
    gamma = _validate.probability("gamma", gamma, open_low=False)
    next_values = np.append(values[1:], last_value)
    return rewards + gamma * next_values - values


def gae(rewards, values, last_value: float = 0.0, *, gamma: float = 0.99, lam: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    r"""GAE(:math:`\gamma,\lambda`) advantages of one episode and the :math:`\lambda`-return value targets, each shape (T,). Chapter 7.

    :math:`\hat A_t = \delta_t + \gamma\lambda\hat A_{t+1}` backwards from :math:`\hat A_T = 0`;
    targets :math:`\hat A_t + V(s_t)`. ``lam=1`` gives the reward-to-go minus the baseline,
    ``lam=0`` the TD errors of :func:`td_errors` (both tested).

    Parameters
    ----------
    rewards, values : array (T,)
        :math:`r_t` and :math:`V(s_t)` for :math:`t = 0..T-1`.
    last_value : float
        :math:`V(s_T)`: 0 if the episode terminated, the value of the final observation if it
        was truncated.
    gamma, lam : float in [0, 1]
        Discount and the GAE parameter :math:`\lambda` (Schulman et al. 2016 use 0.99 and 0.95-0.99).
    """
    lam = _validate.probability("lam", lam, open_low=False)
    deltas = td_errors(rewards, values, last_value, gamma=gamma)
    decay = float(gamma) * lam
    advantages = np.empty_like(deltas)
    running = 0.0
    for t in range(deltas.size - 1, -1, -1):
        running = deltas[t] + decay * running
        advantages[t] = running
    return advantages, advantages + np.asarray(values, dtype=np.float64)


def episode_advantages(episodes: list[Episode], value_fn: ValueFunction | None, *, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """GAE advantages and value targets of several episodes, concatenated in time order (chapter 7).

    ``value_fn=None`` means :math:`V\\equiv 0` (then ``lam=1`` gives the plain reward-to-go).
    A truncated episode bootstraps with ``value_fn(final_observation)``; without a recorded final
    observation its tail value is taken as 0.
    """
    advs, targets = [], []
    for e in episodes:
        if value_fn is None:
            values, last = np.zeros(len(e)), 0.0
        else:
            with torch.no_grad():
                obs = torch.as_tensor(np.asarray(e.observations), dtype=torch.float32)
                values = value_fn(obs).double().numpy()
                last = 0.0
                if e.truncated and not e.terminated and e.final_observation is not None:
                    final = torch.as_tensor(np.asarray(e.final_observation)[None], dtype=torch.float32)
                    last = float(value_fn(final)[0])
        a, g = gae(e.rewards, values, last, gamma=gamma, lam=lam)
        advs.append(a)
        targets.append(g)
    return np.concatenate(advs), np.concatenate(targets)


@dataclass
class AdvantageBatch:
    """Whole episodes with everything a TRPO or PPO update needs, as tensors (chapter 7).

    ``log_probs`` are those of the policy that collected the batch (the "old" policy
    :math:`\\pi_{\\theta_\\text{old}}` of the importance ratio).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    episode_returns: np.ndarray
    episode_lengths: np.ndarray

    @property
    def num_steps(self) -> int:
        return int(self.advantages.shape[0])

    @classmethod
    def from_episodes(cls, episodes: list[Episode], value_fn: ValueFunction | None, *, gamma: float, lam: float) -> "AdvantageBatch":
        """Advantages by :func:`episode_advantages`; the rest from :class:`~pgnotes.rl.rollouts.EpisodeBatch`."""
        batch = EpisodeBatch(episodes)
        adv, targets = episode_advantages(episodes, value_fn, gamma=gamma, lam=lam)
        return cls(
            observations=batch.observations,
            actions=batch.actions,
            log_probs=torch.as_tensor(batch.log_probs, dtype=torch.float32),
            advantages=torch.as_tensor(adv, dtype=torch.float32),
            returns=torch.as_tensor(targets, dtype=torch.float32),
            episode_returns=batch.total_rewards,
            episode_lengths=batch.lengths,
        )


def collect_batch(
    envs: gym.vector.VectorEnv,
    policy: Policy,
    value_fn: ValueFunction | None,
    min_steps: int,
    *,
    gamma: float = 0.99,
    lam: float = 0.95,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    max_steps: int | None = None,
) -> AdvantageBatch:
    """Whole episodes totalling at least ``min_steps`` steps, with GAE advantages (chapter 7).

    Calls :func:`~pgnotes.rl.rollouts.collect_episodes` for ``envs.num_envs`` episodes at a
    time until the kept episodes hold ``min_steps`` steps (so a batch can overshoot by up to one
    round of episodes). ``seed`` seeds the environments' first reset only.
    """
    min_steps = _validate.integer_at_least("min_steps", min_steps, 1)
    episodes: list[Episode] = []
    steps = 0
    while steps < min_steps:
        new = collect_episodes(envs, policy, envs.num_envs, generator=generator, seed=seed if not episodes else None,
                               max_steps=max_steps)
        episodes.extend(new)
        steps += sum(len(e) for e in new)
    return AdvantageBatch.from_episodes(episodes, value_fn, gamma=gamma, lam=lam)


@dataclass
class OnPolicyHistory:
    """What happened during TRPO or PPO training, one entry per batch; ``plot()`` draws the learning curve. Chapter 7."""

    env_steps: list[int] = field(default_factory=list)
    episodes: list[int] = field(default_factory=list)
    mean_return: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    value_loss: list[float] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    eval_at: list[int] = field(default_factory=list)
    eval_mean: list[float] = field(default_factory=list)
    eval_std: list[float] = field(default_factory=list)
    solved_at: int | None = None
    """Environment steps (training only) at the first evaluation reaching the target; None if never."""

    def __len__(self) -> int:
        return len(self.env_steps)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "OnPolicyHistory":
        known = {f.name for f in fields(cls)}
        return cls(**{k: (list(v) if isinstance(v, list) else v) for k, v in data.items() if k in known})

    def plot(self, ax=None, *, label: str | None = None):
        """Batch mean return against environment steps, evaluations (mean ± std) as dots."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        (line,) = ax.plot(self.env_steps, self.mean_return, label=label or "training batches")
        if self.eval_at:
            ax.errorbar(self.eval_at, self.eval_mean, yerr=self.eval_std, fmt="o", ms=4, color=line.get_color(), alpha=0.8,
                        label=f"{label or 'policy'}: evaluation")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("return (maximized)")
        ax.legend(fontsize="small")
        return ax


def evaluate_and_record(history: OnPolicyHistory, policy: Policy, env_id: str, *, at: int, seed: int, episodes: int = 100,
                        target: float | None = None, max_steps: int | None = None) -> float:
    """Evaluate the stochastic policy on ``episodes`` fresh episodes (chapter 2's protocol) and record it at ``at`` steps. Chapter 7."""
    returns = evaluate_policy(policy, env_id, episodes, seed=seed, max_steps=max_steps)
    history.eval_at.append(int(at))
    history.eval_mean.append(float(returns.mean()))
    history.eval_std.append(float(returns.std()))
    if target is not None and history.solved_at is None and returns.mean() >= target:
        history.solved_at = int(at)
    return float(returns.mean())
