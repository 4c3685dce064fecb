"""GAE (chapter 7): the two limits lambda = 1 and lambda = 0, bootstrapping, bad input."""

import numpy as np
import pytest
import torch

from pgnotes.rl.gae import AdvantageBatch, collect_batch, episode_advantages, gae, td_errors
from pgnotes.rl.policies import CategoricalPolicy, ValueFunction
from pgnotes.rl.reinforce import reward_to_go
from pgnotes.rl.rollouts import Episode, make_vector_env


@pytest.fixture
def episode():
    rng = np.random.default_rng(7)
    return rng.normal(size=12), rng.normal(size=12)


@pytest.mark.parametrize("gamma", [1.0, 0.99, 0.5])
def test_lambda_one_is_reward_to_go_minus_baseline(episode, gamma):
    rewards, values = episode
    adv, targets = gae(rewards, values, 0.0, gamma=gamma, lam=1.0)
    np.testing.assert_allclose(adv, reward_to_go(rewards, gamma) - values, atol=1e-12)
    np.testing.assert_allclose(targets, reward_to_go(rewards, gamma), atol=1e-12)


def test_lambda_zero_is_td_error(episode):
    rewards, values = episode
    adv, _ = gae(rewards, values, 0.3, gamma=0.9, lam=0.0)
    expected = rewards + 0.9 * np.append(values[1:], 0.3) - values
    np.testing.assert_allclose(adv, expected, atol=1e-12)
    np.testing.assert_allclose(td_errors(rewards, values, 0.3, gamma=0.9), expected, atol=1e-12)


def test_gae_is_discounted_sum_of_td_errors(episode):
    rewards, values = episode
    gamma, lam = 0.97, 0.8
    delta = td_errors(rewards, values, 1.5, gamma=gamma)
    expected = [sum((gamma * lam) ** k * delta[t + k] for k in range(len(delta) - t)) for t in range(len(delta))]
    np.testing.assert_allclose(gae(rewards, values, 1.5, gamma=gamma, lam=lam)[0], expected, atol=1e-12)


def test_truncated_episode_bootstraps_from_final_observation():
    value_fn = ValueFunction(4, (8,), seed=3)
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    final = np.ones(4, dtype=np.float32)
    kwargs = dict(observations=obs, actions=np.zeros(5, dtype=np.int64), rewards=np.ones(5), log_probs=np.zeros(5))
    cut = Episode(**kwargs, terminated=False, truncated=True, final_observation=final)
    ended = Episode(**kwargs, terminated=True, truncated=False, final_observation=final)
    a_cut, _ = episode_advantages([cut], value_fn, gamma=0.9, lam=1.0)
    a_end, _ = episode_advantages([ended], value_fn, gamma=0.9, lam=1.0)
    with torch.no_grad():
        v_final = float(value_fn(torch.as_tensor(final[None]))[0])
    np.testing.assert_allclose(a_cut - a_end, v_final * 0.9 ** np.arange(5, 0, -1), atol=1e-5)


def test_collector_records_final_observation():
    envs = make_vector_env("CartPole-v1", 2, max_steps=7)
    try:
        policy = CategoricalPolicy(4, 2, seed=0)
        batch = collect_batch(envs, policy, ValueFunction(4, seed=1), 20, generator=torch.Generator().manual_seed(0), seed=0)
    finally:
        envs.close()
    assert isinstance(batch, AdvantageBatch)
    assert batch.num_steps >= 20
    assert batch.num_steps == int(batch.episode_lengths.sum())


@pytest.mark.parametrize("name,kwargs", [("gamma", {"gamma": 1.5}), ("lam", {"lam": -0.1})])
def test_bad_input_names_the_argument(episode, name, kwargs):
    rewards, values = episode
    with pytest.raises(ValueError, match=name):
        gae(rewards, values, **kwargs)


def test_values_shape_checked(episode):
    rewards, values = episode
    with pytest.raises(ValueError, match="values"):
        gae(rewards, values[:-1])
