"""The learner API check(): feedback text, scores, and that it never raises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pgnotes.grading import check
from pgnotes.grading.cases import CaseFormatError, load_registry, parse_cases_text
from pgnotes.grading.check import run_check
from pgnotes.grading.compare import UnsupportedValue, to_plain, validate_plain

FIXTURES = Path(__file__).parent / "fixtures" / "grading"


@pytest.fixture(scope="module")
def reg():
    return load_registry([FIXTURES / "cases"])


def add(a, b):
    return a + b


def test_full_marks_and_score_line(reg):
    result = run_check("selftest.add", add, reg)
    assert (result.earned, result.total) == (2, 2)
    text = result.text()
    assert text.splitlines()[-1] == "selftest.add: 2/2"
    assert text.count("PASS") == 3 and "FAIL" not in text


def test_partial_credit_by_case_points(reg):
    def scale(x, factor):
        x = np.asarray(x)
        return x * factor if x.ndim == 1 else (x * factor).ravel()   # wrong shape for the matrix

    result = run_check("selftest.scale", scale, reg)
    assert result.earned == pytest.approx(1.0)  # 3 points * 1/3 of the case points
    text = result.text()
    assert "wrong shape: expected shape (2, 2), got shape (4,)" in text
    assert "hint:" not in text                       # the explicit hint only on request
    assert 'more: check("selftest.scale", scale, hint=2) adds an explicit hint' in text
    assert "hint:     keep the shape" in result.text(2)
    assert text.splitlines()[-1] == "selftest.scale: 1/3"


def test_not_yet_solved(reg, capsys):
    def add(a, b):
        raise NotImplementedError

    check_result = run_check("selftest.add", add, reg)
    assert check_result.status == "not yet solved" and check_result.earned == 0
    assert check_result.text().splitlines() == [
        "selftest.add: not yet solved (the function still raises NotImplementedError)", "selftest.add: 0/2"]


def test_statistical_and_raises(reg):
    good = run_check("selftest.sample_mean", lambda mu, n, rng: rng.normal(mu, 1, size=n).mean(), reg)
    biased = run_check("selftest.sample_mean", lambda mu, n, rng: rng.normal(mu, 1, size=n).mean() + 1, reg)
    assert good.earned == 1 and biased.earned == 0
    assert "standard errors" in biased.text()

    def safe_log(x):
        if x <= 0:
            raise ValueError("x must be > 0")
        return float(np.log(x))

    assert run_check("selftest.safe_log", safe_log, reg).earned == 2  # no "points": the sum of case points
    assert run_check("selftest.safe_log", lambda x: 0.0, reg).earned == 1


def test_bad_input_gives_a_line_not_an_exception(reg, capsys):
    assert "unknown exercise id 'selftest.nope'" in run_check("selftest.nope", add, reg).text()
    assert "expected the function add" in run_check("selftest.add", 42, reg).text()
    wrong_type = run_check("selftest.add", lambda a, b: "3", reg)
    assert wrong_type.earned == 0 and "expected" in wrong_type.text()
    crash = run_check("selftest.add", lambda a, b: 1 / 0, reg)
    assert "raised ZeroDivisionError: division by zero" in crash.text()
    exits = run_check("selftest.add", lambda a, b: exit(3), reg)
    assert exits.earned == 0 and "raised SystemExit" in exits.text()
    check("ch99.nothing", add)  # the public entry point prints and returns None
    check(None, None)
    assert "unknown exercise id" in capsys.readouterr().out


def test_feedback_is_deterministic(reg):
    def scale(x, factor):
        return np.asarray(x) * factor + 1e-3

    first, second = run_check("selftest.scale", scale, reg).text(), run_check("selftest.scale", scale, reg).text()
    assert first == second
    assert "array 2x2 [[-1, -2], [-3, -4]]" in first


def test_rigged_objects_earn_nothing(reg):
    class Liar:
        def __eq__(self, other):
            return True

        def __float__(self):
            return 3.0

        def __array__(self, *args, **kwargs):
            return np.array(3.0)

        def __repr__(self):
            return "3"

    class LyingFloat(float):
        def __eq__(self, other):
            return True

    result = run_check("selftest.add", lambda a, b: Liar(), reg)
    assert result.earned == 0 and "unsupported return type Liar" in result.text()
    assert run_check("selftest.add", lambda a, b: LyingFloat(-1), reg).earned == 0

    class LyingArray(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), bool)

    rigged = np.zeros(3).view(LyingArray)
    assert run_check("selftest.scale", lambda x, f: rigged, reg).earned == 0


def test_plain_values_are_strict():
    assert to_plain((np.float64(1.5), np.int32(2), [True, None], {"a": np.arange(2)})) == [
        1.5, 2, [True, None], {"a": {"__ndarray__": [0, 1], "shape": [2], "dtype": "int64"}}]
    for bad in (object(), {1: 2}, np.array(["a"]), 1j):
        with pytest.raises(UnsupportedValue):
            to_plain(bad)
    for bad in ({"__ndarray__": [1, "x"]}, {"__ndarray__": [[1], [1, 2]]}, {"a": {1, 2}},
                {"__ndarray__": [1, 2], "shape": [3]}):
        with pytest.raises(UnsupportedValue):
            validate_plain(bad)


def test_case_format_errors_name_the_field():
    with pytest.raises(CaseFormatError, match="x.json: not valid JSON"):
        parse_cases_text("{", "x.json")
    with pytest.raises(CaseFormatError, match=r"ex.cases\[0\].compare"):
        parse_cases_text('{"exercises": [{"id": "ex", "cases": [{"expected": 1, "compare": "fuzzy"}]}]}', "x.json")
    with pytest.raises(CaseFormatError, match="already defined"):
        reg = load_registry([FIXTURES / "cases"])
        reg.add_dir(FIXTURES / "cases")


def test_packaged_cases_load_and_ids_are_unique():
    reg = load_registry()
    assert reg.exercises, "no packaged cases found in pgnotes/grading/cases"
    for exercise_id, exercise in reg.exercises.items():
        assert exercise_id.count(".") == 1 and exercise.cases, exercise_id


def test_a_stub_with_raises_cases_is_not_yet_solved(reg):
    def safe_log(x):
        raise NotImplementedError   # a RuntimeError: must not pass a case expecting an exception

    result = run_check("selftest.safe_log", safe_log, reg)
    assert result.status == "not yet solved" and result.earned == 0


def test_a_sleeping_or_looping_function_never_hangs_check(reg, capsys):
    import time

    def sleeps_and_swallows(n):
        while True:
            try:
                time.sleep(60)
            except BaseException:
                pass

    def spins(x, factor):
        while True:
            pass

    start = time.perf_counter()
    slow = run_check("selftest.pair", sleeps_and_swallows, reg, timeout=0.5)
    looping = run_check("selftest.scale", spins, reg, timeout=0.5)
    assert time.perf_counter() - start < 5
    assert slow.earned == 0 and "timed out after 0.5 s" in slow.text()
    assert looping.earned == 0 and looping.status == "incomplete"
    # the public entry point too, with its own default limit
    def reward_to_go(rewards, gamma):
        return sleeps_and_swallows(None)

    start = time.perf_counter()
    check("ch02.reward_to_go", reward_to_go, timeout=0.5)
    assert time.perf_counter() - start < 5                  # two time limits, then the rest is not run
    out = capsys.readouterr().out
    assert "ch02.reward_to_go: 0/3" in out and "not run: 2 earlier cases timed out" in out


def test_after_two_timeouts_the_remaining_cases_are_not_run(reg):
    def add(a, b):
        while True:
            pass

    result = run_check("selftest.add", add, reg, timeout=0.2)
    reasons = [c.reason for c in result.cases]
    assert reasons[0].startswith("timed out") and reasons[1].startswith("timed out")
    assert reasons[2] == "not run: 2 earlier cases timed out"


def test_hints_come_in_two_steps_and_a_case_can_be_shown_in_full(capsys):
    def landing_row(heights, bottom, column):
        return int(heights[column] - bottom[0])      # the left column only

    check("ch05.landing_row", landing_row)
    first = capsys.readouterr().out
    assert "  idea: " in first and 'read: Appendix "Under the hood: the Tetris simulator", "Bitboards"' in first
    assert "max over i" not in first                 # the formula only on request
    assert 'check("ch05.landing_row", landing_row, hint=2)' in first
    check("ch05.landing_row", landing_row, hint=2, show=7)
    second = capsys.readouterr().out
    assert "hint:     the piece stops at the first row where one of its columns touches" in second
    assert "case 7 (the piece's right column decides" in second and "heights = np.array([" in second
    assert "reproduce: from pgnotes.grading import case_inputs; args, kwargs = case_inputs('ch05.landing_row', 7)" in second
    from pgnotes.grading import case_inputs

    args, kwargs = case_inputs("ch05.landing_row", 7)
    assert landing_row(*args, **kwargs) != 0 or True   # the reproducer runs
    with pytest.raises(ValueError, match="number"):
        case_inputs("ch05.landing_row", 99)


def test_array_mismatch_states_tolerance_and_dtype(reg):
    def scale(x, factor):
        return (np.asarray(x) * factor).astype(np.float32) + np.float32(1e-6)

    text = run_check("selftest.scale", scale, reg).text()
    assert "allowed: 0 + 1e-09 * |expected|" in text and "got dtype float32, expected float64" in text


def test_dtype_is_checked_where_the_exercise_asks_for_it():
    def sort_gathered(rows, directions):
        rows = rows[rows[:, 0] >= 0]
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        if not np.array_equal(rows[:, 0], np.arange(directions)):
            raise ValueError("directions")
        return rows[:, 1], rows[:, 2]                 # float indices

    text = run_check("ch06.sort_gathered", sort_gathered).text()
    assert "wrong dtype at [0]: expected integers (int64), got float64" in text


def test_changing_an_input_in_place_loses_the_case(reg):
    def scale(x, factor):
        x *= factor
        return x

    result = run_check("selftest.scale", scale, reg)
    assert result.earned == 0
    assert "changed its input argument 1 (x) in place" in result.text()
