"""Every chapter, exercise and solution notebook runs opened alone, with pgnotes from its wheel.

This is what Colab and a ``pip install pgnotes`` user see: the notebook by itself in an empty
folder, pgnotes installed from the built wheel (not editable, not the clone; its results files
come from inside the package), and nothing importable that the course does not install. The
throwaway environment reuses the installed dependencies (tools/wheel_env.py), so it costs
seconds and no network.

- Chapters and solutions: strict nbval against their stored outputs. This is the suite's
  nbval run (``make test`` runs this file on its own line, with two workers), so every
  notebook executes once, not once in the clone and once alone.
- Exercises: executed untouched; every ``check()`` reports "not yet solved".

Slow cells: a cell tagged ``nbval-skip`` is not executed here; the notebook still runs start
to end around it (use it only for a cell whose work a later cell does not need).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import wheel_env  # noqa: E402

COMPARED = sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
CELL_TIMEOUT = 300  # as `make test-nbval`
NOTEBOOK_TIMEOUT = 900

pytestmark = pytest.mark.slow


def ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.fixture(scope="session")
def standalone(tmp_path_factory):
    """The wheel and the throwaway environment, built once and shared by the xdist workers."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if base.name.startswith("popen-gw") else base
    dest = shared / "standalone"
    with FileLock(str(shared / "standalone.lock")):
        if not (dest / "ready").exists():
            dest.mkdir(exist_ok=True)
            wheel = wheel_env.build_wheel(dest)
            wheel_env.make_env(dest, wheel)
            (dest / "pytest.ini").write_text("[pytest]\n")
            (dest / "ready").write_text(str(wheel))
    python = dest / "env" / "bin" / "python"
    environ = wheel_env.clean_environ(dest)
    empty = tmp_path_factory.mktemp("where")
    where = subprocess.run(
        [str(python), "-c", "import pgnotes, pgnotes.results as r; print(pgnotes.__file__); print(*r.results_dirs(), sep='\\n')"],
        cwd=empty, env=environ, capture_output=True, text=True, check=True).stdout.split("\n")
    assert Path(where[0]).is_relative_to(dest / "env"), f"pgnotes imported from {where[0]}, not from the wheel"
    assert not any(line.startswith(str(ROOT)) for line in where), f"the clone is visible: {where}"
    return {"python": python, "environ": environ, "dest": dest}


def alone(path: Path, tmp_path: Path) -> Path:
    """A copy of the notebook, alone in an empty folder."""
    folder = tmp_path / path.stem
    folder.mkdir()
    return Path(shutil.copy2(path, folder / path.name))


def tail(text: str, n: int = 6000) -> str:
    return text if len(text) <= n else "...\n" + text[-n:]


@pytest.mark.parametrize("path", COMPARED, ids=ids(COMPARED))
def test_notebook_alone_matches_its_stored_outputs(path, standalone, tmp_path):
    copy = alone(path, tmp_path)
    cmd = [str(standalone["python"]), "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider", "-p", "no:xdist",
           "-c", str(standalone["dest"] / "pytest.ini"), "--rootdir", str(copy.parent),
           "--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(SANITIZE),
           f"--nbval-cell-timeout={CELL_TIMEOUT}", copy.name]
    result = subprocess.run(cmd, cwd=copy.parent, env=standalone["environ"], capture_output=True, text=True,
                            timeout=NOTEBOOK_TIMEOUT)
    assert result.returncode == 0, (f"{path.relative_to(ROOT)} opened alone (pgnotes from its wheel) failed or "
                                    f"differs from its stored outputs:\n{tail(result.stdout + result.stderr)}")


RUN_EXERCISE = textwrap.dedent("""
    import sys
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = sys.argv[1]
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import pgnotes; print('PGNOTES_FROM', pgnotes.__file__)"))
    try:
        NotebookClient(nb, timeout=%d, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
    except CellExecutionError as error:
        print(error)
        sys.exit(1)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            print(out.get("text", ""), end="")
""" % CELL_TIMEOUT)


@pytest.mark.parametrize("path", EXERCISES, ids=ids(EXERCISES))
def test_untouched_exercise_runs_alone(path, standalone, tmp_path):
    copy = alone(path, tmp_path)
    result = subprocess.run([str(standalone["python"]), "-c", RUN_EXERCISE, copy.name], cwd=copy.parent,
                            env=standalone["environ"], capture_output=True, text=True, timeout=NOTEBOOK_TIMEOUT)
    assert result.returncode == 0, f"{path.relative_to(ROOT)} opened alone failed:\n{tail(result.stdout + result.stderr)}"
    origin = [line for line in result.stdout.splitlines() if line.startswith("PGNOTES_FROM")]
    assert origin and str(standalone["dest"] / "env") in origin[0], f"the kernel imported {origin}, not the wheel"
    if "check(" in path.read_text():
        assert "not yet solved" in result.stdout.lower(), f"{path.name}: check() did not report 'not yet solved'"
