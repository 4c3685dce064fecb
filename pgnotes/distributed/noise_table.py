"""A shared noise table: one block of N(0, 1) float32 numbers, built from a seed, addressed by index.

Chapter 6 (distributed evolution strategies). Salimans et al. (2017) never send a perturbation
between machines: every worker holds the same large table of Gaussian numbers, and a
perturbation of a ``dim``-parameter policy is just the slice ``table[i : i + dim]`` for an
index ``i``. Sending ``i`` (one integer) replaces sending ``dim`` floats.

The table is a deterministic function of ``(seed, size)``: numpy's ``default_rng(seed)``
draws it with ``standard_normal(size, dtype=float32)``. Generating is sequential, so the first
``k`` numbers of a table of any size are the same, which :func:`NoiseTable.verify` uses to
check a mapped copy cheaply.

Sharing on one host: the workers of one machine share a single copy instead of each building
its own. :func:`shared_noise_table` has local rank 0 write the table to a file in
``/dev/shm`` (memory, not disk), atomically (a temporary file moved into place), and every
local rank maps that file read-only with ``numpy.memmap``; the operating system keeps one copy
in RAM however many workers map it. The file name carries the job's tag (:func:`job_tag`:
the launcher's ``PGNOTES_NOISE_TAG`` or torchrun's run id), so jobs side by side never share
or remove each other's file, while a job restarted by ``torchrun --max-restarts`` (same run
id) maps it again instead of rebuilding it. A job that finishes removes its file
(:meth:`NoiseTable.unlink`); the launcher also removes it after a failed job.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from pgnotes import _validate

#: Default table length: 2**25 float32 numbers (128 MiB). OpenAI's code used 250 million.
DEFAULT_SIZE = 2**25

_VERIFY_PREFIX = 4096


def _shm_dir() -> Path:
    """Directory for shared tables: ``/dev/shm`` where it exists (Linux), else the temp dir."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def job_tag() -> str | None:
    """The tag that keeps one job's table file apart from another's on the same machine.

    ``PGNOTES_NOISE_TAG`` (set by :func:`pgnotes.distributed.launcher.launch`), else torchrun's
    ``TORCHELASTIC_RUN_ID`` (the same across restarts of one job), else None.
    """
    tag = os.environ.get("PGNOTES_NOISE_TAG") or os.environ.get("TORCHELASTIC_RUN_ID")
    if not tag:
        return None
    return "".join(c for c in tag if c.isalnum() or c in "-_")[:64] or None


def table_path(seed: int, size: int, directory: str | os.PathLike | None = None, tag: str | None = None) -> Path:
    """File name that identifies a table: seed, size and (optionally) the job's tag."""
    directory = Path(directory) if directory is not None else _shm_dir()
    suffix = f"_{tag}" if tag else ""
    return directory / f"pgnotes_noise_s{int(seed)}_n{int(size)}{suffix}.f32"


def build_noise(seed: int, size: int) -> np.ndarray:
    """The table's content: ``size`` standard normal float32 numbers from ``default_rng(seed)``."""
    seed = _validate.integer_at_least("seed", seed, 0, None)
    size = _validate.integer_at_least("size", size, 1, _validate.MAX_ELEMENTS)
    return np.random.default_rng(seed).standard_normal(size, dtype=np.float32)


class NoiseTable:
    """A read-only float32 vector of standard normal numbers with index arithmetic.

    Build one with :meth:`NoiseTable.build` (private copy) or :func:`shared_noise_table`
    (one copy per host). Introduced in chapter 6.

    Parameters
    ----------
    noise : numpy.ndarray
        1-D float32 array (an in-memory array or a ``numpy.memmap``).
    seed : int
        The seed it was built from (kept for checks and for naming the shared file).
    path : pathlib.Path, optional
        The shared-memory file backing it, if any.
    """

    def __init__(self, noise: np.ndarray, seed: int, path: Path | None = None):
        if noise.ndim != 1 or noise.dtype != np.float32:
            raise ValueError(f"noise must be a 1-D float32 array, got {noise.dtype} with shape {noise.shape}")
        self.noise = noise
        self.seed = int(seed)
        self.path = path

    @classmethod
    def build(cls, seed: int, size: int = DEFAULT_SIZE) -> "NoiseTable":
        """A private in-memory table (no sharing); fine for one process and for small tables."""
        return cls(build_noise(seed, size), seed)

    @property
    def size(self) -> int:
        """Number of float32 entries."""
        return int(self.noise.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes the table occupies (once per host when shared)."""
        return int(self.noise.nbytes)

    def check_dim(self, dim: int) -> int:
        """Raise ``ValueError`` unless a slice of length ``dim`` fits in the table."""
        dim = _validate.integer_at_least("dim", dim, 1)
        if dim > self.size:
            raise ValueError(
                f"noise table too small for the parameter dimension: dim={dim} needs a table of at "
                f"least {dim} entries (preferably many times more), but the table has size={self.size}; "
                f"build a larger table (noise_size >= dim)"
            )
        return dim

    def sample_index(self, rng: np.random.Generator, dim: int) -> int:
        """Draw a start index uniformly from ``0 .. size - dim`` so ``get(index, dim)`` fits."""
        dim = self.check_dim(dim)
        return int(rng.integers(0, self.size - dim + 1))

    def get(self, index: int, dim: int) -> np.ndarray:
        """The perturbation ``table[index : index + dim]`` (a read-only view, no copy)."""
        dim = self.check_dim(dim)
        index = int(index)
        if index < 0 or index + dim > self.size:
            raise ValueError(f"index must lie in [0, {self.size - dim}] for dim={dim}, got {index}")
        view = self.noise[index : index + dim]
        if view.flags.writeable:
            view = view.view()
            view.flags.writeable = False
        return view

    def verify(self, prefix: int = _VERIFY_PREFIX) -> None:
        """Check the first ``prefix`` entries against a fresh draw from the seed (cheap, catches stale files)."""
        k = min(int(prefix), self.size)
        expected = build_noise(self.seed, k)
        if not np.array_equal(np.asarray(self.noise[:k]), expected):
            where = f" ({self.path})" if self.path else ""
            raise RuntimeError(f"noise table{where} does not match seed {self.seed}: stale or corrupt file")

    def unlink(self) -> None:
        """Delete the shared-memory file (mapped copies stay valid until closed)."""
        if self.path is not None and self.path.exists():
            self.path.unlink()

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"NoiseTable(seed={self.seed}, size={self.size}{where})"


def _write_table(path: Path, seed: int, size: int) -> None:
    noise = build_noise(seed, size)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            noise.tofile(handle)
            handle.flush()
        os.replace(tmp, path)  # atomic: readers see no file or the whole file
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def shared_noise_table(
    seed: int,
    size: int = DEFAULT_SIZE,
    *,
    local_rank: int = 0,
    directory: str | os.PathLike | None = None,
    tag: str | None = None,
    wait_s: float = 120.0,
) -> NoiseTable:
    """Map the host's shared copy of the table, creating it if this is local rank 0.

    Parameters
    ----------
    seed, size : int
        Identify the table (same on every worker of a job).
    local_rank : int
        Rank of this process on its host (``LOCAL_RANK`` under torchrun). Rank 0 writes the
        file if it does not exist yet; the others wait for it (at most ``wait_s`` seconds).
    directory : path, optional
        Where the file lives; default ``/dev/shm`` (falls back to the temp directory).
    tag : str, optional
        Part of the file name that belongs to one job (see :func:`job_tag`), so that jobs
        running side by side never remove or half-see each other's file.
    wait_s : float
        Bound on waiting for local rank 0 (so a failed rank 0 cannot hang the others).

    Returns
    -------
    NoiseTable
        Backed by a read-only ``numpy.memmap`` of the file.
    """
    seed = _validate.integer_at_least("seed", seed, 0, None)
    size = _validate.integer_at_least("size", size, 1, _validate.MAX_ELEMENTS)
    path = table_path(seed, size, directory, tag)
    expected_bytes = 4 * size
    if local_rank == 0 and not (path.exists() and path.stat().st_size == expected_bytes):
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_table(path, seed, size)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if path.stat().st_size == expected_bytes:
                noise = np.memmap(path, dtype=np.float32, mode="r", shape=(size,))
                break
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"noise table {path} did not appear within {wait_s} s (is local rank 0 alive?)")
        time.sleep(0.02)
    table = NoiseTable(noise, seed, path)
    table.verify()
    return table
