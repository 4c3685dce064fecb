"""Provenance recorded in every results file: the git commit and the software/machine facts.

Long experiments are commands that write ``results/*.json`` with their configuration, seed,
commit and timings (DESIGN.md); this module gives them the last two ingredients.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the clone's root when pgnotes is used from a clone


def git_commit(*, mark_dirty: bool = True) -> str:
    """The commit of the clone pgnotes runs from (``+dirty`` if tracked files changed).

    ``"unknown"`` when pgnotes is not used from a git clone of the course (an installed wheel:
    its site-packages folder is never asked, even if it happens to lie inside some other repository).
    """
    if not ((ROOT / ".git").exists() and (ROOT / "pyproject.toml").is_file()):
        return "unknown"
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
        if not mark_dirty:
            return head
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict:
    """Versions and machine facts stored with every results file.

    Versions are read from the installed distributions' metadata, so asking costs no import of
    torch or gymnasium; ``torch_threads`` is recorded when torch is already imported (it is by
    every experiment that uses it).
    """
    import sys
    from importlib import metadata

    from pgnotes import __version__

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    torch = sys.modules.get("torch")
    return {
        "pgnotes": __version__,
        "python": platform.python_version(),
        "torch": version("torch"),
        "gymnasium": version("gymnasium"),
        "numpy": version("numpy"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "load_average_1min_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
