"""Chapter 7 exercise cases: plausible wrong answers lose marks, the solution keeps full marks.

Each mutant is the whole function as a learner with one misunderstanding would write it
(no min in the clipped surrogate, gamma instead of gamma*lambda, steepest descent instead of
conjugate directions, a step scaled to delta instead of sqrt(2 delta / x^T F x), ...).
"""

from __future__ import annotations

import builtins
from pathlib import Path

import nbformat
import numpy as np
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from pgnotes.grading.batch import exercise_ids_in
from pgnotes.grading.check import registry, run_check

ROOT = Path(__file__).resolve().parents[1]
MUTANTS: dict[str, dict[str, object]] = {}


def mutant(exercise_id: str, mistake: str):
    def register(function):
        MUTANTS.setdefault(exercise_id, {})[mistake] = function
        return function
    return register


# --- clipped surrogate -------------------------------------------------------------------------

@mutant("ch07.clipped_surrogate", "clipped term only, no min")
def _(ratio, advantages, clip):
    if clip <= 0:
        raise ValueError("clip")
    return float(np.mean(np.clip(ratio, 1 - clip, 1 + clip) * advantages))


@mutant("ch07.clipped_surrogate", "max instead of min")
def _(ratio, advantages, clip):
    if clip <= 0:
        raise ValueError("clip")
    return float(np.mean(np.maximum(ratio * advantages, np.clip(ratio, 1 - clip, 1 + clip) * advantages)))


@mutant("ch07.clipped_surrogate", "min of the ratios, not of the products")
def _(ratio, advantages, clip):
    if clip <= 0:
        raise ValueError("clip")
    return float(np.mean(np.minimum(ratio, np.clip(ratio, 1 - clip, 1 + clip)) * advantages))


@mutant("ch07.clipped_surrogate", "clip only from above")
def _(ratio, advantages, clip):
    if clip <= 0:
        raise ValueError("clip")
    return float(np.mean(np.minimum(ratio * advantages, np.minimum(ratio, 1 + clip) * advantages)))


@mutant("ch07.clipped_surrogate", "no check of clip")
def _(ratio, advantages, clip):
    return float(np.mean(np.minimum(ratio * advantages, np.clip(ratio, 1 - clip, 1 + clip) * advantages)))


@mutant("ch07.clipped_surrogate", "sum instead of mean")
def _(ratio, advantages, clip):
    if clip <= 0:
        raise ValueError("clip")
    return float(np.sum(np.minimum(ratio * advantages, np.clip(ratio, 1 - clip, 1 + clip) * advantages)))


# --- GAE ---------------------------------------------------------------------------------------

def _backward(deltas, decay):
    out, running = np.zeros_like(deltas), 0.0
    for t in reversed(range(len(deltas))):
        running = deltas[t] + decay * running
        out[t] = running
    return out


def _deltas(rewards, values, last_value, gamma):
    rewards, values = np.asarray(rewards, float), np.asarray(values, float)
    return rewards + gamma * np.append(values[1:], last_value) - values


@mutant("ch07.gae", "ignores last_value (no bootstrap)")
def _(rewards, values, last_value, gamma, lam):
    return _backward(_deltas(rewards, values, 0.0, gamma), gamma * lam)


@mutant("ch07.gae", "decay gamma instead of gamma * lambda")
def _(rewards, values, last_value, gamma, lam):
    return _backward(_deltas(rewards, values, last_value, gamma), gamma)


@mutant("ch07.gae", "decay lambda instead of gamma * lambda")
def _(rewards, values, last_value, gamma, lam):
    return _backward(_deltas(rewards, values, last_value, gamma), lam)


@mutant("ch07.gae", "returns the lambda-return targets (adds V back)")
def _(rewards, values, last_value, gamma, lam):
    return _backward(_deltas(rewards, values, last_value, gamma), gamma * lam) + np.asarray(values, float)


@mutant("ch07.gae", "accumulates forwards in time")
def _(rewards, values, last_value, gamma, lam):
    deltas = _deltas(rewards, values, last_value, gamma)
    out, running = np.zeros_like(deltas), 0.0
    for t in range(len(deltas)):
        running = deltas[t] + gamma * lam * running
        out[t] = running
    return out


@mutant("ch07.gae", "TD error without the discount on V(s_t+1)")
def _(rewards, values, last_value, gamma, lam):
    return _backward(_deltas(rewards, values, last_value, 1.0), gamma * lam)


# --- conjugate gradient ------------------------------------------------------------------------

@mutant("ch07.conjugate_gradient", "steepest descent (p = r every iteration)")
def _(A, b, iterations):
    A, b = np.asarray(A, float), np.asarray(b, float)
    x, r = np.zeros_like(b), b.copy()
    for _ in range(iterations):
        if r @ r < 1e-20:
            break
        alpha = (r @ r) / (r @ A @ r)
        x = x + alpha * r
        r = r - alpha * (A @ r)
    return x


@mutant("ch07.conjugate_gradient", "beta inverted (old r.r over new r.r)")
def _(A, b, iterations):
    A, b = np.asarray(A, float), np.asarray(b, float)
    x, r = np.zeros_like(b), b.copy()
    p, rr = r.copy(), b @ b
    for _ in range(iterations):
        if rr < 1e-20:
            break
        Ap = A @ p
        alpha = rr / (p @ Ap)
        x, r = x + alpha * p, r - alpha * Ap
        rr_new = r @ r
        p = r + (rr / rr_new) * p
        rr = rr_new
    return x


@mutant("ch07.conjugate_gradient", "dense solve, ignoring iterations")
def _(A, b, iterations):
    return np.linalg.solve(np.asarray(A, float), np.asarray(b, float))


@mutant("ch07.conjugate_gradient", "one iteration too many")
def _(A, b, iterations):
    A, b = np.asarray(A, float), np.asarray(b, float)
    x, r = np.zeros_like(b), b.copy()
    p, rr = r.copy(), b @ b
    for _ in range(iterations + 1):
        if rr < 1e-20:
            break
        Ap = A @ p
        alpha = rr / (p @ Ap)
        x, r = x + alpha * p, r - alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


@mutant("ch07.conjugate_gradient", "no early stop: divides by zero when b = 0")
def _(A, b, iterations):
    A, b = np.asarray(A, float), np.asarray(b, float)
    x, r = np.zeros_like(b), b.copy()
    p, rr = r.copy(), b @ b
    for _ in range(iterations):
        Ap = A @ p
        alpha = rr / (p @ Ap)
        x, r = x + alpha * p, r - alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


# --- TRPO step ---------------------------------------------------------------------------------

@mutant("ch07.trpo_step", "forgets the factor 2")
def _(F, g, max_kl):
    if max_kl <= 0:
        raise ValueError("max_kl")
    x = np.linalg.solve(F, g)
    return np.sqrt(max_kl / (x @ F @ x)) * x


@mutant("ch07.trpo_step", "vanilla gradient direction scaled to the KL radius")
def _(F, g, max_kl):
    if max_kl <= 0:
        raise ValueError("max_kl")
    g = np.asarray(g, float)
    return np.sqrt(2 * max_kl / (g @ F @ g)) * g


@mutant("ch07.trpo_step", "no square root")
def _(F, g, max_kl):
    if max_kl <= 0:
        raise ValueError("max_kl")
    x = np.linalg.solve(F, g)
    return 2 * max_kl / (x @ F @ x) * x


@mutant("ch07.trpo_step", "unit-norm natural direction times sqrt(2 delta)")
def _(F, g, max_kl):
    if max_kl <= 0:
        raise ValueError("max_kl")
    x = np.linalg.solve(F, g)
    return np.sqrt(2 * max_kl) * x / np.linalg.norm(x)


@mutant("ch07.trpo_step", "no check of max_kl")
def _(F, g, max_kl):
    x = np.linalg.solve(F, g)
    return np.sqrt(2 * abs(max_kl) / (x @ F @ x)) * x


class _Shell:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def solution_functions() -> dict:
    path = ROOT / "solutions" / "ch07_trpo_ppo.ipynb"
    notebook = nbformat.read(path, as_version=4)
    transform = TransformerManager().transform_cell
    namespace = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": lambda: _Shell()}
    import pgnotes.grading

    saved = pgnotes.grading.check
    pgnotes.grading.check = lambda *args, **kwargs: None
    try:
        for cell in notebook.cells:
            if cell.cell_type == "code":
                exec(compile(transform(cell.source), str(path), "exec"), namespace)
    finally:
        pgnotes.grading.check = saved
    return namespace


EXERCISES = sorted(i for i in registry().exercises if i.startswith("ch07."))


def test_every_exercise_has_at_least_three_mutants():
    assert len(EXERCISES) == 4
    for exercise_id in EXERCISES:
        assert len(MUTANTS.get(exercise_id, {})) >= 3, exercise_id
    assert set(MUTANTS) == set(EXERCISES)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_the_solution_keeps_full_marks(exercise_id):
    function = solution_functions()[registry().get(exercise_id).function]
    result = run_check(exercise_id, function)
    assert result.earned == pytest.approx(result.total), result.text(2)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("exercise_id,mistake", [(e, m) for e in sorted(MUTANTS) for m in MUTANTS[e]])
def test_a_plausible_mistake_loses_marks(exercise_id, mistake):
    result = run_check(exercise_id, MUTANTS[exercise_id][mistake])
    assert result.earned < result.total, f"{exercise_id}: '{mistake}' earns full marks"


def test_untouched_exercise_is_not_yet_solved():
    path = ROOT / "exercises" / "ch07_trpo_ppo.ipynb"
    sources = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert set(exercise_ids_in(sources)) == set(EXERCISES)
    namespace: dict = {"np": np}
    for source in sources:
        if source.startswith("def "):
            exec(source, namespace)
    for exercise_id in EXERCISES:
        result = run_check(exercise_id, namespace[registry().get(exercise_id).function])
        assert result.status == "not yet solved" and result.earned == 0, result.text()
