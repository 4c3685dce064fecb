"""One command line for every experiment: options generated from the experiment's config dataclass.

An experiment module (``pgnotes/experiments/NAME.py``) defines

* ``Config``: a dataclass whose fields are every setting of the experiment, each documented by a
  ``#:`` comment (on the field's line or the line above; Sphinx shows the same text);
* ``run(config: Config) -> int``: the experiment itself, which writes ``config.out``.

:func:`build_parser` turns ``Config`` into an ``argparse`` parser (``--field-name``, the type from
the annotation, ``Literal`` as choices, ``bool`` as ``--name/--no-name``, lists as several values,
``None`` written as ``none``) whose ``--help`` shows every default. ``pgnotes NAME`` and
``python -m pgnotes.experiments.NAME`` both end in :func:`main`. One vocabulary serves every
experiment; these names mean the same thing wherever they appear:

``--seeds``        the seeds to run (several values)
``--out``          the results file (relative to the current directory)
``--checkpoint``   the folder of resumable checkpoints
``--time-budget``  seconds this invocation may run before it stops, to be resumed later
``--workers``      worker processes
``--no-progress``  no progress bars

:func:`run_jobs` makes every multi-run experiment resumable: finished runs are kept in the results
file, and an interrupted invocation continues with the runs still missing.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import shlex
import sys
import textwrap
import time
import types
import typing
from pathlib import Path
from typing import Any, Callable, Iterable

#: Names an experiment must not use for a concept that already has one (left) in the vocabulary above.
RENAMED = {
    "output": "out", "output_dir": "out", "results": "out", "quiet": "progress", "verbose": "progress",
    "checkpoint_dir": "checkpoint", "max_seconds": "time_budget", "budget_seconds": "time_budget",
    "processes": "workers", "n_workers": "workers", "num_workers": "workers",
}


# -- field documentation ----------------------------------------------------------------------

def field_docs(config_cls: type) -> dict[str, str]:
    """The ``#:`` comment of each field of a dataclass, read from its source (empty if none)."""
    try:
        source = textwrap.dedent(inspect.getsource(config_cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    docs: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        line = lines[node.lineno - 1]
        if "#:" in line:
            docs[node.target.id] = line.split("#:", 1)[1].strip()
        elif node.lineno >= 2 and lines[node.lineno - 2].strip().startswith("#:"):
            docs[node.target.id] = lines[node.lineno - 2].strip()[2:].strip()
    return docs


# -- parser from a dataclass ------------------------------------------------------------------

def _optional(annotation) -> tuple[Any, bool]:
    """``(inner type, allows None)`` for ``X | None`` / ``Optional[X]``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _scalar(annotation, allows_none: bool) -> tuple[Callable[[str], Any], tuple | None]:
    """Converter and choices of one value."""
    choices = None
    if typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
        annotation = type(choices[0])
    if annotation not in (int, float, str):
        raise TypeError(f"cannot make a command-line option of type {annotation!r}")

    def convert(text: str):
        if allows_none and text.lower() == "none":
            return None
        try:
            return annotation(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {annotation.__name__}, got {text!r}") from None

    convert.__name__ = annotation.__name__
    return convert, choices


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return " ".join(_show(v) for v in value) if value else "(none)"
    return str(value)


def add_config_arguments(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """Add one option per field of ``config_cls`` (a dataclass); see the module docstring."""
    hints = typing.get_type_hints(config_cls, include_extras=False)
    docs = field_docs(config_cls)
    defaults = config_cls()
    for f in dataclasses.fields(config_cls):
        if not f.init or f.name.startswith("_"):
            continue
        if f.name in RENAMED:
            raise TypeError(f"{config_cls.__name__}.{f.name}: use the shared name {RENAMED[f.name]!r}")
        default = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        help_text = docs.get(f.name, "").replace("%", "%%")
        annotation, allows_none = _optional(hints[f.name])
        if annotation is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                                help=f"{help_text} (default: {'yes' if default else 'no'})")
            continue
        origin = typing.get_origin(annotation)
        if origin in (list, tuple):
            item = typing.get_args(annotation)[0]
            convert, choices = _scalar(item, False)
            parser.add_argument(flag, dest=f.name, type=convert, choices=choices, nargs="*", default=default,
                                metavar=f.name.upper(), help=f"{help_text} (default: {_show(default)})")
            continue
        convert, choices = _scalar(annotation, allows_none)
        parser.add_argument(flag, dest=f.name, type=convert, choices=choices, default=default,
                            metavar=None if choices else f.name.upper(),
                            help=f"{help_text} (default: {_show(default)})")


def config_from_args(config_cls: type, args: argparse.Namespace):
    """The ``config_cls`` instance the parsed options describe (lists become the annotated container)."""
    hints = typing.get_type_hints(config_cls)
    values = {}
    for f in dataclasses.fields(config_cls):
        if not f.init or f.name.startswith("_") or not hasattr(args, f.name):
            continue
        value = getattr(args, f.name)
        if typing.get_origin(_optional(hints[f.name])[0]) is tuple and value is not None:
            value = tuple(value)
        values[f.name] = value
    return config_cls(**values)


def build_parser(module: types.ModuleType, prog: str | None = None) -> argparse.ArgumentParser:
    """The parser of an experiment module: its docstring's first line, one option per ``Config`` field."""
    name = module.__name__.rsplit(".", 1)[-1]
    parser = argparse.ArgumentParser(
        prog=prog or f"pgnotes {command_name(name)}", description=(module.__doc__ or name).strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, module.Config)
    return parser


def command_name(module_name: str) -> str:
    """``es_cartpole`` -> ``es-cartpole``."""
    return module_name.rsplit(".", 1)[-1].replace("_", "-")


def main(module_name: str, argv: list[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv`` with the experiment's parser, build its ``Config`` and ``run`` it."""
    if module_name == "__main__":  # python -m pgnotes.experiments.NAME
        module_name = sys.modules["__main__"].__spec__.name
    module = importlib.import_module(module_name)
    if prog is None and argv is None:
        prog = f"python -m {module_name}"
    parser = build_parser(module, prog)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(module.Config, args)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    return int(module.run(config) or 0)


def reproduce_command(config, module_name: str) -> str:
    """The ``pgnotes`` command that reproduces ``config`` (every field that differs from its default)."""
    defaults = type(config)()
    words = ["pgnotes", command_name(module_name)]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not f.init or f.name.startswith("_") or value == getattr(defaults, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + f.name.replace("_", "-"))
        elif isinstance(value, (list, tuple)):
            words.extend([flag, *(shlex.quote(str(v)) for v in value)])
        else:
            words.extend([flag, shlex.quote(_show(value))])
    return " ".join(words)


# -- results and resumable multi-run experiments -------------------------------------------------

def results_header(experiment: str, config) -> dict[str, Any]:
    """What every results file starts with: experiment, command, config, commit and environment."""
    from pgnotes.provenance import environment, git_commit

    return {
        "experiment": experiment,
        "command": reproduce_command(config, experiment),
        "config": dataclasses.asdict(config),
        "commit": git_commit(),
        "environment": environment(),
    }


#: Fields that may change between invocations of the same experiment without changing its results.
RUN_OPTIONS = ("seeds", "out", "checkpoint", "time_budget", "workers", "progress")


def out_path(config) -> Path:
    """``config.out`` with each ``{field}`` in it replaced by that field's value, in lower case.

    A default such as ``results/{algo}_cartpole.json`` names the file after a setting without the
    command line having to repeat it (results files have lower-case names).
    """
    values = {k: str(v).lower() for k, v in dataclasses.asdict(config).items()}
    return Path(str(config.out).format_map(values))


def _read_own_results(out: Path, experiment: str, config, records_key: str) -> dict[str, Any] | None:
    """The results file ``out`` if it holds records of this configuration of ``experiment``; None if absent.

    Any other file there (another experiment's, one written before results files carried their
    configuration, or another configuration of this one) stops the command: nothing is overwritten.
    """
    import json

    from pgnotes.checkpoint import check_resumable

    if not out.exists():
        return None
    saved = json.loads(out.read_text())
    if saved.get("experiment") != experiment or not isinstance(saved.get(records_key), list) or "config" not in saved:
        raise SystemExit(f"{out} was not written by `pgnotes {command_name(experiment)}` (or by an older version of it); "
                         "pass --out with a new file, or delete it to start again")
    try:
        check_resumable(out, saved["config"], dataclasses.asdict(config), may_change=RUN_OPTIONS)
    except ValueError as error:
        raise SystemExit(f"{out} holds runs of another configuration of {experiment}: {error}") from None
    return saved


def timed(function: Callable[..., Any], /, *args, **kwargs) -> tuple[Any, dict[str, float]]:
    """``function(*args, **kwargs)`` and its ``{"cpu_seconds": ..., "wall_seconds": ...}`` (for a run's record)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = function(*args, **kwargs)
    return result, {"cpu_seconds": time.process_time() - cpu0, "wall_seconds": time.perf_counter() - wall0}


def write_results(config, experiment: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Write :func:`results_header` followed by ``payload`` to :func:`out_path` (atomically); for single-run experiments."""
    from pgnotes.checkpoint import write_json_atomic

    out = out_path(config)
    data = {**results_header(experiment, config), **payload}
    write_json_atomic(out, data)
    print(f"-> {out}")
    return data


def run_jobs(
    config,
    experiment: str,
    jobs: Iterable[dict[str, Any]],
    run_job: Callable[..., dict[str, Any]],
    *,
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
    records_key: str = "runs",
    extra: dict[str, Any] | Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run ``run_job(**job)`` for every job not already in the results file; write the file after each.

    A job is a dict of keyword arguments (e.g. ``{"method": "snes", "seed": 0}``); its record
    (``run_job``'s dict) is stored with the job's keys, in the list ``records_key`` of the file
    (:func:`out_path`). The file holds :func:`results_header`, then ``extra`` (top-level keys the
    experiment adds: a dict, or a function of the records), ``status``, ``summary`` (from
    ``summarize``) and the records. It is rewritten atomically after every job with ``status``
    "partial", and "complete" once every job is done, so a run stopped at any moment (or by
    ``config.time_budget``) continues where it stopped when the same command is run again; a
    finished job is never run again. Records of jobs not asked for this time (seeds of an earlier
    invocation) are kept. The file must hold this configuration (:data:`RUN_OPTIONS` may differ,
    checked by :func:`pgnotes.checkpoint.check_resumable`): any other file stops the command with
    an error naming it, and nothing is overwritten.
    """
    from pgnotes.checkpoint import write_json_atomic

    out = out_path(config)
    jobs = [dict(job) for job in jobs]
    saved = _read_own_results(out, experiment, config, records_key)
    records: list[dict[str, Any]] = list(saved[records_key]) if saved else []

    def finished(job: dict[str, Any]) -> bool:
        return any(all(r.get(k) == v for k, v in job.items()) for r in records)

    started = time.perf_counter()
    budget = getattr(config, "time_budget", None)

    def write(status: str) -> dict[str, Any]:
        payload = results_header(experiment, config)
        if extra is not None:
            payload.update(extra(records) if callable(extra) else extra)
        payload["status"] = status
        payload["runs_done"] = sum(finished(job) for job in jobs)
        payload["runs_total"] = len(jobs)
        if summarize is not None and records:
            payload["summary"] = summarize(records)
        payload[records_key] = records
        write_json_atomic(out, payload)
        return payload

    for job in jobs:
        if finished(job):
            continue
        if budget is not None and time.perf_counter() - started > budget:
            print(f"time budget of {budget:g} s spent: {sum(finished(j) for j in jobs)}/{len(jobs)} runs in {out}; "
                  "run the same command again to continue", file=sys.stderr)
            return write("partial")
        record = {**job, **run_job(**job)}
        records.append(record)
        if report is not None:
            report(record)
        write("partial" if not all(finished(j) for j in jobs) else "complete")
    payload = write("complete")
    print(f"-> {out}")
    return payload
