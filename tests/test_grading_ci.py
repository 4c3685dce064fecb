"""CI proof for the graded exercises, over every chapter (notebooks found by glob).

- every solutions/*.ipynb that calls check() earns full marks from the batch grader;
- every exercises/*.ipynb as shipped earns 0 on every exercise ("not yet solved");
- a deliberately wrong variant of each solution (every second call answers wrong) earns
  partial marks, exactly the cases it answered right;
- every id a notebook passes to check() exists in the cases, and check() inside the
  notebooks agrees with the batch grader on the solutions.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from pgnotes.grading.batch import add_arguments, exercise_ids_in, grade
from pgnotes.grading.cases import load_registry

ROOT = Path(__file__).resolve().parents[1]


def graded(folder: str) -> list[Path]:
    """Notebooks of ``folder`` that call check() (the graded ones)."""
    found = []
    for path in sorted((ROOT / folder).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if exercise_ids_in([c.source for c in notebook.cells if c.cell_type == "code"]):
            found.append(path)
    return found


SOLUTIONS = graded("solutions")
EXERCISES = graded("exercises")


def ids(paths):
    return [p.name for p in paths]


def code_sources(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


WRONG_CELL = """import numpy as _np
_calls = [0]


def _every_other_call_wrong(function):
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        _calls[0] += 1
        return _np.asarray(result, dtype=float) + 1000.0 if _calls[0] % 2 == 0 else result
    return wrapper


for _name in {names!r}:
    globals()[_name] = _every_other_call_wrong(globals()[_name])
"""


def wrong_variant(solution: Path, folder: Path) -> Path:
    """The solution with a last cell that makes every second call of its functions wrong."""
    registry = load_registry()
    names = sorted({registry.get(i).function for i in exercise_ids_in(code_sources(solution)) if i in registry})
    notebook = nbformat.read(solution, as_version=4)
    notebook.cells.append(new_code_cell(WRONG_CELL.format(names=names)))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / solution.name
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not SOLUTIONS:
        pytest.skip("no graded solution notebooks yet")
    out = tmp_path_factory.mktemp("ci")
    variants = [wrong_variant(s, out / "wrong") for s in SOLUTIONS]
    # solution folders may hold data files the notebooks read: copy them next to the variants
    for item in (ROOT / "solutions").iterdir():
        if item.is_file() and item.suffix != ".ipynb":
            shutil.copy(item, out / "wrong" / item.name)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(p) for p in SOLUTIONS + EXERCISES + variants] + [
        "--out", str(out / "gradebook.csv"), "--no-execute", "--quiet",
        "--cell-timeout", "120", "--case-timeout", "60", "--cpu", "600", "--memory", "6"])
    result = grade(args)
    return {(Path(r["submission"]).parent.name, Path(r["submission"]).name): r for r in result["submissions"]}


def test_there_are_graded_notebooks():
    assert SOLUTIONS and EXERCISES, "expected graded notebooks in solutions/ and exercises/"
    assert ids(SOLUTIONS) == ids(EXERCISES), "graded exercise and solution notebooks must pair up"


@pytest.mark.parametrize("path", SOLUTIONS, ids=ids(SOLUTIONS))
def test_solution_earns_full_marks(report, path):
    record = report[("solutions", path.name)]
    assert record["unknown_ids"] == [], f"check() ids without cases: {record['unknown_ids']}"
    assert record["max_score"] > 0
    assert record["score"] == pytest.approx(record["max_score"]), record["notes"]
    named = set(exercise_ids_in(code_sources(path)))
    assert named == set(record["exercises"]), "every exercise of the chapter must be checked in the notebook"


@pytest.mark.parametrize("path", EXERCISES, ids=ids(EXERCISES))
def test_untouched_exercise_earns_nothing(report, path):
    record = report[("exercises", path.name)]
    assert record["unknown_ids"] == []
    assert record["exercises"], "no exercises graded"
    for exercise_id, result in record["exercises"].items():
        assert result["earned"] == 0, exercise_id
        assert result["status"] == "not yet solved", f"{exercise_id}: {result['status']} {result['message']}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=ids(SOLUTIONS))
def test_wrong_variant_earns_partial_marks(report, path):
    record = report[("wrong", path.name)]
    assert 0 < record["score"] < record["max_score"], record["notes"]
    cases = [c for r in record["exercises"].values() for c in r["cases"]]
    assert any(c["passed"] for c in cases) and not all(c["passed"] for c in cases)
