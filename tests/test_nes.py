"""NES (chapter 3): scores, closed-form and empirical Fisher, Algorithm 9's update, invariance, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pgnotes.functions import as_fitness, ellipsoid, sphere
from pgnotes.score import gaussian_score_log_std, gaussian_score_mean
from pgnotes.solvers import optimize
from pgnotes.solvers.nes import (
    NES,
    empirical_fisher,
    natural_gradient,
    search_gradient,
    shape_fitness,
)

COVS = ["isotropic", "diagonal", "full", "fixed"]


def _solver(cov, **kw):
    sigma0 = 0.7 if cov in ("isotropic", "fixed") else np.array([0.5, 2.0])
    s = NES(2, 4, mean=np.array([0.3, -1.0]), sigma0=sigma0, cov=cov, **kw)
    if cov == "full":  # a correlated factor, theta = [mu, log L_ii, L_21]
        s.theta = np.array([0.3, -1.0, np.log(1.5), np.log(0.4), 0.7])
    return s


@pytest.mark.parametrize("cov", COVS)
def test_mean_scores_are_the_chapter_1_formula(cov):
    solver = _solver(cov)
    x = solver.ask()
    g = solver.scores(x)
    assert g.shape == (4, solver.n_params)
    sigma_inv = np.linalg.inv(solver.covariance)
    np.testing.assert_allclose(g[:, :2], (x - solver.mean) @ sigma_inv, rtol=1e-10)
    if cov in ("isotropic", "diagonal"):
        std = solver.sigma[0] if cov == "isotropic" else solver.sigma
        np.testing.assert_allclose(g[:, :2], gaussian_score_mean(x, solver.mean, std), rtol=1e-10)
        want = gaussian_score_log_std(x, solver.mean, std)
        np.testing.assert_allclose(g[:, 2:], np.reshape(want, (4, -1)), rtol=1e-10)
    if cov == "fixed":
        assert solver.n_params == 2


@pytest.mark.parametrize("cov", COVS)
def test_closed_form_fisher_is_the_expected_outer_product_of_scores(cov):
    """F = E[g g^T]: the Monte Carlo average agrees within 5 standard errors, entry by entry."""
    solver = _solver(cov)
    L = solver.cholesky
    x = solver.mean + np.random.default_rng(1).standard_normal((200_000, 2)) @ L.T
    g = solver.scores(x)
    outer = g[:, :, None] * g[:, None, :]
    mc, se = outer.mean(0), outer.std(0) / np.sqrt(len(g))
    exact = solver.exact_fisher()
    assert exact.shape == mc.shape == (solver.n_params, solver.n_params)
    assert np.all(np.abs(mc - exact) <= 5 * se + 1e-12)
    np.testing.assert_allclose(exact[:2, :2], np.linalg.inv(L @ L.T), rtol=1e-10)


def test_gradient_and_fisher_are_the_averages_of_algorithm_9():
    rng = np.random.default_rng(2)
    g = rng.standard_normal((9, 4))
    u = rng.standard_normal(9)
    np.testing.assert_allclose(search_gradient(g, u), sum(u[k] * g[k] for k in range(9)) / 9)
    np.testing.assert_allclose(empirical_fisher(g), sum(np.outer(g[k], g[k]) for k in range(9)) / 9)
    F = empirical_fisher(g) + np.eye(4)
    grad = search_gradient(g, u)
    np.testing.assert_allclose(F @ natural_gradient(grad, F, damping=0.0), grad, rtol=1e-10)


def test_natural_gradient_is_defined_for_a_singular_fisher():
    g = np.array([[1.0, 0.0, 0.0]])  # one sample, three parameters: rank 1
    step = natural_gradient(search_gradient(g, [2.0]), empirical_fisher(g))
    assert np.all(np.isfinite(step))


def test_vanilla_step_is_lr_times_gradient_and_natural_mean_step_is_fitness_weighted_average():
    fitness = as_fitness(sphere)
    van = NES(3, 6, mean=np.ones(3), sigma0=0.5, cov="isotropic", fisher="none", lr=0.1, lr_cov=0.05, shaping="none", rng=0)
    theta0 = van.theta.copy()
    x = van.ask()
    f = fitness(x)
    van.tell(x, f)
    g = np.concatenate([(x - 1.0) / 0.25, (np.sum((x - 1.0) ** 2, axis=1, keepdims=True) / 0.25 - 3)], axis=1)
    grad = (f[:, None] * g).mean(0)
    np.testing.assert_allclose(van.theta, theta0 + np.r_[0.1, 0.1, 0.1, 0.05] * grad)

    nat = NES(3, 6, mean=np.ones(3), sigma0=0.5, cov="isotropic", fisher="exact", lr=1.0, shaping="none", damping=0.0, rng=0)
    x = nat.ask()
    f = fitness(x)
    nat.tell(x, f)
    # F_mu = I / sigma^2, so the natural mean step is mean_k f_k (x_k - mu)
    np.testing.assert_allclose(nat.mean, 1.0 + (f[:, None] * (x - 1.0)).mean(0), rtol=1e-12)


@pytest.mark.parametrize("fisher", ["exact", "empirical"])
def test_natural_gradient_is_invariant_to_rescaling_and_vanilla_is_not(fisher):
    """Search in x and in y = x / b (b diagonal) with the same noise: natural trajectories coincide in x."""
    b = np.array([1.0, 10.0])
    f_x = as_fitness(lambda x: ellipsoid(x, 100.0))

    def f_y(y):
        return f_x(y * b)

    def run(fisher_, scale, gens=15):
        s = NES(2, 30, mean=np.array([2.0, 1.0]) / scale, sigma0=np.array([0.5, 0.5]) / scale, cov="full",
                fisher=fisher_, lr=0.5, lr_cov=0.1, shaping="centered_ranks", damping=0.0, rng=7)
        path = []
        for _ in range(gens):
            x = s.ask()
            s.tell(x, f_y(x) if scale is b else f_x(x))
            path.append(s.mean * scale)
        return np.array(path)

    s_x = run(fisher, np.ones(2))
    s_y = run(fisher, b)
    np.testing.assert_allclose(s_x, s_y, rtol=1e-8, atol=1e-10)
    v_x = run("none", np.ones(2), gens=3)
    v_y = run("none", b, gens=3)
    assert np.max(np.abs(v_x - v_y)) > 1e-3


@pytest.mark.parametrize("cov", ["isotropic", "diagonal", "full"])
def test_converges_on_sphere(cov):
    solver = NES(4, 20, mean=np.full(4, 2.0), cov=cov, rng=0)
    history = optimize(as_fitness(sphere), solver, max_generations=600, target=-1e-10, vectorized=True, progress=False)
    assert sphere(solver.mean) < 1e-6, (cov, len(history))


def test_full_covariance_learns_the_ellipsoid_shape():
    solver = NES(2, 20, mean=np.array([1.0, 1.0]), cov="full", rng=0)
    optimize(as_fitness(lambda x: ellipsoid(x, 100.0)), solver, max_generations=150, vectorized=True, progress=False)
    std = solver.sigma
    assert std[0] / std[1] > 4.0  # the flat direction keeps a wider spread (ideal ratio 10)


def test_distribution_round_trip_and_fixed_sigma():
    solver = NES(2, 4, cov="fixed", sigma0=0.3, rng=0)
    optimize(as_fitness(sphere), solver, max_generations=3, vectorized=True, progress=False)
    np.testing.assert_allclose(solver.covariance, 0.09 * np.eye(2))
    full = NES(3, 6, sigma0=np.array([1.0, 2.0, 3.0]), cov="full")
    np.testing.assert_allclose(full.covariance, np.diag([1.0, 4.0, 9.0]))
    assert full.n_params == 3 + 6


def test_state_dict_resumes_bit_for_bit():
    f = as_fitness(sphere)
    a = NES(3, 10, cov="full", fisher="empirical", rng=3)
    optimize(f, a, max_generations=4, vectorized=True, progress=False)
    state = a.state_dict()
    b = NES(3, 10, cov="full", fisher="empirical", rng=99)
    b.load_state_dict(state)
    optimize(f, a, max_generations=4, vectorized=True, progress=False)
    optimize(f, b, max_generations=4, vectorized=True, progress=False)
    assert np.array_equal(a.theta, b.theta)


def test_shaping():
    f = np.array([3.0, 1.0, 2.0])
    np.testing.assert_allclose(shape_fitness(f, "centered_ranks"), [0.5, -0.5, 0.0])
    np.testing.assert_allclose(shape_fitness(f, "none"), f)
    np.testing.assert_allclose(shape_fitness(f, "standardize").mean(), 0.0, atol=1e-15)
    np.testing.assert_allclose(shape_fitness(np.ones(3), "standardize"), 0.0)
    np.testing.assert_allclose(shape_fitness(f, lambda v: 2 * v), 2 * f)
    with pytest.raises(ValueError, match="shaping"):
        shape_fitness(f, "bogus")


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="popsize"):
        NES(2, 1)
    with pytest.raises(ValueError, match="sigma0"):
        NES(2, 4, sigma0=0.0)
    with pytest.raises(ValueError, match="sigma0"):
        NES(2, 4, sigma0=-1.0)
    with pytest.raises(ValueError, match="sigma0"):
        NES(2, 4, cov="diagonal", sigma0=[1.0, -1.0])
    with pytest.raises(ValueError, match="cov"):
        NES(2, 4, cov="triangular")
    with pytest.raises(ValueError, match="fisher"):
        NES(2, 4, fisher="hessian")
    with pytest.raises(ValueError, match="lr"):
        NES(2, 4, lr=0.0)
    with pytest.raises(ValueError, match="mean"):
        NES(2, 4, mean=[0.0, 0.0, 0.0])
    solver = NES(2, 4)
    x = solver.ask()
    with pytest.raises(ValueError, match="x must have shape"):
        solver.tell(x[:, :1], np.zeros(4))
    with pytest.raises(ValueError, match="fitness"):
        solver.tell(x, np.zeros(3))
    with pytest.raises(ValueError, match="fitness must be finite"):
        solver.tell(x, np.array([0.0, np.nan, 1.0, 2.0]))
    assert solver.generation == 0


def test_one_shaping_function_serves_every_solver():
    """NES, OpenAI ES, SNES, xNES, the search gradient and distributed ES all shape through shape_fitness."""
    from pgnotes.distributed.algorithm import shaped_weights
    from pgnotes.shaping import SHAPINGS, nes_utilities
    from pgnotes.solvers.openai_es import OpenAIES
    from pgnotes.solvers.search_gradient import SearchGradient
    from pgnotes.solvers.snes import SNES
    from pgnotes.solvers.xnes import XNES

    f = np.array([0.3, -1.0, 2.0, 2.0, 0.5, -0.2])
    np.testing.assert_array_equal(shape_fitness(f, "nes_utilities"), nes_utilities(f))
    for name in SHAPINGS:
        expected = shape_fitness(f, name)
        np.testing.assert_array_equal(OpenAIES(2, 6, shaping=name).shape(f), expected)
        np.testing.assert_array_equal(shaped_weights(f[:, None], name), expected)
        for solver in (NES(2, 6, shaping=name), SNES(2, 6, shaping=name), XNES(2, 6, shaping=name),
                       SearchGradient(2, 6, shaping=name)):
            assert solver.shaping == name
    assert SNES(2).shaping == XNES(2).shaping == "nes_utilities"
