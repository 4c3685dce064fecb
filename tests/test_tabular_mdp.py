"""Chapter 2: exact objectives on a tabular MDP, the policy gradient theorem, and REINFORCE against it."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from pgnotes.rl import tabular_mdp as tm
from pgnotes.rl.policies import TabularSoftmaxPolicy
from pgnotes.rl.reinforce import policy_gradient, policy_gradient_weights
from pgnotes.rl.rollouts import EpisodeBatch, collect_episodes, make_vector_env

Z = 4.0  # per component; with <= 12 components P(max |z| > 4) < 1e-3 under the null


@pytest.fixture
def episodic():
    return tm.random_mdp(4, 3, rng=1, termination=0.2, gamma=0.9)


@pytest.fixture
def continuing():
    return tm.random_mdp(4, 3, rng=2, termination=None, gamma=0.9)


@pytest.fixture
def theta():
    return np.random.default_rng(3).normal(size=(4, 3))


def finite_difference(f, theta, h=1e-6):
    grad = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        e = np.zeros_like(theta)
        e[idx] = h
        grad[idx] = (f(theta + e) - f(theta - e)) / (2 * h)
    return grad


def test_values_solve_the_bellman_equation(episodic, theta):
    V, Q = tm.state_values(episodic, theta), tm.action_values(episodic, theta)
    pi = tm.softmax(theta)
    np.testing.assert_allclose(V, np.sum(pi * Q, axis=1), atol=1e-12)
    assert tm.objective(episodic, theta, "start_value") == pytest.approx(episodic.p0 @ V, abs=1e-12)


@pytest.mark.parametrize("kind", tm.OBJECTIVES)
def test_exact_gradient_matches_finite_differences(continuing, theta, kind):
    fd = finite_difference(lambda t: tm.objective(continuing, t, kind), theta)
    np.testing.assert_allclose(tm.exact_gradient(continuing, theta, kind), fd, atol=1e-7)


@pytest.mark.parametrize("kind", tm.OBJECTIVES)
def test_policy_gradient_theorem_holds_for_each_objective(continuing, theta, kind):
    np.testing.assert_allclose(tm.policy_gradient_theorem(continuing, theta, kind), tm.exact_gradient(continuing, theta, kind), atol=1e-10)


def test_policy_gradient_theorem_start_value_episodic(episodic, theta):
    np.testing.assert_allclose(tm.policy_gradient_theorem(episodic, theta), tm.exact_gradient(episodic, theta), atol=1e-12)


def test_average_value_is_average_reward_over_one_minus_gamma(continuing, theta):
    assert tm.objective(continuing, theta, "average_value") == pytest.approx(
        tm.objective(continuing, theta, "average_reward") / (1 - continuing.gamma), rel=1e-10
    )
    d = tm.stationary_distribution(continuing, theta)
    P_pi, _ = tm.policy_matrices(continuing, tm.softmax(theta))
    np.testing.assert_allclose(d @ P_pi, d, atol=1e-12)


def test_stationary_states_with_discounted_q_is_not_the_gradient(continuing, theta):
    """The shorthand sum_s d(s) sum_a grad pi Q_gamma misses grad d; the gap shrinks as gamma -> 1."""
    gaps = []
    for gamma in (0.5, 0.9, 0.99):
        mdp = tm.TabularMDP(continuing.P, continuing.R, continuing.p0, gamma)
        gaps.append(np.abs(tm.stationary_discounted_gradient(mdp, theta) - tm.exact_gradient(mdp, theta, "average_reward")).max())
    assert gaps[0] > 1e-3
    assert gaps[0] > gaps[1] > gaps[2]


@pytest.mark.parametrize("estimator", ["whole_return", "reward_to_go"])
def test_reinforce_estimate_is_unbiased(episodic, theta, estimator):
    est = tm.reinforce_estimate(episodic, theta, 20_000, np.random.default_rng(11), estimator=estimator)
    z = (est.value - tm.exact_gradient(episodic, theta)) / est.stderr
    assert np.max(np.abs(z)) < Z


def test_reward_to_go_has_lower_variance(episodic, theta):
    whole = tm.reinforce_estimate(episodic, theta, 20_000, np.random.default_rng(12), estimator="whole_return")
    rtg = tm.reinforce_estimate(episodic, theta, 20_000, np.random.default_rng(12), estimator="reward_to_go")
    assert np.sum(rtg.stderr**2) < 0.8 * np.sum(whole.stderr**2)


def test_the_test_has_power(episodic, theta):
    """Dropping gamma^t from the reward-to-go weights (what most code does) is detectably biased."""
    rng = np.random.default_rng(13)
    episodes = tm.sample_episodes(episodic, theta, 20_000, rng)
    terms = np.zeros((len(episodes),) + theta.shape)
    for i, (s, a, r) in enumerate(episodes):
        g = np.cumsum(r[::-1] * 0.9 ** np.arange(r.size))[::-1] / 0.9 ** np.arange(r.size)  # G_t, no gamma^t
        scores = tm.categorical_score(a, theta[s])
        np.add.at(terms[i], s, g[:, None] * scores)
    z = (terms.mean(0) - tm.exact_gradient(episodic, theta)) / (terms.std(0, ddof=1) / np.sqrt(len(terms)))
    assert np.max(np.abs(z)) > 2 * Z


def test_generic_reinforce_code_matches_exact_gradient(episodic, theta):
    """The torch path (vector env, rollouts, surrogate loss, autograd) is unbiased for grad J_1 (Algorithm 4)."""
    torch.set_num_threads(1)
    envs = make_vector_env(lambda: tm.TabularMDPEnv(episodic), 50, max_steps=200)
    policy = TabularSoftmaxPolicy(4, 3, theta)
    gen = torch.Generator().manual_seed(0)
    grads = []
    for b in range(60):
        batch = EpisodeBatch(collect_episodes(envs, policy, 50, generator=gen, seed=0 if b == 0 else None))
        w = policy_gradient_weights(batch, estimator="whole_return", gamma=episodic.gamma)
        grads.append(policy_gradient(policy, batch, w))
    envs.close()
    grads = np.array(grads)
    z = (grads.mean(0) - tm.exact_gradient(episodic, theta).ravel()) / (grads.std(0, ddof=1) / np.sqrt(len(grads)))
    assert np.max(np.abs(z)) < Z


def test_env_passes_gymnasium_checks(episodic):
    check_env(tm.TabularMDPEnv(episodic), skip_render_check=True)
    env = gym.make("pgnotes/TabularMDP-v0")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.close()


def test_env_episode_lengths_match_termination(episodic):
    env = tm.TabularMDPEnv(episodic)
    env.reset(seed=1)
    lengths, n = [], 0
    for _ in range(4000):
        _, _, terminated, _, _ = env.step(env.action_space.sample())
        n += 1
        if terminated:
            lengths.append(n)
            n = 0
            env.reset()
    assert np.mean(lengths) == pytest.approx(5.0, rel=0.1)


def test_bad_input(episodic, continuing, theta):
    with pytest.raises(ValueError, match="P must"):
        tm.TabularMDP(np.ones((2, 2, 2)), np.zeros((2, 2)), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="p0"):
        tm.TabularMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match="gamma"):
        tm.TabularMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), np.array([0.5, 0.5]), gamma=1.0)
    with pytest.raises(ValueError, match="objective"):
        tm.objective(continuing, theta, "best")
    with pytest.raises(ValueError, match="continuing"):
        tm.stationary_distribution(episodic, theta)
    with pytest.raises(ValueError, match="theta"):
        tm.exact_gradient(episodic, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="num_episodes"):
        tm.sample_episodes(episodic, theta, 0, 0)
    with pytest.raises(ValueError, match="action"):
        env = tm.TabularMDPEnv(episodic)
        env.reset(seed=0)
        env.step(7)
