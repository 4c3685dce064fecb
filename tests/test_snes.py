"""SNES (chapter 3): utilities, one step = NES's natural gradient with the exact Fisher, step-size adaptation, convergence, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pgnotes.functions import as_fitness, ellipsoid, sphere
from pgnotes.shaping import nes_utilities
from pgnotes.solvers import optimize
from pgnotes.solvers.nes import NES
from pgnotes.solvers.snes import SNES, default_lr_sigma, default_popsize


# -- the utility function -----------------------------------------------------------------
def test_utilities_follow_the_formula_of_wierstra_et_al():
    lam = 10
    f = np.array([3.0, -1.0, 7.0, 0.5, 2.0, 9.0, -4.0, 1.0, 6.0, 5.0])
    raw = np.maximum(0, np.log(lam / 2 + 1) - np.log(np.arange(1, lam + 1)))
    want_by_rank = raw / raw.sum() - 1 / lam
    u = nes_utilities(f)
    rank = np.empty(lam, dtype=int)
    rank[np.argsort(-f)] = np.arange(lam)  # 0 = best
    np.testing.assert_allclose(u, want_by_rank[rank], rtol=0, atol=1e-15)
    assert abs(u.sum()) < 1e-12
    assert np.all(u[rank >= lam // 2] == -1 / lam)  # the worse half all get -1/lambda
    assert u[np.argmax(f)] == u.max()


def test_utilities_are_invariant_to_monotone_transformations():
    f = np.random.default_rng(0).normal(size=15)
    np.testing.assert_array_equal(nes_utilities(f), nes_utilities(np.exp(3 * f) - 2))


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], [1.0, np.nan]])
def test_utilities_reject_bad_fitness(bad):
    with pytest.raises(ValueError, match="fitness"):
        nes_utilities(bad)


def test_defaults_are_the_papers():
    assert default_popsize(10) == 4 + 6  # floor(3 ln 10) = floor(6.9)
    assert default_popsize(1) == 4
    assert default_lr_sigma(10) == pytest.approx((3 + np.log(10)) / (5 * np.sqrt(10)))
    s = SNES(18)
    assert s.popsize == 4 + int(np.floor(3 * np.log(18))) and s.lr_mean == 1.0


# -- one SNES step is chapter 3's NES step -------------------------------------------------
def test_snes_step_equals_nes_natural_gradient_with_exact_fisher():
    """theta = [mu, log sigma], F = diag(1/sigma^2, 2): F^-1 (1/lam) sum (lam u_k) score_k is the SNES step."""
    dim, lam = 4, 8
    mean, sigma0 = np.array([0.5, -1.0, 2.0, 0.0]), np.array([0.3, 1.0, 2.5, 0.7])
    lr_mean, lr_sigma = 0.8, 0.4
    snes = SNES(dim, lam, mean=mean, sigma0=sigma0, lr_mean=lr_mean, lr_sigma=lr_sigma, rng=7)
    nes = NES(dim, lam, mean=mean, sigma0=sigma0, cov="diagonal", fisher="exact", lr=lr_mean, lr_cov=lr_sigma,
              shaping=lambda f: len(f) * nes_utilities(f), damping=0.0, rng=7)
    f = as_fitness(lambda x: ellipsoid(x, 100.0))
    for _ in range(5):
        xs, xn = snes.ask(), nes.ask()
        np.testing.assert_allclose(xs, xn, rtol=1e-12, atol=1e-12)  # same random numbers, same candidates
        snes.tell(xs, f(xs))
        nes.tell(xn, f(xn))
        np.testing.assert_allclose(snes.mean, nes.mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(snes.sigma, nes.sigma, rtol=1e-10)
        np.testing.assert_allclose(np.log(snes.sigma), nes.theta[dim:], rtol=1e-10, atol=1e-12)


# -- behaviour ------------------------------------------------------------------------------
def test_step_size_grows_on_a_slope_and_shrinks_at_an_optimum():
    """On a linear function the better half lies further out: sigma grows along the slope. Near the
    optimum of the sphere the better half lies closer in: sigma shrinks."""
    for seed in range(5):
        slope = SNES(5, mean=np.zeros(5), sigma0=1.0, rng=seed)
        optimize(lambda X: X @ np.array([1.0, 0, 0, 0, 0]), slope, max_generations=60, vectorized=True, progress=False)
        # along the slope log sigma drifts up by about 0.07-0.1 per generation (4.0-7.0 after 60 for seeds 0-7);
        # the flat coordinates get no signal and random-walk with a spread of about 1 after 60 generations
        assert np.log(slope.sigma[0]) > 3.0
        assert np.log(slope.sigma[0]) > np.log(slope.sigma[1:]).max() + 1.0
    bowl = SNES(5, mean=np.zeros(5), sigma0=1.0, rng=0)
    optimize(as_fitness(sphere), bowl, max_generations=200, vectorized=True, progress=False)
    assert np.all(bowl.sigma < 1e-3)
    assert np.linalg.norm(bowl.mean) < 10 * np.max(bowl.sigma) * np.sqrt(5)


def test_mean_step_is_unbiased_across_the_slope():
    """On f(x) = x_1 the expected mean step is along e_1; the other coordinates average to 0 within 4 SE."""
    steps = []
    for seed in range(400):
        s = SNES(3, mean=np.zeros(3), sigma0=1.0, rng=seed)
        x = s.ask()
        s.tell(x, x[:, 0])
        steps.append(s.mean)
    steps = np.array(steps)
    mean, se = steps.mean(0), steps.std(0, ddof=1) / np.sqrt(len(steps))
    assert mean[0] > 10 * se[0]
    assert np.all(np.abs(mean[1:]) <= 4 * se[1:])


@pytest.mark.parametrize("name,objective,budget", [
    ("sphere", sphere, 400),  # 232-252 generations for seeds 0-9 (d = 10, target 1e-10)
    ("ellipsoid", lambda x: ellipsoid(x, 1e6), 550),  # 314-342 generations for seeds 0-9
])
def test_converges_on_sphere_and_ill_conditioned_ellipsoid(name, objective, budget):
    """Statistical test over 5 fixed seeds: every seed reaches 1e-10 from a start at f ~ 1e7 within a budget
    about 1.6x the slowest of 10 seeds measured, so only a real slowdown (not rounding) fails it."""
    for seed in range(5):
        solver = SNES(10, mean=np.full(10, 3.0), sigma0=1.0, rng=seed)
        history = optimize(as_fitness(objective), solver, max_generations=budget, target=-1e-10,
                           vectorized=True, progress=False)
        assert history.best_so_far[-1] >= -1e-10, (name, seed, len(history))
    # the step sizes adapted to the conditioning: the steep coordinate got the smallest sigma
    if name == "ellipsoid":
        solver = SNES(10, mean=np.full(10, 3.0), sigma0=1.0, rng=0)
        optimize(as_fitness(objective), solver, max_generations=150, vectorized=True, progress=False)
        assert solver.sigma[-1] < solver.sigma[0] / 100  # axis scales 1 ... 1e3 (condition 1e6)


def test_checkpoint_resumes_bit_for_bit():
    f = as_fitness(sphere)
    a = SNES(6, mean=np.ones(6), sigma0=0.5, rng=3)
    for _ in range(4):
        x = a.ask()
        a.tell(x, f(x))
    state = a.state_dict()
    b = SNES(6, rng=99)
    b.load_state_dict(state)
    for _ in range(3):
        xa, xb = a.ask(), b.ask()
        np.testing.assert_array_equal(xa, xb)
        a.tell(xa, f(xa))
        b.tell(xb, f(xb))
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.sigma, b.sigma)


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,name", [
    ({"popsize": 1}, "popsize"),
    ({"popsize": 0}, "popsize"),
    ({"sigma0": 0.0}, "sigma0"),
    ({"sigma0": -1.0}, "sigma0"),
    ({"sigma0": np.array([1.0, 0.0, 1.0])}, "sigma0"),
    ({"sigma0": np.array([1.0, 1.0])}, "sigma0"),
    ({"lr_sigma": 0.0}, "lr_sigma"),
    ({"lr_mean": -1.0}, "lr_mean"),
    ({"mean": [0.0, np.nan, 0.0]}, "mean"),
])
def test_bad_arguments_raise_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SNES(3, **kwargs)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_fitness_raises_and_leaves_the_solver_unchanged(bad):
    s = SNES(3, mean=np.ones(3), sigma0=0.5, rng=0)
    x = s.ask()
    before = s.state_dict()
    fitness = -np.sum(x**2, axis=1)
    fitness[2] = bad
    with pytest.raises(ValueError, match="fitness"):
        s.tell(x, fitness)
    after = s.state_dict()
    np.testing.assert_array_equal(after["_mean"], before["_mean"])
    np.testing.assert_array_equal(after["sigma"], before["sigma"])
    assert after["generation"] == before["generation"] and after["best"] is None
