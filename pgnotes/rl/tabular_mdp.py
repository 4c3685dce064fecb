r"""Small tabular MDPs where the policy objective and its gradient are exact (chapter 2).

With a finite MDP :math:`(P, R, p_0, \gamma)` and a tabular softmax policy
:math:`\pi_\theta(a\mid s)\propto e^{\theta_{s,a}}`, everything is linear algebra:

.. math::
    P_\pi(s'\mid s) = \sum_a \pi(a\mid s) P(s'\mid s,a),\quad r_\pi(s) = \sum_a \pi(a\mid s) R(s,a),\quad
    V^\pi = (I-\gamma P_\pi)^{-1} r_\pi,\quad Q^\pi = R + \gamma P V^\pi.

The three objectives of Meyer's notes (§2):

* start value :math:`J_1 = \sum_s p_0(s) V^\pi(s)` (episodic);
* average value :math:`J_{avV} = \sum_s d^\pi(s) V^\pi(s)`;
* average reward per step :math:`J_{avR} = \sum_s d^\pi(s)\sum_a\pi(a\mid s) R(s,a)`,

with :math:`d^\pi` the stationary distribution of :math:`P_\pi` (continuing MDPs). :func:`objective`
computes them with torch so :func:`exact_gradient` is autograd through the linear solves;
:func:`policy_gradient_theorem` computes the right-hand side of the policy gradient theorem,
:math:`\sum_s d(s)\sum_a \pi(a\mid s)\nabla_\theta\log\pi(a\mid s)\,Q(s,a)`, with the state weighting
and the action value each objective needs:

================== ================================================== =================================================================
objective          :math:`d(s)`                                       :math:`Q(s,a)`
================== ================================================== =================================================================
``start_value``    discounted visits :math:`\sum_t\gamma^t\Pr(s_t=s)` discounted :math:`Q^\pi`
``average_reward`` stationary :math:`d^\pi`                           differential :math:`\tilde Q^\pi` (rewards minus :math:`J_{avR}`)
``average_value``  :math:`d^\pi / (1-\gamma)`                         differential :math:`\tilde Q^\pi`
================== ================================================== =================================================================

The last row holds because :math:`J_{avV} = J_{avR}/(1-\gamma)` exactly (stationarity); the
formula people often write instead, stationary :math:`d^\pi` with the *discounted* :math:`Q^\pi`
(:func:`stationary_discounted_gradient`), is not the gradient of any of the three; it
approaches :math:`\nabla J_{avR}` only as :math:`\gamma\to1`.

:func:`sample_episodes` and :func:`reinforce_estimate` give the Monte Carlo side, and
:class:`TabularMDPEnv` (registered as ``pgnotes/TabularMDP-v0``) runs the same MDP through
the Gymnasium API so the generic REINFORCE code of :mod:`pgnotes.rl.reinforce` can be checked
against the exact gradient.

Why one module of about 400 lines: the exact side (values, visitation, the three objectives and
their gradients) and the Monte Carlo side (episode sampler, REINFORCE estimate, the Gymnasium
environment) read the same :class:`TabularMDP` and are only useful side by side, as each other's
check; a quarter of its lines are the docstrings that state the formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from pgnotes import _validate
from pgnotes.estimators import Estimate
from pgnotes.score import categorical_score, softmax

__all__ = [
    "OBJECTIVES",
    "TabularMDP",
    "random_mdp",
    "policy_matrices",
    "state_values",
    "action_values",
    "discounted_visitation",
    "stationary_distribution",
    "differential_action_values",
    "objective",
    "exact_gradient",
    "policy_gradient_theorem",
    "stationary_discounted_gradient",
    "sample_episodes",
    "reinforce_estimate",
    "TabularMDPEnv",
]

OBJECTIVES = ("start_value", "average_value", "average_reward")


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP (chapter 2).

    Parameters
    ----------
    P : array (S, A, S)
        Transition probabilities. A row may sum to less than 1: the rest is the probability
        that the episode terminates after that step (an *episodic* MDP).
    R : array (S, A)
        Expected reward of taking action a in state s.
    p0 : array (S,)
        Start-state distribution.
    gamma : float
        Discount factor in [0, 1); 1 is allowed for episodic MDPs that terminate surely.
    """

    P: np.ndarray
    R: np.ndarray
    p0: np.ndarray
    gamma: float = 0.9

    def __post_init__(self):
        P = _validate.finite_array("P", self.P, ndim=3)
        S, A, S2 = P.shape
        if S != S2 or S < 1 or A < 2:
            raise ValueError(f"P must have shape (S, A, S) with S >= 1 and A >= 2, got {P.shape}")
        if np.any(P < 0) or np.any(P.sum(-1) > 1 + 1e-9):
            raise ValueError("P must be non-negative with rows summing to at most 1")
        R = _validate.finite_array("R", self.R, shape=(S, A))
        p0 = _validate.finite_array("p0", self.p0, shape=(S,))
        if np.any(p0 < 0) or not np.isclose(p0.sum(), 1.0):
            raise ValueError("p0 must be a probability vector (non-negative, summing to 1)")
        gamma = _validate.probability("gamma", self.gamma, open_low=False)
        if gamma == 1.0 and not self.episodic_of(P):
            raise ValueError("gamma must be < 1 for a continuing MDP (rows of P summing to 1)")
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "p0", p0)
        object.__setattr__(self, "gamma", gamma)

    @staticmethod
    def episodic_of(P) -> bool:
        return bool(np.any(np.asarray(P).sum(-1) < 1 - 1e-12))

    @property
    def episodic(self) -> bool:
        """True if some transition can end the episode."""
        return self.episodic_of(self.P)

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]

    @property
    def termination(self) -> np.ndarray:
        """Probability that the episode ends after (s, a), shape (S, A)."""
        return np.clip(1.0 - self.P.sum(-1), 0.0, 1.0)


def random_mdp(n_states: int = 4, n_actions: int = 2, *, rng=0, termination: float | None = 0.2, gamma: float = 0.9) -> TabularMDP:
    """A random MDP: Dirichlet transitions, standard normal rewards, uniform start (chapter 2).

    ``termination`` is the probability that any step ends the episode (episodic); ``None``
    makes the MDP continuing (ergodic: all transition probabilities are positive).
    """
    rng = _validate.generator(rng)
    S = _validate.integer_at_least("n_states", n_states, 1)
    A = _validate.integer_at_least("n_actions", n_actions, 2)
    _validate.allocation("n_states * n_actions * n_states (the transition table)", S, A, S)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    if termination is not None:
        P = P * (1.0 - _validate.probability("termination", termination))
    R = rng.standard_normal((S, A))
    return TabularMDP(P, R, np.full(S, 1.0 / S), gamma)


def _theta(mdp: TabularMDP, theta) -> np.ndarray:
    _validate.instance("mdp", mdp, TabularMDP, "pgnotes.rl.tabular_mdp.TabularMDP (e.g. random_mdp())")
    return _validate.finite_array("theta", theta, shape=(mdp.n_states, mdp.n_actions))


def _policy(mdp: TabularMDP, theta) -> np.ndarray:
    theta = _theta(mdp, theta)
    return softmax(theta)


def policy_matrices(mdp: TabularMDP, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`P_\pi` (S, S) and :math:`r_\pi` (S,) for a policy table ``pi`` (S, A)."""
    _validate.instance("mdp", mdp, TabularMDP, "pgnotes.rl.tabular_mdp.TabularMDP (e.g. random_mdp())")
    pi = _validate.finite_array("pi", pi, shape=(mdp.n_states, mdp.n_actions))
    return np.einsum("sa,sat->st", pi, mdp.P), np.sum(pi * mdp.R, axis=1)


def state_values(mdp: TabularMDP, theta) -> np.ndarray:
    r""":math:`V^\pi = (I-\gamma P_\pi)^{-1} r_\pi` for the softmax policy of ``theta``, shape (S,). Chapter 2."""
    P_pi, r_pi = policy_matrices(mdp, _policy(mdp, theta))
    return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * P_pi, r_pi)


def action_values(mdp: TabularMDP, theta) -> np.ndarray:
    r""":math:`Q^\pi(s,a) = R(s,a) + \gamma\sum_{s'} P(s'\mid s,a) V^\pi(s')`, shape (S, A). Chapter 2."""
    V = state_values(mdp, theta)  # checks mdp and theta first
    return mdp.R + mdp.gamma * mdp.P @ V


def discounted_visitation(mdp: TabularMDP, theta) -> np.ndarray:
    r"""Discounted state visits from the start distribution, :math:`d_\gamma = (I-\gamma P_\pi^\top)^{-1} p_0` (unnormalized). Chapter 2."""
    P_pi, _ = policy_matrices(mdp, _policy(mdp, theta))
    return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * P_pi.T, mdp.p0)


def _require_continuing(mdp: TabularMDP, what: str) -> None:
    _validate.instance("mdp", mdp, TabularMDP, "pgnotes.rl.tabular_mdp.TabularMDP (e.g. random_mdp())")
    if mdp.episodic:
        raise ValueError(f"{what} needs a continuing MDP (every row of P summing to 1); this one is episodic")


def stationary_distribution(mdp: TabularMDP, theta) -> np.ndarray:
    r"""Stationary distribution :math:`d^\pi` with :math:`d^\top P_\pi = d^\top`, :math:`\sum_s d(s) = 1`. Chapter 2."""
    _require_continuing(mdp, "the stationary distribution")
    P_pi, _ = policy_matrices(mdp, _policy(mdp, theta))
    S = mdp.n_states
    system = np.vstack([P_pi.T - np.eye(S), np.ones((1, S))])
    rhs = np.concatenate([np.zeros(S), [1.0]])
    return np.linalg.lstsq(system, rhs, rcond=None)[0]


def differential_action_values(mdp: TabularMDP, theta) -> tuple[np.ndarray, float]:
    r"""Differential action values :math:`\tilde Q^\pi` and the average reward :math:`J_{avR}`. Chapter 2.

    :math:`\tilde V` solves :math:`\tilde V = r_\pi - J_{avR} + P_\pi\tilde V` with :math:`d^\top\tilde V = 0`,
    and :math:`\tilde Q = R - J_{avR} + P\tilde V`.
    """
    _require_continuing(mdp, "differential values")
    pi = _policy(mdp, theta)
    P_pi, r_pi = policy_matrices(mdp, pi)
    d = stationary_distribution(mdp, theta)
    rho = float(d @ r_pi)
    S = mdp.n_states
    system = np.vstack([np.eye(S) - P_pi, d[None, :]])
    rhs = np.concatenate([r_pi - rho, [0.0]])
    v = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return mdp.R - rho + mdp.P @ v, rho


def _objective_torch(mdp: TabularMDP, theta: torch.Tensor, kind: str) -> torch.Tensor:
    S = mdp.n_states
    P = torch.as_tensor(mdp.P)
    R = torch.as_tensor(mdp.R)
    pi = torch.softmax(theta, dim=-1)
    P_pi = torch.einsum("sa,sat->st", pi, P)
    r_pi = (pi * R).sum(-1)
    eye = torch.eye(S, dtype=theta.dtype)
    if kind == "start_value":
        V = torch.linalg.solve(eye - mdp.gamma * P_pi, r_pi)
        return torch.as_tensor(mdp.p0) @ V
    _require_continuing(mdp, f"objective {kind!r}")
    system = torch.cat([P_pi.T - eye, torch.ones(1, S, dtype=theta.dtype)])
    rhs = torch.cat([torch.zeros(S, dtype=theta.dtype), torch.ones(1, dtype=theta.dtype)])
    d = torch.linalg.lstsq(system, rhs.unsqueeze(-1)).solution.squeeze(-1)
    if kind == "average_reward":
        return d @ r_pi
    V = torch.linalg.solve(eye - mdp.gamma * P_pi, r_pi)
    return d @ V


def _kind(kind: str) -> str:
    return _validate.one_of("kind (the objective)", kind, OBJECTIVES)


def objective(mdp: TabularMDP, theta, kind: str = "start_value") -> float:
    """The policy objective ``kind`` (``"start_value"``, ``"average_value"``, ``"average_reward"``) at ``theta`` (S, A). Chapter 2."""
    theta = torch.as_tensor(_theta(mdp, theta))
    return float(_objective_torch(mdp, theta, _kind(kind)))


def exact_gradient(mdp: TabularMDP, theta, kind: str = "start_value") -> np.ndarray:
    """:math:`\\nabla_\\theta J` by torch autograd through the linear solves, shape (S, A). Chapter 2."""
    theta = torch.tensor(_theta(mdp, theta), requires_grad=True)
    _objective_torch(mdp, theta, _kind(kind)).backward()
    return theta.grad.numpy()


def _theorem(theta: np.ndarray, d: np.ndarray, Q: np.ndarray) -> np.ndarray:
    # sum_s d(s) sum_a pi(a|s) grad log pi(a|s) Q(s,a); the score of a softmax row is e_a - pi(s, :)
    S, A = theta.shape
    pi = softmax(theta)
    grad = np.zeros((S, A))
    actions = np.arange(A)
    for s in range(S):
        scores = categorical_score(actions, theta[s])  # (A, A): row a is grad_theta[s] log pi(a|s)
        grad[s] = d[s] * np.sum(pi[s][:, None] * Q[s][:, None] * scores, axis=0)
    return grad


def policy_gradient_theorem(mdp: TabularMDP, theta, kind: str = "start_value") -> np.ndarray:
    r"""Right-hand side of the policy gradient theorem, :math:`\sum_s d(s)\sum_a \pi\,\nabla\log\pi\,Q`, shape (S, A). Chapter 2.

    Uses the state weighting and action value of the table in the module docstring; it equals
    :func:`exact_gradient` (tested).
    """
    theta = _theta(mdp, theta)
    kind = _kind(kind)
    if kind == "start_value":
        return _theorem(theta, discounted_visitation(mdp, theta), action_values(mdp, theta))
    Q_diff, _ = differential_action_values(mdp, theta)
    d = stationary_distribution(mdp, theta)
    if kind == "average_value":
        d = d / (1.0 - mdp.gamma)
    return _theorem(theta, d, Q_diff)


def stationary_discounted_gradient(mdp: TabularMDP, theta) -> np.ndarray:
    r""":math:`\sum_s d^\pi(s)\sum_a \pi\nabla\log\pi\,Q^\pi_\gamma`: stationary states with *discounted* values. Chapter 2.

    A common shorthand, not the gradient of :math:`J_{avV}` nor of :math:`J_{avR}`; it tends to
    :math:`\nabla J_{avR}` as :math:`\gamma\to1`. Shown in chapter 2 next to the exact gradients.
    """
    theta = _theta(mdp, theta)
    return _theorem(theta, stationary_distribution(mdp, theta), action_values(mdp, theta))


def sample_episodes(mdp: TabularMDP, theta, num_episodes: int, rng, *, max_steps: int = 1000, reward_noise: float = 0.0):
    """Sample episodes of the softmax policy: a list of ``(states, actions, rewards)`` integer/float arrays. Chapter 2.

    Rewards are :math:`R(s,a)` plus Gaussian noise of std ``reward_noise``. An episode ends on
    termination or after ``max_steps`` steps (raise it if the MDP rarely terminates).
    """
    states, actions, rewards, lengths = _sample_padded(mdp, theta, num_episodes, rng, max_steps, reward_noise)
    return [(states[i, : lengths[i]], actions[i, : lengths[i]], rewards[i, : lengths[i]]) for i in range(num_episodes)]


def _sample_padded(mdp, theta, num_episodes, rng, max_steps, reward_noise):
    """Episodes as padded (n, T) arrays plus their lengths (n,)."""
    pi = _policy(mdp, theta)
    num_episodes = _validate.integer_at_least("num_episodes", num_episodes, 1)
    max_steps = _validate.integer_at_least("max_steps", max_steps, 1)
    _validate.allocation("num_episodes * max_steps * n_actions (the padded episodes and their scores)",
                         num_episodes, max_steps, mdp.n_actions)
    reward_noise = _validate.non_negative("reward_noise", reward_noise)
    rng = _validate.generator(rng)
    S, A = mdp.n_states, mdp.n_actions
    # all episodes advance in lockstep; next-state table with a terminal column S
    cum_pi = np.cumsum(pi, axis=1)
    cum_nxt = np.cumsum(np.concatenate([mdp.P, mdp.termination[..., None]], axis=-1), axis=-1)
    state = np.minimum(np.searchsorted(np.cumsum(mdp.p0), rng.random(num_episodes), side="right"), S - 1)
    alive = np.ones(num_episodes, dtype=bool)
    lengths = np.zeros(num_episodes, dtype=np.int64)
    S_hist, A_hist, R_hist = [], [], []
    for _ in range(max_steps):
        u = rng.random(num_episodes)
        action = np.minimum((u[:, None] >= cum_pi[state]).sum(axis=1), A - 1)
        reward = mdp.R[state, action]
        if reward_noise:
            reward = reward + reward_noise * rng.standard_normal(num_episodes)
        S_hist.append(state)
        A_hist.append(action)
        R_hist.append(reward)
        lengths += alive
        row = cum_nxt[state, action]
        v = rng.random(num_episodes) * row[:, -1]
        nxt = np.minimum((v[:, None] >= row).sum(axis=1), S)
        alive &= nxt < S
        if not alive.any():
            break
        state = np.where(alive, np.minimum(nxt, S - 1), 0)
    return np.stack(S_hist, 1), np.stack(A_hist, 1), np.stack(R_hist, 1), lengths


def reinforce_estimate(mdp: TabularMDP, theta, num_episodes: int, rng, *, estimator: str = "reward_to_go", baseline: float = 0.0, max_steps: int = 1000) -> Estimate:
    r"""Monte Carlo REINFORCE estimate of :math:`\nabla J_1` with its standard error, shape (S, A). Chapter 2.

    ``"whole_return"``: :math:`R(\tau)\sum_t\nabla\log\pi(a_t\mid s_t)` with :math:`R(\tau)=\sum_t\gamma^t r_t`
    (Algorithm 4, minus a constant ``baseline``). ``"reward_to_go"``: :math:`\sum_t \gamma^t G_t\nabla\log\pi(a_t\mid s_t)`,
    keeping the factor :math:`\gamma^t` so the estimate is unbiased for the discounted start value.
    Both are unbiased; each episode gives one term, and the standard error is over episodes.
    """
    _validate.one_of("estimator", estimator, ("whole_return", "reward_to_go"))
    baseline = _validate.finite_array("baseline", baseline, ndim=0).item()
    theta = _theta(mdp, theta)
    states, actions, rewards, lengths = _sample_padded(mdp, theta, num_episodes, rng, max_steps, 0.0)
    T = states.shape[1]
    mask = np.arange(T)[None, :] < lengths[:, None]
    discount = mdp.gamma ** np.arange(T)
    discounted = np.where(mask, discount * rewards, 0.0)
    if estimator == "whole_return":
        weights = (discounted.sum(axis=1, keepdims=True) - baseline) * mask
    else:
        tail = np.cumsum(discounted[:, ::-1], axis=1)[:, ::-1]  # gamma^t G_t
        weights = (tail - discount * baseline) * mask
    scores = categorical_score(actions, theta[states])  # (n, T, A)
    n, S, A = num_episodes, mdp.n_states, mdp.n_actions
    cell = (np.arange(n)[:, None] * S + states).ravel()  # (episode, state) of every step
    terms = np.stack([np.bincount(cell, weights=(weights * scores[..., a]).ravel(), minlength=n * S) for a in range(A)], axis=-1)
    terms = terms.reshape(n, S, A)
    return Estimate.from_terms(terms)


class TabularMDPEnv(gym.Env):
    """A :class:`TabularMDP` behind the Gymnasium API; id ``pgnotes/TabularMDP-v0`` (chapter 2).

    Observations and actions are integers (``Discrete`` spaces). Rewards are :math:`R(s,a)`;
    ``terminated`` is True when the MDP's termination probability fires. Without an ``mdp``
    argument the environment is ``random_mdp(4, 2, rng=0)``.
    """

    metadata = {"render_modes": []}

    def __init__(self, mdp: TabularMDP | None = None):
        self.mdp = mdp if mdp is not None else random_mdp(4, 2, rng=0)
        if not isinstance(self.mdp, TabularMDP):
            raise TypeError(f"mdp must be a TabularMDP, got {type(self.mdp).__name__}")
        self.observation_space = gym.spaces.Discrete(self.mdp.n_states)
        self.action_space = gym.spaces.Discrete(self.mdp.n_actions)
        self._cum = np.cumsum(np.concatenate([self.mdp.P, self.mdp.termination[..., None]], axis=-1), axis=-1)
        self._state = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Draw the start state from ``p0``; returns ``(state, {})``."""
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(self.mdp.n_states, p=self.mdp.p0))
        return self._state, {}

    def step(self, action):
        """Take ``action`` in the current state; returns ``(next_state, reward, terminated, False, {})``."""
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an integer in [0, {self.mdp.n_actions - 1}], got {action!r}")
        s, a = self._state, int(action)
        reward = float(self.mdp.R[s, a])
        row = self._cum[s, a]
        nxt = min(int(np.searchsorted(row, self.np_random.random() * row[-1], side="right")), self.mdp.n_states)
        terminated = nxt == self.mdp.n_states
        self._state = 0 if terminated else nxt
        return self._state, reward, terminated, False, {}


if "pgnotes/TabularMDP-v0" not in gym.registry:
    gym.register(id="pgnotes/TabularMDP-v0", entry_point="pgnotes.rl.tabular_mdp:TabularMDPEnv", max_episode_steps=1000)
