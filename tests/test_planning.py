"""CEM planning through a model, by receding horizon, on Pendulum-v1 (chapter 4)."""

import gymnasium as gym
import numpy as np
import pytest

from pgnotes.planning import (CEMPlanner, FeatureModel, MLPModel, collect_random_transitions, pendulum_dynamics,
                              pendulum_reward, run_episode)


def test_true_dynamics_and_reward_match_the_environment():
    env = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        u = rng.uniform(-3, 3)  # out-of-range torques are clipped by both
        nxt, reward, *_ = env.step(np.array([u], dtype=np.float32))
        np.testing.assert_allclose(pendulum_dynamics(obs, u), nxt, atol=1e-5)
        assert pendulum_reward(obs, u) == pytest.approx(reward, abs=1e-5)
        obs = nxt


def test_feature_model_fits_random_data():
    obs, u, nxt = collect_random_transitions(episodes=3, seed=0)
    model = FeatureModel().fit(obs, u, nxt)
    test = collect_random_transitions(episodes=1, seed=1)
    assert np.abs(model(test[0], test[1]) - test[2]).max() < 0.1
    with pytest.raises(RuntimeError, match="fit"):
        FeatureModel()(obs, u)


def test_mlp_model_learns_something():
    obs, u, nxt = collect_random_transitions(episodes=1, seed=0)
    model = MLPModel(hidden=16).fit(obs, u, nxt, steps=60)
    baseline = np.abs(np.c_[obs[:, :2], obs[:, 2]] - nxt).mean()  # "nothing changes" model
    assert np.abs(model(obs, u) - nxt).mean() < baseline


def test_plan_improves_the_predicted_return():
    planner = CEMPlanner(pendulum_dynamics, pendulum_reward, horizon=10, popsize=30, iterations=4, rng=0)
    obs = np.array([-1.0, 0.0, 0.0])  # hanging down
    zero = planner.predicted_return(obs, np.zeros((1, 10)))[0]
    plan = planner.plan(obs)
    assert plan.shape == (10,) and np.all(np.abs(plan) <= 2.0)
    assert planner.predicted_return(obs, plan[None])[0] >= zero


@pytest.mark.slow
def test_receding_horizon_swings_up_with_the_true_model():
    planner = CEMPlanner(pendulum_dynamics, pendulum_reward, horizon=15, popsize=50, iterations=3, rng=0)
    assert run_episode(planner, seed=0) > -300


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(horizon=0), "horizon"), (dict(popsize=1), "popsize"), (dict(elite_frac=0.0), "elite_frac"),
     (dict(sigma0=0.0), "sigma0"), (dict(low=1.0, high=-1.0), "high"), (dict(iterations=0), "iterations")],
)
def test_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CEMPlanner(pendulum_dynamics, pendulum_reward, **kwargs)


def test_mlp_model_from_a_seed_leaves_the_global_generator_alone():
    import torch

    state = torch.random.get_rng_state()
    a, b = MLPModel(hidden=8, seed=3), MLPModel(hidden=8, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.net.parameters(), b.net.parameters()))
    with torch.random.fork_rng(devices=[]):  # the numbers of the former torch.manual_seed(seed) construction
        torch.manual_seed(3)
        first = torch.nn.Linear(4, 8).double()
    assert torch.equal(a.net[0].weight, first.weight) and torch.equal(a.net[0].bias, first.bias)
