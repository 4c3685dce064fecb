"""OpenAI ES (chapter 3): the gradient estimate, antithetic pairs, shaping, torch optimizers, weight decay, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgnotes.functions import as_fitness, sphere
from pgnotes.score import gaussian_score_mean
from pgnotes.shaping import centered_ranks
from pgnotes.solvers import optimize
from pgnotes.solvers.openai_es import OpenAIES, es_gradient


def test_es_gradient_is_the_score_function_estimate_of_seed_002():
    """(1/(n sigma)) sum F_i eps_i = (1/n) sum F_i grad_mu log p(theta_i), since grad_mu log p = eps / sigma."""
    rng = np.random.default_rng(0)
    mu, sigma = rng.standard_normal(5), 0.3
    eps = rng.standard_normal((8, 5))
    F = rng.standard_normal(8)
    scores = gaussian_score_mean(mu + sigma * eps, mu, sigma)
    np.testing.assert_allclose(es_gradient(eps, F, sigma), (F[:, None] * scores).mean(0), rtol=1e-12)
    np.testing.assert_allclose(es_gradient(eps, F, sigma), sum(F[i] * eps[i] for i in range(8)) / (8 * sigma))


def test_es_gradient_is_unbiased_for_a_quadratic():
    """E[F(mu + sigma eps) eps] / sigma = grad of the smoothed objective; for F = -|x|^2 it is -2 mu."""
    rng = np.random.default_rng(1)
    mu, sigma, n = np.array([1.0, -2.0, 0.5]), 0.5, 200_000
    eps = rng.standard_normal((n, 3))
    F = -np.sum((mu + sigma * eps) ** 2, axis=1)
    terms = F[:, None] * eps / sigma
    se = terms.std(0) / np.sqrt(n)
    assert np.all(np.abs(es_gradient(eps, F, sigma) - (-2 * mu)) <= 5 * se)


def test_antithetic_pairs_mirror_and_cancel_even_fitness():
    solver = OpenAIES(4, 6, mean=np.arange(4.0), sigma=0.2, rng=0)
    x = solver.ask()
    np.testing.assert_allclose(x[:3] + x[3:], np.broadcast_to(2 * solver.mean, (3, 4)), atol=1e-12)
    # an even function of the perturbation (|x - mu|^2) gives no gradient with mirrored pairs
    noise = (x - solver.mean) / solver.sigma
    np.testing.assert_allclose(es_gradient(noise, np.sum(noise**2, axis=1), 0.2), 0.0, atol=1e-12)


def test_tell_uses_centred_ranks_and_torch_sgd_with_weight_decay():
    solver = OpenAIES(3, 4, mean=np.ones(3), sigma=0.1, lr=0.5, optimizer="sgd", momentum=0.0, weight_decay=0.01, rng=2)
    x = solver.ask()
    fitness = np.array([3.0, -1.0, 10.0, 0.0])
    solver.tell(x, fitness)
    g = es_gradient((x - 1.0) / 0.1, centered_ranks(fitness), 0.1)
    np.testing.assert_allclose(solver.last_gradient, g, rtol=1e-10)
    np.testing.assert_allclose(solver.mean, 1.0 + 0.5 * (g - 0.01 * 1.0), rtol=1e-10)
    # invariance to monotone transformations of fitness
    twin = OpenAIES(3, 4, mean=np.ones(3), sigma=0.1, lr=0.5, optimizer="sgd", momentum=0.0, weight_decay=0.01, rng=2)
    twin.tell(twin.ask(), np.exp(fitness))
    np.testing.assert_array_equal(twin.mean, solver.mean)


def test_adam_step_matches_torch_adam_on_the_negated_direction():
    solver = OpenAIES(3, 4, mean=np.zeros(3), sigma=0.1, lr=0.01, weight_decay=0.005, rng=3)
    reference = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    adam = torch.optim.Adam([reference], lr=0.01)
    f = as_fitness(sphere)
    for _ in range(3):
        theta = reference.detach().numpy().copy()
        x = solver.ask()
        fit = f(x)
        solver.tell(x, fit)
        g = es_gradient((x - theta) / 0.1, centered_ranks(fit), 0.1)
        adam.zero_grad()
        reference.grad = torch.from_numpy(-(g - 0.005 * theta))
        adam.step()
    np.testing.assert_allclose(solver.mean, reference.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_weight_decay_alone_shrinks_the_mean():
    solver = OpenAIES(2, 4, mean=np.array([1.0, -2.0]), sigma=0.1, lr=0.1, optimizer="sgd", momentum=0.0,
                      weight_decay=0.5, shaping="none", rng=0)
    x = solver.ask()
    solver.tell(x, np.full(4, 7.0))  # constant fitness: the mirrored estimate is 0
    np.testing.assert_allclose(solver.mean, np.array([1.0, -2.0]) * (1 - 0.1 * 0.5), rtol=1e-9)


@pytest.mark.parametrize("optimizer,lr", [("adam", 0.05), ("sgd", 0.02)])
def test_converges_on_sphere(optimizer, lr):
    solver = OpenAIES(5, 40, mean=np.full(5, 2.0), sigma=0.1, lr=lr, optimizer=optimizer, weight_decay=0.0, rng=0)
    optimize(as_fitness(sphere), solver, max_generations=300, vectorized=True, progress=False)
    assert sphere(solver.mean) < 0.05


def test_covariance_hook_is_sigma_squared_identity():
    solver = OpenAIES(3, 4, sigma=0.3)
    np.testing.assert_allclose(solver.covariance, 0.09 * np.eye(3))


def test_checkpoint_resume_is_bit_identical(tmp_path):
    f = as_fitness(sphere)
    straight = OpenAIES(4, 8, mean=np.ones(4), sigma=0.1, lr=0.05, rng=5)
    optimize(f, straight, max_generations=10, vectorized=True, progress=False)
    path = tmp_path / "es.ckpt"
    first = OpenAIES(4, 8, mean=np.ones(4), sigma=0.1, lr=0.05, rng=5)
    optimize(f, first, max_generations=4, vectorized=True, progress=False, checkpoint=path)
    resumed = OpenAIES(4, 8, mean=np.ones(4), sigma=0.1, lr=0.05, rng=123)
    optimize(f, resumed, max_generations=10, vectorized=True, progress=False, checkpoint=path)
    assert np.array_equal(resumed.mean, straight.mean)


def test_non_antithetic_allows_odd_population():
    solver = OpenAIES(2, 5, antithetic=False, rng=0)
    x = solver.ask()
    solver.tell(x, np.arange(5.0))
    assert solver.generation == 1


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="popsize"):
        OpenAIES(3, 1, antithetic=False)
    with pytest.raises(ValueError, match="popsize must be even"):
        OpenAIES(3, 5)
    with pytest.raises(ValueError, match="sigma"):
        OpenAIES(3, 4, sigma=0.0)
    with pytest.raises(ValueError, match="sigma"):
        OpenAIES(3, 4, sigma=-0.1)
    with pytest.raises(ValueError, match="lr"):
        OpenAIES(3, 4, lr=0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        OpenAIES(3, 4, weight_decay=-1.0)
    with pytest.raises(ValueError, match="optimizer"):
        OpenAIES(3, 4, optimizer="rmsprop")
    with pytest.raises(ValueError, match="momentum"):
        OpenAIES(3, 4, optimizer="sgd", momentum=1.0)
    with pytest.raises(TypeError, match="antithetic"):
        OpenAIES(3, 4, antithetic="yes")
    solver = OpenAIES(3, 4)
    x = solver.ask()
    with pytest.raises(ValueError, match="x must have shape"):
        solver.tell(x[:, :2], np.zeros(4))
    with pytest.raises(ValueError, match="fitness must be finite"):
        solver.tell(x, np.array([0.0, np.nan, 1.0, 2.0]))
    with pytest.raises(ValueError, match="sigma"):
        es_gradient(np.zeros((4, 3)), np.zeros(4), 0.0)
    with pytest.raises(ValueError, match="shaped_fitness"):
        es_gradient(np.zeros((4, 3)), np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="noise"):
        es_gradient(np.zeros(4), np.zeros(4), 1.0)
