"""Build pgnotes' wheel and a throwaway environment that sees pgnotes only through it.

Used by tests/test_standalone_notebooks.py (every notebook run alone, as on Colab) and
tests/test_install.py (a practitioner's ``pip install``). By hand::

    .venv/bin/python tools/wheel_env.py /tmp/standalone   # prints the environment's python
    cd "$(mktemp -d)" && cp ~/pgnotes/book/ch03_natural_es.ipynb . && \\
        /tmp/standalone/env/bin/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env ch03_natural_es.ipynb

The environment is a venv (no system site-packages) whose only view of the installed
dependencies is a ``.pth`` file listing folders: either this venv's site-packages (everything
the course installs; its ``.pth`` files, among them the editable pgnotes, are *not* processed,
so the clone's pgnotes cannot be imported), or a folder of links to just the distributions a
requirement list needs (:func:`dependency_closure_dir`). Reusing the installed packages keeps
this to seconds and needs no network.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the wheel is built from (setup.py maps results/ into the package as pgnotes/_results)
SOURCES = ("pgnotes", "results", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE")


def build_wheel(dest: Path) -> Path:
    """Build pgnotes' wheel from a copy of the sources (the clone gets no build/ or egg-info)."""
    dest = Path(dest)
    src = dest / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "checkpoints", "*.ckpt")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        elif path.is_file():
            shutil.copy2(path, src / name)
    dist = dest / "dist"
    dist.mkdir(exist_ok=True)
    for old in dist.glob("pgnotes-*.whl"):
        old.unlink()
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", str(dist), str(src)])
    (wheel,) = dist.glob("pgnotes-*.whl")
    return wheel


def make_env(dest: Path, wheel: Path, site_dirs: list[str] | None = None, *, deps: bool = False) -> Path:
    """A venv at ``dest/env`` seeing ``site_dirs`` through a .pth file, with ``wheel`` installed.

    ``deps=False`` installs the wheel alone (``--no-deps``); ``deps=True`` lets pip resolve its
    declared dependencies offline (``--no-index``), which fails unless ``site_dirs`` hold them all.
    Returns the environment's python. A kernelspec ``python3`` for it is written under
    ``dest/jupyter`` (use ``JUPYTER_PATH``, see :func:`clean_environ`).
    """
    dest = Path(dest)
    env = dest / "env"
    if env.exists():
        shutil.rmtree(env)
    venv.EnvBuilder(with_pip=False, system_site_packages=False, symlinks=True).create(env)
    python = env / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    site_dirs = course_site_dirs() if site_dirs is None else site_dirs
    (purelib / "_pgnotes_deps.pth").write_text("".join(f"{d}\n" for d in site_dirs))
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index",
           "--find-links", str(Path(wheel).parent), "--disable-pip-version-check"]
    cmd += [str(wheel)] if not deps else ["pgnotes"]
    if not deps:
        cmd.insert(cmd.index("install") + 1, "--no-deps")
    run(cmd)
    kernel = dest / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True, exist_ok=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (pgnotes wheel)", "language": "python"}))
    return python


def course_site_dirs() -> list[str]:
    """This interpreter's site-packages folders (the course's .venv when run from it)."""
    paths = sysconfig.get_paths()
    dirs = [paths["purelib"], paths["platlib"], *site.getsitepackages()]
    return list(dict.fromkeys(d for d in dirs if Path(d).is_dir()))


def dependency_closure(requirements: list[str]) -> dict[str, set[str]]:
    """Installed distributions ``requirements`` need, recursively: {canonical name: extras used}.

    Markers are evaluated for this interpreter and extras are followed. Raises
    ``importlib.metadata.PackageNotFoundError`` for a requirement that is not installed.
    """
    from importlib import metadata

    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: dict[str, set[str]] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        extras = set(req.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen.setdefault(name, set()).update(extras)
        for text in metadata.distribution(req.name).requires or []:
            sub = Requirement(text)
            envs = [dict(default_environment(), extra=e) for e in (seen[name] or {""})]
            if sub.marker is None or any(sub.marker.evaluate(e) for e in envs):
                todo.append(sub)
    return seen


def dependency_closure_dir(dest: Path, requirements: list[str]) -> Path:
    """A folder of links to the installed distributions ``requirements`` need (:func:`dependency_closure`).

    Each distribution's top-level files and folders (from its RECORD, its .dist-info included)
    are linked, so imports and pip both see exactly these distributions.
    """
    from importlib import metadata

    out = Path(dest) / "deps"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in dependency_closure(requirements):
        dist = metadata.distribution(name)
        base = Path(str(dist.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            target = base / top
            if target.exists() and not (out / top).exists():
                (out / top).symlink_to(target)
    return out


def wheel_requirements(wheel: Path, extras: tuple[str, ...] = ()) -> list[str]:
    """The wheel's Requires-Dist lines that apply with ``extras`` (none: the library's own)."""
    import zipfile
    from email.parser import Parser

    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(name).decode())
    wanted, out = set(extras) | {""}, []
    todo = list(wanted)
    while todo:  # follow self-references such as pgnotes[mujoco,grade]
        extra = todo.pop()
        for text in meta.get_all("Requires-Dist") or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(dict(default_environment(), extra=extra)):
                continue
            if canonicalize_name(req.name) == canonicalize_name(meta["Name"]):
                todo += [e for e in req.extras if e not in wanted]
                wanted |= set(req.extras)
                continue
            req.marker = None
            if str(req) not in out:
                out.append(str(req))
    return out


def clean_environ(dest: Path) -> dict[str, str]:
    """The environment for running in the throwaway env: no PYTHONPATH, its own kernelspec first."""
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    environ["JUPYTER_PATH"] = str(Path(dest) / "jupyter")
    environ["PYTHONHASHSEED"] = "0"  # as tools/execute_notebooks.py, which stored the outputs
    environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    bin_dir = str(Path(dest) / "env" / "bin")
    environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in environ.get("PATH", "").split(os.pathsep)
                                                    if Path(p).resolve() != Path(sys.prefix, "bin").resolve()])
    return environ


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    dest = Path(argv[0]).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(dest)
    python = make_env(dest, wheel)
    print(f"wheel: {wheel}\npython: {python}\nJUPYTER_PATH={dest / 'jupyter'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
