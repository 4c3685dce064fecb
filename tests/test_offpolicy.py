"""Chapter 2: off-policy gradients (importance weights, per-decision vs trajectory, clip, self-normalize), replay buffer."""

import numpy as np
import pytest
import torch

from pgnotes.rl import offpolicy as op
from pgnotes.rl import tabular_mdp as tm
from pgnotes.rl.policies import TabularSoftmaxPolicy
from pgnotes.rl.reinforce import policy_gradient, reward_to_go
from pgnotes.rl.rollouts import Episode, EpisodeBatch, collect_episodes, make_vector_env
from pgnotes.score import categorical_score

torch.set_num_threads(1)
MDP = tm.random_mdp(4, 3, rng=1, termination=0.2, gamma=0.9)
THETA = np.random.default_rng(3).normal(size=(4, 3))


def behaviour_batch(theta_mu, n, seed):
    """n episodes of the softmax policy theta_mu on MDP, with mu's log-probabilities stored (numpy sampler)."""
    log_mu = np.log(tm.softmax(theta_mu))
    episodes = [
        Episode(s, a, r, log_mu[s, a], True, False)
        for s, a, r in tm.sample_episodes(MDP, theta_mu, n, np.random.default_rng(seed))
    ]
    return EpisodeBatch(episodes)


def test_vector_env_episodes_carry_behaviour_log_probs():
    envs = make_vector_env(lambda: tm.TabularMDPEnv(MDP), 4, max_steps=50)
    theta_mu = THETA + 1.0
    batch = EpisodeBatch(collect_episodes(envs, TabularSoftmaxPolicy(4, 3, theta_mu), 8, generator=torch.Generator().manual_seed(0), seed=0))
    log_mu = np.log(tm.softmax(theta_mu))
    np.testing.assert_allclose(batch.log_probs, log_mu[batch.observations.numpy(), batch.actions.numpy()], atol=1e-12)


def per_episode_gradients(batch, weights):
    """Tabular softmax: the per-episode gradient terms sum_t w_t (e_a - pi(s)) in row s, shape (N, S*A)."""
    scores = categorical_score(batch.actions.numpy(), THETA[batch.observations.numpy()])
    terms = np.zeros((len(batch), 4, 3))
    np.add.at(terms, (batch.episode_index, batch.observations.numpy()), weights[:, None] * scores)
    return terms.reshape(len(batch), -1)


@pytest.fixture(scope="module")
def off_batch():
    return behaviour_batch(THETA + np.random.default_rng(4).normal(scale=0.4, size=THETA.shape), 20_000, 0)


def test_on_policy_weights_are_the_reward_to_go():
    batch = behaviour_batch(THETA, 200, 1)
    target = op.target_log_probs(TabularSoftmaxPolicy(4, 3, THETA), batch)
    np.testing.assert_allclose(op.cumulative_ratios(batch, target), 1.0, atol=1e-12)
    g = np.concatenate([reward_to_go(e.rewards, 0.9) for e in batch.episodes])
    for mode in op.MODES:
        np.testing.assert_allclose(op.off_policy_weights(batch, target, gamma=0.9, mode=mode), g, atol=1e-12)
        np.testing.assert_allclose(op.off_policy_weights(batch, target, gamma=0.9, mode=mode, baseline=np.ones_like(g)), g - 1, atol=1e-12)


def test_tabular_helper_matches_autograd(off_batch):
    policy = TabularSoftmaxPolicy(4, 3, THETA)
    small = EpisodeBatch(off_batch.episodes[:50])
    w = op.off_policy_weights(small, op.target_log_probs(policy, small), gamma=0.9)
    np.testing.assert_allclose(per_episode_gradients(small, w).mean(0), policy_gradient(policy, small, w), atol=1e-12)


@pytest.mark.parametrize("mode", ["trajectory", "per_decision"])
def test_importance_weighted_gradient_is_unbiased(off_batch, mode):
    """Episodes of mu, weighted, estimate the exact gradient of J_1 under pi (gamma^t kept for exactness)."""
    target = op.target_log_probs(TabularSoftmaxPolicy(4, 3, THETA), off_batch)
    w = op.off_policy_weights(off_batch, target, gamma=0.9, mode=mode) * 0.9 ** off_batch.time_index
    terms = per_episode_gradients(off_batch, w)
    z = (terms.mean(0) - tm.exact_gradient(MDP, THETA).ravel()) / (terms.std(0, ddof=1) / np.sqrt(len(terms)))
    assert np.max(np.abs(z)) < 4.0


@pytest.mark.parametrize("mode", ["trajectory", "per_decision"])
def test_baseline_inside_the_weights_keeps_it_unbiased(off_batch, mode):
    """rho (G_t - b(s_t)): a state-dependent baseline times the ratio has mean zero under mu."""
    target = op.target_log_probs(TabularSoftmaxPolicy(4, 3, THETA), off_batch)
    b = np.array([1.0, -2.0, 0.5, 3.0])[off_batch.observations.numpy()]  # any b(s_t)
    discount = 0.9 ** off_batch.time_index
    w = op.off_policy_weights(off_batch, target, gamma=0.9, mode=mode, baseline=b / discount) * discount
    terms = per_episode_gradients(off_batch, w)
    z = (terms.mean(0) - tm.exact_gradient(MDP, THETA).ravel()) / (terms.std(0, ddof=1) / np.sqrt(len(terms)))
    assert np.max(np.abs(z)) < 4.0


def test_reuse_without_correction_is_biased(off_batch):
    target = op.target_log_probs(TabularSoftmaxPolicy(4, 3, THETA), off_batch)
    w = op.off_policy_weights(off_batch, target, gamma=0.9, mode="none") * 0.9 ** off_batch.time_index
    terms = per_episode_gradients(off_batch, w)
    z = (terms.mean(0) - tm.exact_gradient(MDP, THETA).ravel()) / (terms.std(0, ddof=1) / np.sqrt(len(terms)))
    assert np.max(np.abs(z)) > 8.0


def test_per_decision_has_lower_variance_than_trajectory(off_batch):
    target = op.target_log_probs(TabularSoftmaxPolicy(4, 3, THETA), off_batch)
    var = {m: per_episode_gradients(off_batch, op.off_policy_weights(off_batch, target, gamma=0.9, mode=m)).var(0).sum() for m in ("trajectory", "per_decision")}
    assert var["per_decision"] < 0.9 * var["trajectory"]


def test_clip_and_self_normalize(off_batch):
    target = op.target_log_probs(TabularSoftmaxPolicy(4, 3, THETA), off_batch)
    rho = op.cumulative_ratios(off_batch, target)
    ends = np.cumsum(off_batch.lengths) - 1
    assert abs(rho[ends].mean() - 1) < 5 * rho[ends].std() / np.sqrt(len(ends))  # E_mu[rho] = 1
    g = np.concatenate([reward_to_go(e.rewards, 0.9) for e in off_batch.episodes])
    w = op.off_policy_weights(off_batch, target, gamma=0.9, mode="trajectory", clip=1.5)
    assert np.all(np.abs(w) <= 1.5 * np.abs(g) + 1e-12)
    w = op.off_policy_weights(off_batch, target, gamma=0.9, mode="trajectory", self_normalize=True)
    per_episode = w[ends] / g[ends]
    assert per_episode.mean() == pytest.approx(1.0, abs=1e-9)
    w_pd = op.off_policy_weights(off_batch, target, gamma=0.9, mode="per_decision", self_normalize=True, clip=3.0)
    assert np.all(np.isfinite(w_pd))


def test_variance_grows_with_policy_distance():
    noise = np.random.default_rng(5).normal(size=THETA.shape)
    policy = TabularSoftmaxPolicy(4, 3, THETA)
    variances = []
    for scale in (0.0, 0.5, 1.0):
        batch = behaviour_batch(THETA + scale * noise, 4000, 2)
        w = op.off_policy_weights(batch, op.target_log_probs(policy, batch), gamma=0.9, mode="trajectory")
        variances.append(per_episode_gradients(batch, w).var(0).sum())
    assert variances[0] < variances[1] < variances[2]


def test_effective_sample_size():
    assert op.effective_sample_size(np.ones(10)) == pytest.approx(10)
    assert op.effective_sample_size(np.array([1.0, 0, 0, 0])) == pytest.approx(1)


def _episode(k):
    return Episode(np.zeros((k, 4), np.float32), np.zeros(k, np.int64), np.ones(k), np.zeros(k), True, False)


def test_replay_buffer_fifo_and_sampling():
    buf = op.ReplayBuffer(3, rng=0)
    buf.add([_episode(k) for k in (1, 2, 3, 4)])
    assert len(buf) == 3
    batch = buf.sample(3)
    assert sorted(batch.lengths.tolist()) == [2, 3, 4]  # the oldest was dropped; no repeats
    with pytest.raises(ValueError, match="n must"):
        buf.sample(4)
    with pytest.raises(ValueError, match="capacity"):
        op.ReplayBuffer(0)
    with pytest.raises(TypeError, match="Episode"):
        buf.add([1, 2])


def test_bad_input(off_batch):
    target = np.zeros(off_batch.num_steps)
    with pytest.raises(ValueError, match="mode"):
        op.off_policy_weights(off_batch, target, mode="mixed")
    with pytest.raises(ValueError, match="clip"):
        op.off_policy_weights(off_batch, target, clip=0.0)
    with pytest.raises(ValueError, match="target_logp"):
        op.off_policy_weights(off_batch, target[:-1])
    with pytest.raises(ValueError, match="batch_size"):
        op.OffPolicyConfig(batch_size=100, capacity=10)


def test_off_policy_training_runs():
    policy, history = op.train(total_episodes=60, episodes_per_iteration=10, capacity=30, batch_size=10,
                               batches_per_iteration=2, eval_episodes=5, progress=False)
    assert history.episodes[-1] == 60 and len(history.eval_mean) == 1
