"""Evolution for action selection: CEM planning through a dynamics model, by receding horizon (chapter 4).

The CMU 10-703 lecture (Fragkiadaki & Kumar), "Evolution for action selection": instead of searching policy parameters, search the
*actions* of the next ``H`` steps. Given a model ``s' = f(s, a)`` and the reward ``r(s, a)``,
the fitness of an action sequence ``a_0..a_{H-1}`` is the return predicted by rolling the model
forward from the current state, **maximized** with :class:`pgnotes.solvers.cem.CEM`. Only the
first action is executed; at the next state the search starts again (receding horizon, i.e.
model-predictive control), warm-started from the previous plan shifted by one step.

Pendulum-v1 is the running example. :func:`pendulum_dynamics` is the environment's own
(true) dynamics; :class:`FeatureModel` is a model fitted from random-action data by least
squares on the features ``(sin theta, cos theta, theta_dot, u, 1)``, and :class:`MLPModel` a small
torch network fitted to the same data. The reward function is taken as known (it is the
pendulum's cost, written in closed form), as is common in model-based RL.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pgnotes import _validate
from pgnotes.solvers.cem import CEM

# Pendulum-v1 constants (gymnasium/envs/classic_control/pendulum.py)
G, M, L, DT, MAX_SPEED, MAX_TORQUE = 10.0, 1.0, 1.0, 0.05, 8.0, 2.0


def _angle(obs: np.ndarray) -> np.ndarray:
    return np.arctan2(obs[..., 1], obs[..., 0])


def _obs(theta: np.ndarray, theta_dot: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(theta), np.sin(theta), theta_dot], axis=-1)


def _pendulum_args(obs, u, obs_name: str = "obs", u_name: str = "u"):
    """Finite Pendulum observations (..., 3) and torques broadcastable to (...)."""
    obs = _validate.finite_array(obs_name, obs)
    if obs.ndim < 1 or obs.shape[-1] != 3:
        raise ValueError(f"{obs_name} must have shape (..., 3): Pendulum observations (cos theta, sin theta, theta_dot), got shape {obs.shape}")
    u = _validate.finite_array(u_name, u)
    try:
        np.broadcast_shapes(u.shape, obs.shape[:-1])
    except ValueError:
        raise ValueError(f"{u_name} must broadcast to {obs.shape[:-1]} (one torque per observation), got shape {u.shape}") from None
    return obs, u


def pendulum_reward(obs, u) -> np.ndarray:
    """Pendulum-v1 reward ``-(theta^2 + 0.1 theta_dot^2 + 0.001 u^2)`` (theta in [-pi, pi)) for observations ``(cos, sin, theta_dot)``."""
    obs, u = _pendulum_args(obs, u)
    u = np.clip(u, -MAX_TORQUE, MAX_TORQUE)
    return -(_angle(obs) ** 2 + 0.1 * obs[..., 2] ** 2 + 0.001 * u**2)


def pendulum_dynamics(obs, u) -> np.ndarray:
    """The true Pendulum-v1 step on observations ``(cos theta, sin theta, theta_dot)`` (vectorized over leading axes)."""
    obs, u = _pendulum_args(obs, u)
    u = np.clip(u, -MAX_TORQUE, MAX_TORQUE)
    theta, theta_dot = _angle(obs), obs[..., 2]
    new_dot = np.clip(theta_dot + (3 * G / (2 * L) * np.sin(theta) + 3.0 / (M * L**2) * u) * DT, -MAX_SPEED, MAX_SPEED)
    return _obs(theta + new_dot * DT, new_dot)


# -- models fitted from data ------------------------------------------------------------------

def collect_random_transitions(env_id: str = "Pendulum-v1", episodes: int = 10, seed: int = 0):
    """Transitions ``(obs, action, next_obs)`` from uniformly random actions (chapter 4)."""
    import gymnasium as gym

    episodes = _validate.integer_at_least("episodes", episodes, 1, 10**5)
    seed = _validate.seed("seed", seed)
    env = _make_continuous_env(env_id)
    rng = np.random.default_rng(seed)
    obs_l, act_l, next_l = [], [], []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed * 100_003 + ep)
        done = False
        while not done:
            a = rng.uniform(env.action_space.low, env.action_space.high)
            nxt, _, terminated, truncated, _ = env.step(a)
            obs_l.append(obs)
            act_l.append(a[0])
            next_l.append(nxt)
            obs = nxt
            done = terminated or truncated
    env.close()
    return np.array(obs_l, dtype=np.float64), np.array(act_l, dtype=np.float64), np.array(next_l, dtype=np.float64)


def _make_continuous_env(env_id: str):
    """``gym.make(env_id)`` after checking that the id exists and the environment is Pendulum-like."""
    import gymnasium as gym

    _validate.env_id("env_id", env_id)
    env = gym.make(env_id)
    act, obs = env.action_space, env.observation_space
    if not isinstance(act, gym.spaces.Box) or act.shape != (1,) or not isinstance(obs, gym.spaces.Box) or obs.shape != (3,):
        env.close()
        raise ValueError(
            f"env_id {env_id!r} has action_space {act} and observation_space {obs}; planning here needs one "
            "continuous torque, a Box of shape (1,), and Pendulum's (cos, sin, theta_dot) observations, a Box of "
            "shape (3,) (e.g. 'Pendulum-v1')"
        )
    if env.spec is None or env.spec.max_episode_steps is None:
        env.close()
        raise ValueError(f"env_id {env_id!r} has no time limit (max_episode_steps), so an episode might never end")
    return env


def _transitions(obs, u, next_obs):
    obs = _validate.finite_array("obs", obs, shape=(None, 3))
    n = obs.shape[0]
    u = _validate.finite_array("u", u, shape=(n,))
    next_obs = _validate.finite_array("next_obs", next_obs, shape=(n, 3))
    if n < 1:
        raise ValueError("obs, u and next_obs must hold at least one transition")
    return obs, u, next_obs


def _features(obs: np.ndarray, u: np.ndarray) -> np.ndarray:
    u = np.clip(u, -MAX_TORQUE, MAX_TORQUE)
    return np.stack([obs[..., 1], obs[..., 0], obs[..., 2], u, np.ones_like(u)], axis=-1)


def _targets(obs: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    d_theta = np.angle(np.exp(1j * (_angle(next_obs) - _angle(obs))))  # wrapped to (-pi, pi]
    return np.stack([d_theta, next_obs[..., 2] - obs[..., 2]], axis=-1)


class FeatureModel:
    """Pendulum model fitted by least squares: ``(d theta, d theta_dot) = W^T phi(s, u)`` (chapter 4).

    ``phi = (sin theta, cos theta, theta_dot, u, 1)``. The true increments are linear in these
    features except where the speed limit clips, so the fit is close but not exact.
    """

    def __init__(self):
        self.weights: np.ndarray | None = None

    def fit(self, obs, u, next_obs, ridge: float = 1e-6) -> "FeatureModel":
        obs, u, next_obs = _transitions(obs, u, next_obs)
        ridge = _validate.non_negative("ridge", ridge)
        phi, y = _features(obs, np.asarray(u, float)), _targets(obs, next_obs)
        self.weights = np.linalg.solve(phi.T @ phi + ridge * np.eye(phi.shape[1]), phi.T @ y)
        return self

    def __call__(self, obs, u) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("FeatureModel: call fit(...) before predicting")
        obs, u = _pendulum_args(obs, u)
        d = _features(obs, np.asarray(u, float)) @ self.weights
        theta_dot = np.clip(obs[..., 2] + d[..., 1], -MAX_SPEED, MAX_SPEED)
        return _obs(_angle(obs) + d[..., 0], theta_dot)


class _OneThread:
    """Run torch on one thread inside the block: for models this small, torch's default
    intra-op threads cost 100x on a busy 2-core machine (measured: 260 ms vs 1.5 ms per step)."""

    def __enter__(self):
        import torch

        self.previous = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.previous)


class MLPModel:
    """Pendulum model: a small torch MLP from ``(cos, sin, theta_dot, u)`` to ``(d theta, d theta_dot)`` (chapter 4)."""

    def __init__(self, hidden: int = 64, seed: int = 0):
        import torch

        from pgnotes.seeding import torch_seeded

        hidden = _validate.integer_at_least("hidden", hidden, 1, 10**4)
        with torch_seeded(seed):  # initialized from the seed; torch's global generator is left as it was
            self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, hidden),
                                           torch.nn.Tanh(), torch.nn.Linear(hidden, 2)).double()
        self.scale = np.ones(2)

    def fit(self, obs, u, next_obs, steps: int = 500, lr: float = 1e-2) -> "MLPModel":
        """Full-batch Adam on the mean squared error of the (standardized) increments."""
        import torch

        obs, u, next_obs = _transitions(obs, u, next_obs)
        steps = _validate.integer_at_least("steps", steps, 1, 10**7)
        lr = _validate.positive("lr", lr)
        x = np.concatenate([np.asarray(obs, float), np.clip(np.asarray(u, float), -2, 2)[:, None]], axis=1)
        y = _targets(np.asarray(obs, float), np.asarray(next_obs, float))
        self.scale = y.std(axis=0) + 1e-8
        xt, yt = torch.as_tensor(x), torch.as_tensor(y / self.scale)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        with _OneThread():
            for _ in range(_validate.integer_at_least("steps", steps, 1)):
                loss = torch.mean((self.net(xt) - yt) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.final_loss = float(loss.detach())
        return self

    def __call__(self, obs, u) -> np.ndarray:
        import torch

        obs, u = _pendulum_args(obs, u)
        u = np.clip(np.broadcast_to(np.asarray(u, float), obs.shape[:-1]), -2, 2)
        with torch.no_grad(), _OneThread():
            d = self.net(torch.as_tensor(np.concatenate([obs, u[..., None]], axis=-1))).numpy() * self.scale
        return _obs(_angle(obs) + d[..., 0], np.clip(obs[..., 2] + d[..., 1], -MAX_SPEED, MAX_SPEED))


# -- the planner --------------------------------------------------------------------------------

Model = Callable[[np.ndarray, np.ndarray], np.ndarray]


class CEMPlanner:
    """Receding-horizon planning with CEM over action sequences through a model (chapter 4).

    Parameters
    ----------
    model : callable
        ``model(obs (P, obs_dim), u (P,)) -> next_obs (P, obs_dim)``.
    reward : callable
        ``reward(obs, u) -> (P,)``, maximized (summed, with discount ``gamma``).
    horizon : int
        ``H``, actions planned ahead (default 20).
    popsize, elite_frac, iterations : int, float, int
        CEM samples per iteration, elite fraction and CEM iterations per time step.
    sigma0 : float
        Initial standard deviation of each planned action (default 1.0).
    low, high : float
        Action bounds (candidates are clipped to them before evaluation).
    gamma : float
        Discount inside the planning horizon (default 1).
    rng : numpy.random.Generator or int
    """

    def __init__(self, model: Model, reward: Callable, *, horizon: int = 20, popsize: int = 100,
                 elite_frac: float = 0.1, iterations: int = 5, sigma0: float = 1.0, low: float = -MAX_TORQUE,
                 high: float = MAX_TORQUE, gamma: float = 1.0, rng: np.random.Generator | int = 0):
        self.model, self.reward = _validate.callable_("model", model), _validate.callable_("reward", reward)
        self.horizon = _validate.integer_at_least("horizon", horizon, 1, 10**6)
        self.popsize = _validate.integer_at_least("popsize", popsize, 2)
        _validate.allocation("popsize * horizon (the candidate plans)", self.popsize, self.horizon)
        self.elite_frac = _validate.probability("elite_frac", elite_frac)
        if int(np.floor(self.elite_frac * self.popsize + 1e-9)) < 1:
            raise ValueError(f"elite_frac * popsize must give at least 1 elite, got elite_frac={elite_frac}, popsize={popsize}")
        self.iterations = _validate.integer_at_least("iterations", iterations, 1, 10**6)
        self.sigma0 = _validate.positive("sigma0", sigma0)
        _validate.real("low", low)
        _validate.real("high", high)
        if not high > low:
            raise ValueError(f"high must be > low, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)
        self.gamma = _validate.probability("gamma", gamma)
        self.rng = _validate.generator(rng)
        self._plan = np.zeros(self.horizon)

    def reset(self) -> None:
        """Forget the warm start (call at the start of an episode)."""
        self._plan = np.zeros(self.horizon)

    def predicted_return(self, obs, plans) -> np.ndarray:
        """Model-predicted (discounted) return of each action sequence in ``plans`` (P, H) from ``obs``."""
        obs = _validate.finite_array("obs", obs, ndim=1, min_size=1)
        plans = np.clip(_validate.finite_array("plans", plans, shape=(None, None), min_size=1), self.low, self.high)
        state = np.repeat(np.asarray(obs, float)[None], len(plans), axis=0)
        total = np.zeros(len(plans))
        for t in range(plans.shape[1]):
            total += self.gamma**t * self.reward(state, plans[:, t])
            state = self.model(state, plans[:, t])
        if not np.all(np.isfinite(total)):
            raise ValueError("reward and model must give finite values: the predicted returns are not finite")
        return total

    def plan(self, obs) -> np.ndarray:
        """Optimize the next ``H`` actions from ``obs`` with CEM; returns the plan (clipped mean)."""
        obs = _validate.finite_array("obs", obs, ndim=1, min_size=1)
        solver = CEM(self.horizon, self.popsize, mean=self._plan, sigma0=self.sigma0, elite_frac=self.elite_frac,
                     rng=self.rng)
        for _ in range(self.iterations):
            x = solver.ask()
            solver.tell(x, self.predicted_return(obs, x))
        self._plan = np.clip(solver.mean, self.low, self.high)
        return self._plan.copy()

    def act(self, obs) -> float:
        """First action of a fresh plan; the plan is shifted by one step to warm-start the next call."""
        plan = self.plan(obs)
        self._plan = np.r_[plan[1:], 0.0]
        return float(plan[0])


def run_episode(planner: CEMPlanner, env_id: str = "Pendulum-v1", seed: int = 0) -> float:
    """Return of one episode acted by ``planner`` in the real environment (chapter 4)."""
    _validate.instance("planner", planner, CEMPlanner, "CEMPlanner")
    seed = _validate.seed("seed", seed)
    env = _make_continuous_env(env_id)
    obs, _ = env.reset(seed=seed)
    planner.reset()
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(np.array([planner.act(obs)]))
        total += float(reward)
        done = terminated or truncated
    env.close()
    return total
