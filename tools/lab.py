"""Start JupyterLab at the repository root with the course's kernel (``make lab``).

Usage: python tools/lab.py [--port N] [JUPYTER LAB OPTIONS...]

Without ``--port`` it takes port 8888, or the next free port up to 8987 and says so. With
``--port N`` (``make lab PORT=N``) it uses exactly N and, if N is busy, stops with a message
naming the port and how to choose another (exit status 2). ``make lab`` registers the kernel
"Python (pgnotes)" (this venv's Python) first; new notebooks default to it.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = 8888
SEARCH = 100  # ports tried after the default one
HOST = "127.0.0.1"


class PortBusy(RuntimeError):
    """The port asked for is taken."""


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on ``host:port`` now (and on ``::1``, which "localhost" also means)."""
    addresses = [(socket.AF_INET, host)]
    if host == HOST and socket.has_ipv6:
        addresses.append((socket.AF_INET6, "::1"))
    for family, address in addresses:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((address, port))
            except OSError as error:
                if family == socket.AF_INET6 and error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    continue  # no IPv6 loopback here
                return False
    return True


def choose_port(requested: int | None, host: str = HOST) -> tuple[int, str | None]:
    """The port to use and a note to print (None when the first choice was free).

    ``requested``: the port the user asked for (then it must be free), or None for 8888 or
    the next free port after it.
    """
    if requested is not None:
        if not 1 <= requested <= 65535:
            raise ValueError(f"PORT must be between 1 and 65535, got {requested}")
        if not port_is_free(requested, host):
            raise PortBusy(f"port {requested} is busy (another server listens on it); choose another with "
                           f"`make lab PORT=...`, or leave PORT unset to take a free one")
        return requested, None
    for port in range(DEFAULT_PORT, DEFAULT_PORT + SEARCH):
        if port_is_free(port, host):
            note = None if port == DEFAULT_PORT else (
                f"port {DEFAULT_PORT} is busy; using port {port} (choose one with `make lab PORT=...`)")
            return port, note
    raise PortBusy(f"ports {DEFAULT_PORT}-{DEFAULT_PORT + SEARCH - 1} are all busy; choose one with `make lab PORT=...`")


def lab_command(port: int, extra: list[str]) -> list[str]:
    """The ``jupyter lab`` command line: repository root, the chosen port (no silent retry elsewhere)."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--MappingKernelManager.default_kernel_name=pgnotes"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # as root (containers) jupyter refuses to start without it
    return cmd + extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make lab", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT} or the next free one)")
    args, extra = parser.parse_known_args(argv)
    try:
        port, note = choose_port(args.port)
    except (PortBusy, ValueError) as error:
        print(f"make lab: {error}", file=sys.stderr)
        return 2
    if note:
        print(f"make lab: {note}", flush=True)
    cmd = lab_command(port, extra)
    os.chdir(ROOT)
    os.execv(cmd[0], cmd)  # JupyterLab replaces this process: Ctrl-C stops it as usual
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
