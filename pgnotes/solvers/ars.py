"""Augmented Random Search (Mania, Guy & Recht 2018): V1, V1-t, V2, V2-t (chapter 4).

Fitness (return) is **maximized**. One iteration of ARS (the gradient-free lecture slides, "Augmented Random Search"):

1. sample directions ``delta_1..delta_N ~ N(0, I)``;
2. evaluate ``r_k^+ = f(theta + nu delta_k)`` and ``r_k^- = f(theta - nu delta_k)`` (antithetic pairs);
3. keep the ``b`` directions with the largest ``max(r_k^+, r_k^-)`` (the "-t" versions; ``b = N`` otherwise);
4. ``sigma_R`` = standard deviation of the ``2b`` kept returns;
5. ``theta <- theta + alpha / (b sigma_R) sum_k (r_k^+ - r_k^-) delta_k``.

Without step 4 (``scale_by_std=False``) and with ``b = N`` this is Basic Random Search (BRS).
V2 adds online observation normalization: a linear policy acts on
``diag(Sigma)^{-1/2} (s - mu)`` where ``mu, Sigma`` are the running mean and variance of every
state seen in training rollouts so far, frozen within an iteration.

This module holds three layers:

* :class:`ARS`, the update on the ask/tell interface (any black-box ``f``);
* :class:`LinearPolicy` and :func:`rollout`: a plain numpy episode loop for ``a = M s``
  (about 1.4x faster per episode here than the batched torch rollouts of
  :mod:`pgnotes.policy_search`, which pay off for populations of neural policies); observation
  statistics use the shared :class:`pgnotes.policy_search.RunningMeanStd`;
* :class:`RolloutPool` and :func:`train_ars`, parallel rollouts over processes, each with its
  own environment, with resumable atomic checkpoints.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pgnotes import _validate
from pgnotes.policy_search import RunningMeanStd
from pgnotes.solvers.base import Solver

VERSIONS = ("V1", "V1-t", "V2", "V2-t")


class ARS(Solver):
    """ARS update on the ask/tell interface; maximizes fitness (chapter 4).

    ``ask`` returns ``2 N`` candidates in antithetic pairs: rows ``2k`` and ``2k+1`` are
    ``theta + nu delta_k`` and ``theta - nu delta_k``; ``tell`` must receive them in that order.

    Parameters
    ----------
    x0 : array_like
        Initial parameters ``theta`` (zeros for the paper's linear policies).
    n_directions : int
        ``N``, directions per iteration (>= 1).
    top_b : int, optional
        ``b``, directions kept (1 <= b <= N); default ``N`` (V1/V2), smaller for V1-t/V2-t.
    step_size : float
        ``alpha`` (> 0, default 0.02).
    noise : float
        ``nu``, the exploration noise (> 0, default 0.03).
    scale_by_std : bool
        Divide the step by ``sigma_R`` (ARS, default) or not (BRS).
    rng : numpy.random.Generator or int
        Randomness of the directions.
    """

    _state_keys = ("theta",)

    def __init__(self, x0, n_directions: int = 8, top_b: int | None = None, *, step_size: float = 0.02,
                 noise: float = 0.03, scale_by_std: bool = True, rng: np.random.Generator | int = 0):
        x0 = _validate.finite_array("x0", x0, ndim=1)
        n = _validate.integer_at_least("n_directions", n_directions, 1)
        super().__init__(x0.size, 2 * n, rng, min_popsize=2)
        self.n_directions = n
        self.top_b = n if top_b is None else _validate.integer_at_least("top_b", top_b, 1)
        if self.top_b > n:
            raise ValueError(f"top_b must be <= n_directions ({n}), got {self.top_b}")
        self.step_size = _validate.positive("step_size", step_size)
        self.noise = _validate.positive("noise", noise)
        self.scale_by_std = _validate.boolean("scale_by_std", scale_by_std)
        self.theta = x0.copy()
        self.last_sigma_r = float("nan")

    @property
    def mean(self) -> np.ndarray:
        return self.theta

    @property
    def covariance(self) -> np.ndarray:
        """Covariance ``nu^2 I`` of the perturbations (for the 2-D animations)."""
        return self.noise**2 * np.eye(self.dim)

    def _ask(self) -> np.ndarray:
        delta = self.rng.standard_normal((self.n_directions, self.dim))
        x = np.empty((self.popsize, self.dim))
        x[0::2] = self.theta + self.noise * delta
        x[1::2] = self.theta - self.noise * delta
        return x

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        self.theta = self.theta + self.step(x, fitness)

    def _check_tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        # rows 2k and 2k+1 must be theta + nu delta_k and theta - nu delta_k (what ask returned)
        midpoints = (x[0::2] + x[1::2]) / 2
        scale = 1.0 + np.abs(self.theta) + np.max(np.abs(x - self.theta), axis=0)
        if not np.all(np.abs(midpoints - self.theta) <= 1e-8 * scale):
            worst = int(np.argmax(np.max(np.abs(midpoints - self.theta) / scale, axis=1)))
            raise ValueError(
                "x must hold antithetic pairs around theta, as ask() returned them: rows 2k and 2k+1 are "
                f"theta + nu delta_k and theta - nu delta_k; the pair of rows {2 * worst} and {2 * worst + 1} "
                "is not centred on theta"
            )

    def step(self, x: np.ndarray, fitness: np.ndarray) -> np.ndarray:
        """The ARS step ``alpha / (b sigma_R) sum (r+ - r-) delta`` for antithetic pairs ``x``."""
        x = _validate.finite_array("x", x, shape=(self.popsize, self.dim))
        fitness = _validate.finite_array("fitness", fitness, shape=(self.popsize,))
        self._check_tell(x, fitness)
        delta = (x[0::2] - x[1::2]) / (2 * self.noise)
        r_plus, r_minus = fitness[0::2], fitness[1::2]
        keep = np.argsort(-np.maximum(r_plus, r_minus), kind="stable")[: self.top_b]
        kept = np.concatenate([r_plus[keep], r_minus[keep]])
        sigma_r = float(np.std(kept)) if self.scale_by_std else 1.0
        self.last_sigma_r = sigma_r
        if sigma_r < 1e-12:  # all kept returns equal: every difference is 0, no information
            return np.zeros(self.dim)
        return self.step_size / (self.top_b * sigma_r) * ((r_plus[keep] - r_minus[keep]) @ delta[keep])


def version_settings(version: str, n_directions: int, top_b: int | None) -> tuple[int, bool]:
    """``(b, normalize_observations)`` for an ARS version name ("V1", "V1-t", "V2", "V2-t")."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
    if version.endswith("-t"):
        if top_b is None:
            raise ValueError(f"version {version} uses the top-b directions: give top_b")
        b = top_b
    else:
        if top_b not in (None, n_directions):
            raise ValueError(f"version {version} uses all directions: top_b must be None or n_directions")
        b = n_directions
    return b, version.startswith("V2")


# -- observation normalization and linear policies ---------------------------------------

@dataclass
class LinearPolicy:
    """``a = M diag(std)^{-1} (s - mean)``, clipped to the action box; ``M`` is a flat vector (chapter 4)."""

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


def make_env(env_id: str):
    import gymnasium as gym

    return gym.make(env_id)


def linear_policy_for(env) -> LinearPolicy:
    import gymnasium as gym

    act, obs_space = env.action_space, env.observation_space
    env_name = env.spec.id if getattr(env, "spec", None) is not None else type(env).__name__
    if not isinstance(act, gym.spaces.Box) or not isinstance(obs_space, gym.spaces.Box):
        raise ValueError(
            f"ARS's linear policies need Box observation and action spaces (continuous control); "
            f"the environment (env_id {env_name!r}) has observation_space {obs_space} and action_space {act}"
        )
    obs_dim = int(np.prod(env.observation_space.shape))
    return LinearPolicy(obs_dim, int(np.prod(act.shape)), np.asarray(act.low, float), np.asarray(act.high, float))


def rollout(env, policy: LinearPolicy, theta, obs_mean, obs_std, *, seed: int, shift: float = 0.0,
            horizon: int | None = None, collect: bool = False) -> tuple[float, int, RunningMeanStd | None]:
    """One episode of a linear policy: ``(sum of (reward - shift), steps, observation statistics or None)``.

    The policy sees ``(s - obs_mean) / obs_std``. ``collect=True`` also returns a
    :class:`~pgnotes.policy_search.RunningMeanStd` of the raw observations seen, for V2.
    """
    _validate.instance("policy", policy, LinearPolicy, "LinearPolicy")
    seed = _validate.seed("seed", seed)
    if horizon is not None:
        horizon = _validate.integer_at_least("horizon", horizon, 1)
    theta = _validate.finite_array("theta", theta, shape=(policy.n_params,))
    obs, _ = env.reset(seed=int(seed))
    total, steps, seen = 0.0, 0, []
    horizon = horizon or env.spec.max_episode_steps or 1000
    while steps < horizon:
        if collect:
            seen.append(obs)
        obs, reward, terminated, truncated, _ = env.step(policy.act(theta, obs, obs_mean, obs_std))
        total += float(reward) - shift
        steps += 1
        if terminated or truncated:
            break
    if not np.isfinite(total):
        raise FloatingPointError(f"non-finite return {total} in a rollout (seed {seed})")
    stats = None
    if collect:
        stats = RunningMeanStd(policy.obs_dim, clip=None)
        stats.update(np.asarray(seen, dtype=np.float64))
    return total, steps, stats


# -- parallel rollouts --------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _worker_init(env_id: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    env = make_env(env_id)
    _WORKER.update(env_id=env_id, env=env, policy=linear_policy_for(env))


def _worker_rollout(task: tuple) -> tuple:
    theta, mean, std, seed, shift, horizon, collect = task
    return rollout(_WORKER["env"], _WORKER["policy"], theta, mean, std, seed=seed, shift=shift, horizon=horizon,
                   collect=collect)


class RolloutPool:
    """Episodes of linear policies on ``workers`` processes, each with its own environment (chapter 4).

    ``workers=1`` runs in this process (no pool). Results do not depend on the number of
    workers: every episode is reset with its own seed. Use as a context manager.
    """

    def __init__(self, env_id: str, workers: int = 1, start_method: str = "spawn"):
        if ":" not in str(env_id):
            _validate.env_id("env_id", env_id)
        self.env_id = env_id
        self.workers = _validate.integer_at_least("workers", workers, 1, 1024)
        _validate.one_of("start_method", start_method, multiprocessing.get_all_start_methods())
        _worker_init(env_id)
        self.policy = _WORKER["policy"]
        self._pool = None
        if self.workers > 1:
            ctx = multiprocessing.get_context(start_method)
            self._pool = ctx.Pool(self.workers, initializer=_worker_init, initargs=(env_id,))

    def run(self, tasks: list[tuple]) -> list[tuple]:
        if self._pool is None:
            return [_worker_rollout(t) for t in tasks]
        return self._pool.map(_worker_rollout, tasks, chunksize=max(1, len(tasks) // (2 * self.workers)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- training loop ------------------------------------------------------------------------

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
    horizon: int = 1000  #: H, maximum episode length
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


def _resumable(config: dict) -> dict:
    """The fields that must agree to resume a run (the budget and the worker count may change)."""
    return {k: v for k, v in config.items() if k not in ("max_episodes", "workers")}


def _seed(*words: int) -> int:
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1)[0])


def train_ars(config: ARSConfig, *, checkpoint: str | Path | None = None, progress: bool = True,
              max_seconds: float | None = None) -> tuple[ARSHistory, dict]:
    """Train a linear policy with ARS on ``config.env_id``; returns the history and the final state (chapter 4).

    Stops when ``config.threshold`` is reached by an evaluation, when ``max_episodes`` training
    episodes are used, or after ``max_seconds`` (then resume by calling again with the same
    ``checkpoint``: it is written atomically after every iteration, and a resumed run continues
    exactly as an uninterrupted one would).
    """
    from tqdm.auto import tqdm

    from pgnotes.checkpoint import load_checkpoint, save_checkpoint

    _validate.instance("config", config, ARSConfig, "ARSConfig")
    config.__post_init__()  # fields may have been changed after construction
    if checkpoint is not None:
        from pgnotes.solvers.runner import _writable_file

        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint must be a path (str or os.PathLike) or None, got {type(checkpoint).__name__}")
        _writable_file("checkpoint", Path(checkpoint))
    if max_seconds is not None:
        _validate.positive("max_seconds", max_seconds)
    _validate.boolean("progress", progress)
    b, normalize = version_settings(config.version, config.n_directions, config.top_b)
    with RolloutPool(config.env_id, config.workers) as pool:
        policy = pool.policy
        solver = ARS(np.zeros(policy.n_params), config.n_directions, b, step_size=config.step_size,
                     noise=config.noise, rng=config.seed)
        stats = RunningMeanStd(policy.obs_dim, clip=None)
        history, episodes, timesteps, elapsed = ARSHistory(), 0, 0, 0.0
        if checkpoint is not None and Path(checkpoint).exists():
            saved = load_checkpoint(checkpoint)
            if _resumable(saved["config"]) != _resumable(asdict(config)):
                raise ValueError(f"checkpoint {checkpoint} was written by another configuration: {saved['config']}")
            solver.load_state_dict(saved["solver"])
            stats.load_state_dict(saved["stats"])
            history = ARSHistory(**saved["history"])
            episodes, timesteps, elapsed = saved["episodes"], saved["timesteps"], saved["elapsed"]
        start = time.perf_counter() - elapsed
        call_start = time.perf_counter()
        bar = tqdm(total=config.max_episodes, initial=episodes, disable=not progress, desc=f"ARS {config.version}",
                   leave=False)

        def reached() -> bool:
            return history.episodes_to_threshold is not None

        while not reached() and episodes + solver.popsize <= config.max_episodes:
            if max_seconds is not None and time.perf_counter() - call_start > max_seconds:
                break
            it = solver.generation
            mean, std = (stats.mean, stats.std + stats.eps) if normalize else (np.zeros(policy.obs_dim), np.ones(policy.obs_dim))
            x = solver.ask()
            tasks = [(xi, mean, std, _seed(config.seed, it, k), config.shift, config.horizon, normalize)
                     for k, xi in enumerate(x)]
            results = pool.run(tasks)
            solver.tell(x, np.array([r[0] for r in results]))
            episodes += len(results)
            timesteps += sum(r[1] for r in results)
            if normalize:
                for _, _, s in results:
                    stats.merge(s)
            bar.update(len(results))
            if solver.generation % config.eval_every == 0:
                mean, std = (stats.mean, stats.std + stats.eps) if normalize else (mean, std)
                evals = pool.run([(solver.theta, mean, std, _seed(config.seed, it, k, 1), 0.0, config.horizon, False)
                                  for k in range(config.eval_episodes)])
                value = float(np.mean([r[0] for r in evals]))
                history.iteration.append(solver.generation)
                history.episodes.append(episodes)
                history.timesteps.append(timesteps)
                history.eval_return.append(value)
                history.wall_time.append(time.perf_counter() - start)
                bar.set_postfix(eval=f"{value:.1f}", refresh=False)
                if config.threshold is not None and value >= config.threshold:
                    history.episodes_to_threshold = episodes
            if checkpoint is not None:
                save_checkpoint(checkpoint, {
                    "config": asdict(config), "solver": solver.state_dict(), "stats": stats.state_dict(),
                    "history": asdict(history), "episodes": episodes, "timesteps": timesteps,
                    "elapsed": time.perf_counter() - start})
        bar.close()
    final = {"theta": solver.theta.copy(), "obs_mean": stats.mean.copy(), "obs_std": stats.std + stats.eps,
             "episodes": episodes, "timesteps": timesteps, "finished": reached() or episodes + solver.popsize > config.max_episodes}
    return history, final
