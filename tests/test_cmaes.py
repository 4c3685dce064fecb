"""CMA-ES (chapter 4): parameters of Hansen's tutorial, sample efficiency against pycma, checkpoints, bad input."""

import numpy as np
import pytest

from pgnotes.functions import as_fitness, ellipsoid, rosenbrock, sphere
from pgnotes.solvers import optimize
from pgnotes.solvers.cmaes import CMAES, cma_parameters, default_popsize


def evaluations_to_target(f, dim, seed, target=1e-8, max_evals=60_000):
    x0 = np.random.default_rng(seed).standard_normal(dim)
    solver = CMAES(x0, 1.0, rng=seed + 1)
    fitness_of, evals = as_fitness(f), 0
    while evals < max_evals:
        x = solver.ask()
        fitness = fitness_of(x)
        solver.tell(x, fitness)
        evals += len(x)
        if -fitness.max() < target:
            return evals
        if solver.stop():
            break
    return np.inf


def test_parameters_follow_the_tutorial_and_agree_with_pycma():
    cma = pytest.importorskip("cma")
    assert default_popsize(10) == 10 and default_popsize(20) == 12
    p = cma_parameters(10, 10)
    ref = cma.CMAEvolutionStrategy(np.zeros(10), 1.0, {"verbose": -9}).sp
    assert p["mu"] == 5
    np.testing.assert_allclose([p["c1"], p["cc"], p["mueff"]], [ref.c1, ref.cc, ref.weights.mueff], rtol=1e-12)
    np.testing.assert_allclose(p["weights"][:5], np.asarray(ref.weights)[:5], rtol=1e-12)
    # the positive weights sum to one, the negative ones are the tutorial's rescaled log weights
    assert p["weights"][:5].sum() == pytest.approx(1.0)
    assert np.all(p["weights"][5:] < 0)
    n, mueff = 10, p["mueff"]
    assert p["cs"] == pytest.approx((mueff + 2) / (n + mueff + 5))
    assert p["cmu"] == pytest.approx(min(1 - p["c1"], 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff)))


def test_maximizes_and_exposes_covariance():
    solver = CMAES(np.full(4, 2.0), 0.5, rng=0)
    history = optimize(lambda x: -np.sum((x - 1.0) ** 2), solver, max_generations=150, progress=False)
    np.testing.assert_allclose(solver.mean, 1.0, atol=1e-4)
    assert history.best_so_far[-1] > -1e-8
    cov = solver.covariance
    assert cov.shape == (4, 4)
    np.testing.assert_allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_learns_the_ellipsoid_shape():
    """After convergence, C^-1 is close to the ellipsoid's Hessian up to scale (condition ~ 1e6)."""
    solver = CMAES(np.ones(5), 1.0, rng=0)
    optimize(as_fitness(ellipsoid), solver, max_generations=400, vectorized=True, progress=False)
    assert 1e5 < solver.condition_number < 1e7


@pytest.mark.parametrize("f, dim, anchor", [(sphere, 10, 1400), (ellipsoid, 10, 4190), (rosenbrock, 10, 4940)])
def test_within_15_percent_of_pycma_anchor_dim10(f, dim, anchor):
    """pycma 4.5.0's median evaluations to f < 1e-8 (../shared/ANCHORS.md); ours over 5 seeds."""
    evals = [evaluations_to_target(f, dim, seed) for seed in range(5)]
    assert np.median(evals) <= 1.15 * anchor


@pytest.mark.parametrize("f, anchor", [(sphere, 2496), (ellipsoid, 12156), (rosenbrock, 16656)])
def test_within_15_percent_of_pycma_anchor_dim20(f, anchor):
    evals = [evaluations_to_target(f, 20, seed) for seed in range(5)]
    assert np.median(evals) <= 1.15 * anchor


def test_stop_reports_a_stalled_run():
    solver = CMAES(np.zeros(3), 1.0, rng=0)
    optimize(lambda x: 0.0 * x.sum(), solver, max_generations=60, progress=False)
    assert "tolfun" in solver.stop()


def test_state_dict_resumes_bit_for_bit():
    f = as_fitness(rosenbrock)
    a = CMAES(np.zeros(6), 0.5, rng=5)
    optimize(f, a, max_generations=30, vectorized=True, progress=False)
    b = CMAES(np.zeros(6), 0.5, rng=0)
    b.load_state_dict(a.state_dict())
    for solver in (a, b):
        optimize(f, solver, max_generations=20, vectorized=True, progress=False)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.C, b.C)
    assert a.sigma == b.sigma


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((np.zeros(3), 1.0), dict(popsize=1), ValueError, "popsize"),
        ((np.zeros(3), 0.0), {}, ValueError, "sigma0"),
        ((np.zeros(3), -1.0), {}, ValueError, "sigma0"),
        ((np.array([0.0, np.nan]), 1.0), {}, ValueError, "x0"),
        ((np.zeros((2, 2)), 1.0), {}, ValueError, "x0"),
        ((np.zeros(3), 1.0), dict(popsize=6, mu=7), ValueError, "mu"),
    ],
)
def test_bad_input_names_the_argument(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        CMAES(*args, **kwargs)


def test_tell_checks_shapes_and_nan():
    solver = CMAES(np.zeros(3), 1.0)
    x = solver.ask()
    with pytest.raises(ValueError, match="x must have shape"):
        solver.tell(x[:, :2], np.zeros(len(x)))
    with pytest.raises(ValueError, match="finite"):
        solver.tell(x, np.r_[np.nan, np.zeros(len(x) - 1)])
