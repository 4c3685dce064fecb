"""The learner API: ``check(exercise_id, obj)`` gives instant feedback in a notebook.

It runs the exercise's public cases on ``obj`` in this process, prints one block per case
(PASS/FAIL, the call with its inputs summarized, expected vs got, why it failed) and a final
score line ``exercise_id: k/n`` in points. It never raises (so notebooks still execute) and
prints the same text every time (cases are fixed, random ones carry seeds).

Help comes in steps, so the answer is never given away by default: a failure prints the idea
the failing case tests and the chapter section that explains it (``hint=1``, the default);
``check(..., hint=2)`` adds an explicit hint per failing case; ``check(..., show=N)`` prints
case ``N`` in full (every input, the expected value, and a one-line reproducer).

Each case runs with a time limit (``timeout`` seconds, default 10, or the environment
variable ``PGNOTES_CHECK_TIMEOUT``): the learner's function runs in a helper thread, and a
case that has not returned by then is reported as a failed case ("timed out"). After two
timeouts in one call the remaining cases are not run, so a looping function costs at most
two time limits.

A function that still raises ``NotImplementedError`` is "not yet solved" and scores 0.
The in-notebook score is feedback, not a grade: a learner controls this process. Grades come
from ``pgnotes grade``, which runs submissions in a separate, limited process.

One module of about 400 lines because the case runner, its time limit and the printed
feedback are one loop over an exercise's cases; ``pgnotes grade`` reuses its ``judge`` and
results, so the in-notebook and batch verdicts cannot drift apart.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass, field

from .cases import Case, Exercise, Registry, decode, load_registry
from .compare import (UnsupportedValue, compare, error_outcome, expected_summary, full_repr, outcome_summary,
                      summarize_call, to_plain)

_REGISTRY: Registry | None = None


def registry() -> Registry:
    """The packaged public cases, loaded once."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    return _REGISTRY


def call_case(function, case: Case) -> dict:
    """Call ``function`` on the case's freshly decoded inputs; return a plain outcome.

    ``{"value": PLAIN}`` or ``{"error": {"type", "mro", "message"}}``. Used in-process by
    ``check`` and inside the sandboxed child by ``pgnotes grade``, so both judge alike.
    """
    try:
        args, kwargs = decode(case.args), decode(case.kwargs)
        result = function(*args, **kwargs)
        outcome = {"value": to_plain(result)}
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: a learner's function must not end the check
        return error_outcome(error)
    changed = changed_inputs(function, case, args, kwargs)
    if changed:
        outcome["changed"] = changed
    return outcome


def _same(a, b, depth: int = 0) -> bool:
    """Whether a decoded input still equals its fresh copy (arrays: shape, dtype and values)."""
    import numpy as np

    if depth > 40:
        return True
    if type(b) is np.ndarray:
        return (type(a) is np.ndarray and a.shape == b.shape and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if type(b) in (list, tuple):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b))
    if type(b) is dict:
        return type(a) is dict and set(a) == set(b) and all(_same(a[k], b[k], depth + 1) for k in b)
    return True   # numbers, strings, generators: nothing a caller would see changed


def changed_inputs(function, case: Case, args: list, kwargs: dict) -> list[str]:
    """Names of the inputs the function changed in place (compared with a fresh decoding)."""
    fresh_args, fresh_kwargs = decode(case.args), decode(case.kwargs)
    names = []
    try:
        import inspect

        parameters = [p.name for p in inspect.signature(function).parameters.values()]
    except (TypeError, ValueError):
        parameters = []
    for i, (a, b) in enumerate(zip(args, fresh_args)):
        if not _same(a, b):
            names.append(f"argument {i + 1}" + (f" ({parameters[i]})" if i < len(parameters) else ""))
    for key in fresh_kwargs:
        if not _same(kwargs.get(key), fresh_kwargs[key]):
            names.append(f"argument {key}")
    return names[:10]


class CaseTimeout(BaseException):
    """Raised inside a learner's function that ran past its time limit (in check())."""


def _raise_in_thread(thread: threading.Thread, exception: type) -> None:
    """Ask ``thread`` to raise ``exception`` at its next bytecode (stops a pure-Python loop)."""
    try:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exception))
    except Exception:  # pragma: no cover - not CPython
        pass


def call_with_deadline(function, case: Case, seconds: float | None):
    """``call_case`` with a time limit; returns the outcome, or a string when it timed out.

    The call runs in a daemon thread; this thread waits at most ``seconds``. A call that has
    not returned is asked to stop (an exception raised in its thread) and then abandoned: a
    function that sleeps or swallows every exception cannot hang the caller.
    """
    if not seconds or seconds <= 0:
        return call_case(function, case)
    box: dict = {}

    def target():
        try:
            box["outcome"] = call_case(function, case)
        except BaseException as error:  # KeyboardInterrupt inside the helper thread
            box["outcome"] = error_outcome(error)

    thread = threading.Thread(target=target, name="pgnotes-check-case", daemon=True)
    thread.start()
    try:
        thread.join(seconds)
    except KeyboardInterrupt:
        _raise_in_thread(thread, CaseTimeout)
        raise
    if thread.is_alive():
        _raise_in_thread(thread, CaseTimeout)
        thread.join(0.1)
        return f"timed out after {seconds:g} s (does it loop forever, or wait for something?)"
    return box.get("outcome", "no result")


def format_points(points: float) -> str:
    points = round(float(points), 2)
    return str(int(points)) if points.is_integer() else f"{points:g}"


@dataclass
class CaseResult:
    index: int
    name: str
    points: float
    passed: bool
    call: str
    expected: str
    got: str
    reason: str = ""
    hint: str = ""
    hidden: bool = False
    seconds: float | None = None
    idea: str = ""

    @property
    def earned(self) -> float:
        return self.points if self.passed else 0.0

    def lines(self, hint_level: int = 1, previous_hint: str = "") -> list[str]:
        label = f"case {self.index + 1}" + (f" ({self.name})" if self.name else "")
        if self.hidden:
            label += " [hidden]"
        if self.passed:
            return [f"  PASS  {label}: {self.call}"]
        out = [f"  FAIL  {label}: {self.call}",
               f"        expected: {self.expected}",
               f"        got:      {self.got}"]
        if self.reason:
            out.append(f"        why:      {self.reason}")
        if hint_level >= 2 and self.hint:
            out.append(f"        hint:     {self.hint}" if self.hint != previous_hint else "        hint:     (as above)")
        return out

    def as_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "hidden": self.hidden, "points": self.points,
                "earned": self.earned, "passed": self.passed, "call": self.call, "expected": self.expected,
                "got": self.got, "reason": self.reason, "idea": self.idea, "hint": self.hint,
                "seconds": self.seconds}


@dataclass
class ExerciseResult:
    exercise_id: str
    total: float
    earned: float = 0.0
    status: str = "graded"   # graded | not yet solved | unknown exercise | missing function | error
    message: str = ""
    cases: list[CaseResult] = field(default_factory=list)
    function: str = ""
    idea: str = ""
    section: str = ""
    extra: list[str] = field(default_factory=list)   # lines printed before the score line

    def score_line(self) -> str:
        if self.status == "unknown exercise":
            return ""
        return f"{self.exercise_id}: {format_points(self.earned)}/{format_points(self.total)}"

    def help_lines(self, hint_level: int = 1) -> list[str]:
        """The idea behind the first failing case, where to read about it, and how to ask for more."""
        failing = [c for c in self.cases if not c.passed]
        if not failing:
            return []
        first = failing[0]
        out = []
        idea = first.idea or self.idea
        where = f" (read: {self.section})" if self.section else ""
        if idea or where:
            out.append(f"  idea: {idea or 'see the chapter'}{where}")
        name = self.function or "your_function"
        asks = []
        if hint_level < 2:
            asks.append(f'check("{self.exercise_id}", {name}, hint=2) adds an explicit hint')
        asks.append(f'check("{self.exercise_id}", {name}, show={first.index + 1}) shows case {first.index + 1} in full')
        out.append("  more: " + "; ".join(asks))
        return out

    def text(self, hint_level: int = 1) -> str:
        lines = []
        if self.message:
            lines.append(f"{self.exercise_id}: {self.message}")
        previous = ""
        for case in self.cases:
            lines.extend(case.lines(hint_level, previous))
            if not case.passed and case.hint:
                previous = case.hint
        lines.extend(self.help_lines(hint_level))
        lines.extend(self.extra)
        if self.score_line():
            lines.append(self.score_line())
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"id": self.exercise_id, "earned": self.earned, "total": self.total, "status": self.status,
                "message": self.message, "cases": [c.as_dict() for c in self.cases]}


def judge(exercise: Exercise, outcomes: list, seconds: list[float | None] | None = None) -> ExerciseResult:
    """Score ``outcomes`` (one per case) against the exercise's cases. Trusted code.

    An outcome is a validated plain outcome (``{"value": ...}`` or ``{"error": ...}``) or a
    string saying why the case has no result (timed out, the process died...). The exercise
    is "not yet solved" when every case raised NotImplementedError, "missing function" when
    the function was not defined.
    """
    seconds = seconds or [None] * len(exercise.cases)
    result = ExerciseResult(exercise.id, exercise.total_points, function=exercise.function, idea=exercise.idea,
                            section=exercise.section)
    case_total = sum(c.points for c in exercise.cases)
    errors = [o["error"] if isinstance(o, dict) and "error" in o else None for o in outcomes]
    for i, (case, outcome) in enumerate(zip(exercise.cases, outcomes)):
        call = summarize_call(exercise.function, case.args, case.kwargs)
        if isinstance(outcome, str):
            passed, reason, got = False, outcome, "(no result)"
        else:
            passed, reason = compare(case, outcome)
            got = outcome_summary(outcome)
        result.cases.append(CaseResult(i, case.name, case.points, passed, call, expected_summary(case), got, reason,
                                       "" if passed else (case.hint or exercise.hint), case.hidden, seconds[i],
                                       "" if passed else case.idea))
    earned_case_points = sum(c.earned for c in result.cases)
    result.earned = exercise.total_points * earned_case_points / case_total if case_total else 0.0
    if errors and all(e is not None and "NotImplementedError" in e.get("mro", [e["type"]]) for e in errors) \
            and not any(c.compare == "raises" and c.expected == "NotImplementedError" for c in exercise.cases):
        result.status, result.earned = "not yet solved", 0.0
        result.message = "not yet solved (the function still raises NotImplementedError)"
        result.cases = []
    elif errors and all(e is not None and e["type"] == "NameError" and e["message"].startswith("no function named")
                        for e in errors):
        result.status, result.earned = "missing function", 0.0
        result.message = f"missing: {errors[0]['message']}"
        result.cases = []
    elif any(isinstance(o, str) for o in outcomes):
        result.status = "incomplete"
    return result


def unknown_result(exercise_id, reg: Registry) -> ExerciseResult:
    prefix = str(exercise_id).split(".", 1)[0] + "."
    similar = sorted(k for k in reg.exercises if k.startswith(prefix))
    known = f"; known ids: {', '.join(similar)}" if similar else ""
    return ExerciseResult(str(exercise_id), 0.0, status="unknown exercise",
                          message=f"unknown exercise id {exercise_id!r}{known}")


MAX_TIMEOUTS = 2   # timeouts in one check() call after which the remaining cases are not run


def default_timeout() -> float:
    try:
        value = float(os.environ.get("PGNOTES_CHECK_TIMEOUT", "10"))
    except ValueError:
        value = 10.0
    return value if value > 0 else 10.0


def run_check(exercise_id, obj, reg: Registry | None = None, *, timeout: float | None = None) -> ExerciseResult:
    """Run the public cases of ``exercise_id`` on ``obj`` in this process; never raises.

    Each case runs with a limit of ``timeout`` seconds (None: :func:`default_timeout`; 0: none).
    """
    reg = reg or registry()
    exercise = reg.get(exercise_id) if isinstance(exercise_id, str) else None
    if exercise is None:
        return unknown_result(exercise_id, reg)
    exercise = exercise.public()
    if not callable(obj):
        return ExerciseResult(exercise.id, exercise.total_points, status="missing function",
                              message=f"expected the function {exercise.function}, got an object of type {type(obj).__name__}")
    seconds = default_timeout() if timeout is None else float(timeout)
    outcomes: list = []
    timeouts = 0
    for case in exercise.cases:
        if timeouts >= MAX_TIMEOUTS:
            outcomes.append(f"not run: {MAX_TIMEOUTS} earlier cases timed out")
            continue
        outcome = call_with_deadline(obj, case, seconds)
        outcomes.append(outcome)
        if isinstance(outcome, str):
            timeouts += 1
            continue
        error = outcome.get("error")
        if error and error["type"] == "NotImplementedError" and len(outcomes) == 1:
            # first case not implemented: stop here, the stub is untouched
            return judge(exercise, [outcome] * len(exercise.cases))
    return judge(exercise, outcomes)


def _indent(text: str, prefix: str) -> str:
    return text.replace("\n", "\n" + prefix)


def show_case(exercise_id: str, number, reg: Registry | None = None, function=None) -> list[str]:
    """Public case ``number`` (from 1) of ``exercise_id`` in full: inputs, expected value, reproducer.

    ``function`` (optional) names the positional arguments after its parameters.
    """
    reg = reg or registry()
    exercise = reg.get(exercise_id)
    if exercise is None:
        return []
    cases = exercise.public().cases
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(cases):
        return [f"  show: there is no case {number!r}; cases are numbered 1 to {len(cases)}"]
    case = cases[number - 1]
    out = [f"  case {number}" + (f" ({case.name})" if case.name else "") + " in full:"]
    try:
        import inspect

        names = [p.name for p in inspect.signature(function).parameters.values()] if function else []
    except (TypeError, ValueError):
        names = []
    for i, value in enumerate(case.args):
        name = names[i] if i < len(names) else f"argument {i + 1}"
        out.append(f"    {name} = {_indent(full_repr(value), ' ' * (7 + len(name)))}")
    for key, value in case.kwargs.items():
        out.append(f"    {key} = {_indent(full_repr(value), ' ' * (7 + len(key)))}")
    if case.compare == "raises":
        out.append(f"    expected: raises {case.expected}")
    elif case.compare == "statistical":
        out.append(f"    expected: within {case.expected.get('z', 4)} standard errors "
                   f"{full_repr(case.expected['stderr'])} of {full_repr(case.expected['value'])}")
    else:
        tolerance = ("exactly" if case.compare == "equal" or (case.atol == 0 and case.rtol == 0)
                     else f"within {case.atol:g} + {case.rtol:g} * |expected|")
        dtype = ", of the same kind (integer/float)" if case.check_dtype else ""
        out.append(f"    expected ({tolerance}{dtype}):")
        out.append(f"      {_indent(full_repr(case.expected), '      ')}")
    out.append(f"    reproduce: from pgnotes.grading import case_inputs; "
               f"args, kwargs = case_inputs({exercise_id!r}, {number}); {exercise.function}(*args, **kwargs)")
    return out


def check(exercise_id: str, obj, hint: int = 1, show: int | None = None, timeout: float | None = None) -> None:
    """Check ``obj`` (your function) against the public cases of ``exercise_id`` and print feedback.

    Prints one PASS/FAIL block per case and the score line ``exercise_id: k/n`` (points).
    ``hint=2`` adds an explicit hint to each failing case (the default, 1, names the idea
    and the chapter section); ``show=N`` prints case N in full with a one-line reproducer;
    ``timeout`` is the limit in seconds per case (default 10). Never raises (an unexpected
    internal error is printed as a line); returns None.
    """
    try:
        result = run_check(exercise_id, obj, timeout=timeout)
        if show is not None and result.status != "unknown exercise":
            result.extra = show_case(exercise_id, show, function=obj)
        level = hint if isinstance(hint, int) and not isinstance(hint, bool) else 1
        text = result.text(level)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # never break a learner's notebook
        text = f"{exercise_id}: the checker failed ({type(error).__name__}: {error}); please report this"
    print(text, flush=True)


__all__ = ["check", "run_check", "call_case", "call_with_deadline", "show_case", "judge", "CaseResult",
           "ExerciseResult", "UnsupportedValue"]
