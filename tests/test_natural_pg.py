"""Natural policy gradient and TRPO (chapter 7): exact tabular check, CG vs a dense solve, the KL bound."""

import numpy as np
import pytest
import torch

from pgnotes.rl import natural_pg as npg
from pgnotes.rl.gae import collect_batch
from pgnotes.rl.policies import CategoricalPolicy, GaussianPolicy, TabularSoftmaxPolicy, ValueFunction
from pgnotes.rl.rollouts import make_vector_env
from pgnotes.rl.tabular_mdp import action_values, discounted_visitation, exact_gradient, random_mdp, state_values
from pgnotes.score import softmax


def dense_tabular_fisher(pi: np.ndarray, weights: np.ndarray) -> np.ndarray:
    S, A = pi.shape
    F = np.zeros((S * A, S * A))
    for s in range(S):
        block = np.diag(pi[s]) - np.outer(pi[s], pi[s])
        F[s * A:(s + 1) * A, s * A:(s + 1) * A] = weights[s] * block
    return F


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tabular_natural_gradient_is_exact(seed):
    mdp = random_mdp(5, 3, rng=seed)
    theta = np.random.default_rng(seed + 10).normal(size=(5, 3))
    grad = exact_gradient(mdp, theta).reshape(-1)
    d = discounted_visitation(mdp, theta)
    w = d / d.sum()
    policy = TabularSoftmaxPolicy(5, 3, theta)
    nat = npg.natural_gradient(policy, torch.arange(5), grad, weights=d, iterations=50, tol=1e-26).numpy()
    F = dense_tabular_fisher(softmax(theta), w)
    np.testing.assert_allclose(nat, np.linalg.pinv(F) @ grad, rtol=1e-6, atol=1e-8)
    # Kakade (2001): for the tabular softmax, F^+ grad J is the advantage, centred per state, times sum(d)
    adv = action_values(mdp, theta) - state_values(mdp, theta)[:, None]
    np.testing.assert_allclose(nat.reshape(5, 3), d.sum() * (adv - adv.mean(axis=1, keepdims=True)), rtol=1e-6, atol=1e-8)


def test_fisher_vector_product_matches_score_outer_products():
    policy = CategoricalPolicy(3, 4, hidden=(5,), seed=2)
    with torch.no_grad():
        for p in policy.parameters():
            p.mul_(30.0)  # a non-uniform policy
    obs = torch.as_tensor(np.random.default_rng(0).normal(size=(6, 3)), dtype=torch.float32)
    n = policy.num_params
    F = np.zeros((n, n))
    probs = torch.softmax(policy.logits(obs), -1).detach().numpy()
    for i in range(obs.shape[0]):
        for a in range(4):
            score = npg.flat_grad(policy.log_prob(obs[i:i + 1], torch.tensor([a])).sum(), policy).double().numpy()
            F += probs[i, a] * np.outer(score, score) / obs.shape[0]
    v = torch.as_tensor(np.random.default_rng(1).normal(size=n), dtype=torch.float32)
    fvp = npg.fisher_vector_product(policy, obs, damping=0.1)
    np.testing.assert_allclose(fvp(v).double().numpy(), F @ v.double().numpy() + 0.1 * v.double().numpy(), rtol=1e-3, atol=1e-5)


def test_fisher_vector_product_gaussian_log_std_block():
    # for N(mu, sigma^2) per dimension the Fisher entry of log sigma is 2 per state
    policy = GaussianPolicy(2, 3, hidden=(4,), seed=0)
    obs = torch.zeros(7, 2)
    fvp = npg.fisher_vector_product(policy, obs)
    e = torch.zeros(policy.num_params)
    e[0] = 1.0  # log_std is registered first? find its slot instead
    names = [name for name, _ in policy.named_parameters()]
    offset = 0
    for name, p in policy.named_parameters():
        if name == "log_std":
            break
        offset += p.numel()
    e = torch.zeros(policy.num_params)
    e[offset] = 1.0
    assert "log_std" in names
    assert float(fvp(e)[offset]) == pytest.approx(2.0, rel=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_conjugate_gradient_matches_dense_solve(backend):
    rng = np.random.default_rng(3)
    M = rng.normal(size=(20, 20))
    A = M @ M.T + 0.5 * np.eye(20)
    b = rng.normal(size=20)
    expected = np.linalg.solve(A, b)
    if backend == "numpy":
        x = npg.conjugate_gradient(lambda v: A @ v, b, iterations=60, tol=1e-24)
    else:
        At = torch.as_tensor(A)
        x = npg.conjugate_gradient(lambda v: At @ v, torch.as_tensor(b), iterations=60, tol=1e-24).numpy()
    np.testing.assert_allclose(x, expected, rtol=1e-7, atol=1e-9)


def test_conjugate_gradient_exact_in_n_steps():
    rng = np.random.default_rng(4)
    M = rng.normal(size=(5, 5))
    A = M @ M.T + np.eye(5)
    b = rng.normal(size=5)
    np.testing.assert_allclose(npg.conjugate_gradient(lambda v: A @ v, b, iterations=5, tol=0.0), np.linalg.solve(A, b), rtol=1e-8)


@pytest.fixture(scope="module")
def cartpole_batch():
    envs = make_vector_env("CartPole-v1", 4)
    try:
        policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
        batch = collect_batch(envs, policy, ValueFunction(4, (16,), seed=1), 400, generator=torch.Generator().manual_seed(0), seed=0)
    finally:
        envs.close()
    return policy.state_dict(), batch


@pytest.mark.parametrize("max_kl", [0.01, 1e-4])
def test_trpo_step_respects_kl_bound_and_improves_surrogate(cartpole_batch, max_kl):
    state, batch = cartpole_batch
    policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
    policy.load_state_dict(state)
    adv = npg.normalized(batch.advantages)
    with torch.no_grad():
        old = npg.detached_distribution(policy.distribution(batch.observations))
        before = float(npg.surrogate(policy, batch.observations, batch.actions, batch.log_probs, adv))
    info = npg.trpo_step(policy, batch.observations, batch.actions, batch.log_probs, adv, max_kl=max_kl)
    assert info.accepted
    with torch.no_grad():
        kl = float(npg.mean_kl(policy, batch.observations, old))
        after = float(npg.surrogate(policy, batch.observations, batch.actions, batch.log_probs, adv))
    assert kl <= max_kl
    assert kl == pytest.approx(info.kl, rel=1e-5)
    assert after - before == pytest.approx(info.improvement, rel=1e-4, abs=1e-7)
    assert after > before
    # the quadratic model was accurate: the measured KL is near the radius for a full step
    if info.backtracks == 0:
        assert kl > 0.5 * max_kl


def test_rejected_step_restores_parameters(cartpole_batch):
    state, batch = cartpole_batch
    policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
    policy.load_state_dict(state)
    before = npg.flat_params(policy)
    # advantages of zero: no direction improves the surrogate
    info = npg.trpo_step(policy, batch.observations, batch.actions, batch.log_probs, torch.zeros(batch.num_steps))
    assert not info.accepted
    assert torch.equal(npg.flat_params(policy), before)


def test_surrogate_gradient_at_old_policy_is_policy_gradient(cartpole_batch):
    state, batch = cartpole_batch
    policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
    policy.load_state_dict(state)
    g = npg.flat_grad(npg.surrogate(policy, batch.observations, batch.actions, batch.log_probs, batch.advantages), policy)
    pg = npg.flat_grad((policy.log_prob(batch.observations, batch.actions) * batch.advantages).mean(), policy)
    torch.testing.assert_close(g, pg, rtol=1e-4, atol=1e-6)


def test_bad_input_names_the_argument(cartpole_batch):
    state, batch = cartpole_batch
    policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
    for bad in (0.0, -0.01):
        with pytest.raises(ValueError, match="max_kl"):
            npg.trpo_step(policy, batch.observations, batch.actions, batch.log_probs, batch.advantages, max_kl=bad)
    with pytest.raises(ValueError, match="max_kl"):
        npg.TRPOConfig(max_kl=0.0)
    with pytest.raises(ValueError, match="steps_per_batch"):
        npg.TRPOConfig(steps_per_batch=0)
    with pytest.raises(ValueError, match="iterations"):
        npg.conjugate_gradient(lambda v: v, np.ones(2), iterations=0)
    with pytest.raises(ValueError, match="damping"):
        npg.fisher_vector_product(policy, batch.observations, damping=-1.0)
    with pytest.raises(ValueError, match="obs"):
        npg.trpo_step(policy, batch.observations[:0], batch.actions[:0], batch.log_probs[:0], batch.advantages[:0])


def test_train_smoke():
    result = npg.train(total_steps=600, steps_per_batch=300, hidden=(8,), progress=False, seed=0)
    assert len(result.history) >= 2
    assert all(k <= result.config.max_kl for k in result.history.kl)
