"""The child process that runs submitted code, and the trusted parent side that drives it.

Submitted code never runs in the grader's own process. ``pgnotes grade`` starts a fresh
interpreter (``python -I -m pgnotes.grading.sandbox``) in a temporary copy of the
submission's directory, with a minimal environment, in its own session, and that child
limits itself before any learner code runs (:func:`harden`):

- resource limits: CPU seconds (``RLIMIT_CPU``), address space (``RLIMIT_AS``), file size,
  no core dumps; the parent adds wall-clock deadlines and kills the process group;
- ``no_new_privs``; when the grader runs as root, every capability is dropped (bounding set
  too) so the child cannot raise its own limits;
- Linux Landlock, when the kernel has it (5.13+): the child may write only inside its
  temporary directory, may not read the hidden cases, the result cache or the original
  submissions folder, and (kernel 6.12+) may not signal processes outside the sandbox.

Two jobs run this way. ``execute``: the notebook in a fresh Jupyter kernel (nbclient) with
a per-cell timeout, for the report (which cells failed or timed out). ``call``: the code
cells run in order in a plain namespace (IPython syntax translated; ``check()`` made a
no-op), then the learner's functions are called on each case's inputs and each result is
converted to plain JSON values *in the child* and written as one line on a pipe that the
parent created. The parent never sees expected values leave its memory and never trusts the
child's verdict: it only reads values, re-validates their types (:mod:`.compare`) and
compares them itself. Anything else the child prints or writes is ignored.

One module of about 560 lines (hardening, the child's jobs, the parent's driver) because the
two ends of one pipe protocol and the limits the child applies to itself must change together;
the trust boundary runs between the sections of this file, marked by comments.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import resource
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

_DUMPS = json.dumps             # bound before any learner code can patch the json module
MAX_LINE = 64 * 1024 * 1024     # bytes of one result line the parent will read
MAX_LOG = 4000                  # characters of the child's own output kept for the report
MAX_TOTAL = 256 * 1024 * 1024   # bytes the parent reads from one child in all
MAX_LINES = 100_000             # result lines the parent keeps from one child


@dataclass(frozen=True)
class Limits:
    """Limits for one submission. Seconds are wall-clock unless named cpu."""

    cell_timeout: float = 10.0          # per notebook cell (both jobs)
    case_timeout: float = 5.0           # per call of a learner's function (the cases take milliseconds)
    retry_timeout: float = 1.0          # per call once any call of the submission has timed out
    cpu_seconds: int = 120              # RLIMIT_CPU of each child process
    memory_bytes: int = 4 * 1024**3     # RLIMIT_AS of each child process
    file_bytes: int = 256 * 1024**2     # RLIMIT_FSIZE
    startup_timeout: float = 60.0       # interpreter and kernel start-up allowance
    notebook_timeout: float = 300.0     # all cells of a notebook together

    def setup_deadline(self, cells: int) -> float:
        return self.startup_timeout + min(self.cell_timeout * max(cells, 1), self.notebook_timeout)


# --- hardening, run inside the child ---------------------------------------------------------

_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_CAP_AMBIENT = 38, 24, 28, 47
SECUREBITS_ROOT_IS_USER = 0x1 | 0x2 | 0x20 | 0x40 | 0x80   # NOROOT(+LOCKED), KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE(+LOCKED)

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are shared by x86-64 and arm64.
SYS_LANDLOCK = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when unavailable."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64", "arm64"):
        return 0
    try:
        return max(0, _libc().syscall(SYS_LANDLOCK["create_ruleset"], None, 0, 1))
    except Exception:
        return 0


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= 1 << 13           # REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _apply_landlock(writable: list[str], deny_read: list[str]) -> str:
    abi = landlock_abi()
    if abi <= 0:
        return "unavailable"
    libc = _libc()
    handled = _fs_rights(abi)
    file_rights = handled & (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)
    read = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
    attr = _RulesetAttr(handled, 0, (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _check(libc.syscall(SYS_LANDLOCK["create_ruleset"], ctypes.byref(attr), size, 0), "landlock_create_ruleset")

    def allow(path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            is_dir = os.path.isdir(path) and not os.path.islink(path)
            rule = _PathBeneath(rights if is_dir else rights & file_rights, fd)
            _check(libc.syscall(SYS_LANDLOCK["add_rule"], ruleset, 1, ctypes.byref(rule), 0), f"landlock_add_rule {path}")
        finally:
            os.close(fd)

    denied = sorted({os.path.realpath(p) for p in deny_read})

    def allow_read_around(directory: str) -> None:
        # read access everywhere except beneath the denied paths: grant each sibling subtree
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            return
        for name in entries:
            path = os.path.join(directory, name)
            if path in denied:
                continue
            if any(d.startswith(path.rstrip("/") + "/") for d in denied):
                allow_read_around(path)
            else:
                allow(path, read)

    if denied:
        allow_read_around("/")
    else:
        allow("/", read)
    for path in writable:
        allow(path, handled)
    for device in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full"):
        allow(device, file_rights)
    if os.path.isdir("/dev/shm"):
        allow("/dev/shm", handled)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _check(libc.syscall(SYS_LANDLOCK["restrict_self"], ruleset, 0), "landlock_restrict_self")
    os.close(ruleset)
    return f"landlock ABI {abi}" + (" (signals scoped)" if abi >= 6 else "")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> str:
    """As root: lock root out of capabilities (securebits), empty the bounding set, clear all."""
    libc = _libc()
    locked = libc.prctl(PR_SET_SECUREBITS, SECUREBITS_ROOT_IS_USER, 0, 0, 0) == 0   # needs CAP_SETPCAP
    try:
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        last = 40
    bounded = all(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 for cap in range(last + 1))
    libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset")
    if locked and bounded:
        return "capabilities dropped"
    return "capabilities dropped (an exec may regain those left in the bounding set)"


def protect_parent() -> bool:
    """Make the grader's own process non-dumpable: a same-user child then cannot ptrace it or
    read its memory (/proc/PID/mem) even where Landlock is missing. Linux only."""
    if sys.platform != "linux":
        return False
    try:
        return _libc().prctl(4, 0, 0, 0, 0) == 0   # PR_SET_DUMPABLE
    except Exception:
        return False


def harden(workdir: str, limits: Limits, deny_read: list[str] = ()) -> list[str]:
    """Limit the current process (and everything it starts); return what was applied."""
    applied = []
    for name, value in (("RLIMIT_CPU", int(limits.cpu_seconds)), ("RLIMIT_AS", int(limits.memory_bytes)),
                        ("RLIMIT_FSIZE", int(limits.file_bytes)), ("RLIMIT_CORE", 0)):
        kind = getattr(resource, name, None)
        hard = value + 1 if name == "RLIMIT_CPU" else value   # SIGXCPU at soft, SIGKILL at hard
        try:
            resource.setrlimit(kind, (value, hard))
            applied.append(f"{name}={value}")
        except (ValueError, OSError, TypeError) as error:   # e.g. RLIMIT_AS on macOS
            applied.append(f"{name} not set ({error})")
    if sys.platform == "linux":
        if os.geteuid() == 0:
            try:
                applied.append(_drop_capabilities())
            except OSError as error:
                applied.append(f"capabilities kept ({error})")
        try:
            applied.append(_apply_landlock([workdir], list(deny_read)))
        except OSError as error:
            applied.append(f"landlock failed ({error})")
        try:
            _check(_libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        except OSError:
            pass
    return applied


# --- the child's two jobs ----------------------------------------------------------------

class _Timeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


class _Channel:
    """The result pipe: one JSON object per line, written with os.write (no buffering)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, obj) -> None:
        data = (_DUMPS(obj, allow_nan=True) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]


class _ShellStub:
    """Stands in for ``get_ipython()``: magics and shell commands do nothing in the grader."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _error_text(error: BaseException) -> str:
    try:
        return f"{type(error).__name__}: {error}"[:300]
    except BaseException:
        return type(error).__name__


def _job_call(job: dict, channel: _Channel) -> None:
    import builtins

    import pgnotes.grading as grading
    from IPython.core.inputtransformer2 import TransformerManager

    from .cases import Case
    from .check import call_case
    from .compare import error_outcome

    def no_check(*args, **kwargs):      # the notebook's check() calls do nothing here
        return None

    grading.check = no_check
    sys.modules["pgnotes.grading.check"].check = no_check
    transform = TransformerManager().transform_cell
    stub = _ShellStub()
    namespace = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": lambda: stub}
    signal.signal(signal.SIGALRM, _on_alarm)
    for index, source in job["cells"]:   # [notebook cell index, source] of each code cell
        try:
            code = compile(transform(source), f"<cell {index}>", "exec")
            signal.setitimer(signal.ITIMER_REAL, job["cell_timeout"])
            try:
                exec(code, namespace)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Timeout:
            channel.send({"cell": index, "error": f"timed out after {job['cell_timeout']:g} s"})
        except BaseException as error:   # SystemExit, KeyboardInterrupt, anything: go on with the next cell
            channel.send({"cell": index, "error": _error_text(error)})
    channel.send({"ready": True})
    # once a call has timed out, every later call gets the short retry limit, and a function
    # that timed out twice is not called again: a looping submission costs one case limit and
    # a few short ones, not a limit per case (a helper that loops can break several functions)
    timeouts: dict = {}
    retry = min(float(job.get("retry_timeout", job["case_timeout"])), float(job["case_timeout"]))
    for spec in job["cases"]:
        function = namespace.get(spec["function"])
        count = timeouts.get(spec["function"], 0)
        if count >= 2:
            channel.send({"i": spec["i"], "skipped": True, "seconds": 0.0})
            continue
        limit = retry if timeouts else job["case_timeout"]
        start = time.perf_counter()
        if not callable(function):
            outcome = {"error": {"type": "NameError", "mro": ["NameError"],
                                 "message": f"no function named {spec['function']} is defined in the notebook"}}
        else:
            case = Case(name="", args=spec["args"], kwargs=spec["kwargs"], expected=None)
            try:
                signal.setitimer(signal.ITIMER_REAL, limit)
                try:
                    outcome = call_case(function, case)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except _Timeout:
                outcome = None
            except BaseException as error:
                outcome = error_outcome(error)
            if outcome is not None and outcome.get("error", {}).get("type") == "_Timeout":
                outcome = None
        if outcome is None:
            timeouts[spec["function"]] = count + 1
            channel.send({"i": spec["i"], "timeout": True, "limit": limit, "seconds": time.perf_counter() - start})
        else:
            channel.send({"i": spec["i"], "outcome": outcome, "seconds": time.perf_counter() - start})
    channel.send({"done": True})


def _job_execute(job: dict, channel: _Channel) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    notebook = nbformat.reads(job["notebook"], as_version=4)
    client = NotebookClient(notebook, timeout=job["cell_timeout"], kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=False, shutdown_kernel="immediate",
                            startup_timeout=job["startup_timeout"],
                            resources={"metadata": {"path": job["workdir"]}})
    current = [None]

    def on_cell_start(cell, cell_index, **kwargs):
        current[0] = cell_index

    client.on_cell_start = on_cell_start
    start = time.perf_counter()
    status = "ok"
    def die_with_parent():   # the kernel gets SIGKILL when this runner dies (it starts its own session)
        _libc().prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG

    at_cell = None
    try:
        client.execute(preexec_fn=die_with_parent)
    except CellTimeoutError:
        status, at_cell = f"timed out after {job['cell_timeout']:g} s", current[0]
    except DeadKernelError:
        status = "the kernel died"
    except BaseException as error:
        status = f"failed: {_error_text(error)}"
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        errors = [f"{o.get('ename', '')}: {o.get('evalue', '')}"[:300] for o in cell.get("outputs", [])
                  if o.get("output_type") == "error"]
        if errors:
            cells.append({"cell": index, "error": errors[0]})
    channel.send({"executed": status, "at_cell": at_cell, "cells": cells, "seconds": time.perf_counter() - start})


def child_main() -> int:
    job = json.loads(sys.stdin.buffer.read().decode())
    sys.stdin.close()
    channel = _Channel(job["fd"])
    os.chdir(job["workdir"])
    limits = Limits(**job["limits"])
    applied = harden(job["workdir"], limits, job.get("deny_read", []))
    channel.send({"isolation": applied})
    if job["mode"] == "call":
        _job_call(job, channel)
    else:
        _job_execute(job, channel)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# --- the trusted parent side -------------------------------------------------------------

def child_environment(workdir: str) -> dict:
    home = os.path.join(workdir, ".home")
    os.makedirs(home, exist_ok=True)
    return {
        "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin",
        "HOME": home, "TMPDIR": workdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2", "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
        "IPYTHONDIR": os.path.join(home, ".ipython"), "JUPYTER_RUNTIME_DIR": os.path.join(home, ".jupyter-runtime"),
        "JUPYTER_PLATFORM_DIRS": "1", "NUMBA_CACHE_DIR": os.path.join(home, ".numba"), "MUJOCO_GL": "egl",
        # check() calls inside an executed notebook (the report's run) wait at most 1 s per case
        "PGNOTES_CHECK_TIMEOUT": "1",
    }


@dataclass
class ChildRun:
    """What the parent saw of one child: lines it accepted, and how the child ended."""

    lines: list[dict] = field(default_factory=list)
    ended: str = ""             # "" | "timeout" | "exit N" | "signal NAME"
    seconds: float = 0.0
    log: str = ""


def _describe_exit(code: int) -> str:
    if code >= 0:
        return f"exit {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = str(-code)
    return f"signal {name}"


class Progress:
    """Deadlines for one child: ``allowance()`` seconds after the last line that made progress.

    A line makes progress only once per milestone (``ready``, a new case index, the execute
    summary), so a child cannot keep itself alive by writing lines.
    """

    def __init__(self, setup_seconds: float, step_seconds: float, case_ids=()) -> None:
        self.setup_seconds, self.step_seconds = setup_seconds, step_seconds
        self.waiting = set(case_ids)
        self.ready = False

    def accept(self, line: dict) -> bool:
        if line.get("ready") is True and not self.ready:
            self.ready = True
            return True
        index = line.get("i")
        if type(index) is int and index in self.waiting:
            self.waiting.discard(index)
            return True
        return False

    def allowance(self) -> float:
        return self.step_seconds if self.ready else self.setup_seconds


def run_child(job: dict, workdir: str, progress: Progress, tag: str = "child") -> ChildRun:
    """Start a child on ``job``; read its result lines until it ends or a deadline passes.

    Each line must be a JSON object; others are skipped (the child's output is not trusted
    to be well formed). On a deadline the child's whole process group is killed.
    """
    read_fd, write_fd = os.pipe()
    job = dict(job, fd=write_fd, workdir=workdir)
    log_path = os.path.join(workdir, f".grader-{tag}.log")
    run = ChildRun()
    start = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-I", "-m", "pgnotes.grading.sandbox"], stdin=subprocess.PIPE, stdout=log,
            stderr=subprocess.STDOUT, cwd=workdir, env=child_environment(workdir), pass_fds=(write_fd,),
            start_new_session=True, close_fds=True)
    os.close(write_fd)
    try:
        try:
            process.stdin.write(json.dumps(job).encode())
            process.stdin.close()
        except OSError:
            pass
        buffer = b""
        received = 0
        last = time.monotonic()
        while True:
            timeout = progress.allowance() - (time.monotonic() - last)
            if timeout <= 0:
                run.ended = "timeout"
                break
            ready, _, _ = select.select([read_fd], [], [], min(timeout, 0.25))
            if not ready:
                if process.poll() is not None:
                    break   # the child is gone (a grandchild may still hold the pipe open)
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            received += len(chunk)
            if received > MAX_TOTAL or len(run.lines) > MAX_LINES:
                run.ended = "too much output on the result channel"
                break
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            if len(buffer) > MAX_LINE:
                run.ended = "result line too long"
                break
            for raw in complete:
                try:
                    line = json.loads(raw.decode())
                except (ValueError, UnicodeDecodeError, RecursionError):
                    continue
                if type(line) is dict:
                    run.lines.append(line)
                    if progress.accept(line):
                        last = time.monotonic()
    finally:
        os.close(read_fd)
        for _ in range(2):   # the child's session: the child and anything it started in its group
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if process.poll() is None:
                process.kill()
            try:
                code = process.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                code = -9
    if not run.ended:
        run.ended = _describe_exit(code)
    run.seconds = time.monotonic() - start
    try:
        with open(log_path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(log_path) - MAX_LOG))
            run.log = handle.read().decode(errors="replace")
    except OSError:
        pass
    return run


def limits_dict(limits: Limits) -> dict:
    return asdict(limits)


if __name__ == "__main__":
    sys.exit(child_main())
