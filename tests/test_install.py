"""How pgnotes installs and runs outside the course's clone: packaging, dependencies, commands.

- The wheel carries the code, the grading cases, the results files (as ``pgnotes/_results``)
  and the license, and nothing from ``results/checkpoints``.
- A practitioner's ``pip install`` of the wheel, offline, into an environment holding only the
  library's declared dependencies, imports ``pgnotes.solvers`` and runs an ask/tell loop with no
  Jupyter Book, JupyterLab or pycma present.
- Every module a notebook imports is declared: in requirements.txt (the learner's install) and
  in the ``book`` extra (what Colab's first cell installs). requirements.txt alone passes
  ``pip check``. Both requirement files pin every line.
- ``pgnotes --version``; an unknown flag to any command is a usage error (exit status 2).
- Experiment commands default to paths relative to the current directory.
- A missing results file is one line naming the file and the command that writes it.
- ``make lab`` picks a free port, or says which port is busy and how to choose.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import json
import os
import pkgutil
import re
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import lab  # noqa: E402
import wheel_env  # noqa: E402

import pgnotes  # noqa: E402
from pgnotes import cli, command, results  # noqa: E402


# ---------------------------------------------------------------- the wheel and a practitioner

@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return wheel_env.build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.mark.slow
def test_wheel_carries_results_cases_and_license(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("pgnotes/_results/")}
    stored = {p.name for p in (ROOT / "results").glob("*.json")}
    assert stored and stored == shipped, f"results not shipped: {sorted(stored - shipped)}; extra: {sorted(shipped - stored)}"
    assert not [n for n in names if "checkpoints" in n or n.endswith(".ckpt") or "__pycache__" in n]
    cases = {Path(n).name for n in names if n.startswith("pgnotes/grading/cases/")}
    assert cases == {p.name for p in (ROOT / "pgnotes" / "grading" / "cases").glob("*.json")}
    assert any(n.endswith("licenses/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert f"Version: {pgnotes.__version__}" in metadata and "License-Expression: MIT" in metadata
    assert "MIT License" in (ROOT / "LICENSE").read_text()


ASK_TELL = """
import importlib.util, sys
import numpy as np
from pgnotes.solvers.cem import CEM
from pgnotes.solvers import optimize

solver = CEM(dim=4, popsize=40, sigma0=2.0, rng=0)
start = None
for generation in range(30):
    x = solver.ask()
    fitness = -np.sum((x - 1.0) ** 2, axis=1)          # maximized
    solver.tell(x, fitness)
    start = fitness.max() if start is None else start
assert np.allclose(solver.mean, 1.0, atol=0.1), solver.mean
history = optimize(lambda x: -float(np.sum(x ** 2)), CEM(dim=3, popsize=20, sigma0=1.0, rng=1),
                   max_generations=5, progress=False)
absent = [m for m in ("jupyter_book", "myst_nb", "jupyterlab", "cma", "ipywidgets", "nbclient", "pytest")
          if importlib.util.find_spec(m) is not None]
print("ABSENT_OK" if not absent else f"PRESENT {absent}")
import pgnotes
print("FROM", pgnotes.__file__)
"""


@pytest.mark.slow
def test_practitioner_install_runs_ask_tell_without_the_book(wheel, tmp_path):
    library = wheel_env.wheel_requirements(wheel)
    assert not [r for r in library if re.match(r"(jupyter|myst|sphinx|cma|pytest|selenium|ipywidgets)", r)], library
    deps = wheel_env.dependency_closure_dir(tmp_path, library)
    # pip resolves the wheel's declared dependencies offline against exactly the closure: it
    # fails if the library needs anything it does not declare (or declares what is missing)
    python = wheel_env.make_env(tmp_path, wheel, [str(deps)], deps=True)
    empty = tmp_path / "work"
    empty.mkdir()
    out = subprocess.run([str(python), "-c", ASK_TELL], cwd=empty, env=wheel_env.clean_environ(tmp_path),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ABSENT_OK" in out.stdout, out.stdout
    assert str(tmp_path / "env") in out.stdout


# ---------------------------------------------------------------- declared dependencies

def requirement_lines(path: Path) -> list[str]:
    lines = [re.sub(r"\s+#.*", "", line).strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_requirement_files_pin_every_line():
    learner = requirement_lines(ROOT / "requirements.txt")
    dev = requirement_lines(ROOT / "requirements-dev.txt")
    assert "-r requirements.txt" in dev
    for line in learner + [d for d in dev if not d.startswith("-r")]:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[0-9][0-9A-Za-z.+\-]*", line), f"not pinned: {line}"
    names = {re.split(r"[\[=]", line)[0].lower() for line in learner}
    assert {"jupyterlab", "cma", "torch", "myst-nb", "ipykernel"} <= names
    assert not names & {"pytest", "selenium", "nbval", "hypothesis", "pytest-xdist"}, "test tools in the learner's file"


def notebook_imports() -> dict[str, set[str]]:
    """Top-level modules imported by the code cells of every notebook: {module: notebooks}."""
    found: dict[str, set[str]] = {}
    for folder in ("book", "exercises", "solutions"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            for cell in json.loads(path.read_text())["cells"]:
                if cell["cell_type"] != "code":
                    continue
                source = "".join(cell["source"])
                for module in re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", source, re.M):
                    found.setdefault(module, set()).add(f"{folder}/{path.name}")
    return found


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    from importlib import metadata

    return metadata.packages_distributions()


def providers(module: str) -> set[str]:
    from packaging.utils import canonicalize_name

    return {canonicalize_name(d) for d in _module_distributions().get(module, [])}


@pytest.mark.slow
def test_every_module_a_notebook_imports_is_declared(wheel):
    learner = set(wheel_env.dependency_closure(requirement_lines(ROOT / "requirements.txt")))
    book = set(wheel_env.dependency_closure(wheel_env.wheel_requirements(wheel, ("book",))))
    missing = {}
    for module, notebooks in sorted(notebook_imports().items()):
        if module in sys.stdlib_module_names or module in ("pgnotes", "__future__"):
            continue
        dists = providers(module)
        assert dists, f"{module} (imported by {sorted(notebooks)}) is not installed at all"
        for where, closure in (("requirements.txt", learner), ("the [book] extra", book)):
            if not dists & closure:
                missing.setdefault(where, []).append(f"{module} ({', '.join(sorted(notebooks))})")
    assert not missing, f"imported by notebooks but not declared: {missing}"


@pytest.mark.slow
def test_learner_requirements_alone_pass_pip_check(tmp_path):
    deps = wheel_env.dependency_closure_dir(tmp_path, requirement_lines(ROOT / "requirements.txt"))
    env = tmp_path / "env"
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    purelib = subprocess.run([str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "_deps.pth").write_text(f"{deps}\n")
    out = subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "check"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    pytest_present = subprocess.run([str(env / "bin" / "python"), "-c", "import pytest"], capture_output=True)
    assert pytest_present.returncode != 0, "pytest is reachable from requirements.txt alone"


# ---------------------------------------------------------------- the pgnotes command

def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"pgnotes {pgnotes.__version__}"


@pytest.mark.parametrize("argv", [["--no-such-flag"]] + [[name, "--no-such-flag"] for name in cli.COMMANDS],
                         ids=lambda argv: " ".join(argv))
def test_unknown_flag_to_pgnotes_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


EXPERIMENTS = sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "pgnotes" / "experiments")]))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_rejects_unknown_flag(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        command.main(f"pgnotes.experiments.{name}", ["--no-such-flag"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_writes_under_the_current_directory(name):
    module = importlib.import_module(f"pgnotes.experiments.{name}")
    defaults = module.Config()
    package = Path(pgnotes.__file__).resolve().parent
    paths = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)
             if isinstance(getattr(defaults, f.name), (str, os.PathLike))}
    assert "out" in {f.name for f in dataclasses.fields(defaults)}, f"{name}.Config has no --out"
    for field_name, default in paths.items():
        if "/" in str(default) or str(default).endswith((".json", ".ckpt")):
            path = Path(default)
            assert not path.is_absolute(), (f"{name} --{field_name} defaults to {default}: commands write relative to "
                                            f"the current directory (results/..., checkpoints/...)")
            assert package not in (Path.cwd() / path).resolve().parents


# ---------------------------------------------------------------- results files

def test_missing_result_is_one_line_with_its_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(results, "CLONE_RESULTS", tmp_path / "no-clone")
    monkeypatch.setattr(results, "PACKAGED_RESULTS", "_no_such_folder")
    with pytest.raises(results.ResultNotFound) as error:
        results.load_result("es_cartpole")
    message = str(error.value)
    assert "\n" not in message
    assert "results/es_cartpole.json" in message and "`pgnotes es-cartpole`" in message
    assert error.value._render_traceback_() == [f"ResultNotFound: {message}"]
    with pytest.raises(results.ResultNotFound, match="benchmarks/tetris_speed.py` in a clone"):
        results.load_result("tetris_speed")


def test_every_stored_result_names_its_command():
    """pgnotes.results knows the command (or the file records it, for a newly added result)."""
    names = sorted(p.stem for p in (ROOT / "results").glob("*.json"))
    assert names
    unknown = [n for n in names if results.command_for(n) is None
               and not json.loads((ROOT / "results" / f"{n}.json").read_text()).get("command")]
    assert not unknown, f"add the command that writes them to pgnotes.results.COMMANDS: {unknown}"


def test_a_result_in_the_current_directory_comes_first(tmp_path, monkeypatch):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "es_cartpole.json").write_text('{"mine": true}')
    monkeypatch.chdir(tmp_path)
    assert results.load_result("es_cartpole") == {"mine": True}
    monkeypatch.chdir(ROOT / "book")
    assert "mine" not in results.load_result("es_cartpole")


# ---------------------------------------------------------------- make lab

def test_lab_takes_the_next_port_when_8888_is_busy(monkeypatch):
    busy = {lab.DEFAULT_PORT, lab.DEFAULT_PORT + 1}
    monkeypatch.setattr(lab, "port_is_free", lambda port, host=lab.HOST: port not in busy)
    port, note = lab.choose_port(None)
    assert port == lab.DEFAULT_PORT + 2
    assert f"port {lab.DEFAULT_PORT} is busy" in note and "PORT=" in note


def test_lab_refuses_a_busy_port_it_was_asked_for():
    with socket.socket() as sock:
        sock.bind((lab.HOST, 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not lab.port_is_free(port)
        with pytest.raises(lab.PortBusy, match=f"port {port} is busy.*make lab PORT="):
            lab.choose_port(port)
        assert lab.main(["--port", str(port)]) == 2


def test_lab_command_opens_the_repository_root():
    cmd = lab.lab_command(8890, ["--no-browser"])
    assert f"--ServerApp.root_dir={ROOT}" in cmd and "--ServerApp.port=8890" in cmd
    assert "--ServerApp.port_retries=0" in cmd and cmd[-1] == "--no-browser"
    assert ("--allow-root" in cmd) == (os.geteuid() == 0)
    makefile = (ROOT / "Makefile").read_text()
    assert '--name pgnotes --display-name "Python (pgnotes)"' in makefile
