"""Chapter 2: policies, batched rollouts and the REINFORCE family on Gymnasium environments."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from pgnotes.rl import reinforce as rf
from pgnotes.rl.policies import CategoricalPolicy, GaussianPolicy, TabularSoftmaxPolicy, ValueFunction, make_policy
from pgnotes.rl.rollouts import EpisodeBatch, collect_episodes, evaluate_policy, make_vector_env

torch.set_num_threads(1)


@pytest.fixture
def cartpole():
    envs = make_vector_env("CartPole-v1", 8)
    yield envs
    envs.close()


@pytest.fixture
def policy():
    return CategoricalPolicy(4, 2, (16,), seed=0)


def test_networks_built_from_a_seed_leave_the_global_generator_alone():
    from pgnotes.rl.policies import mlp

    state = torch.random.get_rng_state()
    a = CategoricalPolicy(4, 2, (8,), seed=3)
    GaussianPolicy(3, 1, (8,), seed=3)
    ValueFunction(4, (8,), seed=4)
    make_policy(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-2, 2, (1,)), seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = CategoricalPolicy(4, 2, (8,), seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    # the same numbers as seeding torch's global generator (how the networks were built before)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        reference = mlp([4, 8, 2], output_gain=0.01)
    assert all(torch.equal(p, q) for p, q in zip(a.net.parameters(), reference.parameters()))


# -- returns -------------------------------------------------------------------------
def test_reward_to_go_by_hand():
    np.testing.assert_allclose(rf.reward_to_go([1.0, 2.0, 3.0], 0.5), [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3])
    np.testing.assert_allclose(rf.reward_to_go([1.0, 1.0, 1.0]), [3, 2, 1])
    assert rf.discounted_return([1.0, 2.0, 3.0], 0.5) == pytest.approx(1 + 1 + 0.75)
    assert rf.reward_to_go([], 0.9).shape == (0,)


def test_return_bad_input():
    with pytest.raises(ValueError, match="gamma"):
        rf.reward_to_go([1.0], 1.5)
    with pytest.raises(ValueError, match="rewards"):
        rf.reward_to_go([1.0, np.inf])


# -- policies ----------------------------------------------------------------------------
def test_categorical_log_prob_matches_torch_distribution(policy):
    obs = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    actions = torch.tensor([0, 1, 1, 0, 1, 0])
    np.testing.assert_allclose(policy.log_prob(obs, actions).detach(), policy.distribution(obs).log_prob(actions).detach(), atol=1e-6)
    a, logp = policy.sample_with_log_prob(obs, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(logp.detach(), policy.log_prob(obs, a).detach(), atol=1e-6)


def test_gaussian_policy_log_prob_and_sampling():
    pol = GaussianPolicy(3, 2, (8,), log_std_init=-1.0, action_scale=2.0, seed=0)
    obs = torch.randn(2000, 3, generator=torch.Generator().manual_seed(0))
    a = pol.sample(obs, torch.Generator().manual_seed(1))
    z = (a - pol.mean(obs)) / np.exp(-1.0)
    z = z.detach()
    assert abs(float(z.mean())) < 0.1 and abs(float(z.std()) - 1) < 0.05
    expected = torch.distributions.Normal(pol.mean(obs), torch.exp(torch.tensor(-1.0))).log_prob(a).sum(-1)
    np.testing.assert_allclose(pol.log_prob(obs, a).detach(), expected.detach(), atol=1e-5)


def test_policy_seed_controls_initialization():
    a, b, c = CategoricalPolicy(4, 2, seed=3), CategoricalPolicy(4, 2, seed=3), CategoricalPolicy(4, 2, seed=4)
    va, vb, vc = (torch.nn.utils.parameters_to_vector(p.parameters()) for p in (a, b, c))
    assert torch.equal(va, vb) and not torch.equal(va, vc)


def test_make_policy_picks_family():
    cp = gym.make("CartPole-v1")
    pd = gym.make("Pendulum-v1")
    assert isinstance(make_policy(cp.observation_space, cp.action_space), CategoricalPolicy)
    pol = make_policy(pd.observation_space, pd.action_space)
    assert isinstance(pol, GaussianPolicy) and pol.action_scale == 2.0


def test_mismatched_policy_is_a_clear_error(cartpole):
    with pytest.raises(ValueError, match="action_space"):
        collect_episodes(cartpole, GaussianPolicy(4, 1), 2)
    with pytest.raises(ValueError, match="n_actions"):
        collect_episodes(cartpole, CategoricalPolicy(4, 3), 2)
    with pytest.raises(ValueError, match="obs_dim"):
        collect_episodes(cartpole, CategoricalPolicy(5, 2), 2)
    with pytest.raises(ValueError, match="observation_space"):
        collect_episodes(cartpole, TabularSoftmaxPolicy(4, 2), 2)


# -- rollouts ---------------------------------------------------------------------------
def test_collect_returns_complete_episodes_in_start_order(cartpole, policy):
    episodes = collect_episodes(cartpole, policy, 21, generator=torch.Generator().manual_seed(0), seed=0)
    assert len(episodes) == 21
    for e in episodes:
        assert e.terminated or e.truncated
        assert e.observations.shape == (len(e), 4) and e.actions.shape == (len(e),)
        np.testing.assert_allclose(e.rewards, 1.0)
    # the first 8 episodes are the first of each sub-env: their first observations are the seeded resets
    first_obs, _ = make_vector_env("CartPole-v1", 8).reset(seed=0)
    np.testing.assert_allclose(np.stack([e.observations[0] for e in episodes[:8]]), first_obs)


def test_collect_is_deterministic(policy):
    runs = []
    for _ in range(2):
        envs = make_vector_env("CartPole-v1", 4)
        eps = collect_episodes(envs, policy, 6, generator=torch.Generator().manual_seed(5), seed=7)
        runs.append(np.concatenate([e.actions for e in eps]))
    np.testing.assert_array_equal(*runs)


def test_step_limit_truncates(policy):
    envs = make_vector_env("CartPole-v1", 3)
    episodes = collect_episodes(envs, policy, 5, generator=torch.Generator().manual_seed(0), seed=0, max_steps=4)
    assert all(len(e) <= 4 for e in episodes)
    assert any(e.truncated and len(e) == 4 for e in episodes)


class NeverEnds(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, reward=1.0):
        self.reward = reward

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action):
        return np.zeros(4, np.float32), self.reward, False, False, {}


def test_episodes_that_never_end_hit_the_step_limit(policy):
    envs = gym.vector.SyncVectorEnv([NeverEnds] * 2)  # default next-step autoreset, no time limit
    episodes = collect_episodes(envs, policy, 3, generator=torch.Generator().manual_seed(0), max_steps=50)
    assert [len(e) for e in episodes] == [50, 50, 50] and all(e.truncated for e in episodes)


def test_non_finite_rewards_raise(policy):
    envs = gym.vector.SyncVectorEnv([lambda: NeverEnds(np.nan)])
    with pytest.raises(ValueError, match="non-finite rewards"):
        collect_episodes(envs, policy, 1, max_steps=10)


def test_batch_sizes_below_one_raise(cartpole, policy):
    with pytest.raises(ValueError, match="num_episodes"):
        collect_episodes(cartpole, policy, 0)
    with pytest.raises(ValueError, match="episodes_per_batch"):
        rf.ReinforceConfig(episodes_per_batch=0)
    with pytest.raises(ValueError, match="num_envs"):
        make_vector_env("CartPole-v1", 0)


def test_gaussian_actions_are_clipped_for_the_env():
    envs = make_vector_env("Pendulum-v1", 2, max_steps=20)
    pol = GaussianPolicy(3, 1, log_std_init=2.0, action_scale=2.0)  # std e^2: most samples out of bounds
    episodes = collect_episodes(envs, pol, 2, generator=torch.Generator().manual_seed(0), seed=0)
    assert all(len(e) == 20 for e in episodes)
    assert max(np.abs(e.actions).max() for e in episodes) > 2.0  # stored unclipped, for log_prob


# -- estimators ----------------------------------------------------------------------------
@pytest.fixture
def batch(cartpole, policy):
    return EpisodeBatch(collect_episodes(cartpole, policy, 12, generator=torch.Generator().manual_seed(0), seed=1))


def test_weights_per_estimator_and_baseline(batch):
    w = rf.policy_gradient_weights(batch, estimator="whole_return", gamma=1.0)
    np.testing.assert_allclose(w, batch.lengths[batch.episode_index])
    w = rf.policy_gradient_weights(batch, estimator="whole_return", baseline="mean", gamma=1.0)
    np.testing.assert_allclose(w, (batch.lengths - batch.lengths.mean())[batch.episode_index])
    w = rf.policy_gradient_weights(batch, estimator="reward_to_go", gamma=1.0)
    np.testing.assert_allclose(w, (batch.lengths[batch.episode_index] - batch.time_index))
    w = rf.policy_gradient_weights(batch, estimator="reward_to_go", baseline="mean", gamma=0.9)
    for t in (0, 3):  # the mean of G_t over the episodes that reached step t is removed
        assert abs(w[batch.time_index == t].mean()) < 1e-9
    with pytest.raises(ValueError, match="value_fn"):
        rf.policy_gradient_weights(batch, baseline="value")
    with pytest.raises(ValueError, match="estimator"):
        rf.policy_gradient_weights(batch, estimator="td")


def test_policy_gradient_is_sum_of_weighted_scores(batch, policy):
    w = rf.policy_gradient_weights(batch, estimator="reward_to_go", gamma=0.99)
    got = rf.policy_gradient(policy, batch, w)
    total = 0
    for i in range(0, batch.num_steps, 7):  # per-step autograd, a sample of rows
        policy.zero_grad()
        policy.log_prob(batch.observations[i : i + 1], batch.actions[i : i + 1]).sum().backward()
        total = total + w[i] * torch.nn.utils.parameters_to_vector([p.grad for p in policy.parameters()]).double().numpy()
    mask = np.zeros(batch.num_steps)
    mask[::7] = 1
    np.testing.assert_allclose(rf.policy_gradient(policy, batch, w * mask), total / len(batch), rtol=1e-4, atol=1e-7)
    assert got.shape == (policy.num_params,)


def _batch_gradients(envs, policy, n_batches, estimator, baseline, value_fn=None, seed=0):
    gen = torch.Generator().manual_seed(seed)
    grads = []
    for b in range(n_batches):
        batch = EpisodeBatch(collect_episodes(envs, policy, 10, generator=gen, seed=seed if b == 0 else None))
        w = rf.policy_gradient_weights(batch, estimator=estimator, baseline=baseline, gamma=0.99, value_fn=value_fn)
        grads.append(rf.policy_gradient(policy, batch, w))
    return np.array(grads)


def test_constant_baseline_term_has_zero_mean(cartpole, policy):
    """E[b grad log p(tau)] = 0: the difference between estimates with and without b averages to 0."""
    gen = torch.Generator().manual_seed(3)
    terms = []
    for b in range(80):
        batch = EpisodeBatch(collect_episodes(cartpole, policy, 10, generator=gen, seed=3 if b == 0 else None))
        terms.append(rf.policy_gradient(policy, batch, np.full(batch.num_steps, 20.0)))  # b = 20
    terms = np.array(terms)
    z = terms.mean(0) / (terms.std(0, ddof=1) / np.sqrt(len(terms)))
    assert np.max(np.abs(z)) < 4.5  # 114 parameters, t with 79 dof: P(max |z| > 4.5) < 1e-2
    assert np.linalg.norm(terms.mean(0)) < 0.2 * np.sqrt(np.mean(np.sum(terms**2, 1)))


def test_variance_ordering_on_cartpole(cartpole, policy):
    """Total variance across batches: whole return > reward-to-go > reward-to-go with a mean baseline."""
    var = {}
    for name, est, base in [("whole", "whole_return", "none"), ("rtg", "reward_to_go", "none"), ("rtg_mean", "reward_to_go", "mean")]:
        var[name] = _batch_gradients(cartpole, policy, 40, est, base, seed=9).var(0, ddof=1).sum()
    assert var["whole"] > 1.2 * var["rtg"] > 1.2 * 1.2 * var["rtg_mean"]


# -- training -------------------------------------------------------------------------------
def test_train_short_run_is_deterministic_and_plots():
    kw = dict(total_episodes=40, episodes_per_batch=10, progress=False, final_eval=False, seed=2)
    a, b = rf.train(**kw), rf.train(**kw)
    assert a.history.episodes == [10, 20, 30, 40]
    assert a.history.mean_return == b.history.mean_return
    assert len(a.history.episode_returns) == 40
    assert isinstance(a.value_fn, ValueFunction)
    ax = a.history.plot(window=2)
    assert ax.get_xlabel() == "episodes"
    again = rf.ReinforceHistory.from_dict(a.history.to_dict())
    assert again == a.history
    assert a.history.grad_norm and len(a.history.grad_norm) == len(a.history)


def test_train_evaluates_when_due_stops_at_target_and_on_callback():
    kw = dict(total_episodes=40, episodes_per_batch=10, progress=False, eval_episodes=2, seed=1)
    h = rf.train(eval_threshold=0.0, target=0.0, stop_at_target=True, **kw).history
    assert h.episodes == [10] and h.eval_at == [10] and h.solved_at == 10  # no second, final evaluation
    h = rf.train(eval_threshold=0.0, target=1e9, **kw).history
    assert h.eval_at == [10, 20, 30, 40] and h.solved_at is None
    seen = []
    result = rf.train(callback=lambda r: seen.append(len(r.history)) or len(r.history) == 2, final_eval=False, **kw)
    assert seen == [1, 2] and result.history.episodes == [10, 20] and not result.history.eval_at


def test_train_leaves_the_global_generator_alone():
    state = torch.random.get_rng_state()
    rf.train(total_episodes=4, episodes_per_batch=2, progress=False, eval_episodes=2, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_config_shares_the_trainer_fields():
    from pgnotes.rl.training import TrainerConfig

    config = rf.ReinforceConfig(hidden=[8, 8], seed=4)
    assert isinstance(config, TrainerConfig) and config.hidden == (8, 8)
    assert rf.ReinforceConfig.with_overrides(config, {"gamma": 0.5}).to_dict() == {**config.to_dict(), "gamma": 0.5}
    with pytest.raises(TypeError, match="config"):
        rf.train(config={"seed": 1}, progress=False)
    for bad in ({"hidden": "32"}, {"eval_threshold": float("nan")}, {"stop_at_target": 1}, {"seed": -1}):
        with pytest.raises((ValueError, TypeError), match=next(iter(bad))):
            rf.ReinforceConfig(**bad)


def test_train_config_errors():
    with pytest.raises(ValueError, match="baseline"):
        rf.ReinforceConfig(estimator="whole_return", baseline="value")
    with pytest.raises(ValueError, match="learning_rate"):
        rf.ReinforceConfig(learning_rate=-1.0)
    with pytest.raises(TypeError):
        rf.train(progress=False, not_a_field=1)


@pytest.mark.slow
def test_reinforce_learns_cartpole():
    result = rf.train(total_episodes=250, progress=False, eval_episodes=20, seed=0)
    assert np.mean(result.history.mean_return[-3:]) > 3 * np.mean(result.history.mean_return[:3])
    assert result.history.eval_mean[-1] > 100


def test_evaluate_policy_counts_episodes(policy):
    returns = evaluate_policy(policy, "CartPole-v1", 12, seed=1)
    assert returns.shape == (12,) and np.all(returns >= 1)
