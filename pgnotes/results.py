"""Find and load the stored results of the course's long experiments (every chapter).

Chapters plot data that commands wrote to ``results/NAME.json``. A chapter opened in the
clone finds that folder at the repository root; a chapter opened alone (on Colab, or with
pgnotes installed from a wheel) finds the copy shipped inside the package as
``pgnotes/_results``. One loader serves both, so no notebook builds a path by hand::

    from pgnotes.results import load_result
    runs = load_result("es_cartpole")          # results/es_cartpole.json as a dict

A missing file raises :class:`ResultNotFound`, whose one-line message names the file and the
command that makes it.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

CLONE_RESULTS = Path(__file__).resolve().parents[1] / "results"
PACKAGED_RESULTS = "_results"


class ResultNotFound(FileNotFoundError):
    """A results file is in neither the clone nor the installed package."""


def results_dirs() -> list[Path]:
    """Folders searched for results, in order: the clone's ``results/``, then the package's copy."""
    dirs = []
    if CLONE_RESULTS.is_dir():
        dirs.append(CLONE_RESULTS)
    packaged = resources.files("pgnotes") / PACKAGED_RESULTS
    if packaged.is_dir():
        dirs.append(Path(str(packaged)))
    return dirs


def result_path(name: str) -> Path:
    """Path of ``results/<name>.json`` (``name`` with or without ``.json``)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string such as 'es_cartpole', got {name!r}")
    filename = name if name.endswith(".json") else f"{name}.json"
    for folder in results_dirs():
        path = folder / filename
        if path.is_file():
            return path
    stem = filename[: -len(".json")]
    raise ResultNotFound(
        f"results/{filename} not found in the clone or the installed pgnotes; "
        f"it is written by the experiment command (see `pgnotes --help`), for example "
        f"`pgnotes {stem.replace('_', '-')} --out results/{filename}`"
    )


def load_result(name: str) -> dict[str, Any]:
    """Load ``results/<name>.json`` as a dict (see the module docstring for where it is found)."""
    with open(result_path(name), encoding="utf-8") as handle:
        return json.load(handle)
