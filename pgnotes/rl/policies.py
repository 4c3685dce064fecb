r"""Stochastic policies :math:`\pi_\theta(a \mid s)` as torch modules (chapter 2).

A policy maps a batch of observations to a ``torch.distributions`` object; REINFORCE needs
only two things from it: to **sample** actions and to give :math:`\log\pi_\theta(a\mid s)`,
whose gradient (by autograd) is the score that Algorithms 4-7 weight by the return.

* :class:`CategoricalPolicy`: discrete actions, softmax over the logits of an MLP;
* :class:`GaussianPolicy`: continuous actions, :math:`\mathcal N(\mu_\theta(s), \operatorname{diag}\sigma^2)`
  with a state-independent learned :math:`\log\sigma`;
* :class:`TabularSoftmaxPolicy`: one logit per (state, action), for the small MDPs of
  :mod:`pgnotes.rl.tabular_mdp`, where exact gradients are known.

Sampling takes an explicit ``torch.Generator``, so the same seed gives the same actions; networks
are initialized from a seed by :func:`pgnotes.seeding.torch_seeded`, leaving torch's global
generator as it was.
:func:`make_policy` picks the family from Gymnasium spaces; :meth:`Policy.check_spaces` raises
a ``ValueError`` naming the mismatch when a policy is used with the wrong environment.
"""

from __future__ import annotations

from typing import Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pgnotes import _validate
from pgnotes.seeding import torch_seeded

__all__ = [
    "Policy",
    "CategoricalPolicy",
    "GaussianPolicy",
    "TabularSoftmaxPolicy",
    "ValueFunction",
    "mlp",
    "make_policy",
]


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.Tanh, output_gain: float = 1.0) -> nn.Sequential:
    """Multi-layer perceptron ``sizes[0] -> ... -> sizes[-1]``, ``activation`` between layers, linear output.

    The output layer's weights are scaled by ``output_gain`` (a small gain gives a nearly
    uniform initial policy).
    """
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes (and hidden) must be a sequence of layer sizes, e.g. (32,), got {type(sizes).__name__} {sizes!r:.80}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least input and output sizes, got {list(sizes)}")
    for i, size in enumerate(sizes):
        _validate.integer_at_least(f"sizes[{i}]", size, 1)
    for i in range(len(sizes) - 1):
        _validate.allocation(f"the layer sizes[{i}] x sizes[{i + 1}]", sizes[i], sizes[i + 1])
    _validate.callable_("activation", activation)
    output_gain = _validate.real("output_gain", output_gain)
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
    with torch.no_grad():
        layers[-1].weight.mul_(output_gain)
        layers[-1].bias.zero_()
    return nn.Sequential(*layers)


class Policy(nn.Module):
    """Base class of the course's policies: ``distribution(obs)`` and what follows from it. Chapter 2."""

    discrete: bool = True

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Distribution:  # pragma: no cover
        raise NotImplementedError

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        r""":math:`\log\pi_\theta(a_t\mid s_t)` for a batch, shape (N,)."""
        dist = self.distribution(obs)
        logp = dist.log_prob(actions)
        return logp if self.discrete else logp.sum(-1)

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:  # pragma: no cover
        """Draw one action per observation from :math:`\\pi_\\theta(\\cdot\\mid s)`."""
        raise NotImplementedError

    def mode(self, obs: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """The most likely action (greedy / mean action)."""
        raise NotImplementedError

    def preprocess(self, obs) -> torch.Tensor:
        """Observations from the environment (numpy) to the tensor the network takes."""
        return torch.as_tensor(np.asarray(obs), dtype=torch.float32)

    @torch.no_grad()
    def act(self, obs, generator: torch.Generator | None = None, *, deterministic: bool = False):
        """Actions (numpy) and their log-probabilities (numpy) for a batch of numpy observations."""
        self.check_observations(obs)
        if generator is not None:
            _validate.instance("generator", generator, torch.Generator, "torch.Generator or None")
        obs_t = self.preprocess(obs)
        if deterministic:
            actions = self.mode(obs_t)
            logp = self.log_prob(obs_t, actions)
        else:
            actions, logp = self.sample_with_log_prob(obs_t, generator)
        return actions.numpy(), logp.numpy()

    def sample_with_log_prob(self, obs: torch.Tensor, generator: torch.Generator | None = None):
        """Sample actions and return them with their log-probabilities (one network pass where possible)."""
        actions = self.sample(obs, generator)
        return actions, self.log_prob(obs, actions)

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:  # pragma: no cover
        """Raise ``ValueError`` naming the argument if the policy does not fit these spaces."""
        raise NotImplementedError

    def check_observations(self, obs) -> None:
        """Raise ``ValueError``/``TypeError`` naming ``obs`` unless it is a finite batch (..., obs_dim)."""
        obs_dim = getattr(self, "obs_dim", None)
        if obs_dim is None:
            return
        array = _validate.finite_array("obs", obs)
        if array.ndim < 1 or array.shape[-1] != obs_dim:
            raise ValueError(f"obs must have shape (..., {obs_dim}) for this policy (obs_dim={obs_dim}), got shape {array.shape}")

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _box_obs_dim(observation_space: gym.Space) -> int:
    if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(
            f"observation_space must be a 1-D Box for an MLP policy, got {observation_space}"
        )
    return int(observation_space.shape[0])


class SoftmaxPolicy(Policy):
    """Policies over ``n_actions`` discrete actions with softmax ``logits(obs)``: sampling, mode and distribution. Chapter 2."""

    n_actions: int

    def logits(self, obs: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def distribution(self, obs):
        return torch.distributions.Categorical(logits=self.logits(obs))

    def sample(self, obs, generator=None):
        probs = torch.softmax(self.logits(obs), dim=-1)
        return torch.multinomial(probs.reshape(-1, self.n_actions), 1, generator=generator).reshape(probs.shape[:-1])

    def mode(self, obs):
        return torch.argmax(self.logits(obs), dim=-1)


class CategoricalPolicy(SoftmaxPolicy):
    r"""Softmax policy over ``n_actions`` discrete actions, logits from an MLP of the observation. Chapter 2.

    Parameters
    ----------
    obs_dim : int
        Length of the observation vector.
    n_actions : int
        Number of actions (>= 2).
    hidden : sequence of int
        Hidden layer sizes (default (32,)).
    seed : int
        Seed of the weight initialization (torch's global generator is restored afterwards).
    """

    discrete = True

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (32,), *, activation=nn.Tanh, seed: int = 0):
        super().__init__()
        self.obs_dim = _validate.integer_at_least("obs_dim", obs_dim, 1)
        self.n_actions = _validate.integer_at_least("n_actions", n_actions, 2)
        with torch_seeded(seed):
            self.net = mlp([self.obs_dim, *hidden, self.n_actions], activation, output_gain=0.01)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

    def log_prob(self, obs, actions):
        logp = torch.log_softmax(self.logits(obs), dim=-1)
        return logp.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def sample_with_log_prob(self, obs, generator=None):
        logp = torch.log_softmax(self.logits(obs), dim=-1)
        flat = logp.reshape(-1, self.n_actions)
        actions = torch.multinomial(flat.exp(), 1, generator=generator)
        return actions.reshape(logp.shape[:-1]), flat.gather(-1, actions).reshape(logp.shape[:-1])

    def check_spaces(self, observation_space, action_space):
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(f"action_space must be Discrete for a CategoricalPolicy, got {action_space}")
        if int(action_space.n) != self.n_actions:
            raise ValueError(f"action_space has {action_space.n} actions but the policy has n_actions={self.n_actions}")
        if _box_obs_dim(observation_space) != self.obs_dim:
            raise ValueError(f"observation_space has shape {observation_space.shape} but the policy has obs_dim={self.obs_dim}")


class GaussianPolicy(Policy):
    r"""Gaussian policy :math:`\mathcal N(\mu_\theta(s), \operatorname{diag}\sigma^2)`, learned state-independent :math:`\log\sigma`. Chapter 2.

    The log-probability is that of the sampled (unclipped) action; the rollout clips actions to
    the action space's bounds only when stepping the environment.

    Parameters
    ----------
    obs_dim, act_dim : int
        Observation and action lengths.
    hidden : sequence of int
        Hidden layer sizes (default (32,)).
    log_std_init : float
        Initial :math:`\log\sigma` for every action dimension (default 0.0).
    action_scale : float
        Multiplies the network output to give the mean (e.g. the action bound; default 1.0).
    seed : int
        Seed of the weight initialization.
    """

    discrete = False

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int] = (32,),
        *,
        log_std_init: float = 0.0,
        action_scale: float = 1.0,
        activation=nn.Tanh,
        seed: int = 0,
    ):
        super().__init__()
        self.obs_dim = _validate.integer_at_least("obs_dim", obs_dim, 1)
        self.act_dim = _validate.integer_at_least("act_dim", act_dim, 1)
        self.action_scale = _validate.positive("action_scale", action_scale)
        log_std_init = _validate.finite_array("log_std_init", log_std_init, ndim=0).item()
        with torch_seeded(seed):
            self.net = mlp([self.obs_dim, *hidden, self.act_dim], activation, output_gain=0.01)
        self.log_std = nn.Parameter(torch.full((self.act_dim,), float(log_std_init)))

    def mean(self, obs: torch.Tensor) -> torch.Tensor:
        return self.action_scale * self.net(obs)

    def distribution(self, obs):
        mu = self.mean(obs)
        return torch.distributions.Normal(mu, self.log_std.exp().expand_as(mu))

    def sample(self, obs, generator=None):
        mu = self.mean(obs)
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        return mu + self.log_std.exp() * noise

    def mode(self, obs):
        return self.mean(obs)

    def check_spaces(self, observation_space, action_space):
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"action_space must be a 1-D Box for a GaussianPolicy, got {action_space}")
        if int(action_space.shape[0]) != self.act_dim:
            raise ValueError(f"action_space has shape {action_space.shape} but the policy has act_dim={self.act_dim}")
        if _box_obs_dim(observation_space) != self.obs_dim:
            raise ValueError(f"observation_space has shape {observation_space.shape} but the policy has obs_dim={self.obs_dim}")


class TabularSoftmaxPolicy(SoftmaxPolicy):
    r"""Tabular softmax policy :math:`\pi_\theta(a\mid s) \propto e^{\theta_{s,a}}` over integer states. Chapter 2.

    ``theta`` has shape (n_states, n_actions) and defaults to zeros (the uniform policy).
    """

    discrete = True

    def __init__(self, n_states: int, n_actions: int, theta=None):
        super().__init__()
        self.n_states = _validate.integer_at_least("n_states", n_states, 1)
        self.n_actions = _validate.integer_at_least("n_actions", n_actions, 2)
        if theta is None:
            theta = np.zeros((self.n_states, self.n_actions))
        theta = _validate.finite_array("theta", theta, shape=(self.n_states, self.n_actions))
        self.theta = nn.Parameter(torch.as_tensor(theta, dtype=torch.float64))

    def preprocess(self, obs) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs), dtype=torch.long)

    def check_observations(self, obs) -> None:
        states = np.asarray(obs)
        if not np.issubdtype(states.dtype, np.integer):
            raise TypeError(f"obs must hold integer states in [0, {self.n_states - 1}], got dtype {states.dtype}")
        if np.any((states < 0) | (states >= self.n_states)):
            raise ValueError(f"obs must hold states in [0, {self.n_states - 1}], got values from {states.min()} to {states.max()}")

    def probs(self) -> np.ndarray:
        """The table :math:`\\pi(a\\mid s)`, shape (n_states, n_actions)."""
        return torch.softmax(self.theta.detach(), dim=-1).numpy()

    def logits(self, obs):
        return self.theta[obs.long()]

    def check_spaces(self, observation_space, action_space):
        if not isinstance(observation_space, gym.spaces.Discrete) or int(observation_space.n) != self.n_states:
            raise ValueError(f"observation_space must be Discrete({self.n_states}) for this tabular policy, got {observation_space}")
        if not isinstance(action_space, gym.spaces.Discrete) or int(action_space.n) != self.n_actions:
            raise ValueError(f"action_space must be Discrete({self.n_actions}) for this tabular policy, got {action_space}")


class ValueFunction(nn.Module):
    r"""State-value network :math:`V_\phi(s)`, the learned baseline of REINFORCE. Chapter 2."""

    def __init__(self, obs_dim: int, hidden: Sequence[int] = (32,), *, activation=nn.Tanh, seed: int = 0):
        super().__init__()
        self.obs_dim = _validate.integer_at_least("obs_dim", obs_dim, 1)
        with torch_seeded(seed):
            self.net = mlp([self.obs_dim, *hidden, 1], activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


def make_policy(observation_space: gym.Space, action_space: gym.Space, hidden: Sequence[int] = (32,), *, seed: int = 0, **kwargs) -> Policy:
    """A policy that fits the spaces: categorical for ``Discrete`` actions, Gaussian for ``Box``. Chapter 2.

    For a ``Box`` action space with finite bounds, the Gaussian mean is scaled by the largest
    absolute bound unless ``action_scale`` is given. Extra keyword arguments go to the policy.
    """
    _validate.instance("observation_space", observation_space, gym.Space, "gymnasium Space (e.g. env.observation_space)")
    _validate.instance("action_space", action_space, gym.Space, "gymnasium Space (e.g. env.action_space)")
    if isinstance(action_space, gym.spaces.Discrete):
        policy: Policy = CategoricalPolicy(_box_obs_dim(observation_space), int(action_space.n), hidden, seed=seed, **kwargs)
    elif isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        if "action_scale" not in kwargs:
            bound = np.max(np.abs(np.concatenate([action_space.low, action_space.high])))
            kwargs["action_scale"] = float(bound) if np.isfinite(bound) and bound > 0 else 1.0
        policy = GaussianPolicy(_box_obs_dim(observation_space), int(action_space.shape[0]), hidden, seed=seed, **kwargs)
    else:
        raise ValueError(f"action_space must be Discrete or a 1-D Box, got {action_space}")
    policy.check_spaces(observation_space, action_space)
    return policy
