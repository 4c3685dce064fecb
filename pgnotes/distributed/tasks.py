"""Fitness tasks for distributed ES: policy rollouts (with multi-environment variants) and a synthetic sphere.

Chapter 6. A task maps a flat float32 parameter vector and an episode seed to a return
(maximized). Every worker builds its own task object (its own environments) once and reuses
it for all evaluations.

* :class:`PolicyTask` -- a torch MLP policy (deterministic: argmax for discrete actions, tanh
  scaled to the bounds for continuous ones) rolled out in a Gymnasium environment with a
  per-episode step limit. With ``variants`` it averages the return over a set of environment
  variants with randomized physics (multi-environment search, the CMU 10-703 lecture's remedy for local
  optima); :func:`cartpole_variants` draws CartPole pole lengths, pole masses and force
  magnitudes.
* :class:`SphereTask` -- :math:`-\\|x - 0.5\\|^2` in any dimension: no environment, used to
  measure communication at large parameter dimensions.

Episodes are played by the one evaluator's loop (:func:`pgnotes.evaluation.run_episode`), the
policy is a :class:`pgnotes.mlp_policy.MLPPolicy` built from a seed (:func:`pgnotes.seeding.torch_seeded`,
the global generator untouched), and there is no observation normalization.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from pgnotes import _validate
from pgnotes.evaluation import run_episode
from pgnotes.mlp_policy import MLPPolicy, make_policy
from pgnotes.seeding import torch_seeded

#: Nominal CartPole-v1 physics (Barto, Sutton & Anderson 1983, as in Gymnasium).
CARTPOLE_NOMINAL = {"length": 0.5, "masspole": 0.1, "force_mag": 10.0}


def policy_from_seed(env, hidden: Sequence[int], seed: int) -> MLPPolicy:
    """The task's policy for ``env``: tanh hidden layers, argmax (discrete) or tanh scaled to the bounds, initialized from ``seed``."""
    with torch_seeded(seed):
        policy = make_policy(env, tuple(hidden), squash="tanh")
    for p in policy.parameters():
        p.requires_grad_(False)
    return policy


def cartpole_variants(n: int, seed: int, *, length=(0.25, 1.5), masspole=(0.05, 0.5), force_mag=(4.0, 15.0)) -> list[dict[str, float]]:
    """Draw ``n`` CartPole physics variants uniformly from the given ranges (seeded).

    Keys: ``length`` (half the pole length, nominal 0.5 m), ``masspole`` (nominal 0.1 kg) and
    ``force_mag`` (push force, nominal 10 N). Introduced in chapter 6 (multi-environment search).
    """
    n = _validate.integer_at_least("n", n, 1)
    rng = np.random.default_rng(int(seed))
    out = []
    for _ in range(n):
        out.append(
            {
                "length": float(rng.uniform(*length)),
                "masspole": float(rng.uniform(*masspole)),
                "force_mag": float(rng.uniform(*force_mag)),
            }
        )
    return out


def apply_cartpole_variant(env, variant: dict[str, float]) -> None:
    """Set a CartPole environment's physics (and the quantities derived from it) in place."""
    core = env.unwrapped
    for key in ("length", "masspole", "force_mag"):
        if key in variant:
            setattr(core, key, float(variant[key]))
    core.total_mass = core.masspole + core.masscart
    core.polemass_length = core.masspole * core.length


class PolicyTask:
    """Return of a flat parameter vector's policy in a Gymnasium environment.

    ``evaluate(theta, seed)`` never raises for a failed episode: an exception inside the
    environment or a non-finite return gives ``nan``, which the update leaves out.

    Parameters
    ----------
    env_id : str
        Gymnasium id with a Box observation space and a Discrete or Box action space.
    hidden : sequence of int
        Hidden layer sizes of the policy MLP.
    max_steps : int
        Per-episode step limit (overrides the environment's own if smaller or larger).
    episodes : int
        Episodes per evaluation (and per variant); the returns are averaged.
    variants : list of dict, optional
        Physics variants (CartPole keys, see :func:`cartpole_variants`); the return is averaged
        over all of them. None: the nominal environment only.
    """

    def __init__(
        self,
        env_id: str = "CartPole-v1",
        hidden: Sequence[int] = (16,),
        max_steps: int = 500,
        episodes: int = 1,
        variants: list[dict[str, float]] | None = None,
    ):
        import gymnasium as gym  # imported here: the sphere task needs no environment

        if ":" not in str(env_id):
            _validate.env_id("env_id", env_id)
        self.env_id = env_id
        self.max_steps = _validate.integer_at_least("max_steps", max_steps, 1)
        self.episodes = _validate.integer_at_least("episodes", episodes, 1)
        self.env = gym.make(env_id, max_episode_steps=self.max_steps)
        obs_space, act_space = self.env.observation_space, self.env.action_space
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"env_id {env_id!r} must have a flat Box observation space, got {obs_space}")
        self.discrete = isinstance(act_space, gym.spaces.Discrete)
        if not (self.discrete or isinstance(act_space, gym.spaces.Box)):
            raise ValueError(f"env_id {env_id!r} must have a Discrete or Box action space, got {act_space}")
        if variants is not None and not env_id.startswith("CartPole"):
            raise ValueError(f"variants are implemented for CartPole only, got env_id={env_id!r}")
        self.variants = [dict(v) for v in variants] if variants else None
        self.hidden = tuple(hidden)
        self.policy = policy_from_seed(self.env, self.hidden, seed=0)
        self.dim = sum(p.numel() for p in self.policy.parameters())

    def initial_theta(self, seed: int) -> np.ndarray:
        """Initial parameters: PyTorch's default initialization seeded by ``seed`` (float32)."""
        policy = policy_from_seed(self.env, self.hidden, seed)
        return torch.nn.utils.parameters_to_vector(policy.parameters()).numpy().astype(np.float32)

    def load(self, theta: np.ndarray) -> None:
        """Copy ``theta`` into the policy's parameters."""
        torch.nn.utils.vector_to_parameters(torch.as_tensor(np.asarray(theta, dtype=np.float32)), self.policy.parameters())

    def act(self, obs: np.ndarray):
        """Deterministic action of the loaded policy."""
        action = self.policy.to_action(self.policy(torch.as_tensor(obs, dtype=torch.float32)))
        return int(action) if self.discrete else action.numpy()

    def episode(self, seed: int, variant: dict[str, float] | None = None) -> tuple[float, int]:
        """One episode of the loaded policy: ``(return, steps)``."""
        if self.env_id.startswith("CartPole"):  # always set: a previous variant must not leak
            apply_cartpole_variant(self.env, variant or CARTPOLE_NOMINAL)
        with torch.inference_mode():
            total, steps, _, _ = run_episode(self.env, self.act, seed=seed, max_steps=self.max_steps)
        return total, steps

    def evaluate(self, theta: np.ndarray, seed: int) -> float:
        """Mean return over ``episodes`` episodes (seeds ``seed, seed+1, ...``) and all variants."""
        self.load(theta)
        variants = self.variants or [None]
        returns = []
        try:
            for variant in variants:
                for e in range(self.episodes):
                    returns.append(self.episode(seed + e, variant)[0])
        except Exception:  # a failed episode must not take the worker down: it is left out
            return math.nan
        value = float(np.mean(returns))
        return value if math.isfinite(value) else math.nan

    def evaluate_on(self, theta: np.ndarray, variants: list[dict[str, float]] | None, seeds: Sequence[int]) -> np.ndarray:
        """Returns of ``theta`` on each variant (rows) and episode seed (columns)."""
        self.load(theta)
        variants = variants or [None]
        out = np.empty((len(variants), len(seeds)))
        for i, variant in enumerate(variants):
            for j, s in enumerate(seeds):
                out[i, j] = self.episode(int(s), variant)[0]
        return out


class SphereTask:
    """Synthetic fitness :math:`-\\|x - 0.5\\|^2` of dimension ``dim`` (the seed is ignored)."""

    def __init__(self, dim: int):
        self.dim = _validate.integer_at_least("dim", dim, 1)

    def initial_theta(self, seed: int) -> np.ndarray:
        return np.zeros(self.dim, dtype=np.float32)

    def evaluate(self, theta: np.ndarray, seed: int) -> float:
        d = np.asarray(theta, dtype=np.float64) - 0.5
        return -float(d @ d)


def make_task(config: Any):
    """The task named by an :class:`~pgnotes.distributed.algorithm.ESConfig`."""
    if config.task == "sphere":
        return SphereTask(config.dim)
    variants = cartpole_variants(config.variants, config.variant_seed) if config.variants else None
    return PolicyTask(config.task, config.hidden, config.max_episode_steps, config.episodes, variants)
