"""Random search and the simple evolutionary algorithm (chapter 4)."""

import numpy as np
import pytest

from pgnotes.functions import as_fitness, sphere
from pgnotes.solvers import optimize
from pgnotes.solvers.random_search import RandomSearch
from pgnotes.solvers.simple_ea import SimpleEA


def test_random_search_samples_the_box_and_keeps_the_best():
    solver = RandomSearch(2, popsize=50, low=[-1, 0], high=[1, 2], rng=0)
    x = solver.ask()
    assert np.all((x >= [-1, 0]) & (x <= [1, 2]))
    fitness = -np.sum(x**2, axis=1)
    solver.tell(x, fitness)
    np.testing.assert_array_equal(solver.best.x, x[np.argmax(fitness)])
    # the distribution never moves
    np.testing.assert_array_equal(solver.mean, [0.0, 1.0])
    np.testing.assert_allclose(solver.covariance, np.diag([4 / 12, 4 / 12]))
    assert np.all(solver.ask() <= [1, 2])


def test_random_search_improves_slowly_on_sphere():
    solver = RandomSearch(2, popsize=20, center=[0.5, -0.5], scale=1.0, rng=1)
    history = optimize(as_fitness(sphere), solver, max_generations=50, vectorized=True, progress=False)
    assert -history.best_so_far[-1] < 1e-2
    assert np.all(np.diff(history.best_so_far) >= 0)


def test_simple_ea_keeps_only_improvements():
    solver = SimpleEA(3, popsize=6, sigma=0.5, rng=0)
    f = as_fitness(sphere)
    x0 = solver.ask()
    solver.tell(x0, f(x0))
    np.testing.assert_array_equal(solver.parents, x0)
    before = solver.parent_fitness.copy()
    x1 = solver.ask()
    solver.tell(x1, f(x1))
    assert np.all(solver.parent_fitness >= before)
    improved = f(x1) > before
    np.testing.assert_array_equal(solver.parents[improved], x1[improved])
    np.testing.assert_array_equal(solver.parents[~improved], x0[~improved])


def test_one_fifth_rule_converges_much_further_than_fixed_sigma():
    f = as_fitness(sphere)
    results = {}
    for adapt in ("none", "one_fifth"):
        solver = SimpleEA(5, popsize=4, sigma=0.3, adapt=adapt, rng=2)
        optimize(f, solver, max_generations=300, vectorized=True, progress=False)
        results[adapt] = sphere(solver.mean)
    assert results["one_fifth"] < 1e-6 < results["none"]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: RandomSearch(2, low=0.0), "low and high"),
        (lambda: RandomSearch(2, low=1.0, high=0.0), "high must be > low"),
        (lambda: RandomSearch(2, scale=0.0), "scale"),
        (lambda: RandomSearch(2, center=[0.0]), "center"),
        (lambda: RandomSearch(2, popsize=0), "popsize"),
        (lambda: SimpleEA(2, sigma=-1.0), "sigma"),
        (lambda: SimpleEA(2, init_scale=0.0), "init_scale"),
        (lambda: SimpleEA(2, adapt="1/5"), "adapt"),
        (lambda: SimpleEA(2, x0=[1.0, 2.0, 3.0]), "x0"),
    ],
)
def test_bad_input_names_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_simple_ea_state_dict_resumes():
    f = as_fitness(sphere)
    a = SimpleEA(3, popsize=5, adapt="one_fifth", rng=4)
    optimize(f, a, max_generations=10, vectorized=True, progress=False)
    b = SimpleEA(3, popsize=5, adapt="one_fifth", rng=0)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.ask(), b.ask())
