r"""Collecting episodes in batches through Gymnasium vector environments (chapter 2).

A trajectory :math:`\tau = (s_0, a_0, r_1, s_1, a_1, \dots)` is the "solution" of the search
gradient view, sampled by running the policy in the environment. REINFORCE needs whole
episodes, several per update; :func:`collect_episodes` runs ``num_envs`` copies of the
environment side by side (``gymnasium.vector.SyncVectorEnv``: for cheap environments the
in-process vector env beats subprocesses) and returns exactly ``num_episodes`` complete
episodes; :func:`collect_steps` collects whole episodes until they hold a number of steps (the
batches of TRPO and PPO, chapter 7); :func:`evaluate_policy` runs fresh episodes for evaluation.
This module is the one place where the policy-gradient chapters step an environment.

Which episodes are kept matters: keeping the first ``N`` episodes to *finish* would favour short
episodes (a biased sample). Episodes are numbered in the order they *start*, the first
``num_episodes`` started are kept, and collection runs until all of them have finished.

Every episode is capped at ``max_steps`` steps (truncated, as a time limit does), so a policy
that never reaches a terminal state cannot hang the collection. Non-finite rewards raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from pgnotes import _validate
from pgnotes.rl.policies import Policy

__all__ = ["Episode", "EpisodeBatch", "make_vector_env", "collect_episodes", "collect_steps", "evaluate_policy", "DEFAULT_MAX_STEPS"]

DEFAULT_MAX_STEPS = 1000
"""Step limit used when neither the caller nor the environment's spec gives one."""


@dataclass
class Episode:
    """One complete episode. ``log_probs`` are :math:`\\log\\pi(a_t\\mid s_t)` under the policy that collected it."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    log_probs: np.ndarray
    terminated: bool
    truncated: bool
    final_observation: np.ndarray | None = None
    """The observation after the last step (None if not recorded): a truncated episode's value
    estimate :math:`V(s_T)` bootstraps the cut-off tail (GAE, chapter 7)."""

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def total_reward(self) -> float:
        """Undiscounted return :math:`\\sum_t r_t` (what CartPole's score counts)."""
        return float(np.sum(self.rewards))

    def discounted_return(self, gamma: float) -> float:
        """:math:`\\sum_t \\gamma^t r_{t+1}`."""
        return float(np.sum(self.rewards * gamma ** np.arange(len(self))))


@dataclass
class EpisodeBatch:
    """Episodes concatenated along time, as tensors for one gradient step (chapter 2).

    ``episode_index[i]`` and ``time_index[i]`` say which episode and step row ``i`` is.
    """

    episodes: list[Episode]
    observations: torch.Tensor = field(init=False)
    actions: torch.Tensor = field(init=False)
    rewards: np.ndarray = field(init=False)
    log_probs: np.ndarray = field(init=False)
    episode_index: np.ndarray = field(init=False)
    time_index: np.ndarray = field(init=False)

    def __post_init__(self):
        if isinstance(self.episodes, Episode) or not hasattr(self.episodes, "__len__"):
            raise TypeError(f"episodes must be a list of Episode objects, got {type(self.episodes).__name__}")
        for i, e in enumerate(self.episodes):
            _validate.instance(f"episodes[{i}]", e, Episode, "pgnotes.rl.rollouts.Episode")
        if len(self.episodes) < 1:
            raise ValueError("episodes must hold at least one episode")
        obs = np.concatenate([e.observations for e in self.episodes])
        self.observations = torch.as_tensor(obs, dtype=torch.long if np.issubdtype(obs.dtype, np.integer) else torch.float32)
        acts = np.concatenate([e.actions for e in self.episodes])
        self.actions = torch.as_tensor(acts, dtype=torch.long if np.issubdtype(acts.dtype, np.integer) else torch.float32)
        self.rewards = np.concatenate([e.rewards for e in self.episodes])
        self.log_probs = np.concatenate([e.log_probs for e in self.episodes])
        self.episode_index = np.concatenate([np.full(len(e), k) for k, e in enumerate(self.episodes)])
        self.time_index = np.concatenate([np.arange(len(e)) for e in self.episodes])

    def __len__(self) -> int:
        return len(self.episodes)

    @property
    def num_steps(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(e) for e in self.episodes])

    @property
    def total_rewards(self) -> np.ndarray:
        """Undiscounted return of each episode, shape (num_episodes,)."""
        return np.array([e.total_reward for e in self.episodes])


def make_vector_env(env_id: str | Callable[[], gym.Env], num_envs: int, *, max_steps: int | None = None, **kwargs) -> gym.vector.SyncVectorEnv:
    """``SyncVectorEnv`` of ``num_envs`` copies of ``env_id`` (an id or a factory), same-step autoreset. Chapter 2.

    ``max_steps`` adds a ``TimeLimit`` wrapper; extra keyword arguments go to ``gymnasium.make``.
    """
    num_envs = _validate.integer_at_least("num_envs", num_envs, 1, 4096)
    if max_steps is not None:
        max_steps = _validate.integer_at_least("max_steps", max_steps, 1)
    if isinstance(env_id, str):
        if ":" not in env_id:  # "module:Env-v0" imports a module that registers the id
            _validate.env_id("env_id", env_id)
    elif not callable(env_id):
        raise TypeError(f"env_id must be a Gymnasium id (str) or a callable returning an environment, got {type(env_id).__name__}")

    def factory():
        env = gym.make(env_id, **kwargs) if isinstance(env_id, str) else env_id()
        if max_steps is not None:
            env = gym.wrappers.TimeLimit(env, max_episode_steps=max_steps)
        return env

    return gym.vector.SyncVectorEnv([factory] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def _spec_limit(envs: gym.vector.VectorEnv) -> int | None:
    try:
        spec = envs.envs[0].spec  # type: ignore[attr-defined]
    except (AttributeError, IndexError):
        spec = getattr(envs, "spec", None)
    return None if spec is None else spec.max_episode_steps


def collect_episodes(
    envs: gym.vector.VectorEnv,
    policy: Policy,
    num_episodes: int,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    max_steps: int | None = None,
    deterministic: bool = False,
) -> list[Episode]:
    """Run ``policy`` in the vector env until ``num_episodes`` complete episodes are collected. Chapter 2.

    Parameters
    ----------
    envs : gymnasium.vector.VectorEnv
        E.g. from :func:`make_vector_env`. All sub-environments are reset at the start.
    policy : Policy
        Must fit the environment's spaces (checked; a mismatch raises ``ValueError``).
    num_episodes : int
        Episodes to return (>= 1), in the order they started.
    generator : torch.Generator, optional
        Source of the policy's action noise.
    seed : int, optional
        If given, the environments are reset with this seed (sub-env i gets seed + i).
    max_steps : int, optional
        Step limit per episode (default: the environment's own ``max_episode_steps``, else
        :data:`DEFAULT_MAX_STEPS`); an episode reaching it is truncated.
    deterministic : bool
        Take the policy's most likely action instead of sampling.
    """
    _validate.instance("envs", envs, gym.vector.VectorEnv, "gymnasium VectorEnv (e.g. make_vector_env('CartPole-v1', 8))")
    num_episodes = _validate.integer_at_least("num_episodes", num_episodes, 1, 10**6)
    if max_steps is None:
        max_steps = _spec_limit(envs) or DEFAULT_MAX_STEPS
    max_steps = _validate.integer_at_least("max_steps", max_steps, 1)
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a pgnotes.rl.policies.Policy, got {type(policy).__name__}")
    # the stored steps are at most num_episodes * max_steps observations
    _validate.allocation("num_episodes * max_steps * observation size (the steps kept)", num_episodes, max_steps,
                         max(1, int(np.prod(envs.single_observation_space.shape or (1,)))))
    if generator is not None:
        _validate.instance("generator", generator, torch.Generator, "torch.Generator or None")
    if seed is not None:
        _validate.seed("seed", seed)
    _validate.boolean("deterministic", deterministic)
    policy.check_spaces(envs.single_observation_space, envs.single_action_space)
    action_space = envs.single_action_space
    clip = None
    if isinstance(action_space, gym.spaces.Box):
        clip = (action_space.low, action_space.high)
    same_step = envs.metadata.get("autoreset_mode") == gym.vector.AutoresetMode.SAME_STEP

    n = envs.num_envs
    obs, _ = envs.reset(seed=seed)
    slot = np.full(n, -1)  # episode id each sub-env is running (-1: not kept)
    first = min(n, num_episodes)
    slot[:first] = np.arange(first)
    next_id, finished = first, 0
    steps = np.zeros(n, dtype=np.int64)
    rows: list[tuple] = []  # (slot copy, obs, actions, rewards, logp)
    done_flags: dict[int, tuple[bool, bool]] = {}
    final_obs: dict[int, np.ndarray] = {}

    while finished < num_episodes:
        actions, logp = policy.act(obs, generator, deterministic=deterministic)
        env_actions = actions if clip is None else np.clip(actions, *clip)
        next_obs, rewards, term, trunc, infos = envs.step(env_actions)
        rewards = np.asarray(rewards, dtype=np.float64)
        active = slot >= 0
        if not np.all(np.isfinite(rewards[active])):
            bad = np.flatnonzero(active & ~np.isfinite(rewards)).tolist()
            raise ValueError(f"the environment returned non-finite rewards (sub-environments {bad}); rewards must be finite")
        rows.append((slot.copy(), obs, actions, rewards, logp))
        steps += 1
        limit = steps >= max_steps
        ended = term | trunc | limit
        need_reset = (limit & ~(term | trunc)) | (ended & (not same_step))
        for i in np.flatnonzero(ended):
            if slot[i] >= 0:
                done_flags[int(slot[i])] = (bool(term[i]), bool(trunc[i] or limit[i]))
                reset_by_env = same_step and (term[i] or trunc[i]) and "final_obs" in infos
                final_obs[int(slot[i])] = np.array(infos["final_obs"][i] if reset_by_env else next_obs[i])
                finished += 1
            if next_id < num_episodes:
                slot[i], next_id = next_id, next_id + 1
            else:
                slot[i] = -1
            steps[i] = 0
        if np.any(need_reset):
            next_obs, _ = envs.reset(options={"reset_mask": need_reset.copy()})
        obs = next_obs

    slots = np.stack([r[0] for r in rows])  # (T, n)
    all_obs = np.stack([r[1] for r in rows])
    all_act = np.stack([r[2] for r in rows])
    all_rew = np.stack([r[3] for r in rows])
    all_logp = np.stack([r[4] for r in rows])
    episodes = []
    for k in range(num_episodes):
        mask = slots == k  # exactly one sub-env ran episode k, in time order
        episodes.append(
            Episode(
                observations=all_obs[mask],
                actions=all_act[mask],
                rewards=all_rew[mask],
                log_probs=all_logp[mask].astype(np.float64),
                terminated=done_flags[k][0],
                truncated=done_flags[k][1],
                final_observation=final_obs[k],
            )
        )
    return episodes


def collect_steps(envs: gym.vector.VectorEnv, policy: Policy, min_steps: int, *, seed: int | None = None, **options) -> list[Episode]:
    """Whole episodes totalling at least ``min_steps`` steps: the batches of TRPO and PPO (chapter 7).

    Calls :func:`collect_episodes` for ``envs.num_envs`` episodes at a time until the kept
    episodes hold ``min_steps`` steps, so a batch can overshoot by up to one round of episodes.
    ``seed`` seeds the environments' first reset only; the other keyword arguments
    (``generator``, ``max_steps``, ``deterministic``) go to :func:`collect_episodes`.
    """
    min_steps = _validate.integer_at_least("min_steps", min_steps, 1)
    episodes: list[Episode] = []
    while sum(len(e) for e in episodes) < min_steps:
        episodes.extend(collect_episodes(envs, policy, envs.num_envs, seed=None if episodes else seed, **options))
    return episodes


def evaluate_policy(
    policy: Policy,
    env_id: str | Callable[[], gym.Env] = "CartPole-v1",
    num_episodes: int = 100,
    *,
    seed: int = 10_000,
    num_envs: int | None = None,
    deterministic: bool = False,
    max_steps: int | None = None,
) -> np.ndarray:
    """Undiscounted returns of ``num_episodes`` fresh episodes (default 100, the CartPole-v1 protocol). Chapter 2.

    By default the *stochastic* policy is evaluated (actions sampled, seeded by ``seed``);
    ``deterministic=True`` takes the most likely action.
    """
    num_episodes = _validate.integer_at_least("num_episodes", num_episodes, 1, 10**6)
    _validate.instance("policy", policy, Policy, "pgnotes.rl.policies.Policy")
    seed = _validate.seed("seed", seed)
    num_envs = _validate.optional_integer("num_envs", num_envs, 1, 4096)
    envs = make_vector_env(env_id, num_envs or min(num_episodes, 100), max_steps=max_steps)
    try:
        generator = torch.Generator().manual_seed(seed)
        episodes = collect_episodes(envs, policy, num_episodes, generator=generator, seed=seed, deterministic=deterministic)
    finally:
        envs.close()
    return np.array([e.total_reward for e in episodes])
