r"""The one evaluator of returns: every black-box method's episodes are played here (chapters 3, 4, 6).

Parameters go in, returns come out (**maximized**). This module owns everything between a
solver's candidate and the environment: building environments, the policy, the step limit
(``max_steps``, one name everywhere), observation normalization and its statistics, the
episode seeds, and worker processes. ES on policies (:func:`pgnotes.policy_search.search_policy`),
ARS (:func:`pgnotes.ars_training.train_ars`), the distributed ES workers
(:class:`pgnotes.distributed.tasks.PolicyTask`) and the watch helpers (:mod:`pgnotes.watch`,
:mod:`pgnotes.watch_mujoco`) all step environments through it; only the policy-gradient
collector (:mod:`pgnotes.rl.rollouts`) and the planners (:mod:`pgnotes.planning`) step
environments elsewhere. It is longer than 400 lines for that reason: splitting it would put
environment stepping back into several modules.

Two episode loops, one per shape of work:

* :func:`run_episode` -- ONE episode of any ``act(obs) -> action`` callable: used by ARS's
  numpy linear policies (:class:`LinearPolicyFitness`, in worker processes), by the distributed
  ES task, and by the frame loops of the watch helpers;
* :func:`rollout` -- a population of torch policies on a Gymnasium vector environment, one
  batched forward pass per step (:class:`PolicyFitness`, ES on policies).

Observation normalization, one rule: :class:`RunningMeanStd` holds the running mean and
variance of raw observations; the policy sees ``(o - mean) / (std + eps)``, frozen during a
generation and updated after it from every observation the generation's training episodes
saw; ``clip`` (a parameter) bounds the result. The paths keep their published numbers:
:class:`PolicyFitness` clips at 10 (chapter 3), ARS V2 does not clip (``clip=None``, as in
Mania et al.), and the distributed ES task does not normalize.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pgnotes import _validate
from pgnotes.mlp_policy import batched_policy, num_params


# -- observation normalization -------------------------------------------------------------
class RunningMeanStd:
    r"""Running mean and variance of observations (Welford; batches merged by Chan et al.'s formula). Chapter 3.

    ``update(batch)`` folds a batch of shape ``(n, *shape)`` in:

    .. math::
        \delta = \bar x_B - \bar x, \quad
        \bar x \leftarrow \bar x + \delta \frac{n_B}{n + n_B}, \quad
        M_2 \leftarrow M_2 + M_{2,B} + \delta^2 \frac{n\, n_B}{n + n_B},

    which equals the mean and variance of all data seen, in any batching (``merge`` combines
    two normalizers the same way, e.g. across workers). ``normalize(x)`` returns
    ``clip((x - mean) / (std + eps))``; before any data the mean is 0 and std is 1.
    """

    def __init__(self, shape: int | tuple[int, ...], *, eps: float = 1e-8, clip: float | None = 10.0):
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (shape,)
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
            raise TypeError(f"shape must be an int or a tuple of ints, got {type(shape).__name__} {shape!r:.80}")
        self.shape = tuple(_validate.integer_at_least(f"shape[{i}]", s, 1) for i, s in enumerate(shape))
        _validate.allocation("shape", *self.shape)
        self.eps = _validate.positive("eps", eps)
        self.clip = None if clip is None else _validate.positive("clip", clip)
        self.count = 0
        self.mean = np.zeros(self.shape)
        self.m2 = np.zeros(self.shape)

    @property
    def var(self) -> np.ndarray:
        """Population variance of the data seen (1 before any data with count < 2)."""
        return self.m2 / self.count if self.count >= 2 else np.ones(self.shape)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var)

    def update(self, batch) -> None:
        """Fold a batch of shape ``(n, *shape)`` into the statistics; non-finite values raise."""
        batch = _validate.finite_array("batch", batch)
        if batch.ndim < 1 or batch.shape[1:] != self.shape:
            raise ValueError(f"batch must have shape (n, {', '.join(map(str, self.shape))}), got {batch.shape}")
        n = batch.shape[0]
        if n == 0:
            return
        self._merge(n, batch.mean(axis=0), ((batch - batch.mean(axis=0)) ** 2).sum(axis=0))

    def merge(self, other: "RunningMeanStd") -> None:
        """Fold another normalizer's statistics into this one."""
        _validate.instance("other", other, RunningMeanStd, "RunningMeanStd")
        if other.shape != self.shape:
            raise ValueError(f"other has shape {other.shape}, this one {self.shape}")
        if other.count:
            self._merge(other.count, other.mean, other.m2)

    def _merge(self, n_b: int, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        n_a = self.count
        total = n_a + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / total)
        self.m2 = self.m2 + m2_b + delta**2 * (n_a * n_b / total)
        self.count = total

    def normalize(self, x) -> np.ndarray:
        """``(x - mean) / (std + eps)``, clipped to ``[-clip, clip]`` if ``clip`` is set."""
        x = _validate.finite_array("x", x)
        if x.shape[max(0, x.ndim - len(self.shape)):] != self.shape:
            raise ValueError(f"x must have shape (..., {', '.join(map(str, self.shape))}), got {x.shape}")
        z = (x - self.mean) / (self.std + self.eps)
        return np.clip(z, -self.clip, self.clip) if self.clip is not None else z

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean.copy(), "m2": self.m2.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; checked first, so a rejected state changes nothing."""
        _validate.mapping("state", state, ("count", "mean", "m2"))
        count = _validate.integer_at_least("state['count']", state["count"], 0, None)
        mean = _validate.finite_array("state['mean']", state["mean"], shape=self.shape)
        m2 = _validate.finite_array("state['m2']", state["m2"], shape=self.shape)
        if np.any(m2 < 0):
            raise ValueError("state['m2'] (sums of squared deviations) must be >= 0")
        self.count, self.mean, self.m2 = int(count), np.array(mean), np.array(m2)

    def __repr__(self) -> str:
        return f"RunningMeanStd(shape={self.shape}, count={self.count})"


# -- rollouts ----------------------------------------------------------------------------------
def make_vector_env(env_id: str, num_envs: int, **kwargs) -> gym.vector.VectorEnv:
    """A vector environment of ``num_envs`` copies: the environment's own vectorized class where
    Gymnasium registers one (CartPole), else ``SyncVectorEnv`` (faster than processes for cheap
    environments on few cores)."""
    num_envs = _validate.integer_at_least("num_envs", num_envs, 1, 10**5)
    _validate.env_id("env_id", env_id)
    spec = gym.spec(env_id)
    mode = "vector_entry_point" if spec.vector_entry_point is not None else "sync"
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)


def _time_limit(env) -> int | None:
    spec = getattr(env, "spec", None)
    if spec is None:
        try:
            spec = env.envs[0].spec  # type: ignore[attr-defined]
        except (AttributeError, IndexError):
            return None
    return None if spec is None else spec.max_episode_steps


def _check_policy_fits(policy, env) -> None:
    """One ValueError naming both when the policy's sizes do not fit the environment's spaces."""
    obs_space, act_space = env.single_observation_space, env.single_action_space
    obs_dim, act_dim = getattr(policy, "obs_dim", None), getattr(policy, "act_dim", None)
    if obs_dim is not None and (not isinstance(obs_space, gym.spaces.Box) or obs_space.shape != (obs_dim,)):
        raise ValueError(f"policy has obs_dim={obs_dim} but env has observation_space {obs_space}")
    if act_dim is None:
        return
    discrete = getattr(policy, "discrete", None)
    if isinstance(act_space, gym.spaces.Discrete):
        if discrete is False or int(act_space.n) != act_dim:
            raise ValueError(f"policy has act_dim={act_dim}, discrete={discrete} but env has action_space {act_space}")
    elif isinstance(act_space, gym.spaces.Box):
        if discrete is True or act_space.shape != (act_dim,):
            raise ValueError(f"policy has act_dim={act_dim}, discrete={discrete} but env has action_space {act_space}")


@dataclass
class RolloutResult:
    """Returns of a batch of rollouts (fitness maximized)."""

    returns: np.ndarray  #: (P,) mean return of each candidate over its episodes
    episode_returns: np.ndarray  #: (P, episodes)
    lengths: np.ndarray  #: (P, episodes) steps of each episode
    steps: int  #: environment steps counted (sum of lengths)
    truncated_by_limit: int  #: episodes stopped by ``max_steps`` rather than by the environment
    seconds: float  #: wall time of the rollout

    @property
    def episodes(self) -> int:
        return int(self.episode_returns.size)


def rollout(
    policy: nn.Module,
    params,
    env: gym.vector.VectorEnv | str,
    *,
    episodes: int = 1,
    max_steps: int | None = None,
    normalizer: RunningMeanStd | None = None,
    update_normalizer: bool = True,
    seed: int | None = None,
) -> RolloutResult:
    """Run ``episodes`` episodes for each of P parameter vectors in one vector environment (chapter 3).

    Parameters
    ----------
    policy : nn.Module
        The policy architecture (its own parameters are not used; see :func:`batched_policy`).
        Must have ``to_action(out)``, as :class:`MLPPolicy` does.
    params : (P, D) or (D,) array
        Flat parameter vectors (see :func:`get_flat_params`).
    env : gymnasium.vector.VectorEnv or str
        A vector environment with ``P * episodes`` sub-environments (slot ``j`` runs candidate
        ``j // episodes``), or an id, for which one is made with :func:`make_vector_env` and
        closed afterwards.
    episodes : int
        Episodes per candidate (>= 1); the candidate's return is their mean.
    max_steps : int, optional
        Per-episode step limit on top of the environment's own time limit; an episode that
        reaches it is cut (counted in ``truncated_by_limit``). Episodes that never end need it.
    normalizer : RunningMeanStd, optional
        Observation normalization: observations are normalized with the statistics as they
        were at the start (frozen during the rollout, so every candidate sees the same map),
        and, if ``update_normalizer``, the raw observations of the rollout are folded in
        afterwards.
    seed : int, optional
        Seed of the vector environment's reset.

    Each sub-environment plays exactly one episode; steps after its end are masked out.
    Non-finite rewards raise ``ValueError``.
    """
    _validate.instance("policy", policy, nn.Module, "torch.nn.Module with to_action (e.g. MLPPolicy)")
    episodes = _validate.integer_at_least("episodes", episodes, 1)
    if max_steps is not None:
        max_steps = _validate.integer_at_least("max_steps", max_steps, 1)
    params = _validate.finite_array("params", params)
    if params.ndim == 1:
        params = params[None]
    if params.ndim != 2 or params.shape[1] != num_params(policy) or params.shape[0] < 1:
        raise ValueError(f"params must have shape (P, {num_params(policy)}) or ({num_params(policy)},), got {params.shape}")
    n_cand = params.shape[0]
    if normalizer is not None:
        _validate.instance("normalizer", normalizer, RunningMeanStd, "RunningMeanStd or None")
    if seed is not None:
        _validate.seed("seed", seed)
    if not isinstance(env, (str, gym.vector.VectorEnv)):
        raise TypeError(f"env must be a Gymnasium vector environment or an id, got {type(env).__name__}")
    start = time.perf_counter()
    own = isinstance(env, str)
    if own:
        _validate.env_id("env", env)
        env = make_vector_env(env, n_cand * episodes)
    try:
        if env.num_envs != n_cand * episodes:
            raise ValueError(
                f"env must have P * episodes = {n_cand} * {episodes} = {n_cand * episodes} sub-environments, got {env.num_envs}"
            )
        _check_policy_fits(policy, env)
        if max_steps is None and _time_limit(env) is None:
            raise ValueError("max_steps must be given: env has no time limit (max_episode_steps), so an episode might never end")
        forward = batched_policy(policy, params)
        n = env.num_envs
        obs, _ = env.reset(seed=seed)
        active = np.ones(n, dtype=bool)
        totals = np.zeros(n)
        lengths = np.zeros(n, dtype=np.int64)
        seen: list[np.ndarray] = []
        t = 0
        with torch.no_grad():
            while active.any():
                if max_steps is not None and t >= max_steps:
                    break
                raw = np.asarray(obs, dtype=np.float64)
                if normalizer is not None:
                    seen.append(raw[active])
                    o = normalizer.normalize(raw)
                else:
                    o = raw
                out = forward(torch.as_tensor(o, dtype=torch.float32).reshape(n_cand, episodes, -1))
                action = policy.to_action(out)  # (P, E) discrete, (P, E, act_dim) continuous
                action = action.reshape(n) if action.ndim == 2 else action.reshape(n, -1)
                obs, reward, terminated, truncated, _ = env.step(action.numpy())
                reward = np.asarray(reward, dtype=np.float64)
                if not np.all(np.isfinite(reward[active])):
                    raise ValueError(f"environment returned non-finite rewards at step {t}")
                totals += np.where(active, reward, 0.0)
                lengths += active
                active &= ~(np.asarray(terminated) | np.asarray(truncated))
                t += 1
        cut = int(active.sum())
    finally:
        if own:
            env.close()
    if normalizer is not None and update_normalizer and seen:
        normalizer.update(np.concatenate(seen))
    episode_returns = totals.reshape(n_cand, episodes)
    return RolloutResult(
        returns=episode_returns.mean(axis=1),
        episode_returns=episode_returns,
        lengths=lengths.reshape(n_cand, episodes),
        steps=int(lengths.sum()),
        truncated_by_limit=cut,
        seconds=time.perf_counter() - start,
    )


class PolicyFitness:
    """Fitness of flat parameter vectors = mean episode return (maximized), for ``optimize(..., vectorized=True)``. Chapter 3.

    Keeps one vector environment per population size, the observation normalizer, a seed
    stream for the resets, and counters of the episodes and environment steps used for
    training (``episodes``, ``steps``). :meth:`evaluate` scores a single vector (e.g. the
    solver's mean) without updating the normalizer and without counting as training.

    Parameters
    ----------
    env_id : str
        Gymnasium id.
    policy : nn.Module
        Architecture (e.g. from :func:`make_policy`).
    episodes : int
        Episodes per candidate (default 1).
    max_steps : int, optional
        Per-episode step limit (see :func:`rollout`).
    normalize_obs : bool
        Keep a :class:`RunningMeanStd` of observations and feed normalized observations to
        the policy (default False).
    seed : int
        Seed of the reset seed stream.
    """

    def __init__(
        self,
        env_id: str,
        policy: nn.Module,
        *,
        episodes: int = 1,
        max_steps: int | None = None,
        normalize_obs: bool = False,
        seed: int = 0,
        env_kwargs: dict | None = None,
    ):
        _validate.env_id("env_id", env_id)
        _validate.instance("policy", policy, nn.Module, "torch.nn.Module with to_action (e.g. MLPPolicy)")
        self.env_id, self.policy = env_id, policy
        self.episodes = _validate.integer_at_least("episodes", episodes, 1)
        self.max_steps = _validate.optional_integer("max_steps", max_steps, 1)
        _validate.boolean("normalize_obs", normalize_obs)
        seed = _validate.seed("seed", seed)
        if env_kwargs is not None:
            _validate.instance("env_kwargs", env_kwargs, dict, "dict or None")
        self.env_kwargs = dict(env_kwargs or {})
        obs_dim = getattr(policy, "obs_dim", None)
        if normalize_obs and obs_dim is None:
            raise ValueError("normalize_obs=True needs a policy with an obs_dim attribute")
        self.normalizer = RunningMeanStd(obs_dim) if normalize_obs else None
        self.rng = np.random.default_rng(seed)
        self._envs: dict[int, gym.vector.VectorEnv] = {}
        self.evaluations = 0  #: candidates scored for training
        self.train_episodes = 0
        self.train_steps = 0
        self.eval_episodes = 0
        self.eval_steps = 0
        self.rollout_seconds = 0.0

    def _env(self, num_envs: int) -> gym.vector.VectorEnv:
        if num_envs not in self._envs:
            self._envs[num_envs] = make_vector_env(self.env_id, num_envs, **self.env_kwargs)
        return self._envs[num_envs]

    def _seed(self) -> int:
        return int(self.rng.integers(2**31 - 1))

    def __call__(self, X) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        result = rollout(self.policy, X, self._env(X.shape[0] * self.episodes), episodes=self.episodes,
                         max_steps=self.max_steps, normalizer=self.normalizer, seed=self._seed())
        self.evaluations += X.shape[0]
        self.train_episodes += result.episodes
        self.train_steps += result.steps
        self.rollout_seconds += result.seconds
        return result.returns

    def evaluate(self, params, episodes: int = 10) -> RolloutResult:
        """Score one flat vector on ``episodes`` fresh episodes (normalizer frozen, not counted as training)."""
        episodes = _validate.integer_at_least("episodes", episodes, 1, 10**5)
        params = _validate.finite_array("params", params, shape=(num_params(self.policy),)).reshape(1, -1)
        result = rollout(self.policy, np.repeat(params, episodes, axis=0), self._env(episodes), episodes=1,
                         max_steps=self.max_steps, normalizer=self.normalizer, update_normalizer=False, seed=self._seed())
        self.eval_episodes += result.episodes
        self.eval_steps += result.steps
        return result

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "normalizer": None if self.normalizer is None else self.normalizer.state_dict(),
            "counters": {k: getattr(self, k) for k in ("evaluations", "train_episodes", "train_steps", "eval_episodes", "eval_steps")},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; checked first, so a rejected state changes nothing."""
        import copy

        _validate.mapping("state", state, ("rng", "normalizer", "counters"))
        counters = _validate.mapping("state['counters']", state["counters"])
        for k, v in counters.items():
            if k not in ("evaluations", "train_episodes", "train_steps", "eval_episodes", "eval_steps"):
                raise ValueError(f"state['counters'] has an unknown key {k!r}")
            _validate.integer_at_least(f"state['counters'][{k!r}]", v, 0, None)
        probe = copy.deepcopy(self.rng.bit_generator)
        try:
            probe.state = copy.deepcopy(state["rng"])
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"state['rng'] must be the state of a {type(probe).__name__} bit generator ({error})") from None
        if self.normalizer is not None and state["normalizer"] is not None:
            backup = self.normalizer.state_dict()
            self.normalizer.load_state_dict(state["normalizer"])  # checked there before it changes anything
            self.normalizer.load_state_dict(backup)
        self.rng.bit_generator.state = state["rng"]
        if self.normalizer is not None and state["normalizer"] is not None:
            self.normalizer.load_state_dict(state["normalizer"])
        for k, v in state["counters"].items():
            setattr(self, k, v)



# -- one episode -----------------------------------------------------------------------------
class Episode(NamedTuple):
    """What :func:`run_episode` returns."""

    total: float  #: sum of ``reward - reward_shift`` over the episode
    steps: int  #: environment steps taken
    terminated: bool
    truncated: bool  #: by the environment's time limit or by ``max_steps``


def run_episode(env: gym.Env, act: Callable[[Any], Any], *, seed: int | None, max_steps: int | None = None,
                reward_shift: float = 0.0, observations: list | None = None,
                on_step: Callable[[gym.Env, int, Any, Any], None] | None = None) -> Episode:
    """Play ONE episode of ``act`` in ``env``, reset with ``seed``: the single-episode loop of every method.

    ``act(obs)`` gives the action for an observation (the policy, with whatever normalization
    it applies). The episode ends when the environment terminates or truncates it, or after
    ``max_steps`` steps (None: only the environment's own limit). ``reward_shift`` is subtracted
    from every reward (ARS's survival-bonus removal on Hopper). If ``observations`` is a list,
    the observation before each step is appended to it. ``on_step(env, t, action, reward)`` is
    called after the reset (``t = 0``, action and reward None) and after every step ``t``
    (the watch helpers draw frames with it). A non-finite return raises ``FloatingPointError``.
    """
    obs, _ = env.reset(seed=None if seed is None else int(seed))
    total, steps, terminated, truncated = 0.0, 0, False, False
    if on_step is not None:
        on_step(env, 0, None, None)
    while max_steps is None or steps < max_steps:
        if observations is not None:
            observations.append(obs)
        action = act(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward) - reward_shift
        steps += 1
        if on_step is not None:
            on_step(env, steps, action, reward)
        if terminated or truncated:
            break
    if not np.isfinite(total):
        raise FloatingPointError(f"non-finite return {total} in an episode (seed {seed})")
    return Episode(total, steps, bool(terminated), bool(truncated or (max_steps is not None and steps >= max_steps)))


# -- linear numpy policies and their process pool (ARS, chapter 4) --------------------------------
@dataclass
class LinearPolicy:
    """``a = M diag(std)^{-1} (s - mean)``, clipped to the action box; ``M`` is a flat vector (chapter 4).

    A plain numpy policy: for ARS's linear policies one episode is about 1.4x faster than the
    batched torch rollouts, which pay off for populations of neural policies.
    """

    obs_dim: int
    act_dim: int
    low: np.ndarray
    high: np.ndarray

    @property
    def n_params(self) -> int:
        return self.obs_dim * self.act_dim

    def act(self, theta: np.ndarray, obs: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        m = theta.reshape(self.act_dim, self.obs_dim)
        return np.clip(m @ ((obs - mean) / std), self.low, self.high)

    def actor(self, theta: np.ndarray, mean: np.ndarray, std: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """``obs -> action`` for fixed ``theta`` and normalization (the same numbers as :meth:`act`, one reshape per episode)."""
        m, low, high = theta.reshape(self.act_dim, self.obs_dim), self.low, self.high
        return lambda obs: np.clip(m @ ((obs - mean) / std), low, high)


def linear_policy_for(env: gym.Env) -> LinearPolicy:
    """The :class:`LinearPolicy` shape of ``env`` (Box observations and actions)."""
    act, obs_space = env.action_space, env.observation_space
    env_name = env.spec.id if getattr(env, "spec", None) is not None else type(env).__name__
    if not isinstance(act, gym.spaces.Box) or not isinstance(obs_space, gym.spaces.Box):
        raise ValueError(
            f"ARS's linear policies need Box observation and action spaces (continuous control); "
            f"the environment (env_id {env_name!r}) has observation_space {obs_space} and action_space {act}"
        )
    obs_dim = int(np.prod(env.observation_space.shape))
    return LinearPolicy(obs_dim, int(np.prod(act.shape)), np.asarray(act.low, float), np.asarray(act.high, float))


def episode_seed(*words: int) -> int:
    """The reset seed of one episode, a hash of ``(run seed, generation, candidate[, 1 for evaluations])``."""
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1)[0])


_WORKER: dict[str, Any] = {}


def _worker_init(env_id: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    env = gym.make(env_id)
    _WORKER.update(env_id=env_id, env=env, policy=linear_policy_for(env))


def _linear_episode(task: tuple) -> tuple[float, int, "RunningMeanStd | None"]:
    """One episode of a linear policy in this process's environment: ``(return, steps, observation statistics or None)``."""
    theta, mean, std, seed, shift, max_steps, collect = task
    policy = _WORKER["policy"]
    theta = _validate.finite_array("theta", theta, shape=(policy.n_params,))
    seen: list | None = [] if collect else None
    total, steps, _, _ = run_episode(_WORKER["env"], policy.actor(theta, mean, std), seed=_validate.seed("seed", seed),
                                     max_steps=max_steps, reward_shift=shift, observations=seen)
    stats = None
    if collect:
        stats = RunningMeanStd(policy.obs_dim, clip=None)
        stats.update(np.asarray(seen, dtype=np.float64))
    return total, steps, stats


class LinearPolicyFitness:
    """Fitness of linear numpy policies ``a = M s``: one episode per candidate, on ``workers`` processes (chapter 4).

    The evaluator ARS runs through :func:`pgnotes.solvers.optimize`: it owns the environment
    (one per worker process), the step limit, the observation statistics (ARS V2: unclipped
    :class:`RunningMeanStd`, frozen within a generation, updated after it from every training
    observation), the episode seeds (:func:`episode_seed` of the run seed, the generation and the
    candidate, so results do not depend on the number of workers) and the process pool. Use as a
    context manager, or call :meth:`close`.

    Parameters
    ----------
    env_id : str
        Gymnasium id with Box observation and action spaces.
    max_steps : int
        Per-episode step limit (ARS's horizon ``H``).
    normalize_obs : bool
        ARS V2's observation normalization (default False: V1).
    reward_shift : float
        Subtracted from every reward of training episodes (evaluations see raw rewards).
    seed : int
        The run's seed, hashed into every episode's reset seed.
    workers : int
        Processes (1: episodes run in this process).
    """

    def __init__(self, env_id: str, *, max_steps: int, normalize_obs: bool = False, reward_shift: float = 0.0,
                 seed: int = 0, workers: int = 1, start_method: str = "spawn"):
        if ":" not in str(env_id):
            _validate.env_id("env_id", env_id)
        self.env_id = env_id
        self.max_steps = _validate.integer_at_least("max_steps", max_steps, 1)
        self.normalize_obs = _validate.boolean("normalize_obs", normalize_obs)
        self.reward_shift = _validate.real("reward_shift", reward_shift)
        self.seed = _validate.seed("seed", seed)
        self.workers = _validate.integer_at_least("workers", workers, 1, 1024)
        _validate.one_of("start_method", start_method, multiprocessing.get_all_start_methods())
        _worker_init(env_id)
        self.policy: LinearPolicy = _WORKER["policy"]
        self.normalizer = RunningMeanStd(self.policy.obs_dim, clip=None)
        self.generation = 0  #: training generations evaluated (the episode seeds depend on it)
        self.episodes = 0  #: training episodes
        self.steps = 0  #: training environment steps
        self._pool = None
        if self.workers > 1:
            ctx = multiprocessing.get_context(start_method)
            self._pool = ctx.Pool(self.workers, initializer=_worker_init, initargs=(env_id,))

    def run(self, tasks: list[tuple]) -> list[tuple]:
        """Episodes ``(theta, mean, std, seed, shift, max_steps, collect)`` on the workers, results in order."""
        if self._pool is None:
            return [_linear_episode(t) for t in tasks]
        return self._pool.map(_linear_episode, tasks, chunksize=max(1, len(tasks) // (2 * self.workers)))

    def observation_map(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` the policy's observations are normalized with now (zeros and ones without normalization)."""
        if self.normalize_obs:
            return self.normalizer.mean, self.normalizer.std + self.normalizer.eps
        return np.zeros(self.policy.obs_dim), np.ones(self.policy.obs_dim)

    def __call__(self, X) -> np.ndarray:
        """Returns of the candidates ``X`` (P, n_params), one training episode each; then the statistics are updated."""
        X = _validate.finite_array("X", X, ndim=2)
        mean, std = self.observation_map()
        results = self.run([(x, mean, std, episode_seed(self.seed, self.generation, k), self.reward_shift, self.max_steps,
                             self.normalize_obs) for k, x in enumerate(X)])
        self.generation += 1
        self.episodes += len(results)
        self.steps += sum(r[1] for r in results)
        if self.normalize_obs:
            for _, _, stats in results:
                self.normalizer.merge(stats)
        return np.array([r[0] for r in results])

    def evaluate(self, theta, episodes: int) -> np.ndarray:
        """Returns of ``theta`` on ``episodes`` evaluation episodes after the latest generation (raw rewards, statistics frozen)."""
        episodes = _validate.integer_at_least("episodes", episodes, 1, 10**5)
        mean, std = self.observation_map()
        it = self.generation - 1
        return np.array([r[0] for r in self.run([(theta, mean, std, episode_seed(self.seed, it, k, 1), 0.0, self.max_steps, False)
                                                 for k in range(episodes)])])

    def state_dict(self) -> dict[str, Any]:
        return {"normalizer": self.normalizer.state_dict(), "generation": self.generation, "episodes": self.episodes,
                "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; checked first, so a rejected state changes nothing."""
        _validate.mapping("state", state, ("normalizer", "generation", "episodes", "steps"))
        counts = {k: _validate.integer_at_least(f"state[{k!r}]", state[k], 0, None) for k in ("generation", "episodes", "steps")}
        self.normalizer.load_state_dict(state["normalizer"])
        self.generation, self.episodes, self.steps = counts["generation"], counts["episodes"], counts["steps"]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
