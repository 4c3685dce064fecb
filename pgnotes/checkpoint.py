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


def _check_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), got {type(path).__name__} {path!r:.80}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path must be a file path, got the directory {str(path)!r}")
    return path


def _write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    path = _check_path(path)
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
    with open(_check_path(path), "rb") as handle:
        return pickle.load(handle)


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int = 1) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically."""
    return _write_atomic(path, (json.dumps(obj, indent=indent, sort_keys=False) + "\n").encode())


# Portable checkpoints: JSON text, small enough to commit next to the results they belong to,
# readable on any machine (no pickle). Floats are written by ``repr`` and read back bit for bit;
# numpy arrays are tagged so they come back with their dtype and shape.

def _to_json(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype), "shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): _to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_json(v) for v in obj]
    return obj


def _from_json(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return np.array(obj["__ndarray__"], dtype=obj["dtype"]).reshape(obj["shape"])
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    return obj


def save_portable_checkpoint(path: str | os.PathLike, state: Any) -> Path:
    """Write ``state`` (dicts, lists, numbers, strings, numpy arrays) as JSON, atomically.

    Meant for checkpoints committed to the repository so a long run continues on any machine.
    """
    return _write_atomic(path, (json.dumps(_to_json(state), indent=0) + "\n").encode())


def load_portable_checkpoint(path: str | os.PathLike) -> Any:
    """Read a checkpoint written by :func:`save_portable_checkpoint` (arrays come back as numpy arrays)."""
    with open(path, encoding="utf-8") as handle:
        return _from_json(json.load(handle))


def check_resumable(path: str | os.PathLike, saved: dict, current: dict, *, may_change: tuple[str, ...] = ()) -> None:
    """The one resume check: a checkpoint continues only the run that wrote it.

    ``saved`` and ``current`` are the settings (e.g. ``dataclasses.asdict(config)``) stored in the
    checkpoint and given now; every key except those in ``may_change`` (budgets, worker counts,
    output paths: settings that do not change the numbers) must agree, else ``ValueError`` names the
    checkpoint and each setting that differs.
    """
    keys = (set(saved) | set(current)) - set(may_change)
    differ = sorted(k for k in keys if saved.get(k, "<missing>") != current.get(k, "<missing>"))
    if differ:
        details = "; ".join(f"{k}: checkpoint {saved.get(k, '<missing>')!r}, now {current.get(k, '<missing>')!r}"
                            for k in differ)
        raise ValueError(f"the checkpoint {str(path)!r} was written by another run ({details}); "
                         "use another checkpoint path, or delete it to start again")
