"""xNES (chapter 3): invariance to linear changes of coordinates, relation to SNES, convergence, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pgnotes.functions import as_fitness, ellipsoid, sphere
from pgnotes.solvers import optimize
from pgnotes.solvers.xnes import XNES, default_lr_cov, expm_symmetric


def test_defaults_are_the_papers():
    d = 10
    s = XNES(d)
    assert s.popsize == 10 and s.lr_mean == 1.0
    assert s.lr_sigma == s.lr_B == pytest.approx(3 * (3 + np.log(d)) / (5 * d * np.sqrt(d)))
    assert default_lr_cov(1) == pytest.approx(9 / 5)


def test_expm_symmetric_matches_the_power_series():
    M = np.random.default_rng(0).normal(size=(4, 4))
    M = 0.3 * (M + M.T)
    series, term = np.eye(4), np.eye(4)
    for k in range(1, 30):
        term = term @ M / k
        series = series + term
    np.testing.assert_allclose(expm_symmetric(M), series, rtol=1e-12, atol=1e-12)


def test_invariant_to_a_linear_change_of_coordinates():
    """Run on f(x) and on g(y) = f(M^-1 y) from (M mu, sigma, M B) with the same seed: the second
    trajectory is the first mapped by M, at every generation (to rounding)."""
    d = 4
    rng = np.random.default_rng(5)
    M = rng.normal(size=(d, d)) + 2 * np.eye(d)
    Minv = np.linalg.inv(M)
    f = as_fitness(lambda x: ellipsoid(x, 1e3) + 0.3 * np.sum(x, axis=-1) ** 2)
    g = lambda Y: f(Y @ Minv.T)
    mu0 = np.array([1.0, -2.0, 0.5, 3.0])
    a = XNES(d, 8, mean=mu0, sigma0=0.7, rng=11)
    b = XNES(d, 8, mean=M @ mu0, sigma0=0.7, B0=M, rng=11)
    for _ in range(40):
        X, Y = a.ask(), b.ask()
        np.testing.assert_allclose(Y, X @ M.T, rtol=1e-8, atol=1e-8)
        a.tell(X, f(X))
        b.tell(Y, g(Y))
        np.testing.assert_allclose(b.mean, M @ a.mean, rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(b.covariance, M @ a.covariance @ M.T, rtol=1e-7, atol=1e-10)
    assert f(a.mean[None])[0] > f(mu0[None])[0]  # and it made progress


def test_determinant_of_B_is_kept_and_sigma_carries_the_scale():
    s = XNES(3, mean=np.ones(3), sigma0=2.0, rng=0)
    optimize(as_fitness(sphere), s, max_generations=50, vectorized=True, progress=False)
    assert np.linalg.det(s.B) == pytest.approx(1.0, rel=1e-9)
    assert s.sigma < 2.0


ROT = np.linalg.qr(np.random.default_rng(1).normal(size=(6, 6)))[0]


@pytest.mark.parametrize("name,objective,budget", [
    ("sphere", sphere, 1000),  # 756-783 generations for seeds 0-9 at d = 10 (default learning rates)
    ("ellipsoid", lambda x: ellipsoid(x, 1e6), 1400),  # 1007-1068 generations for seeds 0-9
])
def test_converges_on_sphere_and_ill_conditioned_ellipsoid(name, objective, budget):
    """Statistical test over 3 fixed seeds (d = 10, target 1e-10 from f ~ 1e7); the budget is about
    1.3x the slowest of 10 seeds measured, so only a real slowdown fails it."""
    for seed in range(3):
        solver = XNES(10, mean=np.full(10, 3.0), sigma0=1.0, rng=seed)
        history = optimize(as_fitness(objective), solver, max_generations=budget, target=-1e-10,
                           vectorized=True, progress=False)
        assert history.best_so_far[-1] >= -1e-10, (name, seed, len(history))


def test_learns_the_shape_of_a_rotated_ellipsoid():
    """On f(x) = -(R x)^T H (R x) the covariance should approach a multiple of the inverse Hessian:
    the condition number of C^(1/2) Hessian C^(1/2) falls from 1e4 to within a factor 10."""
    H = np.diag(np.logspace(0, 4, 6))
    hess = ROT.T @ H @ ROT
    f = lambda X: -np.einsum("ni,ij,nj->n", X, hess, X)
    s = XNES(6, mean=np.ones(6), sigma0=1.0, rng=0)
    optimize(f, s, max_generations=1500, vectorized=True, progress=False)
    C = s.covariance / s.sigma**2
    w, v = np.linalg.eigh(C)
    root = (v * np.sqrt(w)) @ v.T
    cond = np.linalg.cond(root @ hess @ root)
    assert cond < 10, cond


def test_checkpoint_resumes_bit_for_bit():
    f = as_fitness(sphere)
    a = XNES(4, mean=np.ones(4), sigma0=0.5, rng=3)
    for _ in range(4):
        x = a.ask()
        a.tell(x, f(x))
    b = XNES(4, rng=99)
    b.load_state_dict(a.state_dict())
    for _ in range(3):
        xa, xb = a.ask(), b.ask()
        np.testing.assert_array_equal(xa, xb)
        a.tell(xa, f(xa))
        b.tell(xb, f(xb))
    np.testing.assert_array_equal(a.B, b.B)
    assert a.sigma == b.sigma


@pytest.mark.parametrize("kwargs,name", [
    ({"popsize": 1}, "popsize"),
    ({"sigma0": 0.0}, "sigma0"),
    ({"sigma0": -2.0}, "sigma0"),
    ({"B0": np.zeros((3, 3))}, "B0"),
    ({"B0": np.eye(2)}, "B0"),
    ({"lr_B": 0.0}, "lr_B"),
    ({"lr_sigma": -0.1}, "lr_sigma"),
])
def test_bad_arguments_raise_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        XNES(3, **kwargs)


def test_nan_fitness_raises_and_leaves_the_solver_unchanged():
    s = XNES(3, mean=np.ones(3), sigma0=0.5, rng=0)
    x = s.ask()
    before = s.state_dict()
    fitness = -np.sum(x**2, axis=1)
    fitness[0] = np.nan
    with pytest.raises(ValueError, match="fitness"):
        s.tell(x, fitness)
    after = s.state_dict()
    for key in ("_mean", "sigma", "B", "generation"):
        np.testing.assert_array_equal(after[key], before[key])
