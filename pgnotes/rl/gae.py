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
course's collector (:func:`pgnotes.rl.rollouts.collect_steps`) and attaches advantages and
value targets: the :class:`AdvantageBatch` that :func:`pgnotes.rl.natural_pg.trpo_step` and
:func:`pgnotes.rl.ppo.ppo_update` consume. :func:`train_on_policy` is the loop TRPO and PPO share
(collect a batch, update, record, evaluate when due); its
:class:`~pgnotes.rl.training.OnPolicyHistory` plots itself against environment steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from pgnotes import _validate
from pgnotes.rl.policies import Policy, ValueFunction
from pgnotes.rl.rollouts import Episode, EpisodeBatch, collect_steps
from pgnotes.rl.training import OnPolicyConfig, OnPolicyHistory, evaluate_and_record, run_training

__all__ = ["td_errors", "gae", "episode_advantages", "AdvantageBatch", "collect_batch", "train_on_policy"]
# OnPolicyHistory and evaluate_and_record live in pgnotes.rl.training (documented there) and stay importable from here.


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

    The episodes come from :func:`~pgnotes.rl.rollouts.collect_steps` (``envs.num_envs``
    episodes at a time until they hold ``min_steps`` steps, so a batch can overshoot by up to
    one round of episodes). ``seed`` seeds the environments' first reset only.
    """
    episodes = collect_steps(envs, policy, min_steps, generator=generator, seed=seed, max_steps=max_steps)
    return AdvantageBatch.from_episodes(episodes, value_fn, gamma=gamma, lam=lam)


def train_on_policy(config: OnPolicyConfig, make_update: Callable, *, name: str, progress: bool = True
                    ) -> tuple[Policy, ValueFunction, OnPolicyHistory]:
    """The training loop TRPO and PPO share (chapter 7); ``make_update`` is what differs.

    ``make_update(policy, value_fn, generator)`` returns ``update(batch) -> (kl, value_loss)``.
    Each iteration of :func:`~pgnotes.rl.training.run_training`: :func:`collect_batch` (whole
    episodes, at least ``steps_per_batch`` steps, advantages from the current value network),
    then ``update``. Environment steps count the kept episodes' steps; evaluation episodes are
    not counted.
    """

    def make_step(envs, policy, value_fn, generator):
        update = make_update(policy, value_fn, generator)

        def step(done: int, seed: int | None):
            batch = collect_batch(envs, policy, value_fn, config.steps_per_batch, gamma=config.gamma, lam=config.lam,
                                  generator=generator, seed=seed, max_steps=config.max_steps)
            kl, value_loss = update(batch)
            return batch.episode_returns, batch.num_steps, {"kl": kl, "value_loss": value_loss}

        return step

    history = OnPolicyHistory()
    policy, value_fn = run_training(config, history, make_step, total=config.total_steps, num_envs=config.num_envs, name=name,
                                    progress=progress)
    return policy, value_fn, history
