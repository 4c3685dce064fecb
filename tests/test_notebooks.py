"""Notebook hygiene that strict nbval cannot see.

- nbval passes cells that were never executed, so every code cell of the chapter and
  solution notebooks must carry a stored execution count (and no stored error).
- Exercise notebooks are stored without outputs and must execute untouched without error:
  their check() calls report "not yet solved" instead of raising.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


def ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_there_are_notebooks():
    assert EXECUTED and EXERCISES


@pytest.mark.parametrize("path", EXECUTED, ids=ids(EXECUTED))
def test_every_code_cell_is_stored_executed(path):
    notebook = nbformat.read(path, as_version=4)
    code_cells = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    assert code_cells, f"{path.name} has no code cells"
    missing = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip() and c.execution_count is None]
    assert not missing, f"{path.name}: cells {missing} have no stored execution (run `make execute NB={path.relative_to(ROOT)}`)"
    counts = [c.execution_count for c in code_cells]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts} are not 1..n in order"
    errors = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)]
    assert not errors, f"{path.name}: cells {errors} stored an error"


@pytest.mark.parametrize("path", EXERCISES, ids=ids(EXERCISES))
def test_exercise_notebook_is_stored_clean(path):
    notebook = nbformat.read(path, as_version=4)
    stale = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stale, f"{path.name}: cells {stale} carry outputs; exercise notebooks are stored clean"


@pytest.mark.parametrize("path", EXERCISES, ids=ids(EXERCISES))
def test_untouched_exercise_notebook_executes(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    text = "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    if "check(" in "".join(c.source for c in notebook.cells):
        assert "not yet solved" in text.lower(), f"{path.name}: check() did not report 'not yet solved'"


def test_exercise_and_solution_notebooks_pair_up():
    exercises = {p.name for p in EXERCISES}
    solutions = {p.name for p in (ROOT / "solutions").glob("*.ipynb")}
    assert exercises == solutions, f"unpaired: {sorted(exercises ^ solutions)}"


NOTEBOOK_BUDGET_SECONDS = 90  # DESIGN.md: a notebook runs in well under 90 s; longer work is a command


@pytest.mark.parametrize("path", EXECUTED, ids=ids(EXECUTED))
def test_last_execution_fit_the_time_budget(path):
    meta = nbformat.read(path, as_version=4).metadata.get("pgnotes", {})
    seconds = meta.get("execution_seconds")
    assert seconds is not None, f"{path.name} was not executed with tools/execute_notebooks.py (make execute)"
    assert seconds < NOTEBOOK_BUDGET_SECONDS, f"{path.name} took {seconds} s; move long work into a results/ command"
