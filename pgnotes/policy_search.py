r"""Evolution strategies on policy weights: torch policies, batched rollouts, observation normalization (chapter 3).

Algorithm 8 of Euskirchen's notes ("Search Gradient algorithm applied to neural network weights"):
the black-box solver sees the policy's parameters as one flat vector
(``torch.nn.utils.parameters_to_vector``), and the fitness of a vector is the return of the
policy it defines (**maximized**). The pieces here are general so that other chapters reuse
them (ARS in chapter 4, distributed ES in chapter 6):

* :class:`MLPPolicy` -- linear (``hidden=()``) or MLP policies, discrete actions by ``argmax``
  of the outputs, continuous actions clipped (or ``tanh``-squashed) to the action box;
  :func:`make_policy` builds one for an environment;
* :func:`get_flat_params` / :func:`set_flat_params` -- the flat vector and back;
* :func:`batched_policy` -- a whole population evaluated in one batched forward pass
  (a fast path for :class:`MLPPolicy`, ``torch.func.vmap`` for any other module);
* :class:`RunningMeanStd` -- Welford/Chan running mean and variance for observation
  normalization, mergeable across workers;
* :func:`rollout` -- one or more episodes per candidate on a Gymnasium vector environment,
  with a per-episode step limit, frozen normalization statistics during the rollout and
  one update after it;
* :class:`PolicyFitness` -- the fitness function ``f(X) -> returns`` for
  :func:`pgnotes.solvers.optimize` (``vectorized=True``), counting episodes and steps;
* :func:`search_policy` -- the whole loop: solver, fitness, periodic evaluation of the mean
  policy, stop at a target return.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pgnotes import _validate

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}
SQUASHES = ("clip", "tanh")


# -- policies ----------------------------------------------------------------------------------
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


@dataclass
class PolicySearchResult:
    """What :func:`search_policy` returns: the solver's history and the evaluations of the mean policy."""

    history: Any  #: pgnotes.solvers.History (per generation: best/mean fitness, evaluations, wall time)
    eval_generation: list[int] = field(default_factory=list)
    eval_return: list[float] = field(default_factory=list)
    eval_train_episodes: list[int] = field(default_factory=list)
    eval_train_steps: list[int] = field(default_factory=list)
    confirmations: list[tuple[int, float]] = field(default_factory=list)  #: (generation, mean return) of confirmations
    solved_generation: int | None = None  #: first generation whose mean policy reached ``target``
    solved_train_episodes: int | None = None
    solved_train_steps: int | None = None
    train_episodes: int = 0
    train_steps: int = 0
    eval_episodes: int = 0
    eval_steps: int = 0
    seconds: float = 0.0
    rollout_seconds: float = 0.0
    final_params: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("history", "final_params")}
        out["history"] = self.history.to_dict()
        out["final_params"] = None if self.final_params is None else self.final_params.tolist()
        return out

    def plot(self, ax=None, *, x: str = "train_episodes", label: str | None = None, target: float | None = None):
        """Evaluated return of the mean policy against training episodes (or "generation", "train_steps")."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        xs = {"train_episodes": self.eval_train_episodes, "generation": self.eval_generation, "train_steps": self.eval_train_steps}[x]
        ax.plot(xs, self.eval_return, label=label or "mean policy")
        if target is not None:
            ax.axhline(target, color="gray", linestyle=":", label=f"target {target:g}")
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel("evaluation return")
        ax.legend(fontsize="small")
        return ax


def search_policy(
    fitness: PolicyFitness,
    solver,
    *,
    max_generations: int,
    eval_every: int = 1,
    eval_episodes: int = 10,
    target: float | None = None,
    confirm_episodes: int | None = None,
    progress: bool = True,
) -> PolicySearchResult:
    """Optimize a policy with any ask/tell solver; evaluate the solver's mean every ``eval_every`` generations (chapter 3).

    Stops after ``max_generations`` or as soon as the mean policy's evaluation return
    (``eval_episodes`` fresh episodes) reaches ``target``. With ``confirm_episodes``, an
    evaluation that reaches the target is confirmed on that many further fresh episodes
    (e.g. 100), and the run counts as solved only if the confirmation's mean reaches it too.
    Uses :func:`pgnotes.solvers.optimize` with a callback; evaluation episodes are counted
    separately from training episodes (``eval_episodes`` of the result).
    """
    from pgnotes.solvers.runner import optimize

    from pgnotes.solvers.base import Solver

    _validate.instance("fitness", fitness, PolicyFitness, "PolicyFitness")
    _validate.instance("solver", solver, Solver, "pgnotes.solvers Solver")
    if solver.dim != num_params(fitness.policy):
        raise ValueError(f"solver has dim={solver.dim} but the policy of fitness has {num_params(fitness.policy)} parameters")
    _validate.integer_at_least("max_generations", max_generations, 1)
    eval_every = _validate.integer_at_least("eval_every", eval_every, 1)
    _validate.integer_at_least("eval_episodes", eval_episodes, 1, 10**5)
    if target is not None:
        _validate.real("target", target)
    _validate.optional_integer("confirm_episodes", confirm_episodes, 1, 10**5)
    result = PolicySearchResult(history=None)

    def evaluate_mean(solver_, history) -> bool:
        if solver_.generation % eval_every:
            return False
        score = float(fitness.evaluate(solver_.mean, eval_episodes).returns.mean())
        result.eval_generation.append(solver_.generation)
        result.eval_return.append(score)
        result.eval_train_episodes.append(fitness.train_episodes)
        result.eval_train_steps.append(fitness.train_steps)
        if target is not None and score >= target and confirm_episodes is not None:
            score = float(fitness.evaluate(solver_.mean, confirm_episodes).returns.mean())
            result.confirmations.append((solver_.generation, score))
        if target is not None and score >= target and result.solved_generation is None:
            result.solved_generation = solver_.generation
            result.solved_train_episodes = fitness.train_episodes
            result.solved_train_steps = fitness.train_steps
            return True
        return False

    start = time.perf_counter()
    history = optimize(fitness, solver, max_generations=max_generations, callbacks=[evaluate_mean],
                       vectorized=True, progress=progress)
    result.history = history
    result.seconds = time.perf_counter() - start
    result.rollout_seconds = fitness.rollout_seconds
    result.train_episodes, result.train_steps = fitness.train_episodes, fitness.train_steps
    result.eval_episodes, result.eval_steps = fitness.eval_episodes, fitness.eval_steps
    result.final_params = np.array(solver.mean)
    return result
