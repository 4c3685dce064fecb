"""The ask/tell base class and the runner: validation, budgets, target, callbacks, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from pgnotes.checkpoint import load_checkpoint, save_checkpoint, write_json_atomic
from pgnotes.functions import as_fitness, sphere
from pgnotes.solvers import History, Solver, optimize


class HillClimber(Solver):
    """A (1, lambda) Gaussian hill climber: enough to exercise the interface."""

    _state_keys = ("_mean", "sigma")

    def __init__(self, x0, sigma=0.5, popsize=8, rng=0):
        super().__init__(len(x0), popsize, rng)
        self._mean = np.asarray(x0, dtype=float).copy()
        self.sigma = sigma

    @property
    def mean(self):
        return self._mean

    def _ask(self):
        return self._mean + self.sigma * self.rng.standard_normal((self.popsize, self.dim))

    def _tell(self, x, fitness):
        self._mean = x[np.argmax(fitness)].copy()
        self.sigma *= 0.97


F = as_fitness(sphere)


def test_optimize_improves_and_records_history():
    solver = HillClimber(np.full(5, 3.0))
    history = optimize(F, solver, max_generations=60, progress=False)
    assert len(history) == 60 == solver.generation
    assert history.evaluations[-1] == 60 * solver.popsize
    assert history.best_so_far == sorted(history.best_so_far)  # monotone
    assert history.best_so_far[-1] > history.best_so_far[0]
    assert solver.best.fitness == pytest.approx(history.best_so_far[-1])
    assert F(solver.best.x) == pytest.approx(solver.best.fitness)


def test_budgets_and_target_stop_the_run():
    history = optimize(F, HillClimber(np.ones(3)), max_evaluations=20, progress=False)
    assert history.evaluations[-1] == 16  # a third generation would exceed 20 evaluations
    history = optimize(F, HillClimber(np.ones(3)), target=-0.5, max_generations=500, progress=False)
    assert history.best_so_far[-1] >= -0.5 and len(history) < 500


def test_callback_can_stop_the_run():
    history = optimize(F, HillClimber(np.ones(3)), max_generations=100, progress=False,
                       callbacks=[lambda solver, hist: solver.generation >= 7])
    assert len(history) == 7


def test_vectorized_objective_is_called_once_per_generation():
    calls = []

    def f(x):
        calls.append(x.shape)
        return F(x)

    optimize(f, HillClimber(np.ones(2), popsize=4), max_generations=3, vectorized=True, progress=False)
    assert calls == [(4, 2)] * 3


def test_checkpointed_run_resumes_bit_identically(tmp_path):
    reference = HillClimber(np.full(4, 2.0), rng=11)
    full = optimize(F, reference, max_generations=30, progress=False)

    path = tmp_path / "run.ckpt"
    interrupted = HillClimber(np.full(4, 2.0), rng=11)
    optimize(F, interrupted, max_generations=12, progress=False, checkpoint=path)
    resumed = HillClimber(np.full(4, 2.0), rng=999)  # a fresh object: everything comes from the checkpoint
    history = optimize(F, resumed, max_generations=30, progress=False, checkpoint=path)
    assert history.best_so_far == full.best_so_far
    np.testing.assert_array_equal(resumed.mean, reference.mean)
    assert resumed.generation == reference.generation == 30


def test_state_dict_round_trip_continues_the_same_random_stream():
    a = HillClimber(np.ones(3), rng=5)
    optimize(F, a, max_generations=4, progress=False)
    b = HillClimber(np.zeros(3), rng=0)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.ask(), b.ask())


def test_load_state_dict_rejects_another_solver_or_shape():
    state = HillClimber(np.ones(3)).state_dict()
    with pytest.raises(ValueError, match="dim=3"):
        HillClimber(np.ones(4)).load_state_dict(state)
    state["solver"] = "CMAES"
    with pytest.raises(ValueError, match="saved by 'CMAES'"):
        HillClimber(np.ones(3)).load_state_dict(state)


@pytest.mark.parametrize(
    "x, fitness, message",
    [
        (np.zeros((8, 3)), np.zeros(7), r"fitness must have shape \(8,\)"),
        (np.zeros((8, 2)), np.zeros(8), r"x must have shape \(8, 3\)"),
        (np.zeros((8, 3)), np.r_[np.zeros(7), np.nan], r"non-finite values at indices \[7\]"),
        (np.full((8, 3), np.inf), np.zeros(8), "x must contain only finite"),
    ],
)
def test_tell_rejects_bad_input(x, fitness, message):
    with pytest.raises(ValueError, match=message):
        HillClimber(np.ones(3)).tell(x, fitness)


def test_non_finite_fitness_from_the_objective_raises():
    with pytest.raises(ValueError, match="non-finite"):
        optimize(lambda x: float("nan"), HillClimber(np.ones(2)), max_generations=2, progress=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "at least one of"),
        (dict(max_generations=0), "max_generations must be an integer >= 1"),
        (dict(max_evaluations=2.5), "max_evaluations must be an integer >= 1"),
        (dict(max_generations=3, checkpoint_every=0), "checkpoint_every must be"),
    ],
)
def test_optimize_rejects_bad_budgets(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optimize(F, HillClimber(np.ones(2)), progress=False, **kwargs)


def test_solver_rejects_bad_construction():
    with pytest.raises(ValueError, match="popsize must be an integer >= 1"):
        HillClimber(np.ones(2), popsize=0)
    with pytest.raises(TypeError, match="rng must be"):
        HillClimber(np.ones(2), rng="seed")


def test_history_round_trips_and_plots():
    history = optimize(F, HillClimber(np.ones(2)), max_generations=5, progress=False)
    assert History.from_dict(history.to_dict()) == history
    ax = history.plot(x="generation")
    assert ax.get_xlabel() == "generation"
    with pytest.raises(ValueError, match="x must be"):
        history.plot(x="time")


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    save_checkpoint(tmp_path / "a.ckpt", {"x": np.arange(3)})
    write_json_atomic(tmp_path / "b.json", {"y": [1, 2]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt", "b.json"]
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "a.ckpt")["x"], np.arange(3))


class _CountingFitness:
    """A fitness with state: counts its calls (so a resume must restore it to give the same record)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, X):
        self.calls += 1
        return -np.sum(np.asarray(X) ** 2, axis=1) + 0.0 * self.calls

    def state_dict(self):
        return {"calls": self.calls}

    def load_state_dict(self, state):
        self.calls = state["calls"]


class _Recorder:
    """A callback with state: the generation means it has seen."""

    def __init__(self):
        self.means = []

    def __call__(self, solver, history):
        self.means.append(float(np.mean(solver.mean)))

    def state_dict(self):
        return {"means": list(self.means)}

    def load_state_dict(self, state):
        self.means = list(state["means"])


def test_checkpoints_hold_the_fitness_and_callback_state_and_the_settings(tmp_path):
    from pgnotes.solvers.cem import CEM

    def run(generations, checkpoint=None, settings=None, time_budget=None):
        f, cb = _CountingFitness(), _Recorder()
        optimize(f, CEM(3, 10, sigma0=1.0, rng=2), max_generations=generations, callbacks=[cb], vectorized=True,
                 progress=False, checkpoint=checkpoint, settings=settings, time_budget=time_budget)
        return f, cb

    f_whole, cb_whole = run(6)
    path = tmp_path / "run.ckpt"
    run(6, path, settings={"lr": 1}, time_budget=1e-9)  # the budget is spent before the first generation
    assert not path.exists()
    run(3, path, settings={"lr": 1})
    f_resumed, cb_resumed = run(6, path, settings={"lr": 1})
    assert f_resumed.calls == f_whole.calls == 6 and cb_resumed.means == cb_whole.means
    with pytest.raises(ValueError, match="another run.*lr"):
        run(8, path, settings={"lr": 2})


def test_a_run_a_callback_stopped_stays_stopped_on_resume(tmp_path):
    from pgnotes.solvers.cem import CEM

    path = tmp_path / "run.ckpt"
    history = optimize(lambda X: -np.sum(X**2, axis=1), CEM(2, 10, rng=0), max_generations=10, vectorized=True,
                       callbacks=[lambda s, h: len(h) == 2], progress=False, checkpoint=path)
    again = optimize(lambda X: -np.sum(X**2, axis=1), CEM(2, 10, rng=0), max_generations=10, vectorized=True,
                     callbacks=[lambda s, h: len(h) == 2], progress=False, checkpoint=path)
    assert len(history) == len(again) == 2
