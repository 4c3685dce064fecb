r"""Policies whose parameters a black-box solver searches: torch MLPs seen as one flat vector (chapter 3).

Algorithm 8 of Euskirchen's notes applies a search-gradient method to a network's weights: the
solver sees the policy's parameters as one flat vector (``torch.nn.utils.parameters_to_vector``).

* :class:`MLPPolicy` -- linear (``hidden=()``) or MLP policies, discrete actions by ``argmax``
  of the outputs, continuous actions clipped (or ``tanh``-squashed) to the action box;
  :func:`make_policy` builds one for an environment (built from a seed with
  :func:`pgnotes.seeding.torch_seeded` where the initialization matters);
* :func:`get_flat_params` / :func:`set_flat_params` / :func:`num_params` -- the flat vector and back;
* :func:`batched_policy` -- a whole population evaluated in one batched forward pass
  (a fast path for :class:`MLPPolicy`, ``torch.func.vmap`` for any other module).

Environments are stepped elsewhere, in :mod:`pgnotes.evaluation`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pgnotes import _validate

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}
SQUASHES = ("clip", "tanh")


class MLPPolicy(nn.Module):
    """Deterministic policy: a linear map (``hidden=()``) or an MLP from observation to action (chapter 3).

    Parameters
    ----------
    obs_dim, act_dim : int
        Observation length and number of outputs (the number of discrete actions, or the
        length of a continuous action).
    hidden : sequence of int
        Hidden layer widths; ``()`` gives a linear policy ``a = W o + b``.
    activation : {"tanh", "relu", "elu"}
        Hidden activation (default tanh).
    discrete : bool
        If True the action is ``argmax`` of the outputs; else the outputs are the action,
        clipped to ``[low, high]`` (``squash="clip"``) or mapped there by ``tanh``.
    low, high : array_like, optional
        Bounds of a continuous action (default: unbounded for "clip", [-1, 1] for "tanh").
    bias : bool
        Whether layers have a bias (default True).
    zero_init : bool
        Start from all-zero weights (ARS and ES on linear policies do); default False (torch's
        default initialization).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int] = (),
        *,
        activation: str = "tanh",
        discrete: bool = False,
        low=None,
        high=None,
        squash: str = "clip",
        bias: bool = True,
        zero_init: bool = False,
    ):
        super().__init__()
        self.obs_dim = _validate.integer_at_least("obs_dim", obs_dim, 1)
        self.act_dim = _validate.integer_at_least("act_dim", act_dim, 1)
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise TypeError(f"hidden must be a sequence of layer sizes, e.g. (32,) or (), got {type(hidden).__name__} {hidden!r:.80}")
        hidden = tuple(_validate.integer_at_least("hidden[i]", h, 1) for h in hidden)
        for n_in, n_out in zip((self.obs_dim, *hidden), (*hidden, self.act_dim)):
            _validate.allocation("a layer of the policy (obs_dim, hidden, act_dim)", n_in, n_out)
        _validate.one_of("activation", activation, tuple(ACTIVATIONS))
        _validate.one_of("squash", squash, SQUASHES)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        if squash not in SQUASHES:
            raise ValueError(f"squash must be one of {SQUASHES}, got {squash!r}")
        self.hidden, self.activation, self.discrete, self.squash, self.bias = hidden, activation, bool(discrete), squash, bool(bias)
        sizes = (self.obs_dim, *hidden, self.act_dim)
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out, bias=self.bias))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)
        if zero_init:
            with torch.no_grad():
                for p in self.parameters():
                    p.zero_()
        default_low, default_high = (-1.0, 1.0) if squash == "tanh" else (-np.inf, np.inf)
        for name, bound in (("low", low), ("high", high)):
            if bound is not None:
                b = _validate._as_float_array(name, bound)
                if b.ndim > 1 or b.size not in (1, self.act_dim) or np.any(np.isnan(b)):
                    raise ValueError(f"{name} must be a number or have shape ({self.act_dim},) without NaN, got {b!r:.80}")
        low = np.full(self.act_dim, default_low) if low is None else np.broadcast_to(np.asarray(low, dtype=np.float64), (self.act_dim,))
        high = np.full(self.act_dim, default_high) if high is None else np.broadcast_to(np.asarray(high, dtype=np.float64), (self.act_dim,))
        if np.any(~(low < high)):
            raise ValueError("low must be < high in every coordinate")
        if squash == "tanh" and not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError("squash='tanh' needs finite low and high")
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(high, dtype=torch.float32))

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each linear layer, in order."""
        return [(m.out_features, m.in_features) for m in self.net if isinstance(m, nn.Linear)]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw outputs (logits or unsquashed action), shape (..., act_dim)."""
        return self.net(obs)

    def to_action(self, out: torch.Tensor) -> torch.Tensor:
        """Map raw outputs to actions: argmax (discrete), clip or tanh to the box (continuous)."""
        if self.discrete:
            return out.argmax(dim=-1)
        if self.squash == "tanh":
            return self.low + (torch.tanh(out) + 1) * 0.5 * (self.high - self.low)
        return torch.clamp(out, self.low, self.high)

    @torch.no_grad()
    def act(self, obs) -> np.ndarray:
        """Action(s) for observation(s) ``obs`` as numpy (int64 for discrete)."""
        out = self.to_action(self.forward(torch.as_tensor(np.asarray(obs), dtype=torch.float32)))
        return out.numpy()

    def extra_repr(self) -> str:
        return f"discrete={self.discrete}, squash={self.squash!r}"


def make_policy(env: gym.Env | gym.vector.VectorEnv | str, hidden: Sequence[int] = (), **kwargs) -> MLPPolicy:
    """Build an :class:`MLPPolicy` matching ``env``'s observation and action spaces (chapter 3).

    ``env`` may be an environment, a vector environment or an id. ``Discrete(n)`` actions
    give ``n`` outputs and argmax; ``Box`` actions give one output per coordinate, clipped to
    the box. Other keyword arguments go to :class:`MLPPolicy`.
    """
    close = False
    if isinstance(env, str):
        _validate.env_id("env", env)
        env, close = gym.make(env), True
    elif not isinstance(env, (gym.Env, gym.vector.VectorEnv)):
        raise TypeError(f"env must be a Gymnasium environment, vector environment or id, got {type(env).__name__}")
    obs_space = getattr(env, "single_observation_space", env.observation_space)
    act_space = getattr(env, "single_action_space", env.action_space)
    try:
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"make_policy needs a 1-D Box observation space, got {obs_space}")
        if isinstance(act_space, gym.spaces.Discrete):
            return MLPPolicy(obs_space.shape[0], int(act_space.n), hidden, discrete=True, **kwargs)
        if isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
            kwargs.setdefault("low", act_space.low)
            kwargs.setdefault("high", act_space.high)
            return MLPPolicy(obs_space.shape[0], act_space.shape[0], hidden, discrete=False, **kwargs)
        raise ValueError(f"make_policy supports Discrete or 1-D Box action spaces, got {act_space}")
    finally:
        if close:
            env.close()


def get_flat_params(policy: nn.Module) -> np.ndarray:
    """The policy's parameters as one float64 vector (``parameters_to_vector``). Chapter 3."""
    return nn.utils.parameters_to_vector(policy.parameters()).detach().double().numpy().copy()


def set_flat_params(policy: nn.Module, flat) -> nn.Module:
    """Write a flat vector back into the policy's parameters (``vector_to_parameters``); returns the policy."""
    _validate.instance("policy", policy, nn.Module, "torch.nn.Module")
    n = sum(p.numel() for p in policy.parameters())
    flat = _validate.finite_array("flat", flat, shape=(n,))
    with torch.no_grad():
        nn.utils.vector_to_parameters(torch.as_tensor(flat, dtype=torch.float32), policy.parameters())
    return policy


def num_params(policy: nn.Module) -> int:
    """Number of scalar parameters, i.e. the dimension the black-box solver searches."""
    return sum(p.numel() for p in policy.parameters())


def batched_policy(policy: nn.Module, params) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``forward(obs) -> out`` evaluating a population of parameter vectors at once (chapter 3).

    ``params`` is (P, D); ``obs`` is (P, B, obs_dim) (B observations per candidate) and the
    result (P, B, act_dim) of raw outputs (apply ``policy.to_action``). For an
    :class:`MLPPolicy` this is a chain of batched matrix products (``torch.baddbmm``); any
    other module is evaluated with ``torch.func.vmap`` over ``torch.func.functional_call``.
    """
    _validate.instance("policy", policy, nn.Module, "torch.nn.Module")
    params = torch.as_tensor(_validate.finite_array("params", params), dtype=torch.float32)
    if params.ndim != 2 or params.shape[1] != num_params(policy):
        raise ValueError(f"params must have shape (P, {num_params(policy)}), got {tuple(params.shape)}")
    if isinstance(policy, MLPPolicy):
        layers, offset = [], 0
        for out_f, in_f in policy.layer_shapes:
            w = params[:, offset : offset + out_f * in_f].reshape(-1, out_f, in_f).transpose(1, 2)
            offset += out_f * in_f
            b = None
            if policy.bias:
                b = params[:, offset : offset + out_f].unsqueeze(1)
                offset += out_f
            layers.append((w, b))
        act = ACTIVATIONS[policy.activation]()

        def forward(obs: torch.Tensor) -> torch.Tensor:
            h = obs
            for i, (w, b) in enumerate(layers):
                h = torch.baddbmm(b, h, w) if b is not None else torch.bmm(h, w)
                if i < len(layers) - 1:
                    h = act(h)
            return h

        return forward
    names = [name for name, _ in policy.named_parameters()]
    shapes = [p.shape for _, p in policy.named_parameters()]
    stacked, offset = {}, 0
    for name, shape in zip(names, shapes):
        n = int(np.prod(shape))
        stacked[name] = params[:, offset : offset + n].reshape(-1, *shape)
        offset += n
    buffers = dict(policy.named_buffers())

    def call(p, o):
        return torch.func.functional_call(policy, (p, buffers), (o,))

    vmapped = torch.func.vmap(call)
    return lambda obs: vmapped(stacked, obs)

