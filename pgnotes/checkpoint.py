"""Atomic checkpoints: a file is either the old complete one or the new complete one, never half written.

Written to a temporary file in the same directory, flushed and fsynced, then moved into
place with ``os.replace`` (atomic on POSIX). Used by every long run in the course so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any


def _write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_checkpoint(path: str | os.PathLike, state: Any) -> Path:
    """Pickle ``state`` to ``path`` atomically."""
    return _write_atomic(path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def load_checkpoint(path: str | os.PathLike) -> Any:
    """Load a checkpoint written by :func:`save_checkpoint` (trusted files only: it unpickles)."""
    with open(path, "rb") as handle:
        return pickle.load(handle)


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int = 1) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically."""
    return _write_atomic(path, (json.dumps(obj, indent=indent, sort_keys=False) + "\n").encode())
