"""Chapter 2: the Search Gradient algorithm (Algorithms 1, 2, 8) on the ask/tell interface."""

import numpy as np
import pytest

from pgnotes.distributions import DiagonalGaussian, IsotropicGaussian
from pgnotes.functions import as_fitness, sphere
from pgnotes.solvers import optimize
from pgnotes.solvers.search_gradient import SearchGradient


def test_one_generation_is_algorithm_1():
    """theta <- theta + alpha * (1/lambda) sum_k f_k g_k, written out by hand."""
    solver = SearchGradient(3, 6, distribution="diagonal", mean=[1.0, 0.0, -1.0], sigma0=0.5, learning_rate=0.05, rng=4)
    dist, theta = solver.distribution, solver.params
    x = solver.ask()
    f = -np.sum(x**2, axis=1)
    solver.tell(x, f)
    expected = theta + 0.05 * np.mean(f[:, None] * dist.score(x), axis=0)
    np.testing.assert_allclose(solver.params, expected)


def test_popsize_one_is_algorithm_2():
    solver = SearchGradient(2, 1, sigma0=1.0, learning_rate=0.1, scale_learning_rate=0.0, rng=0)
    theta = solver.params
    x = solver.ask()
    solver.tell(x, [3.0])
    expected = theta[:2] + 0.1 * 3.0 * (x[0] - theta[:2])  # sigma = 1: score of the mean is x - mu
    np.testing.assert_allclose(solver.mean, expected)
    np.testing.assert_allclose(solver.params[2], theta[2])  # scale fixed


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
def test_converges_on_sphere(kind):
    solver = SearchGradient(4, 20, distribution=kind, mean=np.full(4, 3.0), sigma0=1.0, learning_rate=0.05,
                            scale_learning_rate=0.01, baseline="mean", shaping="centered_ranks", rng=1)
    history = optimize(as_fitness(sphere), solver, max_generations=300, progress=False)
    assert np.linalg.norm(solver.mean) < 0.5 * np.linalg.norm(np.full(4, 3.0))
    assert history.best_so_far[-1] > -1.0


def test_lambda_one_noisy_parabola_moves_to_optimum():
    rng = np.random.default_rng(3)
    solver = SearchGradient(1, 1, sigma0=1.0, learning_rate=0.01, scale_learning_rate=0.0, rng=0)
    optimize(lambda x: 10.0 - (x[0] - 3.0) ** 2 + rng.normal(), solver, max_generations=3000, progress=False)
    assert abs(solver.mean[0] - 3.0) < 0.5


def test_last_generation_best_is_algorithm_8():
    solver = SearchGradient(2, 5, rng=2)
    assert solver.last_generation_best is None
    for fitness in ([1.0, 5.0, 2.0, 0.0, -1.0], [0.0, 0.5, 0.1, 0.2, 0.3]):
        x = solver.ask()
        solver.tell(x, fitness)
    last = solver.last_generation_best
    np.testing.assert_array_equal(last.x, x[1])
    assert last.fitness == 0.5
    assert solver.best.fitness == 5.0  # best over the run differs from best of the last generation


def test_accepts_a_distribution_instance_and_checkpoints():
    solver = SearchGradient(2, 4, distribution=DiagonalGaussian(np.ones(2), [0.5, 2.0]), rng=5)
    for _ in range(3):
        x = solver.ask()
        solver.tell(x, -np.sum(x**2, 1))
    state = solver.state_dict()
    a = solver.ask()
    other = SearchGradient(2, 4, distribution=DiagonalGaussian(np.zeros(2), 1.0), rng=0)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.ask(), a)
    np.testing.assert_array_equal(other.params, solver.params)


def test_bad_input():
    with pytest.raises(ValueError, match="popsize"):
        SearchGradient(2, 0)
    with pytest.raises(ValueError, match="learning_rate"):
        SearchGradient(2, 3, learning_rate=0.0)
    with pytest.raises(ValueError, match="baseline"):
        SearchGradient(2, 3, baseline="median")
    with pytest.raises(ValueError, match="leave_one_out"):
        SearchGradient(2, 1, baseline="leave_one_out")
    with pytest.raises(ValueError, match="shaping"):
        SearchGradient(2, 3, shaping="ranks")
    with pytest.raises(ValueError, match="dim"):
        SearchGradient(3, 2, distribution=IsotropicGaussian(np.zeros(2)))
    with pytest.raises(TypeError, match="distribution"):
        SearchGradient(2, 2, distribution=3)
    solver = SearchGradient(2, 2)
    with pytest.raises(ValueError, match="finite"):
        solver.tell(solver.ask(), [np.nan, 1.0])
