"""CEM (chapter 4): the update equations, noise schedules, convergence, checkpoints, bad input."""

import numpy as np
import pytest

from pgnotes.functions import as_fitness, sphere
from pgnotes.solvers import optimize
from pgnotes.solvers.cem import CEM, noise_schedule


def test_update_is_elite_mean_and_variance_plus_noise():
    solver = CEM(3, popsize=10, elite_frac=0.3, sigma0=2.0, noise="constant", noise_value=0.5, rng=1)
    x = solver.ask()
    fitness = -np.arange(10.0)  # candidates 0, 1, 2 are the elites
    solver.tell(x, fitness)
    np.testing.assert_allclose(solver.mean, x[:3].mean(axis=0))
    np.testing.assert_allclose(solver.variance, x[:3].var(axis=0) + 0.5)
    np.testing.assert_allclose(solver.covariance, np.diag(solver.variance))


def test_smoothing_mixes_old_and_new():
    solver = CEM(2, popsize=4, n_elite=2, sigma0=1.0, smoothing=0.25, rng=0)
    old_mean, old_var = solver.mean.copy(), solver.variance.copy()
    x = solver.ask()
    solver.tell(x, np.array([3.0, 2.0, 1.0, 0.0]))
    np.testing.assert_allclose(solver.mean, 0.75 * x[:2].mean(0) + 0.25 * old_mean)
    np.testing.assert_allclose(solver.variance, 0.75 * x[:2].var(0) + 0.25 * old_var)


def test_noise_schedules():
    assert noise_schedule("none")(7) == 0.0
    assert noise_schedule("constant", noise_value=4.0)(100) == 4.0
    dec = noise_schedule("decreasing")  # Szita & Lörincz: max(5 - t/10, 0)
    assert [dec(t) for t in (0, 10, 25, 50, 80)] == [5.0, 4.0, 2.5, 0.0, 0.0]
    solver = CEM(2, popsize=10, noise=lambda t: 0.1 * t)
    assert solver.noise_at(3) == pytest.approx(0.3)


def test_tetris_configuration():
    solver = CEM(22, popsize=100, elite_frac=0.1, sigma0=10.0, noise="decreasing")
    assert solver.n_elite == 10
    np.testing.assert_allclose(solver.variance, 100.0)
    np.testing.assert_allclose(solver.mean, 0.0)


def test_converges_on_sphere_and_noise_keeps_variance_up():
    f = as_fitness(sphere)
    plain = CEM(5, popsize=100, elite_frac=0.2, sigma0=2.0, mean=np.full(5, 3.0), rng=0)
    optimize(f, plain, max_generations=60, vectorized=True, progress=False)
    assert sphere(plain.mean) < 1e-6
    noisy = CEM(5, popsize=50, elite_frac=0.2, sigma0=2.0, mean=np.full(5, 3.0), noise="constant", noise_value=0.01, rng=0)
    optimize(f, noisy, max_generations=60, vectorized=True, progress=False)
    assert np.all(noisy.variance >= 0.01)
    assert sphere(noisy.mean) < 0.05


def test_state_dict_resumes_bit_for_bit():
    f = as_fitness(sphere)
    a = CEM(4, popsize=20, sigma0=1.0, noise="decreasing", rng=3)
    optimize(f, a, max_generations=5, vectorized=True, progress=False)
    state = a.state_dict()
    b = CEM(4, popsize=20, sigma0=1.0, noise="decreasing", rng=99)
    b.load_state_dict(state)
    np.testing.assert_array_equal(a.ask(), b.ask())
    assert b.noise_at(b.generation) == a.noise_at(a.generation)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(popsize=5, elite_frac=0.1), "elite_frac"),
        (dict(n_elite=0), "n_elite"),
        (dict(popsize=5, n_elite=6), "n_elite"),
        (dict(sigma0=0.0), "sigma0"),
        (dict(sigma0=-1.0), "sigma0"),
        (dict(mean=[0.0, 0.0]), "mean"),
        (dict(smoothing=1.0), "smoothing"),
        (dict(noise="loud"), "noise"),
        (dict(noise="constant", noise_value=-1.0), "noise_value"),
        (dict(noise="decreasing", noise_decay=0.0), "noise_decay"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CEM(3, **kwargs)


def test_nan_fitness_and_bad_schedule_raise():
    solver = CEM(2, popsize=10)
    x = solver.ask()
    with pytest.raises(ValueError, match="finite"):
        solver.tell(x, np.r_[np.nan, np.zeros(9)])
    bad = CEM(2, popsize=10, noise=lambda t: -1.0)
    with pytest.raises(ValueError, match="noise schedule"):
        bad.tell(bad.ask(), np.zeros(10))
