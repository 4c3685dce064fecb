"""ARS (chapter 4): the update, top-b selection, V1/V2 settings, normalizer, rollouts, checkpoints, bad input."""

import numpy as np
import pytest

from pgnotes.functions import as_fitness, sphere
from pgnotes.solvers import optimize
from pgnotes.ars_training import ARSConfig, train_ars
from pgnotes.solvers.ars import ARS, version_settings


def test_ask_returns_antithetic_pairs():
    solver = ARS(np.ones(3), n_directions=4, noise=0.1, rng=0)
    x = solver.ask()
    assert x.shape == (8, 3)
    np.testing.assert_allclose((x[0::2] + x[1::2]) / 2, np.ones((4, 3)))


def test_update_matches_the_formula_with_top_b():
    solver = ARS(np.zeros(2), n_directions=3, top_b=2, step_size=0.5, noise=0.1, rng=1)
    x = solver.ask()
    delta = (x[0::2] - solver.theta) / 0.1
    fitness = np.array([1.0, 0.0, 5.0, 2.0, -1.0, 0.5])  # max per pair: 1, 5, 0.5 -> keep pairs 1 and 0
    keep = [1, 0]
    r_plus, r_minus = fitness[0::2][keep], fitness[1::2][keep]
    sigma_r = np.std(np.r_[r_plus, r_minus])
    expected = 0.5 / (2 * sigma_r) * ((r_plus - r_minus) @ delta[keep])
    solver.tell(x, fitness)
    np.testing.assert_allclose(solver.theta, expected)
    assert solver.last_sigma_r == pytest.approx(sigma_r)


def test_brs_does_not_scale_and_equal_returns_do_not_move():
    solver = ARS(np.zeros(2), n_directions=2, step_size=0.1, noise=0.2, scale_by_std=False, rng=0)
    x = solver.ask()
    delta = (x[0::2] - x[1::2]) / 0.4
    fitness = np.array([1.0, 0.0, 0.0, 1.0])
    solver.tell(x, fitness)
    np.testing.assert_allclose(solver.theta, 0.1 / 2 * (delta[0] - delta[1]))
    flat = ARS(np.zeros(2), n_directions=2, rng=0)
    flat.tell(flat.ask(), np.zeros(4))
    np.testing.assert_array_equal(flat.theta, 0.0)


def test_converges_on_sphere():
    solver = ARS(np.full(5, 2.0), n_directions=8, top_b=4, step_size=0.05, noise=0.05, rng=0)
    optimize(as_fitness(sphere), solver, max_generations=400, vectorized=True, progress=False)
    assert sphere(solver.mean) < 0.05


def test_version_settings():
    assert version_settings("V1", 8, None) == (8, False)
    assert version_settings("V2-t", 32, 4) == (4, True)
    with pytest.raises(ValueError, match="top_b"):
        version_settings("V1-t", 8, None)
    with pytest.raises(ValueError, match="version"):
        version_settings("V3", 8, None)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_directions=0), "n_directions"),
        (dict(n_directions=4, top_b=5), "top_b"),
        (dict(top_b=0), "top_b"),
        (dict(step_size=0.0), "step_size"),
        (dict(noise=-0.1), "noise"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ARS(np.zeros(3), **kwargs)


def test_nan_return_is_rejected():
    solver = ARS(np.zeros(2), n_directions=1)
    with pytest.raises(ValueError, match="finite"):
        solver.tell(solver.ask(), np.array([np.nan, 0.0]))


@pytest.mark.slow
def test_train_ars_on_pendulum_is_deterministic_across_workers_and_resumes(tmp_path):
    """Same numbers on 1 and 2 worker processes; an interrupted run resumes bit for bit."""
    config = ARSConfig(env_id="Pendulum-v1", version="V2-t", n_directions=4, top_b=2, step_size=0.02, noise=0.03,
                       horizon=50, max_episodes=48, threshold=None, eval_every=2, eval_episodes=2, seed=3)
    serial, final_serial = train_ars(config, progress=False)
    parallel, _ = train_ars(ARSConfig(**{**config.__dict__, "workers": 2}), progress=False)
    np.testing.assert_array_equal(serial.eval_return, parallel.eval_return)
    assert final_serial["episodes"] == 48 and serial.iteration[-1] == 6
    path = tmp_path / "ars.ckpt"
    _, half = train_ars(ARSConfig(**{**config.__dict__, "max_episodes": 24}), checkpoint=path, progress=False)
    assert half["episodes"] == 24
    with pytest.raises(ValueError, match="another run"):
        train_ars(ARSConfig(**{**config.__dict__, "noise": 0.1}), checkpoint=path, progress=False)
    resumed, final = train_ars(config, checkpoint=path, progress=False)
    assert resumed.eval_return == serial.eval_return
    np.testing.assert_array_equal(final["theta"], final_serial["theta"])


def test_the_ars_solver_imports_no_policy_or_evaluation_code():
    """Nothing imports upward: the solver module knows nothing of environments or policies."""
    import ast
    import inspect

    import pgnotes.solvers.ars as module

    imported = {n.module for n in ast.walk(ast.parse(inspect.getsource(module))) if isinstance(n, ast.ImportFrom)}
    assert not any(m and (m.startswith("pgnotes.evaluation") or m.startswith("pgnotes.policy") or "gymnasium" in m)
                   for m in imported)


def test_a_run_stopped_by_its_time_budget_resumes_to_the_same_theta(tmp_path):
    config = ARSConfig(env_id="Pendulum-v1", version="V2", n_directions=2, top_b=None, horizon=20, max_episodes=16,
                       threshold=None, eval_every=2, eval_episodes=1, seed=1)
    _, whole = train_ars(config, progress=False)
    path = tmp_path / "ars.ckpt"
    _, none = train_ars(config, checkpoint=path, progress=False, time_budget=1e-9)  # spent before the first iteration
    assert none["episodes"] == 0 and not none["finished"]
    _, part = train_ars(ARSConfig(**{**config.__dict__, "max_episodes": 8}), checkpoint=path, progress=False)
    assert part["episodes"] == 8
    history, final = train_ars(config, checkpoint=path, progress=False)
    np.testing.assert_array_equal(final["theta"], whole["theta"])
    np.testing.assert_array_equal(final["obs_mean"], whole["obs_mean"])
    assert final["finished"] and history.iteration == [2, 4]


def test_committed_swimmer_checkpoints_resume_through_optimize(tmp_path):
    """The converted checkpoints of results/checkpoints/ars hold optimize's format and resume (seed 7 had reached 325)."""
    import shutil
    from pathlib import Path

    from pgnotes.checkpoint import load_checkpoint

    root = Path(__file__).resolve().parents[1] / "results" / "checkpoints" / "ars"
    for k in range(5, 10):
        saved = load_checkpoint(root / f"swimmer-v1_seed{k}.ckpt")
        assert {"solver", "fitness", "callbacks", "settings"} <= set(saved) and saved["settings"]["seed"] == k
    path = tmp_path / "seed7.ckpt"
    shutil.copy(root / "swimmer-v1_seed7.ckpt", path)
    settings = {k: v for k, v in load_checkpoint(path)["settings"].items() if k not in ("solver", "dim", "popsize")}
    history, final = train_ars(ARSConfig(**settings), checkpoint=path, progress=False)
    assert history.episodes_to_threshold == 140 and final["episodes"] == 140 and final["finished"]
