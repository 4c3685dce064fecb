"""Run a distributed ES job with ``torchrun`` from Python or a notebook, and stream its progress (chapter 6).

A notebook cannot hand a function defined in a cell to worker processes (``spawn`` pickles by
reference), so the workers live in an importable module (:mod:`pgnotes.distributed.spmd_es`)
and :func:`launch` runs ``torchrun`` as a subprocess::

    python -m torch.distributed.run --standalone --nproc-per-node 2 --max-restarts 1 \\
        -m pgnotes.distributed.spmd_es --task CartPole-v1 --generations 20 ...

It reads the workers' ``PGNOTES_ES {json}`` lines as they come, shows a progress bar
(``tqdm.auto``), reports restarts, and returns a :class:`LaunchResult` with the events and the
result JSON. Everything is bounded in time: the whole job (``timeout_s``, then the process
group is killed), the rendezvous (``rendezvous_timeout_s``), and inside the job every
collective (``ESConfig.timeout_s``) and every episode (``max_episode_steps``).

Several machines: give ``nnodes`` and the ``rdzv_endpoint`` ``host:port`` of one of them, and
run the same call (or the same ``torchrun`` command, see :func:`torchrun_command`) on every
machine. Before starting, :func:`check_rendezvous` resolves the host and, if it is not this
machine, connects to it; an unreachable address raises :class:`RendezvousError` within
``rendezvous_timeout_s`` instead of waiting forever.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from pgnotes import _validate
from pgnotes.distributed.algorithm import ESConfig, check_world_size
from pgnotes.distributed.noise_table import table_path

EVENT_PREFIX = "PGNOTES_ES "
MODULES = {"spmd": "pgnotes.distributed.spmd_es", "naive": "pgnotes.distributed.naive"}


class LaunchError(RuntimeError):
    """The torchrun job failed; the message carries the workers' error and the stderr tail."""


class RendezvousError(ConnectionError):
    """The rendezvous address cannot be resolved or reached within the time allowed."""


@dataclass
class LaunchResult:
    """What :func:`launch` returns."""

    returncode: int
    command: list[str]
    wall_s: float
    events: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    stderr_tail: str = ""

    @property
    def restarts(self) -> int:
        """How many times torchrun restarted the worker group."""
        return max((e.get("restart", 0) for e in self.events if e.get("event") == "start"), default=0)

    @property
    def generations(self) -> list[dict[str, Any]]:
        """The per-generation events of rank 0, in order of arrival."""
        return [e for e in self.events if e.get("event") == "generation"]


def _split_endpoint(endpoint: str) -> tuple[str, int]:
    host, sep, port = str(endpoint).rpartition(":")
    if not sep or not host:
        return str(endpoint), 29400
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ValueError(f"rdzv_endpoint must be 'host:port', got {endpoint!r}") from None


def _is_local(address: str) -> bool:
    """An address is this machine's if a socket can bind to it."""
    if address.startswith("127.") or address == "::1":
        return True
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
        return True
    except OSError:
        return False


def check_rendezvous(endpoint: str, timeout_s: float = 30.0) -> bool:
    """Raise :class:`RendezvousError` unless ``endpoint`` resolves and (if remote) accepts connections.

    Returns True if the endpoint is this machine (torchrun will host the rendezvous store
    here), False if it is a reachable remote one. Retries until ``timeout_s`` so a host node
    that starts a little later is still found.
    """
    timeout_s = _validate.positive("rendezvous_timeout_s", timeout_s)
    host, port = _split_endpoint(endpoint)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise RendezvousError(f"rendezvous host {host!r} cannot be resolved: {error}") from None
    addresses = [info[4][0] for info in infos]
    if any(_is_local(a) for a in addresses):
        return True
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            with socket.create_connection((host, port), timeout=min(remaining, 5.0)):
                return False
        except OSError as error:
            last = error
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    raise RendezvousError(
        f"rendezvous endpoint {host}:{port} is unreachable (no connection within {timeout_s:g} s: {last}); "
        f"start the node that hosts it first, check the address and that the port is open"
    )


def torchrun_command(
    args: Sequence[str],
    nproc: int,
    *,
    module: str = "spmd",
    nnodes: int = 1,
    rdzv_endpoint: str | None = None,
    rdzv_id: str = "pgnotes-es",
    max_restarts: int = 0,
    rendezvous_timeout_s: float = 30.0,
) -> list[str]:
    """The ``torchrun`` command line (as run by :func:`launch`; print it to run it by hand).

    Parameters
    ----------
    args : list of str
        The workers' arguments (``ESConfig.to_argv()``).
    nproc : int
        Workers on this node (``--nproc-per-node``).
    module : str
        ``"spmd"`` (Algorithm 2), ``"naive"`` (full vectors) or a module name.
    nnodes, rdzv_endpoint, rdzv_id
        Multi-node settings; ``rdzv_endpoint`` is ``"host:port"`` and is required when ``nnodes > 1``.
    max_restarts : int
        torchrun's ``--max-restarts``: how often a failed worker group is restarted (resuming
        from the checkpoint when ``config.checkpoint`` is set).
    rendezvous_timeout_s : float
        Bound on reaching the rendezvous (multi-node).
    """
    nproc = _validate.integer_at_least("nproc", nproc, 1)
    nnodes = _validate.integer_at_least("nnodes", nnodes, 1)
    max_restarts = _validate.integer_at_least("max_restarts", max_restarts, 0)
    target = MODULES.get(module, module)
    cmd = [sys.executable, "-m", "torch.distributed.run"]
    if nnodes == 1 and rdzv_endpoint is None:
        cmd += ["--standalone"]
    else:
        if rdzv_endpoint is None:
            raise ValueError("rdzv_endpoint ('host:port' of the rendezvous) is required when nnodes > 1")
        t = max(1, int(round(rendezvous_timeout_s)))
        cmd += ["--nnodes", str(nnodes), "--rdzv-backend", "c10d", "--rdzv-endpoint", rdzv_endpoint,
                "--rdzv-id", rdzv_id, "--rdzv-conf", f"join_timeout={t},read_timeout={t}"]
    cmd += ["--nproc-per-node", str(nproc), "--max-restarts", str(max_restarts), "-m", target, *args]
    return cmd


def _pump(stream, tag: str, out: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        out.put((tag, line.rstrip("\n")))
    out.put((tag, None))


def launch(
    config: ESConfig | Sequence[str],
    nproc: int = 2,
    *,
    timeout_s: float = 600.0,
    progress: bool = True,
    echo: bool = False,
    check: bool = True,
    env: dict[str, str] | None = None,
    remove_noise_table: bool = True,
    **torchrun_options: Any,
) -> LaunchResult:
    """Run ``torchrun`` with ``nproc`` workers per node on ``config``; stream progress; return the result.

    Parameters
    ----------
    config : ESConfig or list of str
        The run; an :class:`~pgnotes.distributed.algorithm.ESConfig` is validated here first
        (a world larger than the population raises ``ValueError`` before anything starts).
        Without ``config.out`` the result goes to a temporary file and is returned.
    nproc : int
        Workers on this node (``--nproc-per-node``).
    timeout_s : float
        Bound on the whole job; on expiry the process group is killed and ``TimeoutError`` raised.
    progress : bool
        Show a ``tqdm.auto`` bar and print restarts.
    echo : bool
        Also print the workers' other output lines.
    check : bool
        Raise :class:`LaunchError` if the job fails (else return the result with its code).
    env : dict, optional
        Extra environment variables for torchrun and the workers.
    remove_noise_table : bool
        Delete this job's noise-table file on this machine afterwards (it lives in
        ``/dev/shm``, i.e. in memory). Each launch tags its file (``PGNOTES_NOISE_TAG``), so
        jobs running side by side never share, or remove, each other's table.
    **torchrun_options
        ``module``, ``nnodes``, ``rdzv_endpoint``, ``rdzv_id``, ``max_restarts`` and
        ``rendezvous_timeout_s``, with the meanings and defaults of :func:`torchrun_command`.
    """
    timeout_s = _validate.positive("timeout_s", timeout_s)
    nproc = _validate.integer_at_least("nproc", nproc, 1)
    try:  # the torchrun options and their defaults are torchrun_command's
        options = inspect.signature(torchrun_command).bind((), nproc, **torchrun_options)
    except TypeError as error:
        raise TypeError(f"launch: {error} (torchrun options: those of torchrun_command)") from None
    options.apply_defaults()
    nnodes = _validate.integer_at_least("nnodes", options.arguments["nnodes"], 1)
    rdzv_endpoint = options.arguments["rdzv_endpoint"]
    tmpdir = None
    total = None
    if isinstance(config, ESConfig):
        check_world_size(nproc * nnodes, config.directions)
        if config.out is None:
            tmpdir = tempfile.TemporaryDirectory(prefix="pgnotes_es_")
            config = dataclasses.replace(config, out=str(Path(tmpdir.name) / "result.json"))
        out_path, total, args = config.out, config.generations, config.to_argv()
    else:
        out_path, args = None, list(config)
    cmd = torchrun_command(args, nproc, **torchrun_options)
    if nnodes > 1 or rdzv_endpoint is not None:
        check_rendezvous(rdzv_endpoint, options.arguments["rendezvous_timeout_s"])
    tag = uuid.uuid4().hex[:16]  # this job's noise-table file: never shared with another job
    noise_file = table_path(config.seed, config.noise_size, tag=tag) if isinstance(config, ESConfig) else None
    run_env = dict(os.environ)
    run_env.update({"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "PGNOTES_NOISE_TAG": tag})
    run_env.update(env or {})

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"ES, {nproc * nnodes} worker(s)", unit="gen")
    events: list[dict[str, Any]] = []
    stderr_tail: deque[str] = deque(maxlen=200)
    lines: queue.Queue = queue.Queue()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                            env=run_env, start_new_session=True)
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, "out", lines), daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, "err", lines), daemon=True)]
    for p in pumps:
        p.start()
    open_streams = 2
    try:
        while open_streams:
            remaining = timeout_s - (time.monotonic() - start)
            if remaining <= 0:
                _kill_group(proc)
                raise TimeoutError(f"distributed ES job did not finish within timeout_s={timeout_s:g} s; killed it")
            try:
                tag, line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
                continue
            if tag == "err":
                stderr_tail.append(line)
                continue
            if line.startswith(EVENT_PREFIX):
                try:
                    event = json.loads(line[len(EVENT_PREFIX):])
                except json.JSONDecodeError:
                    continue
                events.append(event)
                _show(event, bar, progress)
            elif echo:
                print(line, flush=True)
        proc.wait(timeout=max(1.0, timeout_s - (time.monotonic() - start)))
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        if bar is not None:
            bar.close()
        if remove_noise_table and noise_file is not None and noise_file.exists():
            noise_file.unlink()
    wall = time.monotonic() - start
    result = None
    if proc.returncode == 0 and out_path and os.path.exists(out_path):
        with open(out_path) as handle:
            result = json.load(handle)
    if tmpdir is not None:
        tmpdir.cleanup()
    launched = LaunchResult(proc.returncode, cmd, wall, events, result, "\n".join(stderr_tail))
    if check and proc.returncode != 0:
        raise _failure(launched)
    return launched


def _show(event: dict[str, Any], bar, progress: bool) -> None:
    if not progress:
        return
    kind = event.get("event")
    if kind == "generation" and bar is not None:
        bar.n = int(event["generation"]) + 1
        bar.set_postfix(mean_return=f"{event.get('mean_return', float('nan')):.1f}", refresh=False)
        bar.refresh()
    elif kind == "start" and event.get("rank") == 0 and event.get("restart", 0) > 0:
        message = f"restart {event['restart']}: workers restarted, resuming from generation {event['resumed_from']}"
        if bar is not None:
            bar.n = int(event["resumed_from"])
            bar.write(message)
        else:
            print(message, flush=True)


def _failure(launched: LaunchResult) -> Exception:
    errors = [e for e in launched.events if e.get("event") == "error"]
    tail = launched.stderr_tail
    if "RendezvousConnectionError" in tail or "RendezvousTimeoutError" in tail:
        return RendezvousError(f"torchrun could not complete the rendezvous (exit code {launched.returncode}):\n"
                               + "\n".join(tail.splitlines()[-5:]))
    if errors:
        first = errors[0]
        return LaunchError(f"worker rank {first.get('rank')} failed with {first.get('type')}: {first.get('message')} "
                           f"(exit code {launched.returncode})")
    return LaunchError(f"torchrun exited with code {launched.returncode}; last stderr lines:\n"
                       + "\n".join(tail.splitlines()[-15:]))


def _kill_group(proc: subprocess.Popen) -> None:
    """Terminate torchrun and its workers (they share the new session's process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
