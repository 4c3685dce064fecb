"""The learner API: ``check(exercise_id, obj)`` gives instant feedback in a notebook.

It runs the exercise's public cases on ``obj`` in this process, prints one block per case
(PASS/FAIL, the call with its inputs summarized, expected vs got, a hint on failure) and a
final score line ``exercise_id: k/n`` in points. It never raises (so notebooks still execute
under nbval) and prints the same text every time (cases are fixed, random ones carry seeds).

A function that still raises ``NotImplementedError`` is "not yet solved" and scores 0.
The in-notebook score is feedback, not a grade: a learner controls this process. Grades come
from ``pgnotes grade``, which runs submissions in a separate, limited process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .cases import Case, Exercise, Registry, decode, load_registry
from .compare import (UnsupportedValue, compare, error_outcome, expected_summary, outcome_summary,
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
        return {"value": to_plain(result)}
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: a learner's function must not end the check
        return error_outcome(error)


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

    @property
    def earned(self) -> float:
        return self.points if self.passed else 0.0

    def lines(self) -> list[str]:
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
        if self.hint:
            out.append(f"        hint:     {self.hint}")
        return out

    def as_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "hidden": self.hidden, "points": self.points,
                "earned": self.earned, "passed": self.passed, "call": self.call, "expected": self.expected,
                "got": self.got, "reason": self.reason, "seconds": self.seconds}


@dataclass
class ExerciseResult:
    exercise_id: str
    total: float
    earned: float = 0.0
    status: str = "graded"   # graded | not yet solved | unknown exercise | missing function | error
    message: str = ""
    cases: list[CaseResult] = field(default_factory=list)

    def score_line(self) -> str:
        if self.status == "unknown exercise":
            return ""
        return f"{self.exercise_id}: {format_points(self.earned)}/{format_points(self.total)}"

    def text(self) -> str:
        lines = []
        if self.message:
            lines.append(f"{self.exercise_id}: {self.message}")
        for case in self.cases:
            lines.extend(case.lines())
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
    result = ExerciseResult(exercise.id, exercise.total_points)
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
                                       "" if passed else (case.hint or exercise.hint), case.hidden, seconds[i]))
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


def run_check(exercise_id, obj, reg: Registry | None = None) -> ExerciseResult:
    """Run the public cases of ``exercise_id`` on ``obj`` in this process; never raises."""
    reg = reg or registry()
    exercise = reg.get(exercise_id) if isinstance(exercise_id, str) else None
    if exercise is None:
        return unknown_result(exercise_id, reg)
    exercise = exercise.public()
    if not callable(obj):
        return ExerciseResult(exercise.id, exercise.total_points, status="missing function",
                              message=f"expected the function {exercise.function}, got an object of type {type(obj).__name__}")
    outcomes = []
    for case in exercise.cases:
        outcome = call_case(obj, case)
        outcomes.append(outcome)
        error = outcome.get("error")
        if error and error["type"] == "NotImplementedError" and not outcomes[:-1]:
            # first case not implemented: stop here, the stub is untouched
            return judge(exercise, [outcome] * len(exercise.cases))
    return judge(exercise, outcomes)


def check(exercise_id: str, obj) -> None:
    """Check ``obj`` (your function) against the public cases of ``exercise_id`` and print feedback.

    Prints one PASS/FAIL block per case and the score line ``exercise_id: k/n`` (points).
    Never raises (an unexpected internal error is printed as a line); returns None.
    """
    try:
        text = run_check(exercise_id, obj).text()
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # never break a learner's notebook
        text = f"{exercise_id}: the checker failed ({type(error).__name__}: {error}); please report this"
    print(text, flush=True)


__all__ = ["check", "run_check", "call_case", "judge", "CaseResult", "ExerciseResult", "UnsupportedValue"]
