"""Bad input never returns garbage, never hangs, and always names the argument (issue 18).

Two parts: a regression test for every example listed in the issue, and the atomicity of
``tell`` and ``load_state_dict`` for every solver (a rejected call leaves ``state_dict()``
exactly as it was). The property-based suite is ``test_bad_input_properties.py``.
"""

from __future__ import annotations

import math
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

from pgnotes import _validate, estimators, functions, score
from pgnotes.planning import CEMPlanner, pendulum_dynamics, pendulum_reward, run_episode
from pgnotes.rl import offpolicy
from pgnotes.rl.policies import CategoricalPolicy, GaussianPolicy
from pgnotes.rl.reinforce import policy_gradient, surrogate_loss
from pgnotes.rl.rollouts import EpisodeBatch, collect_episodes, make_vector_env
from pgnotes.solvers import optimize
from pgnotes.ars_training import ARSConfig, train_ars
from pgnotes.evaluation import LinearPolicyFitness
from pgnotes.solvers.ars import ARS
from pgnotes.solvers.cem import CEM
from pgnotes.solvers.cmaes import CMAES
from pgnotes.solvers.nes import NES, natural_gradient
from pgnotes.solvers.openai_es import OpenAIES
from pgnotes.solvers.random_search import RandomSearch
from pgnotes.solvers.search_gradient import SearchGradient
from pgnotes.solvers.simple_ea import SimpleEA
from pgnotes.tetris import fast
from pgnotes.tetris import features as F
from pgnotes.tetris.pieces import PieceSource


def raises_naming(name: str, exc=(ValueError, TypeError)):
    """``pytest.raises`` for ValueError/TypeError whose message names ``name``."""
    return pytest.raises(exc, match=_escape(name))


def _escape(name: str) -> str:
    import re

    return re.escape(name)


# -- the examples, one by one ---------------------------------------------------------
class TestGarbageReturned:
    def test_softmax_nan(self):
        with raises_naming("logits"):
            score.softmax([math.nan, 0.0])

    def test_sphere_nan(self):
        with raises_naming("x"):
            functions.sphere([math.nan, 1.0])

    def test_estimate_from_empty_terms(self):
        with raises_naming("terms"):
            estimators.Estimate.from_terms([])

    def test_surrogate_loss_and_policy_gradient_nan_weights(self, cartpole_batch):
        policy, batch = cartpole_batch
        weights = np.zeros(batch.num_steps)
        weights[3] = math.nan
        with raises_naming("weights"):
            surrogate_loss(policy, batch, weights)
        with raises_naming("weights"):
            policy_gradient(policy, batch, weights)

    def test_cmaes_tell_far_outside_leaves_state_finite_and_unchanged(self):
        solver = CMAES(np.zeros(3), 1.0, rng=0)
        x = solver.ask()
        x[0], x[1] = 1e200, -1e200
        fitness = -np.arange(solver.popsize, dtype=float)  # the far points rank best
        before = pickle.dumps(solver.state_dict())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with raises_naming("x or fitness", _validate.NonFiniteUpdateError):
                solver.tell(x, fitness)
        assert pickle.dumps(solver.state_dict()) == before
        assert np.all(np.isfinite(solver.C))

    def test_natural_gradient_negative_definite_fisher(self):
        with raises_naming("fisher"):
            natural_gradient(np.ones(3), -np.eye(3))

    def test_ars_tell_rows_not_antithetic_pairs(self):
        solver = ARS(np.zeros(3), 4, rng=0)
        x = solver.ask()
        x[1] = x[0]
        with raises_naming("x must hold antithetic pairs"):
            solver.tell(x, np.arange(8.0))

    def test_n_features_negative_width(self):
        with raises_naming("width"):
            F.n_features("bertsekas", width=-5)

    def test_optimize_budget_smaller_than_one_generation(self):
        solver = CEM(2, 10, rng=0)
        with raises_naming("max_evaluations"):
            optimize(functions.as_fitness(functions.sphere), solver, max_evaluations=5, progress=False)

    def test_train_ars_horizon_zero(self):
        with raises_naming("horizon"):
            train_ars(ARSConfig(env_id="Pendulum-v1", horizon=0), progress=False)

    def test_play_games_fractional_seeds(self):
        with raises_naming("seeds[0]"):
            fast.play_games(np.zeros(22), [1.5, 1.9])


class TestNoHangs:
    def test_popsize_huge_is_refused_before_allocating(self):
        for make in (lambda: CEM(3, 10**9), lambda: CMAES(np.zeros(3), 1.0, 10**9), lambda: NES(3, 10**9),
                     lambda: OpenAIES(3, 10**9), lambda: RandomSearch(3, 10**9), lambda: SearchGradient(3, 10**9),
                     lambda: SimpleEA(3, 10**9), lambda: ARS(np.zeros(3), 10**9)):
            with pytest.raises(ValueError, match="popsize|n_directions"):
                make()

    def test_population_too_big_for_memory(self):
        with raises_naming("popsize * dim"):
            CEM(10**4, 10**6)

    def test_optimize_target_nan(self):
        with raises_naming("target"):
            optimize(functions.as_fitness(functions.sphere), CEM(2, 10), target=math.nan, progress=False)

    def test_piece_source_next_block_huge(self):
        with raises_naming("n"):
            PieceSource(0).next_block(10**10)

    def test_collect_episodes_huge(self, cartpole_envs):
        envs, policy = cartpole_envs
        with raises_naming("num_episodes"):
            collect_episodes(envs, policy, 10**9)


class TestWrongExceptionType:
    def test_rosenbrock_scalar(self):
        with raises_naming("x"):
            functions.rosenbrock(5.0)

    def test_column_heights_1d_board(self):
        with raises_naming("board"):
            F.column_heights(np.zeros(10, bool))

    def test_plan_short_observation(self):
        planner = CEMPlanner(pendulum_dynamics, pendulum_reward, horizon=3, popsize=10, iterations=1)
        with raises_naming("obs"):
            planner.plan([1, 0])

    def test_optimize_solver_string(self):
        with pytest.raises(TypeError, match="solver"):
            optimize(functions.as_fitness(functions.sphere), "cma", max_generations=1)

    def test_load_state_dict_string(self):
        for solver in SOLVERS():
            with pytest.raises(TypeError, match="state"):
                solver.load_state_dict("x")

    def test_ars_and_planning_given_cartpole(self):
        with pytest.raises(ValueError, match="CartPole-v1.*Discrete|Discrete.*CartPole"):
            LinearPolicyFitness("CartPole-v1", max_steps=10)
        planner = CEMPlanner(pendulum_dynamics, pendulum_reward, horizon=3, popsize=10, iterations=1)
        with pytest.raises(ValueError, match="CartPole-v1"):
            run_episode(planner, "CartPole-v1")

    def test_policy_sizes_do_not_match_the_environment(self):
        envs = make_vector_env("CartPole-v1", 2)
        try:
            with pytest.raises(ValueError, match="obs_dim"):
                collect_episodes(envs, CategoricalPolicy(3, 2), 2)
            with pytest.raises(ValueError, match="action_space"):
                collect_episodes(envs, GaussianPolicy(4, 1), 2)
        finally:
            envs.close()

    @pytest.mark.parametrize("entry", ["rl.make_vector_env", "ReinforceConfig", "OffPolicyConfig", "ARSConfig",
                                       "policy_search.make_vector_env", "PolicyFitness", "make_policy",
                                       "collect_random_transitions", "run_episode", "ESConfig", "PolicyTask"])
    def test_unknown_environment_id(self, entry):
        from pgnotes import evaluation, mlp_policy, planning, policy_search
        from pgnotes.distributed.algorithm import ESConfig
        from pgnotes.distributed.tasks import PolicyTask
        from pgnotes.rl.offpolicy import OffPolicyConfig
        from pgnotes.rl.reinforce import ReinforceConfig

        bad = "CartPol-v1"
        calls = {
            "rl.make_vector_env": lambda: make_vector_env(bad, 2),
            "ReinforceConfig": lambda: ReinforceConfig(env_id=bad),
            "OffPolicyConfig": lambda: OffPolicyConfig(env_id=bad),
            "ARSConfig": lambda: ARSConfig(env_id=bad),
            "policy_search.make_vector_env": lambda: evaluation.make_vector_env(bad, 2),
            "PolicyFitness": lambda: evaluation.PolicyFitness(bad, mlp_policy.MLPPolicy(4, 2, discrete=True)),
            "make_policy": lambda: mlp_policy.make_policy(bad),
            "collect_random_transitions": lambda: planning.collect_random_transitions(bad),
            "run_episode": lambda: planning.run_episode(CEMPlanner(pendulum_dynamics, pendulum_reward), bad),
            "ESConfig": lambda: ESConfig(task=bad),
            "PolicyTask": lambda: PolicyTask(bad),
        }
        with pytest.raises(ValueError, match="CartPol-v1.*did you mean 'CartPole-v1'"):
            calls[entry]()

    def test_bad_checkpoint_path_found_before_running(self, tmp_path):
        evaluations = []

        def f(x):
            evaluations.append(x)
            return 0.0

        with raises_naming("checkpoint"):
            optimize(f, CEM(2, 10), max_generations=2, checkpoint=tmp_path, progress=False)  # a directory
        blocker = tmp_path / "file"
        blocker.write_text("")
        with raises_naming("checkpoint"):
            optimize(f, CEM(2, 10), max_generations=2, checkpoint=blocker / "sub" / "ckpt", progress=False)
        assert evaluations == []

    def test_off_policy_weights_blames_target_logp(self, cartpole_batch):
        _, batch = cartpole_batch
        with raises_naming("target_logp"):
            offpolicy.off_policy_weights(batch, np.full(batch.num_steps, 50.0), gamma=0.99)


class TestRejectedTellLeavesSolverUnchanged:
    def test_cem_nan_noise_schedule(self):
        solver = CEM(3, 10, noise=lambda t: math.nan, rng=0)
        x = solver.ask()
        before = pickle.dumps(solver.state_dict())
        with raises_naming("noise schedule"):
            solver.tell(x, np.arange(10.0))
        assert pickle.dumps(solver.state_dict()) == before
        assert solver.best is None and solver.generation == 0

    def test_nes_overflow_does_not_record_best(self):
        solver = NES(2, 10, lr=1e6, lr_cov=1e6, shaping="none", rng=0)
        x = solver.ask()
        with pytest.raises(FloatingPointError):
            solver.tell(x, np.r_[1e300, np.zeros(9)])
        assert solver.best is None and solver.generation == 0


# -- atomic tell / load_state_dict for every solver ---------------------------------------------
def SOLVERS():
    solvers = [
        CEM(3, 10, rng=0), CMAES(np.zeros(3), 1.0, rng=0), NES(3, 8, rng=0), NES(3, 8, cov="diagonal", rng=0),
        OpenAIES(3, 8, rng=0), OpenAIES(3, 8, optimizer="sgd", rng=0), RandomSearch(3, 6, rng=0),
        RandomSearch(3, 6, low=-1, high=1, rng=0), SearchGradient(3, 6, rng=0), SimpleEA(3, 6, rng=0),
        SimpleEA(3, 6, adapt="one_fifth", rng=0), ARS(np.zeros(3), 3, rng=0),
    ]
    for module, name in (("pgnotes.solvers.snes", "SNES"), ("pgnotes.solvers.xnes", "XNES")):
        try:
            cls = getattr(__import__(module, fromlist=[name]), name)
        except (ImportError, AttributeError):  # pragma: no cover - solvers added by other chapters
            continue
        solvers.append(cls(3, 8, rng=0))
    return solvers


def _ids(solvers):
    return [f"{type(s).__name__}-{i}" for i, s in enumerate(solvers)]


def _advance(solver, generations=2):
    f = functions.as_fitness(functions.sphere)
    for _ in range(generations):
        x = solver.ask()
        solver.tell(x, f(x))


def _frozen(solver) -> bytes:
    extra = {k: v for k, v in vars(solver).items()
             if k in ("last_step", "last_gradient", "last_sigma_r", "_last_best", "theta", "parents")}
    return pickle.dumps((solver.state_dict(), {k: pickle.dumps(v) for k, v in extra.items()}))


def _bad_tells(solver, x, fitness):
    nan_fit = fitness.copy()
    nan_fit[0] = math.nan
    nan_x = x.copy()
    nan_x[0, 0] = math.inf
    return [
        ("fitness", x, nan_fit),
        ("fitness", x, fitness[:-1]),
        ("fitness", x, ["a"] * len(fitness)),
        ("x", nan_x, fitness),
        ("x", x[:, :-1], fitness),
        ("x", "abc", fitness),
    ]


@pytest.mark.parametrize("index", range(len(SOLVERS())), ids=_ids(SOLVERS()))
def test_rejected_tell_changes_nothing(index):
    solver = SOLVERS()[index]
    _advance(solver)
    x = solver.ask()
    fitness = functions.as_fitness(functions.sphere)(x)
    rng_state = pickle.dumps(solver.rng.bit_generator.state)
    before = _frozen(solver)
    for name, bad_x, bad_fitness in _bad_tells(solver, x, fitness):
        with raises_naming(name):
            solver.tell(bad_x, bad_fitness)
        assert _frozen(solver) == before, name
    # a tell that fails inside the update (a shaping/schedule error or an overflow) too
    original = type(solver)._tell

    def failing(self, x_, f_):
        original(self, x_, f_)
        raise FloatingPointError("injected failure after the update")

    type(solver)._tell = failing
    try:
        with pytest.raises(FloatingPointError):
            solver.tell(x, fitness)
    finally:
        type(solver)._tell = original
    assert _frozen(solver) == before
    assert pickle.dumps(solver.rng.bit_generator.state) == rng_state
    solver.tell(x, fitness)  # and it still works
    assert solver.generation == 3


@pytest.mark.parametrize("index", range(len(SOLVERS())), ids=_ids(SOLVERS()))
def test_rejected_load_state_dict_changes_nothing(index):
    solver = SOLVERS()[index]
    _advance(solver)
    good = solver.state_dict()
    other = SOLVERS()[index]
    before = _frozen(other)
    bad_states = ["x", None, {}, {**good, "solver": "Other"}, {**good, "dim": good["dim"] + 1},
                  {**good, "rng": {"bit_generator": "nope"}}, {**good, "generation": -1},
                  {**good, "best": (np.zeros(good["dim"] + 1), 1.0)}]
    for key, value in good.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
            broken = value.copy()
            broken.flat[0] = math.nan
            bad_states.append({**good, key: broken})
            bad_states.append({**good, key: value[..., :-1] if value.ndim else np.zeros(2)})
    for bad in bad_states:
        with pytest.raises((ValueError, TypeError), match="state"):
            other.load_state_dict(bad)
        assert _frozen(other) == before
    other.load_state_dict(good)  # the good state still loads, and continues identically
    assert pickle.dumps(other.state_dict()) == pickle.dumps(good)
    x1, x2 = other.ask(), solver.ask()
    np.testing.assert_array_equal(x1, x2)


def test_openai_es_step_that_overflows_changes_nothing():
    solver = OpenAIES(3, 4, optimizer="sgd", lr=1e300, weight_decay=0.0)
    before = _frozen(solver)
    with raises_naming("mean", _validate.NonFiniteUpdateError):
        solver.step(np.array([1e300, 0.0, 0.0]))
    assert _frozen(solver) == before
    with raises_naming("gradient"):
        solver.step(np.array([math.inf, 0.0, 0.0]))
    assert _frozen(solver) == before


def test_running_mean_std_and_es_state_load_state_dict_are_atomic():
    from pgnotes.distributed.algorithm import ESState
    from pgnotes.evaluation import RunningMeanStd

    stats = RunningMeanStd(3)
    stats.update(np.arange(12.0).reshape(4, 3))
    before = pickle.dumps(stats.state_dict())
    for bad in ("x", {"count": 2, "mean": np.zeros(2), "m2": np.zeros(3)}, {"count": -1, "mean": np.zeros(3), "m2": np.zeros(3)},
                {"count": 2, "mean": np.array([0, math.nan, 0]), "m2": np.zeros(3)}):
        with pytest.raises((ValueError, TypeError), match="state"):
            stats.load_state_dict(bad)
        assert pickle.dumps(stats.state_dict()) == before
    state = ESState(np.zeros(4, np.float32), 0.01, 0.0)
    state.step(np.ones(4))
    before = pickle.dumps(state.theta.copy())
    for bad in ("x", {"theta": np.zeros(3), "optimizer": {}}, {"theta": np.zeros(4), "optimizer": {"state": {}, "param_groups": "x"}}):
        with pytest.raises((ValueError, TypeError, KeyError)):
            state.load_state_dict(bad)
        assert pickle.dumps(state.theta.copy()) == before
    with raises_naming("gradient"):
        state.step(np.array([math.nan, 0, 0, 0]))


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cartpole_envs():
    envs = make_vector_env("CartPole-v1", 2)
    yield envs, CategoricalPolicy(4, 2, seed=0)
    envs.close()


@pytest.fixture(scope="module")
def cartpole_batch(cartpole_envs):
    envs, policy = cartpole_envs
    episodes = collect_episodes(envs, policy, 3, generator=torch.Generator().manual_seed(0), seed=0)
    return policy, EpisodeBatch(episodes)


def test_gym_is_imported_for_the_registry():
    assert "CartPole-v1" in gym.registry
