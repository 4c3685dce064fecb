"""Execute notebooks in place with stored widget state (``make execute``).

Usage: python tools/execute_notebooks.py NOTEBOOK.ipynb [...]

Each notebook runs in a fresh kernel in its own directory with PYTHONHASHSEED=0, so
the stored outputs are the ones strict nbval compares against in ``make test``.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 600) -> float:
    notebook = nbformat.read(path, as_version=4)
    os.environ["PYTHONHASHSEED"] = "0"
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    # read by the book's "Notebook execution status" page (book/_ext/notebook_status.py)
    notebook.metadata["pgnotes"] = {
        "execution_seconds": round(seconds, 1),
        "executed_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
    }
    nbformat.write(notebook, path)
    return seconds


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for name in argv:
        path = Path(name)
        seconds = execute(path)
        print(f"{path}: executed in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
