"""The layout CONTRIBUTING.md describes: its chapter/module/test/benchmark table names files that
exist, solvers never import policy code, and only three modules step environments."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pgnotes"


def _table_rows() -> list[list[str]]:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_the_contributing_table_names_files_that_exist():
    rows = _table_rows()
    assert len(rows) >= 12
    missing = []
    for page, modules, experiments, tests, benchmarks in rows:
        name = page.split()[0]
        if name != "every":
            if not any((ROOT / "book" / f"{name}{ext}").exists() for ext in (".ipynb", ".md")):
                missing.append(f"book/{name}")
        for module in _names(modules):
            if module.endswith(".json") or module.startswith(("grading/cases/", "tools/")):
                continue
            parent = module.rstrip("/")
            if not ((PACKAGE / f"{parent}.py").exists() or (PACKAGE / parent).is_dir()):
                # a name inside a package's parentheses, e.g. tetris/ (env, fast)
                if not any((PACKAGE / d / f"{module}.py").exists() for d in ("tetris", "distributed", "grading")):
                    missing.append(f"pgnotes/{module}")
        missing += [f"pgnotes/experiments/{e}.py" for e in _names(experiments)
                    if not (PACKAGE / "experiments" / f"{e}.py").exists()]
        missing += [f"tests/{t}.py" for t in _names(tests) if not (ROOT / "tests" / f"{t}.py").exists()]
        missing += [f"benchmarks/{b}.py" for b in _names(benchmarks) if not (ROOT / "benchmarks" / f"{b}.py").exists()]
    assert not missing, f"CONTRIBUTING.md names files that do not exist: {missing}"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "solvers").glob("*.py")), ids=lambda p: p.name)
def test_solvers_never_import_policy_or_environment_code(path):
    upward = ("pgnotes.policy_search", "pgnotes.mlp_policy", "pgnotes.evaluation", "pgnotes.rl", "pgnotes.experiments",
              "pgnotes.ars_training", "pgnotes.distributed", "pgnotes.watch", "gymnasium")
    bad = sorted(name for name in _imports(path) if name.startswith(upward))
    assert not bad, f"{path.name} imports upward: {bad}"


def test_only_three_modules_step_environments():
    stepping = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                      if "tetris" not in p.parts and re.search(r"\benvs?\.step\(", p.read_text(encoding="utf-8")))
    assert set(stepping) <= {"evaluation.py", "rl/rollouts.py", "planning.py"}, stepping
