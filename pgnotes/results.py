"""Find and load the stored results of the course's long experiments (every chapter).

Chapters plot data that commands wrote to ``results/NAME.json``. One loader finds it, so no
notebook builds a path by hand::

    from pgnotes.results import load_result
    runs = load_result("es_cartpole")          # results/es_cartpole.json as a dict

Folders searched, first match wins:

1. ``results/`` in the current directory: where the experiment commands write, so a run of
   your own is what you plot;
2. ``results/`` at the root of the clone, when pgnotes is used from a clone of the repository;
3. the copy shipped inside the package (``pgnotes/_results``), for a chapter opened alone
   (on Colab, or with pgnotes installed from a wheel).

A missing file raises :class:`ResultNotFound`, whose one-line message names the file and the
command that makes it (a notebook shows just that line, not a traceback).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

CLONE_RESULTS = Path(__file__).resolve().parents[1] / "results"
PACKAGED_RESULTS = "_results"

# The command that writes each results file (run from the folder that should hold results/).
# Files made by benchmarks need a clone of the repository (benchmarks/ is not installed).
COMMANDS: dict[str, str] = {
    "es_cartpole": "pgnotes es-cartpole",
    "es_swimmer": "pgnotes es-mujoco --seeds 0 1 2 3 4",
    "es_swimmer_snes": "pgnotes es-mujoco --method snes --eval-every 8 --seeds 0 1 2 3 4",
    "ars_swimmer-v1-more": ("python -m pgnotes.experiments.ars_mujoco --preset swimmer-v1 --seeds 5 6 7 "
                            "--max-episodes 600 --out results/ars_swimmer-v1-more.json"),
    "trpo_cartpole": "python -m pgnotes.experiments.ppo_cartpole --algo trpo",
    "ch04_watch_swimmer": "python -m pgnotes.watch_mujoco --result ars_swimmer-v1 --seed 0 --out results/ch04_watch_swimmer.json",
    "ch04_watch_halfcheetah": ("python -m pgnotes.watch_mujoco --result ars_halfcheetah-v2t --seed 1 "
                               "--out results/ch04_watch_halfcheetah.json"),
    "ars_swimmer-v1": "python -m pgnotes.experiments.ars_mujoco --preset swimmer-v1 --seeds 0 1 2 3 4",
    "ars_halfcheetah-v2t": "python -m pgnotes.experiments.ars_mujoco --preset halfcheetah-v2t --seeds 0 1 2 3 4",
    "ars_swimmer-v2t": "pgnotes ars-mujoco --preset swimmer-v2t --seeds " + " ".join(map(str, range(20))),
    "ch04_cem_planning": "python -m pgnotes.experiments.cem_planning",
    "ch04_dimension_scaling": "python -m pgnotes.experiments.dimension_scaling",
    "distributed_multienv": "python -m pgnotes.experiments.distributed_multienv",
    "reinforce_cartpole": "python -m pgnotes.experiments.reinforce_cartpole",
    "reinforce_offpolicy": "python -m pgnotes.experiments.reinforce_offpolicy",
    "reinforce_pendulum": "python -m pgnotes.experiments.reinforce_pendulum",
    "reinforce_replay": "python -m pgnotes.experiments.reinforce_replay",
    "reinforce_variance": "python -m pgnotes.experiments.reinforce_variance",
    "tetris_cem_constant": "pgnotes tetris-cem --noise constant",
    "tetris_cem_decreasing": "pgnotes tetris-cem --noise decreasing",
    "tetris_cem_none": "pgnotes tetris-cem --noise none",
    "tetris_dellacherie": "pgnotes tetris-dellacherie",
    "ars_parallel": "python benchmarks/ars_parallel.py --out results/ars_parallel.json",
    "cmaes_vs_pycma": "python benchmarks/cmaes_vs_pycma.py --out results/cmaes_vs_pycma.json",
    "distributed_scaling": "python benchmarks/distributed_scaling.py",
    "distributed_traffic": "python benchmarks/distributed_scaling.py",
    "es_update_vs_rollout": "python benchmarks/es_update_vs_rollout.py",
    "reinforce_speed": "python benchmarks/reinforce_speed.py",
    "tetris_speed": "python benchmarks/tetris_speed.py",
    "tetris_mdptetris": "python benchmarks/tetris_mdptetris.py --mdptetris PATH/TO/mdptetris_play_games --games 500",
}


class ResultNotFound(FileNotFoundError):
    """A results file is in none of the folders :func:`results_dirs` lists."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback: the message says all there is to do
        return [f"ResultNotFound: {self}"]


def results_dirs() -> list[Path]:
    """Folders searched for results, in order: ``./results``, the clone's ``results/``, the package's copy."""
    dirs: list[Path] = []
    for folder in (Path.cwd() / "results", CLONE_RESULTS):
        if folder.is_dir() and folder.resolve() not in [d.resolve() for d in dirs]:
            dirs.append(folder)
    packaged = resources.files("pgnotes") / PACKAGED_RESULTS
    if packaged.is_dir():
        dirs.append(Path(str(packaged)))
    return dirs


def command_for(name: str) -> str | None:
    """The command that writes ``results/<name>.json``, or None if the course has none."""
    stem = name[: -len(".json")] if name.endswith(".json") else name
    if stem in COMMANDS:
        return COMMANDS[stem]
    if stem.isidentifier():  # an experiment module named like its results file
        from importlib.util import find_spec

        if find_spec(f"pgnotes.experiments.{stem}") is not None:
            return f"python -m pgnotes.experiments.{stem}"
    return None


def result_path(name: str) -> Path:
    """Path of ``results/<name>.json`` (``name`` with or without ``.json``)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string such as 'es_cartpole', got {name!r}")
    filename = name if name.endswith(".json") else f"{name}.json"
    dirs = results_dirs()
    for folder in dirs:
        path = folder / filename
        if path.is_file():
            return path
    command = command_for(filename)
    if command is None:
        make = "no course command writes it (the experiment commands: `pgnotes --help`, pgnotes.experiments)"
    elif command.startswith("python benchmarks/"):
        make = f"make it with `{command}` in a clone of the repository"
    else:
        make = f"make it with `{command}`"
    # no absolute paths in the message: a notebook that prints it shows the same text everywhere
    raise ResultNotFound(f"results/{filename} not found (in ./results, the clone or the installed pgnotes); {make}")


def load_result(name: str) -> dict[str, Any]:
    """Load ``results/<name>.json`` as a dict (see the module docstring for where it is found)."""
    with open(result_path(name), encoding="utf-8") as handle:
        return json.load(handle)
