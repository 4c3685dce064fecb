"""Exercise cases as data: the JSON contract shared by ``check()`` and ``pgnotes grade``.

Every file ``pgnotes/grading/cases/*.json`` (shipped with the package) holds the *public*
cases of one chapter; an instructor adds *hidden* cases from a directory of files in the same
format (``pgnotes grade --hidden DIR``). A file looks like::

    {"exercises": [
      {"id": "ch01.gaussian_score_mean",      # unique, "chNN.name"; what check() is called with
       "function": "gaussian_score_mean",     # the learner's function, looked up by the batch grader
       "points": 3,                           # what the exercise is worth (default: sum of case points)
       "description": "...",                  # optional
       "idea": "...",                         # the first hint: the idea, never the formula
       "section": "Chapter 1, \"Key equations\"",  # where the chapter explains it
       "hint": "...",                         # the explicit hint, printed with check(..., hint=2)
       "cases": [
         {"name": "batch of 5 in 3-D",        # optional, shown in the feedback
          "args": [ENCODED, ...],             # positional arguments (default [])
          "kwargs": {"name": ENCODED},        # keyword arguments (default {})
          "expected": ENCODED,                # see "compare" below
          "compare": "allclose",              # allclose | equal | statistical | raises
          "rtol": 1e-6, "atol": 1e-9,         # for allclose (defaults 1e-7 and 0)
          "points": 1,                        # partial credit: this case's share (default 1)
          "check_dtype": true,                # numbers must also be of the expected kind
                                              # (integer / float / bool); default false
          "idea": "...", "hint": "..."}       # optional, case-specific first and explicit hints
       ]}
    ]}

An exercise id may appear in only one file; a hidden file may add cases to an exercise that
has public ones (they are appended) or define new exercises.

**Encoded values.** Plain JSON (numbers, strings, booleans, null, lists, objects) passes as
is, except objects with one of these tags, decoded afresh for every call:

- ``{"__ndarray__": NESTED_LIST, "dtype": "float64"}`` -> ``numpy.ndarray`` (``"shape"``
  may be given too, needed for empty arrays);
- ``{"__rng__": SEED}`` -> ``numpy.random.default_rng(SEED)``, a fresh generator per call;
- ``{"__tuple__": LIST}`` -> a tuple.

:func:`case_inputs` gives a learner the decoded inputs of a public case (for a one-line
reproducer of a failing case).

**Comparisons** (done by the trusted side only, on plain values; see ``compare.py``):

- ``allclose``: same structure; numbers and arrays within ``atol + rtol * |expected|``
  elementwise, same shape; NaN never matches; strings, booleans and None must be equal.
  ``rtol = atol = 0`` asks for exact numbers. With ``check_dtype`` the kind of every
  number (integer, float, bool) must match the kind of the expected one.
- ``equal``: the same plain value (numbers compare by value, 1 == 1.0).
- ``statistical``: ``expected = {"value": V, "stderr": S, "z": Z}``; passes when every
  element of the result lies within ``Z * S`` of ``V`` (``S`` and ``Z`` may be scalars or
  arrays of ``V``'s shape). The arguments carry ``{"__rng__": seed}``, so it is deterministic.
- ``raises``: ``expected`` is an exception class name (``"ValueError"``); the call must raise
  an exception whose class, or one of its base classes, has that name. A function that still
  raises ``NotImplementedError`` on every case is "not yet solved" and scores 0 regardless.

Scores: a case earns its ``points`` when it passes; the exercise earns
``points * earned / sum(case points)``. ``check()`` prints ``exercise_id: k/n`` in points.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

COMPARE_MODES = ("allclose", "equal", "statistical", "raises")
TAGS = ("__ndarray__", "__rng__", "__tuple__")


class CaseFormatError(ValueError):
    """A cases file does not follow the contract; the message names the file and the field."""


@dataclass(frozen=True)
class Case:
    name: str
    args: list
    kwargs: dict
    expected: Any
    compare: str = "allclose"
    rtol: float = 1e-7
    atol: float = 0.0
    points: float = 1.0
    hint: str = ""
    hidden: bool = False
    idea: str = ""
    check_dtype: bool = False


@dataclass
class Exercise:
    id: str
    function: str
    cases: list[Case] = field(default_factory=list)
    points: float | None = None
    description: str = ""
    hint: str = ""
    source: str = ""
    idea: str = ""
    section: str = ""

    @property
    def total_points(self) -> float:
        return float(self.points) if self.points is not None else float(sum(c.points for c in self.cases))

    def public(self) -> "Exercise":
        """The same exercise restricted to its public cases (what learners see)."""
        return Exercise(self.id, self.function, [c for c in self.cases if not c.hidden], self.points,
                        self.description, self.hint, self.source, self.idea, self.section)


def _number(where: str, value, default: float, *, positive: bool = False) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise CaseFormatError(f"{where}: must be a finite number >= 0, got {value!r}")
    if positive and value == 0:
        raise CaseFormatError(f"{where}: must be > 0")
    return float(value)


def _check_encoded(where: str, value) -> None:
    """Validate an encoded value's tags (recursively) without decoding it."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_encoded(f"{where}[{i}]", item)
    elif isinstance(value, dict):
        tags = [t for t in TAGS if t in value]
        if len(tags) > 1:
            raise CaseFormatError(f"{where}: more than one tag {tags}")
        if tags == ["__rng__"] and (isinstance(value["__rng__"], bool) or not isinstance(value["__rng__"], int)):
            raise CaseFormatError(f"{where}: __rng__ must be an integer seed")
        if not tags:
            for key, item in value.items():
                _check_encoded(f"{where}.{key}", item)
    elif isinstance(value, float) and not math.isfinite(value):
        raise CaseFormatError(f"{where}: non-finite number")


def decode(value):
    """Decode an encoded value (see the module docstring) into the objects a learner's function gets."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__ndarray__" in value:
            import numpy as np

            array = np.array(value["__ndarray__"], dtype=value.get("dtype", None))
            if "shape" in value:
                array = array.reshape(value["shape"])
            return array
        if "__rng__" in value:
            import numpy as np

            return np.random.default_rng(int(value["__rng__"]))
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        return {k: decode(v) for k, v in value.items()}
    return value


def _parse_case(where: str, raw, *, hidden: bool) -> Case:
    if not isinstance(raw, dict):
        raise CaseFormatError(f"{where}: a case must be an object")
    compare = raw.get("compare", "allclose")
    if compare not in COMPARE_MODES:
        raise CaseFormatError(f"{where}.compare: must be one of {COMPARE_MODES}, got {compare!r}")
    args, kwargs = raw.get("args", []), raw.get("kwargs", {})
    if not isinstance(args, list):
        raise CaseFormatError(f"{where}.args: must be a list")
    if not isinstance(kwargs, dict):
        raise CaseFormatError(f"{where}.kwargs: must be an object")
    _check_encoded(f"{where}.args", args)
    _check_encoded(f"{where}.kwargs", kwargs)
    if "expected" not in raw:
        raise CaseFormatError(f"{where}: missing 'expected'")
    expected = raw["expected"]
    if compare == "statistical":
        if not (isinstance(expected, dict) and "value" in expected and "stderr" in expected):
            raise CaseFormatError(f"{where}.expected: a statistical case needs {{'value', 'stderr', 'z'}}")
    elif compare == "raises":
        if not isinstance(expected, str):
            raise CaseFormatError(f"{where}.expected: a 'raises' case names an exception class")
    else:
        _check_encoded(f"{where}.expected", expected)
    return Case(
        name=str(raw.get("name", "")),
        args=args,
        kwargs=kwargs,
        expected=expected,
        compare=compare,
        rtol=_number(f"{where}.rtol", raw.get("rtol"), 1e-7),
        atol=_number(f"{where}.atol", raw.get("atol"), 0.0),
        points=_number(f"{where}.points", raw.get("points"), 1.0),
        hint=str(raw.get("hint", "")),
        hidden=hidden,
        idea=str(raw.get("idea", "")),
        check_dtype=bool(raw.get("check_dtype", False)),
    )


def parse_cases_text(text: str, source: str, *, hidden: bool = False) -> list[Exercise]:
    """Parse one cases file's text; raises CaseFormatError naming ``source`` and the field."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise CaseFormatError(f"{source}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("exercises"), list):
        raise CaseFormatError(f"{source}: expected an object with a list 'exercises'")
    exercises = []
    for i, raw in enumerate(data["exercises"]):
        where = f"{source}: exercises[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise CaseFormatError(f"{where}: needs a string 'id'")
        where = f"{source}: {raw['id']}"
        function = raw.get("function", raw["id"].rsplit(".", 1)[-1])
        if not isinstance(function, str) or not function.isidentifier():
            raise CaseFormatError(f"{where}.function: must be a Python identifier, got {function!r}")
        cases = raw.get("cases", [])
        if not isinstance(cases, list):
            raise CaseFormatError(f"{where}.cases: must be a list")
        exercises.append(Exercise(
            id=raw["id"],
            function=function,
            cases=[_parse_case(f"{where}.cases[{j}]", c, hidden=hidden) for j, c in enumerate(cases)],
            points=None if raw.get("points") is None else _number(f"{where}.points", raw.get("points"), 0.0),
            description=str(raw.get("description", "")),
            hint=str(raw.get("hint", "")),
            source=source,
            idea=str(raw.get("idea", "")),
            section=str(raw.get("section", "")),
        ))
    return exercises


class Registry:
    """All known exercises by id, with a fingerprint of the files they came from."""

    def __init__(self) -> None:
        self.exercises: dict[str, Exercise] = {}
        self.files: list[str] = []
        self._hash = hashlib.sha256()

    def add_text(self, text: str, source: str, *, hidden: bool = False) -> None:
        self._hash.update(source.encode() + b"\0" + text.encode() + b"\0")
        self.files.append(source)
        for exercise in parse_cases_text(text, source, hidden=hidden):
            known = self.exercises.get(exercise.id)
            if known is None:
                self.exercises[exercise.id] = exercise
            elif hidden:
                if exercise.function != known.function:
                    raise CaseFormatError(f"{source}: {exercise.id} names function {exercise.function!r}, "
                                          f"but {known.source} names {known.function!r}")
                known.cases.extend(exercise.cases)
                if exercise.points is not None:
                    known.points = exercise.points
            else:
                raise CaseFormatError(f"{source}: exercise id {exercise.id!r} is already defined in {known.source}")

    def add_dir(self, directory: str | Path, *, hidden: bool = False) -> None:
        directory = Path(directory)
        if not directory.is_dir():
            raise CaseFormatError(f"{directory}: not a directory of cases files")
        for path in sorted(directory.glob("*.json")):
            self.add_text(path.read_text(encoding="utf-8"), str(path), hidden=hidden)

    @property
    def fingerprint(self) -> str:
        return self._hash.copy().hexdigest()

    def get(self, exercise_id: str) -> Exercise | None:
        return self.exercises.get(exercise_id)

    def __contains__(self, exercise_id: str) -> bool:
        return exercise_id in self.exercises


def case_inputs(exercise_id: str, number: int) -> tuple[list, dict]:
    """The freshly decoded ``(args, kwargs)`` of public case ``number`` (counted from 1, as
    ``check()`` prints them) of ``exercise_id``: ``function(*args, **kwargs)`` reproduces it."""
    from .check import registry

    exercise = registry().get(exercise_id)
    if exercise is None:
        raise ValueError(f"exercise_id: unknown exercise {exercise_id!r}")
    cases = exercise.public().cases
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(cases):
        raise ValueError(f"number: must be an integer in [1, {len(cases)}] for {exercise_id}, got {number!r}")
    case = cases[number - 1]
    return decode(case.args), decode(case.kwargs)


def load_registry(extra_dirs: Iterable[str | Path] = (), hidden_dirs: Iterable[str | Path] = ()) -> Registry:
    """The packaged public cases, plus extra public and hidden directories (in that order)."""
    registry = Registry()
    package = resources.files("pgnotes.grading") / "cases"
    if package.is_dir():
        for entry in sorted(package.iterdir(), key=lambda p: p.name):
            if entry.name.endswith(".json"):
                registry.add_text(entry.read_text(encoding="utf-8"), f"pgnotes/grading/cases/{entry.name}")
    for directory in extra_dirs:
        registry.add_dir(directory)
    for directory in hidden_dirs:
        registry.add_dir(directory, hidden=True)
    return registry
