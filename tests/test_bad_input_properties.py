"""Property-based: bad input to any public callable raises ValueError/TypeError naming the argument (issue 18).

Every case below is one argument of one public function or constructor. Hypothesis draws bad
values for it -- NaN and inf, numbers outside the accepted range, sizes of zero or far too
large, wrong types, wrong shapes, unknown names -- while the other arguments stay valid, and
the test asserts the error class and that the message names the argument. The whole suite is
meant to run in well under a minute on one core (``max_examples`` per case is small).

``PGNOTES_BAD_INPUT_COUNT=path`` writes the number of cases and of bad inputs tried to ``path``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgnotes import ars_training, checkpoint, estimators, functions, noisy_parabola, score, shaping
from pgnotes import distributions as D
from pgnotes import planning
from pgnotes import evaluation as EV
from pgnotes import evaluation as EV
from pgnotes import mlp_policy as MP
from pgnotes import policy_search as PS
from pgnotes import viz
from pgnotes.distributed import algorithm as dist_alg
from pgnotes.distributed import noise_table
from pgnotes.rl import offpolicy, policies, reinforce, rollouts, tabular_mdp
from pgnotes.solvers import ars, cem, cmaes, nes, openai_es, random_search, runner, search_gradient, simple_ea
from pgnotes.tetris import features as TF
from pgnotes.tetris import fast, pieces, reference
from pgnotes.tetris.env import TetrisEnv

SETTINGS = settings(max_examples=int(os.environ.get("PGNOTES_BAD_INPUT_EXAMPLES", 12)), deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

# -- strategies of bad values ---------------------------------------------------------------------
NONFINITE = st.sampled_from([math.nan, math.inf, -math.inf])
WRONG_TYPE_NN = st.one_of(st.text(max_size=4), st.just({"a": 1}), st.just(object()), st.just(b"x"))
WRONG_TYPE = st.one_of(WRONG_TYPE_NN, st.none())
BOOL = st.booleans()


def bad_real(low: float | None = None, high: float | None = None, *, low_ok: bool = True, high_ok: bool = True,
             none: bool = True):
    """Non-finite numbers, wrong types and (if bounded) numbers outside [low, high]; ``none``: None is bad too."""
    options = [NONFINITE, WRONG_TYPE if none else WRONG_TYPE_NN]
    if low is not None:
        below = st.floats(max_value=low, allow_nan=False, allow_infinity=False, exclude_max=low_ok)
        options.append(below)
    if high is not None:
        above = st.floats(min_value=high, allow_nan=False, allow_infinity=False, exclude_min=high_ok)
        options.append(above)
    return st.one_of(*options)


def positive(none: bool = True):
    return bad_real(0.0, low_ok=False, none=none)


def bad_int(low: int, high: int | None = None, *, none: bool = True):
    """Integers out of [low, high] (high defaults to huge), non-integral numbers, wrong types."""
    options = [st.integers(max_value=low - 1), st.floats(allow_nan=True).filter(lambda v: not float(v).is_integer()),
               st.sampled_from([1.5, 2.0, math.nan]), WRONG_TYPE if none else WRONG_TYPE_NN, st.just([1])]
    options.append(st.integers(min_value=(high if high is not None else 10**8) + 1, max_value=10**15))
    return st.one_of(*options)


def bad_array(shape: tuple[int, ...], *, allow_wrong_shape: bool = True, none: bool = True):
    """Arrays of ``shape`` with a non-finite entry, arrays of another shape, strings, ragged lists."""
    size = int(np.prod(shape)) if shape else 1

    def with_nonfinite(args):
        i, v = args
        a = np.ones(shape)
        a.flat[i % size] = v
        return a

    options = [st.tuples(st.integers(0, 10**6), NONFINITE).map(with_nonfinite),
               st.just("abc"), st.just([[1.0, 2.0], [3.0]])] + ([st.none()] if none else [])
    if allow_wrong_shape:
        options.append(st.sampled_from([np.ones(shape + (2,)), np.ones((size + 1,)) if len(shape) <= 1 else np.ones(shape[:-1])]))
    return st.one_of(*options)


def bad_choice(choices):
    return st.one_of(st.text(max_size=8).filter(lambda s: s not in choices), st.integers(), st.none(), st.just(["x"]))


# -- the cases -----------------------------------------------------------------------------------
@dataclass
class Case:
    id: str
    call: Callable[[Any], Any]  # takes the bad value
    name: str  # what the message must mention
    values: Any  # a strategy
    errors: tuple = (ValueError, TypeError)


CASES: list[Case] = []


def case(id_, call, name, values, errors=(ValueError, TypeError)):
    CASES.append(Case(id_, call, name, values, errors))


f_sphere = functions.as_fitness(functions.sphere)
X3 = np.ones(3)

# functions
for fn in (functions.sphere, functions.ellipsoid, functions.rastrigin):
    case(f"functions.{fn.__name__}(x)", fn, "x", bad_array((4,), allow_wrong_shape=False))
case("functions.rosenbrock(x)", functions.rosenbrock, "x", st.one_of(bad_array((4,), allow_wrong_shape=False), st.just(5.0), st.just([1.0])))
case("functions.schaffer(x)", functions.schaffer, "x", st.one_of(bad_array((2,), allow_wrong_shape=False), st.just(np.ones(3))))
case("functions.ellipsoid(condition)", lambda v: functions.ellipsoid(X3, v), "condition", bad_real(1.0))
case("functions.as_fitness(objective)", functions.as_fitness, "objective", WRONG_TYPE.filter(lambda v: not callable(v)))

# score
for fn in (score.gaussian_log_prob, score.gaussian_score_mean, score.gaussian_score_log_std):
    case(f"score.{fn.__name__}(x)", lambda v, fn=fn: fn(v, X3, 1.0), "x", bad_array((3,), allow_wrong_shape=False))
    case(f"score.{fn.__name__}(mean)", lambda v, fn=fn: fn(X3, v, 1.0), "mean", bad_array((3,), allow_wrong_shape=False))
    case(f"score.{fn.__name__}(std)", lambda v, fn=fn: fn(X3, X3, v), "std", st.one_of(bad_array((3,), allow_wrong_shape=False), st.just(-1.0), st.just(0.0)))
for fn in (score.mvn_log_prob, score.mvn_score):
    case(f"score.{fn.__name__}(x)", lambda v, fn=fn: fn(v, X3, np.eye(3)), "x", bad_array((3,)))
    case(f"score.{fn.__name__}(mean)", lambda v, fn=fn: fn(X3, v, np.eye(3)), "mean", bad_array((3,)))
    case(f"score.{fn.__name__}(cholesky)", lambda v, fn=fn: fn(X3, X3, v), "cholesky",
         st.one_of(bad_array((3, 3)), st.just(np.triu(np.ones((3, 3)))), st.just(-np.eye(3))))
for fn in (score.bernoulli_log_prob, score.bernoulli_score):
    case(f"score.{fn.__name__}(x)", lambda v, fn=fn: fn(v, 0.0), "x", st.one_of(bad_array((3,), allow_wrong_shape=False), st.just([0.5, 1.0])))
    case(f"score.{fn.__name__}(logit)", lambda v, fn=fn: fn(1.0, v), "logit", st.one_of(NONFINITE, st.just("a")))
for fn in (score.categorical_log_prob, score.categorical_score):
    case(f"score.{fn.__name__}(x)", lambda v, fn=fn: fn(v, np.zeros(3)), "x", st.one_of(st.just(1.5), st.just(3), st.just(-1), st.just(np.array([0.0, 1.0]))))
    case(f"score.{fn.__name__}(logits)", lambda v, fn=fn: fn(0, v), "logits", st.one_of(bad_array((3,), allow_wrong_shape=False), st.just([1.0])))
case("score.softmax(logits)", score.softmax, "logits", st.one_of(bad_array((3,), allow_wrong_shape=False), st.just(1.0)))

# estimators and shaping
case("Estimate.from_terms(terms)", estimators.Estimate.from_terms, "terms", st.one_of(bad_array((4, 2), allow_wrong_shape=False), st.just([]), st.just(1.0)))
case("score_function_gradient(fitness)", lambda v: estimators.score_function_gradient(v, np.ones((4, 2))), "fitness", bad_array((4,)))
case("score_function_gradient(scores)", lambda v: estimators.score_function_gradient(np.ones(4), v), "scores",
     st.one_of(bad_array((4, 2), allow_wrong_shape=False), st.just(np.ones((3, 2)))))
case("score_function_gradient(baseline)", lambda v: estimators.score_function_gradient(np.ones(4), np.ones((4, 2)), v), "baseline",
     st.one_of(NONFINITE, st.text(max_size=4).filter(lambda s: s not in ("none", "mean", "leave_one_out")), st.just([1.0])))
for fn, first in ((estimators.gaussian_score_function_gradient, f_sphere), (estimators.gaussian_pathwise_gradient, lambda x: -2 * x)):
    first_name = "f" if fn is estimators.gaussian_score_function_gradient else "grad_f"
    case(f"{fn.__name__}({first_name})", lambda v, fn=fn: fn(v, X3, 1.0, 8, 0), first_name, WRONG_TYPE.filter(lambda v: not callable(v)))
    case(f"{fn.__name__}(mean)", lambda v, fn=fn, first=first: fn(first, v, 1.0, 8, 0), "mean",
         st.one_of(bad_array((3,), allow_wrong_shape=False), st.just([]), st.just(np.ones((2, 3)))))
    case(f"{fn.__name__}(std)", lambda v, fn=fn, first=first: fn(first, X3, v, 8, 0), "std", st.one_of(NONFINITE, st.just(-1.0), st.just(np.ones(2))))
    case(f"{fn.__name__}(num_samples)", lambda v, fn=fn, first=first: fn(first, X3, 1.0, v, 0), "num_samples", bad_int(2))
    case(f"{fn.__name__}(rng)", lambda v, fn=fn, first=first: fn(first, X3, 1.0, 8, v), "rng", st.one_of(st.just(1.5), st.just("seed"), st.just(-3)))
case("shaping.centered_ranks(fitness)", shaping.centered_ranks, "fitness", st.one_of(bad_array((5,), allow_wrong_shape=False), st.just([]), st.just(np.ones((2, 2)))))

# distributions
case("IsotropicGaussian(mean)", lambda v: D.IsotropicGaussian(v, 1.0), "mean", st.one_of(bad_array((3,), allow_wrong_shape=False), st.just([]), st.just(np.ones((2, 2)))))
case("IsotropicGaussian(sigma)", lambda v: D.IsotropicGaussian(X3, v), "sigma", positive())
case("DiagonalGaussian(std)", lambda v: D.DiagonalGaussian(X3, v), "std", st.one_of(bad_array((3,), allow_wrong_shape=False), st.just(-np.ones(3))))
case("FullGaussian(cholesky)", lambda v: D.FullGaussian(X3, v), "cholesky", st.one_of(bad_array((3, 3), none=False), st.just(np.ones((3, 3)))))
case("FullGaussian.from_covariance(covariance)", lambda v: D.FullGaussian.from_covariance(X3, v), "covariance",
     st.one_of(bad_array((3, 3)), st.just(-np.eye(3)), st.just(np.arange(9.0).reshape(3, 3))))
case("make_distribution(kind)", lambda v: D.make_distribution(v, X3), "kind", bad_choice(("isotropic", "diagonal", "full")))
case("make_distribution(sigma)", lambda v: D.make_distribution("full", X3, v), "sigma", positive())
case("SearchDistribution.sample(n)", lambda v: D.IsotropicGaussian(X3).sample(v, 0), "n", bad_int(1))
case("SearchDistribution.sample(rng)", lambda v: D.IsotropicGaussian(X3).sample(2, v), "rng", st.one_of(st.just(1.5), st.just("x"), st.none()))
case("SearchDistribution.log_prob(x)", lambda v: D.DiagonalGaussian(X3).log_prob(v), "x", bad_array((3,)))
case("SearchDistribution.score(x)", lambda v: D.FullGaussian(X3).score(v), "x", bad_array((2, 3)))
case("FullGaussian.from_params(theta)", lambda v: D.FullGaussian.from_params(v, 2), "theta", bad_array((5,)))
case("FullGaussian.from_params(dim)", lambda v: D.FullGaussian.from_params(np.zeros(5), v), "dim", bad_int(1))

# noisy parabola, checkpoint
case("NoisyParabola(noise_std)", lambda v: noisy_parabola.NoisyParabola(noise_std=v), "noise_std", bad_real(0.0))
case("NoisyParabola(optimum)", lambda v: noisy_parabola.NoisyParabola(optimum=v), "optimum", bad_real())
for arg, strat in (("mean", bad_real()), ("sigma", positive()), ("popsize", bad_int(2)), ("step_size", positive()),
                   ("iterations", bad_int(1)), ("rng", st.one_of(st.just(1.5), st.just("x")))):
    case(f"noisy_parabola.run({arg})", lambda v, arg=arg: noisy_parabola.run(noisy_parabola.NoisyParabola(), **{arg: v}), arg, strat)
case("noisy_parabola.run(problem)", lambda v: noisy_parabola.run(v), "problem", WRONG_TYPE)
case("save_checkpoint(path)", lambda v: checkpoint.save_checkpoint(v, {}), "path", st.one_of(st.none(), st.integers(), st.just(["a"])))
case("load_checkpoint(path)", checkpoint.load_checkpoint, "path", st.one_of(st.none(), st.integers(), st.just(["a"])))

# solvers: constructors
SOLVER_ARGS = {
    "CEM": (lambda **k: cem.CEM(**{"dim": 3, "popsize": 10, **k}),
            {"dim": bad_int(1, 2**30), "popsize": bad_int(1), "mean": bad_array((3,), none=False), "sigma0": st.one_of(NONFINITE, st.just(-1.0), st.just(np.ones(2))),
             "elite_frac": bad_real(0.0, 1.0, low_ok=False), "n_elite": bad_int(1, 10, none=False), "smoothing": bad_real(0.0, 1.0, high_ok=False),
             "noise": bad_choice(("none", "constant", "decreasing")), "rng": st.one_of(st.just(1.5), st.just("x"))}),
    "CMAES": (lambda **k: cmaes.CMAES(**{"x0": X3, "sigma0": 1.0, **k}),
              {"x0": st.one_of(bad_array((3,), allow_wrong_shape=False), st.just([]), st.just(np.ones((2, 2)))), "sigma0": positive(), "popsize": bad_int(2, none=False), "mu": bad_int(1, 7, none=False)}),
    "NES": (lambda **k: nes.NES(**{"dim": 3, "popsize": 8, **k}),
            {"popsize": bad_int(2), "cov": bad_choice(nes.COVARIANCES), "fisher": bad_choice(nes.FISHERS), "lr": positive(),
             "lr_cov": positive(none=False), "damping": bad_real(0.0), "shaping": bad_choice(nes.SHAPINGS).filter(lambda v: not callable(v)),
             "sigma0": st.one_of(NONFINITE, st.just(-1.0), st.just(np.ones(2)))}),
    "OpenAIES": (lambda **k: openai_es.OpenAIES(**{"dim": 3, "popsize": 8, **k}),
                 {"popsize": st.one_of(bad_int(2), st.just(7)), "sigma": positive(), "lr": positive(), "optimizer": bad_choice(openai_es.OPTIMIZERS),
                  "momentum": bad_real(0.0, 1.0, high_ok=False), "weight_decay": bad_real(0.0), "antithetic": WRONG_TYPE,
                  "mean": bad_array((3,), none=False)}),
    "RandomSearch": (lambda **k: random_search.RandomSearch(**{"dim": 3, "popsize": 6, **k}),
                     {"scale": positive(), "center": bad_array((3,), none=False), "popsize": bad_int(1)}),
    "SearchGradient": (lambda **k: search_gradient.SearchGradient(**{"dim": 3, "popsize": 6, **k}),
                       {"learning_rate": positive(), "scale_learning_rate": bad_real(0.0, none=False), "shaping": bad_choice(search_gradient.SHAPINGS),
                        "distribution": st.one_of(st.integers(), st.just("cube")), "baseline": st.one_of(NONFINITE, st.just("median"))}),
    "SimpleEA": (lambda **k: simple_ea.SimpleEA(**{"dim": 3, "popsize": 6, **k}),
                 {"init_scale": positive(), "sigma": positive(), "adapt": bad_choice(simple_ea.ADAPT_RULES), "x0": bad_array((3,), none=False)}),
    "ARS": (lambda **k: ars.ARS(**{"x0": X3, "n_directions": 4, **k}),
            {"x0": st.one_of(bad_array((3,), allow_wrong_shape=False), st.just(np.ones((2, 2)))), "n_directions": bad_int(1), "top_b": bad_int(1, 4, none=False), "step_size": positive(), "noise": positive(),
             "scale_by_std": WRONG_TYPE}),
}
for cls, (make, args) in SOLVER_ARGS.items():
    for arg, strat in args.items():
        case(f"{cls}({arg})", lambda v, make=make, arg=arg: make(**{arg: v}), arg, strat)


def _solver_factories():
    return {"CEM": lambda: cem.CEM(3, 10), "CMAES": lambda: cmaes.CMAES(X3, 1.0), "NES": lambda: nes.NES(3, 8),
            "OpenAIES": lambda: openai_es.OpenAIES(3, 8), "RandomSearch": lambda: random_search.RandomSearch(3, 6),
            "SearchGradient": lambda: search_gradient.SearchGradient(3, 6), "SimpleEA": lambda: simple_ea.SimpleEA(3, 6),
            "ARS": lambda: ars.ARS(X3, 4)}


def _tell(make, which):
    def call(v):
        s = make()
        x = s.ask()
        if which == "x":
            s.tell(v(x) if callable(v) else v, np.zeros(s.popsize))
        else:
            s.tell(x, v(s.popsize) if callable(v) else v)
    return call


def _bad_x_fn(kind):
    def build(x):
        y = x.copy()
        if kind == "nan":
            y[0, 0] = math.nan
        elif kind == "inf":
            y[-1, -1] = math.inf
        elif kind == "short":
            return y[:-1]
        elif kind == "narrow":
            return y[:, :-1]
        return y
    return build


def _bad_fitness_fn(kind):
    def build(n):
        f = np.zeros(n)
        if kind == "nan":
            f[0] = math.nan
        elif kind == "inf":
            f[-1] = -math.inf
        elif kind == "short":
            return f[:-1]
        elif kind == "text":
            return ["a"] * n
        return f
    return build


for cls, make in _solver_factories().items():
    case(f"{cls}.tell(x)", _tell(make, "x"), "x", st.one_of(st.sampled_from(["nan", "inf", "short", "narrow"]).map(_bad_x_fn), st.just("abc")))
    case(f"{cls}.tell(fitness)", _tell(make, "fitness"), "fitness", st.sampled_from(["nan", "inf", "short", "text"]).map(_bad_fitness_fn))
    case(f"{cls}.load_state_dict(state)", lambda v, make=make: make().load_state_dict(v), "state",
         st.one_of(WRONG_TYPE.filter(lambda v: not isinstance(v, dict)), st.just({}), st.just({"solver": cls})))

# the pure functions of NES and OpenAI ES, and CMA-ES parameters
case("shaping.shape_fitness(fitness)", lambda v: shaping.shape_fitness(v), "fitness", bad_array((5,), allow_wrong_shape=False))
case("shaping.shape_fitness(shaping)", lambda v: shaping.shape_fitness(np.arange(5.0), v), "shaping", bad_choice(shaping.SHAPINGS).filter(lambda v: not callable(v)))
case("shaping.nes_utilities(fitness)", shaping.nes_utilities, "fitness", st.one_of(bad_array((5,), allow_wrong_shape=False), st.just([]), st.just(np.ones((2, 2)))))
case("nes.search_gradient(scores)", lambda v: nes.search_gradient(v, np.ones(4)), "scores", bad_array((4, 3)))
case("nes.search_gradient(utilities)", lambda v: nes.search_gradient(np.ones((4, 3)), v), "utilities", bad_array((4,)))
case("nes.empirical_fisher(scores)", nes.empirical_fisher, "scores", bad_array((4, 3)))
case("nes.natural_gradient(gradient)", lambda v: nes.natural_gradient(v, np.eye(3)), "gradient", bad_array((3,)))
case("nes.natural_gradient(fisher)", lambda v: nes.natural_gradient(X3, v), "fisher",
     st.one_of(bad_array((3, 3)), st.just(-np.eye(3)), st.just(np.triu(np.ones((3, 3))))))
case("nes.natural_gradient(damping)", lambda v: nes.natural_gradient(X3, np.eye(3), v), "damping", bad_real(0.0))
case("openai_es.es_gradient(sigma)", lambda v: openai_es.es_gradient(np.ones((4, 3)), np.ones(4), v), "sigma", positive())
case("openai_es.es_gradient(shaped_fitness)", lambda v: openai_es.es_gradient(np.ones((4, 3)), v, 1.0), "shaped_fitness", bad_array((4,)))
case("OpenAIES.step(gradient)", lambda v: openai_es.OpenAIES(3, 4).step(v), "gradient", bad_array((3,)))
case("cmaes.default_popsize(dim)", cmaes.default_popsize, "dim", bad_int(1, 2**30))
case("cmaes.cma_parameters(popsize)", lambda v: cmaes.cma_parameters(3, v), "popsize", bad_int(2))
case("cem.noise_schedule(noise_value)", lambda v: cem.noise_schedule("constant", noise_value=v), "noise_value", bad_real(0.0))
case("ars.version_settings(version)", lambda v: ars.version_settings(v, 4, None), "version", bad_choice(ars.VERSIONS))

# the runner
for arg, strat in (("max_generations", bad_int(1)), ("max_evaluations", st.one_of(bad_int(1, none=False), st.integers(1, 9))),
                   ("target", st.one_of(NONFINITE, st.just("high"))), ("checkpoint_every", bad_int(1)),
                   ("vectorized", WRONG_TYPE), ("progress", WRONG_TYPE), ("callbacks", st.one_of(st.just(5), st.just([1]), st.just(print))),
                   ("checkpoint", st.one_of(st.integers(), st.just(["a"])))):
    kwargs = {"max_generations": 1, "progress": False}
    case(f"optimize({arg})", lambda v, arg=arg, kwargs=kwargs: runner.optimize(f_sphere, cem.CEM(2, 10), **{**kwargs, arg: v}), arg, strat)
case("optimize(f)", lambda v: runner.optimize(v, cem.CEM(2, 10), max_generations=1), "f", WRONG_TYPE.filter(lambda v: not callable(v)))
case("optimize(solver)", lambda v: runner.optimize(f_sphere, v, max_generations=1), "solver", st.one_of(WRONG_TYPE, st.just("cma")))

# ARS config and pool
ARS_FIELDS = {"version": bad_choice(ars.VERSIONS), "n_directions": bad_int(1), "top_b": bad_int(1, 1), "step_size": positive(),
              "noise": positive(), "shift": bad_real(), "horizon": bad_int(1), "max_episodes": bad_int(1), "threshold": bad_real(none=False),
              "eval_every": bad_int(1), "eval_episodes": bad_int(1, 10**5), "seed": bad_int(0).filter(lambda v: not (isinstance(v, int) and v > 10**8)),
              "workers": bad_int(1, 1024), "env_id": st.sampled_from(["CartPol-v1", "", "Swimer-v5"])}
for arg, strat in ARS_FIELDS.items():
    case(f"ARSConfig({arg})", lambda v, arg=arg: ars_training.ARSConfig(**{arg: v}), arg, strat)
case("LinearPolicyFitness(env_id)", lambda v: EV.LinearPolicyFitness(v, max_steps=10), "env_id", st.one_of(st.sampled_from(["Nope-v0", "CartPole-v1"]), st.integers()))
case("LinearPolicyFitness(workers)", lambda v: EV.LinearPolicyFitness("Pendulum-v1", max_steps=10, workers=v), "workers", bad_int(1, 1024))
case("LinearPolicyFitness(max_steps)", lambda v: EV.LinearPolicyFitness("Pendulum-v1", max_steps=v), "max_steps", bad_int(1, none=False))

# rl: returns, weights, policies, rollouts, configs
case("reward_to_go(rewards)", lambda v: reinforce.reward_to_go(v), "rewards", st.one_of(bad_array((5,), allow_wrong_shape=False), st.just(np.ones((2, 2)))))
case("reward_to_go(gamma)", lambda v: reinforce.reward_to_go(np.ones(3), v), "gamma", bad_real(0.0, 1.0))
case("discounted_return(gamma)", lambda v: reinforce.discounted_return(np.ones(3), v), "gamma", bad_real(0.0, 1.0))
case("mlp(sizes)", policies.mlp, "sizes", st.one_of(st.just(4), st.just([4]), st.just([4, 0]), st.just([4, 2.5]), st.just([10**6, 10**6])))
case("CategoricalPolicy(obs_dim)", lambda v: policies.CategoricalPolicy(v, 2), "obs_dim", bad_int(1))
case("CategoricalPolicy(n_actions)", lambda v: policies.CategoricalPolicy(4, v), "n_actions", bad_int(2))
case("CategoricalPolicy(seed)", lambda v: policies.CategoricalPolicy(4, 2, seed=v), "seed", st.one_of(st.just(1.5), st.just(-1), st.just("s")))
case("GaussianPolicy(action_scale)", lambda v: policies.GaussianPolicy(3, 1, action_scale=v), "action_scale", positive())
case("GaussianPolicy(log_std_init)", lambda v: policies.GaussianPolicy(3, 1, log_std_init=v), "log_std_init", st.one_of(NONFINITE, st.just("a")))
case("TabularSoftmaxPolicy(theta)", lambda v: policies.TabularSoftmaxPolicy(2, 3, v), "theta", bad_array((2, 3), none=False))
case("ValueFunction(obs_dim)", lambda v: policies.ValueFunction(v), "obs_dim", bad_int(1))
case("Policy.act(obs)", lambda v: policies.CategoricalPolicy(4, 2).act(v), "obs", bad_array((2, 4)))
case("TabularSoftmaxPolicy.act(obs)", lambda v: policies.TabularSoftmaxPolicy(2, 3).act(v), "obs",
     st.one_of(st.just(np.array([0.5])), st.just(np.array([2])), st.just(np.array([-1]))))
case("policies.make_policy(action_space)", lambda v: policies.make_policy(__import__("gymnasium").spaces.Box(-1, 1, (3,)), v), "action_space",
     st.one_of(WRONG_TYPE, st.just(__import__("gymnasium").spaces.MultiBinary(3))))
case("rollouts.make_vector_env(env_id)", lambda v: rollouts.make_vector_env(v, 1), "env_id", st.one_of(st.sampled_from(["CartPol-v1", ""]), st.integers()))
case("rollouts.make_vector_env(num_envs)", lambda v: rollouts.make_vector_env("CartPole-v1", v), "num_envs", bad_int(1, 4096))
case("rollouts.make_vector_env(max_steps)", lambda v: rollouts.make_vector_env("CartPole-v1", 1, max_steps=v), "max_steps", bad_int(1, none=False))
case("EpisodeBatch(episodes)", lambda v: rollouts.EpisodeBatch(v), "episodes", st.one_of(st.just([]), st.just([1]), st.just(3)))
case("evaluate_policy(num_episodes)", lambda v: rollouts.evaluate_policy(policies.CategoricalPolicy(4, 2), "CartPole-v1", v), "num_episodes", bad_int(1, 10**6))
case("evaluate_policy(policy)", lambda v: rollouts.evaluate_policy(v, "CartPole-v1", 1), "policy", WRONG_TYPE)
REINFORCE_FIELDS = {"estimator": bad_choice(reinforce.ESTIMATORS), "baseline": bad_choice(reinforce.BASELINES), "gamma": bad_real(0.0, 1.0),
                    "total_episodes": bad_int(1), "episodes_per_batch": bad_int(1), "learning_rate": positive(), "hidden": st.one_of(st.just(5), st.just((0,)), st.just((2.5,))),
                    "target": st.one_of(NONFINITE, st.just("x")), "seed": st.one_of(st.just(1.5), st.just(-1)), "env_id": st.sampled_from(["CartPol-v1", "nope"]),
                    "stop_at_target": st.sampled_from([1, "yes", None])}
for arg, strat in REINFORCE_FIELDS.items():
    case(f"ReinforceConfig({arg})", lambda v, arg=arg: reinforce.ReinforceConfig(**{arg: v}), arg, strat)
OFFPOLICY_FIELDS = {"mode": bad_choice(offpolicy.MODES), "clip": positive().filter(lambda v: v is not None), "capacity": bad_int(1),
                    "batch_size": bad_int(1, 20), "learning_rate": positive(), "env_id": st.sampled_from(["CartPol-v1"]), "seed": st.just(1.5)}
for arg, strat in OFFPOLICY_FIELDS.items():
    case(f"OffPolicyConfig({arg})", lambda v, arg=arg: offpolicy.OffPolicyConfig(**{arg: v}), arg, strat)
case("reinforce.train(callback)", lambda v: reinforce.train(total_episodes=1, episodes_per_batch=1, callback=v, progress=False), "callback",
     st.one_of(st.integers(), st.just("cb")))
case("reinforce.train(config)", lambda v: reinforce.train(v), "config", st.one_of(st.integers(), st.just("cfg"), st.just(offpolicy.OffPolicyConfig())))
case("reinforce.train(progress)", lambda v: reinforce.train(total_episodes=1, progress=v), "progress", st.one_of(st.just("x"), st.just(1)))
case("offpolicy.train(config)", lambda v: offpolicy.train(v), "config", st.one_of(st.integers(), st.just(reinforce.ReinforceConfig())))
case("effective_sample_size(weights)", offpolicy.effective_sample_size, "weights", st.one_of(bad_array((4,), allow_wrong_shape=False), st.just(np.ones((2, 2)))))
case("ReplayBuffer(capacity)", lambda v: offpolicy.ReplayBuffer(v), "capacity", bad_int(1))
case("ReplayBuffer.sample(n)", lambda v: offpolicy.ReplayBuffer(3).sample(v), "n", bad_int(1))
case("ReplayBuffer.add(episodes)", lambda v: offpolicy.ReplayBuffer(3).add(v), "episodes", st.one_of(st.just(3), st.just([1])))

# tabular MDPs
MDP = tabular_mdp.random_mdp(3, 2, rng=0)
THETA = np.zeros((3, 2))
case("TabularMDP(P)", lambda v: tabular_mdp.TabularMDP(v, MDP.R, MDP.p0, 0.9), "P", st.one_of(bad_array((3, 2, 3)), st.just(-MDP.P), st.just(2 * MDP.P)))
case("TabularMDP(p0)", lambda v: tabular_mdp.TabularMDP(MDP.P, MDP.R, v, 0.9), "p0", st.one_of(bad_array((3,)), st.just(np.ones(3))))
case("TabularMDP(gamma)", lambda v: tabular_mdp.TabularMDP(MDP.P, MDP.R, MDP.p0, v), "gamma", bad_real(0.0, 1.0))
case("random_mdp(n_states)", lambda v: tabular_mdp.random_mdp(v), "n_states", bad_int(1))
case("random_mdp(termination)", lambda v: tabular_mdp.random_mdp(termination=v), "termination", bad_real(0.0, 1.0, low_ok=False, none=False))
for fn in (tabular_mdp.state_values, tabular_mdp.action_values, tabular_mdp.discounted_visitation, tabular_mdp.objective,
           tabular_mdp.exact_gradient, tabular_mdp.policy_gradient_theorem, tabular_mdp.stationary_discounted_gradient):
    case(f"tabular_mdp.{fn.__name__}(theta)", lambda v, fn=fn: fn(MDP, v), "theta", bad_array((3, 2)))
    case(f"tabular_mdp.{fn.__name__}(mdp)", lambda v, fn=fn: fn(v, THETA), "mdp", WRONG_TYPE)
case("tabular_mdp.objective(kind)", lambda v: tabular_mdp.objective(MDP, THETA, v), "kind", bad_choice(tabular_mdp.OBJECTIVES))
case("tabular_mdp.sample_episodes(num_episodes)", lambda v: tabular_mdp.sample_episodes(MDP, THETA, v, 0), "num_episodes", bad_int(1))
case("tabular_mdp.sample_episodes(max_steps)", lambda v: tabular_mdp.sample_episodes(MDP, THETA, 2, 0, max_steps=v), "max_steps", bad_int(1))
case("tabular_mdp.sample_episodes(reward_noise)", lambda v: tabular_mdp.sample_episodes(MDP, THETA, 2, 0, reward_noise=v), "reward_noise", bad_real(0.0))
case("tabular_mdp.reinforce_estimate(estimator)", lambda v: tabular_mdp.reinforce_estimate(MDP, THETA, 2, 0, estimator=v), "estimator",
     bad_choice(("whole_return", "reward_to_go")))
case("tabular_mdp.reinforce_estimate(baseline)", lambda v: tabular_mdp.reinforce_estimate(MDP, THETA, 2, 0, baseline=v), "baseline", st.one_of(NONFINITE, st.just("x")))

# Tetris
case("tetris.n_features(kind)", lambda v: TF.n_features(v), "kind", bad_choice(TF.FEATURE_SETS))
case("tetris.n_features(width)", lambda v: TF.n_features("bertsekas", v), "width", bad_int(1, 60))
case("tetris.check_weights(weights)", lambda v: TF.check_weights(v, "dellacherie"), "weights", bad_array((6,)))
for fn in (TF.column_heights, TF.hole_mask, TF.holes, TF.row_transitions, TF.column_transitions, TF.well_sums,
           TF.hole_depth, TF.rows_with_holes, TF.bertsekas_features):
    case(f"tetris.{fn.__name__}(board)", fn, "board", st.one_of(st.just(np.zeros(10, bool)), st.just(np.full((4, 4), 0.5)), st.just(np.zeros((2, 2, 2))), st.just("##..")))
case("tetris.features(placement)", lambda v: TF.features(v), "placement", WRONG_TYPE)
case("PieceSource(seed)", lambda v: pieces.PieceSource(v), "seed", st.one_of(st.just(1.5), st.just("s"), st.just(-1)))
case("PieceSource(kind)", lambda v: pieces.PieceSource(0, v), "kind", bad_choice(("uniform", "bag")))
case("PieceSource.next_block(n)", lambda v: pieces.PieceSource(0).next_block(v), "n", bad_int(1, 10**7))
case("tetris.empty_board(width)", lambda v: reference.empty_board(v), "width", bad_int(4, 60))
case("tetris.empty_board(height)", lambda v: reference.empty_board(10, v), "height", bad_int(4, 10**6))
case("tetris.Board(width)", lambda v: fast.Board(v), "width", bad_int(4, 60))
case("tetris.Board.place(action)", lambda v: fast.Board().place(0, v), "action", st.one_of(st.just(-1), st.just(40), st.just(1.5), st.just("a")))
case("tetris.Board.place(piece)", lambda v: fast.Board().place(v, 0), "piece", st.one_of(st.just(-1), st.just(7), st.just(1.5)))
case("tetris.play_game(weights)", lambda v: fast.play_game(v), "weights", bad_array((22,)))
case("tetris.play_game(max_pieces)", lambda v: fast.play_game(np.zeros(22), max_pieces=v), "max_pieces", st.one_of(st.just(0), st.just(2.5), st.just("x")))
case("tetris.play_game(seed)", lambda v: fast.play_game(np.zeros(22), seed=v, max_pieces=1), "seed", st.one_of(st.just(1.5), st.just("s")))
case("tetris.play_games(seeds)", lambda v: fast.play_games(np.zeros(22), v, max_pieces=1), "seeds",
     st.one_of(st.just([1.5, 1.9]), st.just([0, 2.5]), st.just(3), st.just("12")))
case("tetris.reference.play_game(weights)", lambda v: reference.play_game(v), "weights", bad_array((22,)))
case("TetrisEnv(pieces)", lambda v: TetrisEnv(pieces=v), "pieces", bad_choice(("uniform", "bag")))
case("TetrisEnv(invalid_action)", lambda v: TetrisEnv(invalid_action=v), "invalid_action", bad_choice(("raise", "end")))
case("TetrisEnv(width)", lambda v: TetrisEnv(width=v), "width", bad_int(4, 60))

BOARD = reference.empty_board()
case("tetris.reference.drop(board)", lambda v: reference.drop(v, 0, 0, 0), "board", st.one_of(st.just(np.zeros(10, bool)), st.just(np.full((20, 10), 0.5)), st.just("x")))
case("tetris.reference.drop(column)", lambda v: reference.drop(BOARD, 0, 0, v), "column", st.one_of(st.just(1.5), st.just("a"), st.none()))
case("tetris.reference.drop(rotation)", lambda v: reference.drop(BOARD, 0, v, 0), "rotation", st.one_of(st.just(1.5), st.just(5), st.just(-1)))
case("tetris.reference.placements(board)", lambda v: reference.placements(v, 0), "board", st.one_of(st.just(np.zeros(10, bool)), st.just(3)))
case("tetris.reference.placements(piece)", lambda v: reference.placements(BOARD, v), "piece", st.one_of(st.just(1.5), st.just(7), st.just(-1), st.just("I")))
case("tetris.reference.best_placement(weights)", lambda v: reference.best_placement(BOARD, 0, v), "weights", bad_array((22,)))
case("tetris.reference.board_from_text(text)", reference.board_from_text, "text", st.one_of(st.integers(), st.just("#x"), st.just(""), st.none()))
case("tetris.reference.board_to_text(board)", reference.board_to_text, "board", st.one_of(st.just(np.zeros(3)), st.just("##")))
case("tetris.Board.from_array(board)", fast.Board.from_array, "board", st.one_of(st.just(np.zeros(10)), st.just(np.full((20, 10), 0.5)), st.just("x")))
case("distributed.partition(rank)", lambda v: dist_alg.partition(8, 2, v), "rank", st.one_of(st.just(1.5), st.just(2), st.just(-1), st.just("r")))
case("distributed.signs(antithetic)", dist_alg.signs, "antithetic", WRONG_TYPE)
case("distributed.parse_kill_at(spec)", lambda v: dist_alg.parse_kill_at(v), "kill_at", st.sampled_from(["x", "1", "a:b", "1:2:3"]))

# planning
case("pendulum_reward(obs)", lambda v: planning.pendulum_reward(v, 0.0), "obs", st.one_of(bad_array((3,)), st.just([1.0, 0.0])))
case("pendulum_reward(u)", lambda v: planning.pendulum_reward(np.ones((4, 3)), v), "u", st.one_of(NONFINITE, st.just(np.ones(3)), st.just("a")))
case("pendulum_dynamics(obs)", lambda v: planning.pendulum_dynamics(v, 0.0), "obs", st.one_of(bad_array((3,)), st.just([1.0, 0.0])))
PLANNER = {"model": WRONG_TYPE, "reward": WRONG_TYPE}
for arg, strat in {"horizon": bad_int(1, 10**6), "popsize": bad_int(2), "elite_frac": bad_real(0.0, 1.0, low_ok=False), "iterations": bad_int(1, 10**6),
                   "sigma0": positive(), "gamma": bad_real(0.0, 1.0, low_ok=False), "rng": st.just(1.5), "low": st.just(math.nan)}.items():
    case(f"CEMPlanner({arg})", lambda v, arg=arg: planning.CEMPlanner(planning.pendulum_dynamics, planning.pendulum_reward, **{arg: v}), arg, strat)
case("CEMPlanner(model)", lambda v: planning.CEMPlanner(v, planning.pendulum_reward), "model", WRONG_TYPE)
case("CEMPlanner.plan(obs)", lambda v: planning.CEMPlanner(planning.pendulum_dynamics, planning.pendulum_reward, horizon=2, popsize=10, iterations=1).plan(v), "obs",
     st.one_of(bad_array((3,)), st.just([1.0, 0.0])))
case("CEMPlanner.predicted_return(plans)", lambda v: planning.CEMPlanner(planning.pendulum_dynamics, planning.pendulum_reward).predicted_return(np.ones(3), v), "plans",
     bad_array((4, 2)))
case("FeatureModel.fit(obs)", lambda v: planning.FeatureModel().fit(v, np.zeros(4), np.ones((4, 3))), "obs", bad_array((4, 3)))
case("FeatureModel.fit(u)", lambda v: planning.FeatureModel().fit(np.ones((4, 3)), v, np.ones((4, 3))), "u", bad_array((4,)))
case("FeatureModel.fit(ridge)", lambda v: planning.FeatureModel().fit(np.ones((4, 3)), np.zeros(4), np.ones((4, 3)), v), "ridge", bad_real(0.0))
case("MLPModel(hidden)", lambda v: planning.MLPModel(v), "hidden", bad_int(1, 10**4))
case("collect_random_transitions(env_id)", lambda v: planning.collect_random_transitions(v), "env_id",
     st.one_of(st.sampled_from(["CartPole-v1", "Pendulm-v1"]), st.integers()))
case("collect_random_transitions(episodes)", lambda v: planning.collect_random_transitions(episodes=v), "episodes", bad_int(1, 10**5))

# policy search
case("MLPPolicy(obs_dim)", lambda v: MP.MLPPolicy(v, 2), "obs_dim", bad_int(1))
case("MLPPolicy(hidden)", lambda v: MP.MLPPolicy(4, 2, v), "hidden", st.one_of(st.just(8), st.just((0,)), st.just((2.5,)), st.just((10**6, 10**6))))
case("MLPPolicy(activation)", lambda v: MP.MLPPolicy(4, 2, activation=v), "activation", bad_choice(tuple(MP.ACTIVATIONS)))
case("MLPPolicy(squash)", lambda v: MP.MLPPolicy(4, 2, squash=v), "squash", bad_choice(MP.SQUASHES))
case("MLPPolicy(low)", lambda v: MP.MLPPolicy(4, 2, low=v, high=1.0), "low", st.one_of(st.just(np.zeros(3)), st.just("a"), st.just(math.nan)))
case("policy_search.make_policy(env)", lambda v: MP.make_policy(v), "env", st.one_of(st.sampled_from(["CartPol-v1"]), st.integers(), st.none()))
case("set_flat_params(flat)", lambda v: MP.set_flat_params(MP.MLPPolicy(4, 2), v), "flat", bad_array((10,)))
case("batched_policy(params)", lambda v: MP.batched_policy(MP.MLPPolicy(4, 2), v), "params", bad_array((2, 10)))
case("RunningMeanStd(shape)", lambda v: EV.RunningMeanStd(v), "shape", st.one_of(st.just(0), st.just(2.5), st.just("a"), st.just((10**6, 10**6))))
case("RunningMeanStd(eps)", lambda v: EV.RunningMeanStd(3, eps=v), "eps", positive())
case("RunningMeanStd.update(batch)", lambda v: EV.RunningMeanStd(3).update(v), "batch", bad_array((4, 3)))
case("RunningMeanStd.normalize(x)", lambda v: EV.RunningMeanStd(3).normalize(v), "x", bad_array((3,)))
case("RunningMeanStd.load_state_dict(state)", lambda v: EV.RunningMeanStd(3).load_state_dict(v), "state",
     st.one_of(WRONG_TYPE, st.just({}), st.just({"count": -1, "mean": np.zeros(3), "m2": np.zeros(3)})))
case("policy_search.make_vector_env(env_id)", lambda v: EV.make_vector_env(v, 1), "env_id", st.one_of(st.sampled_from(["CartPol-v1"]), st.integers()))
case("policy_search.make_vector_env(num_envs)", lambda v: EV.make_vector_env("CartPole-v1", v), "num_envs", bad_int(1, 10**5))
POLICY = MP.MLPPolicy(4, 2, discrete=True)
case("rollout(params)", lambda v: EV.rollout(POLICY, v, "CartPole-v1"), "params", bad_array((2, 10)))
case("rollout(episodes)", lambda v: EV.rollout(POLICY, np.zeros(10), "CartPole-v1", episodes=v), "episodes", bad_int(1))
case("rollout(policy)", lambda v: EV.rollout(v, np.zeros(10), "CartPole-v1"), "policy", WRONG_TYPE)
case("rollout(env)", lambda v: EV.rollout(POLICY, np.zeros(10), v), "env", st.one_of(st.sampled_from(["CartPol-v1"]), st.integers()))
case("PolicyFitness(env_id)", lambda v: EV.PolicyFitness(v, POLICY), "env_id", st.one_of(st.sampled_from(["CartPol-v1"]), st.integers()))
case("PolicyFitness(episodes)", lambda v: EV.PolicyFitness("CartPole-v1", POLICY, episodes=v), "episodes", bad_int(1))
case("PolicyFitness(max_steps)", lambda v: EV.PolicyFitness("CartPole-v1", POLICY, max_steps=v), "max_steps", bad_int(1, none=False))
case("PolicyFitness.load_state_dict(state)", lambda v: EV.PolicyFitness("CartPole-v1", POLICY).load_state_dict(v), "state",
     st.one_of(WRONG_TYPE, st.just({}), st.just({"rng": {}, "normalizer": None, "counters": {"evaluations": -1}})))
case("search_policy(solver)", lambda v: PS.search_policy(EV.PolicyFitness("CartPole-v1", POLICY), v, max_generations=1), "solver", WRONG_TYPE)
case("search_policy(max_generations)", lambda v: PS.search_policy(EV.PolicyFitness("CartPole-v1", POLICY), cem.CEM(10, 10), max_generations=v),
     "max_generations", bad_int(1))

# viz
case("viz.trace_search(generations)", lambda v: viz.trace_search(f_sphere, cem.CEM(2, 10), v), "generations", bad_int(1))
case("viz.trace_search(f)", lambda v: viz.trace_search(v, cem.CEM(2, 10), 1), "f", WRONG_TYPE)
case("viz.trace_search(solver)", lambda v: viz.trace_search(f_sphere, v, 1), "solver", WRONG_TYPE)
case("viz.ellipse_points(mean)", lambda v: viz.ellipse_points(v, np.eye(2)), "mean", bad_array((2,)))
case("viz.ellipse_points(n_std)", lambda v: viz.ellipse_points(np.zeros(2), np.eye(2), v), "n_std", positive())
case("viz.ellipse_points(n)", lambda v: viz.ellipse_points(np.zeros(2), np.eye(2), 1.0, v), "n", bad_int(2, 10**6))
case("viz.plot_landscape(bounds)", lambda v: viz.plot_landscape(f_sphere, v), "bounds", st.one_of(st.just((1, -1)), st.just((0, math.nan)), st.just("ab"), st.just((1, 2, 3))))
case("viz.plot_landscape(resolution)", lambda v: viz.plot_landscape(f_sphere, (-1, 1), resolution=v), "resolution", bad_int(2, 4000))
case("viz.plot_landscape(f)", lambda v: viz.plot_landscape(v, (-1, 1)), "f", WRONG_TYPE)

# distributed ES
ES_FIELDS = {"task": st.sampled_from(["CartPol-v1", ""]), "directions": bad_int(1), "generations": bad_int(0), "noise_size": bad_int(1, 2**30),
             "sigma": positive(), "lr": positive(), "weight_decay": bad_real(0.0), "hidden": st.one_of(st.just(8), st.just((0,)), st.just((2.5,))),
             "shaping": bad_choice(dist_alg.SHAPINGS), "episodes": bad_int(1), "timeout_s": positive()}
for arg, strat in ES_FIELDS.items():
    case(f"ESConfig({arg})", lambda v, arg=arg: dist_alg.ESConfig(**{arg: v}), arg, strat)
case("distributed.shaped_weights(returns)", lambda v: dist_alg.shaped_weights(v), "returns", st.one_of(bad_array((4, 2)), st.just(np.ones((4, 3)))))
case("distributed.check_world_size(world_size)", lambda v: dist_alg.check_world_size(v, 4), "world_size", bad_int(1).filter(lambda v: not (isinstance(v, int) and v > 10**8)))
case("noise_table.build_noise(size)", lambda v: noise_table.build_noise(0, v), "size", bad_int(1, 2**30))
case("noise_table.build_noise(seed)", lambda v: noise_table.build_noise(v, 10), "seed", st.one_of(st.just(-1), st.just(1.5), st.just("s")))
case("ESState.step(gradient)", lambda v: dist_alg.ESState(np.zeros(3, np.float32), 0.01, 0.0).step(v), "gradient", bad_array((3,)))


# -- the test ------------------------------------------------------------------------------------
TRIED: dict[str, int] = {}


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
@SETTINGS
@given(data=st.data())
def test_bad_input_raises_naming_the_argument(c: Case, data):
    value = data.draw(c.values, label=c.name)
    TRIED[c.id] = TRIED.get(c.id, 0) + 1
    with pytest.raises(c.errors) as info:
        c.call(value)
    message = str(info.value)
    assert re.search(r"(?<![A-Za-z0-9_])" + re.escape(c.name) + r"(?![A-Za-z0-9_])", message), (
        f"{c.id}: the message does not name {c.name!r}: {message!r} (value {value!r})"
    )


def test_every_case_was_tried():
    """Bookkeeping (runs last in this module): write the counts if asked to."""
    path = os.environ.get("PGNOTES_BAD_INPUT_COUNT")
    callables = {re.sub(r"\(.*", "", c.id) for c in CASES}
    if path:
        with open(path, "w") as handle:
            json.dump({"cases": len(CASES), "callables": len(callables), "bad_inputs": sum(TRIED.values())}, handle)
    assert len(callables) >= 150
