"""ES on policy weights (chapter 3): policies, flat vectors, batched forward, Welford normalizer, rollouts, search."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from pgnotes.evaluation import PolicyFitness, RunningMeanStd, make_vector_env, rollout
from pgnotes.mlp_policy import MLPPolicy, batched_policy, get_flat_params, make_policy, num_params, set_flat_params
from pgnotes.policy_search import search_policy
from pgnotes.solvers.openai_es import OpenAIES


# -- the normalizer --------------------------------------------------------------------------
def test_running_mean_std_equals_numpy_for_any_batching():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 3))
    whole = RunningMeanStd(3)
    whole.update(data)
    pieces = RunningMeanStd(3)
    for chunk in np.array_split(data, [1, 7, 300, 301, 650]):
        pieces.update(chunk)
    for rms in (whole, pieces):
        assert rms.count == 1000
        np.testing.assert_allclose(rms.mean, data.mean(0), rtol=1e-12)
        np.testing.assert_allclose(rms.var, data.var(0), rtol=1e-10)
    left, right = RunningMeanStd(3), RunningMeanStd(3)
    left.update(data[:400])
    right.update(data[400:])
    left.merge(right)
    np.testing.assert_allclose(left.var, data.var(0), rtol=1e-10)


def test_normalize_before_and_after_data_and_clip():
    rms = RunningMeanStd(2, clip=5.0)
    np.testing.assert_allclose(rms.normalize([1.0, -2.0]), [1.0, -2.0], rtol=1e-6)  # mean 0, std 1
    rms.update(np.array([[0.0, 0.0], [2.0, 2.0]]))
    np.testing.assert_allclose(rms.normalize([1.0, 3.0]), [0.0, 2.0], rtol=1e-6)
    assert rms.normalize([100.0, -100.0]).tolist() == [5.0, -5.0]
    state = rms.state_dict()
    other = RunningMeanStd(2)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.mean, rms.mean)


def test_normalizer_bad_input():
    rms = RunningMeanStd(3)
    with pytest.raises(ValueError, match="batch"):
        rms.update(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="batch"):
        rms.update(np.array([[np.nan, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="eps"):
        RunningMeanStd(3, eps=0.0)


# -- policies and flat vectors --------------------------------------------------------------
def test_make_policy_matches_spaces():
    cart = make_policy("CartPole-v1")
    assert cart.discrete and cart.obs_dim == 4 and cart.act_dim == 2 and num_params(cart) == 10
    pend = make_policy("Pendulum-v1", hidden=(8,))
    assert not pend.discrete and pend.act_dim == 1
    assert num_params(pend) == 3 * 8 + 8 + 8 + 1
    big = torch.full((1, 3), 1e3)
    assert pend.act(big.numpy()).max() <= 2.0  # clipped to the action box


def test_flat_roundtrip():
    policy = MLPPolicy(3, 2, (5,))
    flat = np.arange(num_params(policy), dtype=np.float64) / 10
    set_flat_params(policy, flat)
    np.testing.assert_allclose(get_flat_params(policy), flat, rtol=1e-6)
    with pytest.raises(ValueError, match="flat"):
        set_flat_params(policy, flat[:-1])


@pytest.mark.parametrize("hidden,discrete", [((), True), ((6, 4), False)])
def test_batched_forward_equals_one_at_a_time(hidden, discrete):
    policy = MLPPolicy(3, 2, hidden, discrete=discrete)
    rng = np.random.default_rng(1)
    params = rng.standard_normal((5, num_params(policy)))
    obs = torch.as_tensor(rng.standard_normal((5, 4, 3)), dtype=torch.float32)
    out = batched_policy(policy, params)(obs)
    for i in range(5):
        set_flat_params(policy, params[i])
        torch.testing.assert_close(out[i], policy(obs[i]), rtol=1e-5, atol=1e-5)


def test_batched_forward_of_any_module_by_vmap():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 4)
            self.b = nn.Linear(4, 2)

        def forward(self, x):
            return self.b(torch.sin(self.a(x)))

    policy = Custom()
    rng = np.random.default_rng(2)
    params = rng.standard_normal((3, num_params(policy)))
    obs = torch.as_tensor(rng.standard_normal((3, 2, 3)), dtype=torch.float32)
    out = batched_policy(policy, params)(obs)
    for i in range(3):
        set_flat_params(policy, params[i])
        torch.testing.assert_close(out[i], policy(obs[i]), rtol=1e-5, atol=1e-5)


# -- rollouts --------------------------------------------------------------------------------
def test_cartpole_rollout_returns_equal_lengths_and_respect_limits():
    policy = make_policy("CartPole-v1")
    params = np.random.default_rng(0).standard_normal((6, num_params(policy)))
    result = rollout(policy, params, "CartPole-v1", episodes=2, seed=0)
    assert result.returns.shape == (6,) and result.episode_returns.shape == (6, 2)
    np.testing.assert_array_equal(result.episode_returns, result.lengths)  # reward 1 per step
    assert result.lengths.max() <= 500 and result.steps == result.lengths.sum()
    cut = rollout(policy, params, "CartPole-v1", max_steps=5, seed=0)
    assert cut.lengths.max() <= 5
    assert cut.truncated_by_limit == int((cut.lengths == 5).sum())


def test_same_seed_same_returns_and_normalizer_counts_steps():
    policy = make_policy("Pendulum-v1")
    params = np.random.default_rng(3).standard_normal((2, num_params(policy)))
    rms = RunningMeanStd(policy.obs_dim)
    a = rollout(policy, params, "Pendulum-v1", seed=4, max_steps=50, normalizer=rms)
    assert rms.count == a.steps == 100
    frozen = RunningMeanStd(policy.obs_dim)
    b = rollout(policy, params, "Pendulum-v1", seed=4, max_steps=50, normalizer=frozen, update_normalizer=False)
    c = rollout(policy, params, "Pendulum-v1", seed=4, max_steps=50)
    assert frozen.count == 0
    np.testing.assert_array_equal(b.returns, c.returns)  # empty statistics normalize to the identity
    np.testing.assert_array_equal(a.returns, c.returns)  # stats are frozen during the rollout
    assert np.all(a.returns < 0)


def test_rollout_bad_input():
    policy = make_policy("CartPole-v1")
    params = np.zeros((2, num_params(policy)))
    with pytest.raises(ValueError, match="episodes"):
        rollout(policy, params, "CartPole-v1", episodes=0)
    with pytest.raises(ValueError, match="max_steps"):
        rollout(policy, params, "CartPole-v1", max_steps=0)
    env = make_vector_env("CartPole-v1", 3)
    with pytest.raises(ValueError, match="sub-environments"):
        rollout(policy, params, env)
    env.close()
    with pytest.raises(ValueError, match="params"):
        rollout(policy, np.zeros((2, 3)), "CartPole-v1")
    nan_env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync",
                           wrappers=[lambda e: gym.wrappers.TransformReward(e, lambda r: float("nan"))])
    with pytest.raises(ValueError, match="non-finite rewards"):
        rollout(policy, params, nan_env)
    nan_env.close()


def test_policy_fitness_counts_training_and_evaluation_separately():
    policy = make_policy("CartPole-v1")
    fitness = PolicyFitness("CartPole-v1", policy, normalize_obs=True, seed=0)
    X = np.random.default_rng(0).standard_normal((4, num_params(policy)))
    returns = fitness(X)
    assert returns.shape == (4,)
    assert fitness.train_episodes == 4 and fitness.train_steps == fitness.normalizer.count
    count = fitness.normalizer.count
    fitness.evaluate(X[0], episodes=3)
    assert fitness.eval_episodes == 3 and fitness.normalizer.count == count and fitness.train_episodes == 4
    fitness.close()


@pytest.mark.slow
def test_openai_es_solves_cartpole_with_a_linear_policy():
    torch.manual_seed(0)
    policy = make_policy("CartPole-v1", zero_init=True)
    fitness = PolicyFitness("CartPole-v1", policy, seed=0)
    solver = OpenAIES(num_params(policy), 20, sigma=0.1, lr=0.05, rng=0)
    result = search_policy(fitness, solver, max_generations=80, eval_episodes=10, target=475.0, progress=False)
    fitness.close()
    assert result.solved_generation is not None, result.eval_return[-5:]
    assert result.train_episodes == 20 * result.solved_generation


def test_es_cartpole_command_writes_a_results_file(tmp_path):
    import json

    from pgnotes import command

    out = tmp_path / "es.json"
    assert command.main("pgnotes.experiments.es_cartpole", ["--seeds", "0", "--max-generations", "2", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["command"].startswith("pgnotes es-cartpole")
    assert data["config"]["popsize"] == 20 and data["summary"]["seeds"] == [0]
    assert data["runs"][0]["train_episodes"] == 40


@pytest.mark.slow
def test_es_mujoco_command_runs_swimmer_briefly(tmp_path):
    import json

    from pgnotes import command

    out = tmp_path / "sw.json"
    assert command.main("pgnotes.experiments.es_mujoco", ["--popsize", "4", "--max-train-episodes", "8", "--eval-every", "1", "--eval-episodes", "1",
                           "--out", str(out)]) == 0
    run_ = json.loads(out.read_text())["runs"][0]
    assert run_["train_episodes"] == 8 and len(run_["eval_return"]) == 2
    assert run_["normalizer"]["count"] == 8 * 1000


def test_search_policy_resumes_bit_for_bit_with_observation_statistics(tmp_path):
    """An interrupted ES run with observation normalization continues exactly (solver, normalizer, seeds, evaluations)."""
    from pgnotes.solvers.snes import SNES

    def run(generations, checkpoint=None, settings=None):
        policy = make_policy("CartPole-v1", zero_init=True)
        fitness = PolicyFitness("CartPole-v1", policy, normalize_obs=True, seed=3)
        return search_policy(fitness, SNES(10, sigma0=0.5, rng=3), max_generations=generations, eval_episodes=2,
                             progress=False, checkpoint=checkpoint, settings=settings), fitness

    whole, fitness_whole = run(6)
    path = tmp_path / "es.ckpt"
    run(3, path)
    resumed, fitness_resumed = run(6, path)
    np.testing.assert_array_equal(resumed.final_params, whole.final_params)
    assert resumed.eval_return == whole.eval_return and resumed.eval_generation == list(range(1, 7))
    np.testing.assert_array_equal(fitness_resumed.normalizer.mean, fitness_whole.normalizer.mean)
    assert resumed.train_episodes == whole.train_episodes
    with pytest.raises(ValueError, match="another run"):
        run(6, path, settings={"note": "another experiment"})
