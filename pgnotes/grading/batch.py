"""``pgnotes grade``: grade submitted notebooks into a gradebook (CSV) and a JSON report.

::

    pgnotes grade submissions/*.ipynb --out gradebook.csv [--hidden DIR] [--report report.json]

For each submission, in a temporary copy of its directory (other notebooks left out):

1. with ``--execute``, the notebook also runs in a fresh Jupyter kernel (nbclient) with a
   per-cell timeout, for the report: which cells raised or timed out, as Jupyter sees them.
   It runs beside step 2, in its own copy of the directory. It is off by default: scores
   never depend on it, step 2 already reports every cell that raised or timed out, and a
   kernel costs about four times the graded run;
2. a separate, limited child process runs the notebook's code cells and calls the learner's
   functions on every case, public and hidden; only plain JSON values come back
   (:mod:`pgnotes.grading.sandbox`). After a first timeout every later case gets a short
   limit, and a function that timed out twice is not called again, so an infinite loop costs
   seconds, not a time limit per case;
3. this process, which alone holds the expected values, compares and scores
   (:mod:`pgnotes.grading.compare`).

A bad submission (not a notebook, a crash, a timeout, a memory bomb) gets a row with what
happened and the batch goes on. Notes name cells as a learner finds them: ``code cell K
[first line]``, code cells counted from 1 (after "Run All", Jupyter's ``In [K]``). Each graded submission is cached in a work directory under
a key made of its content, the cases, the limits and the grader version (with an HMAC), so an
interrupted batch re-run grades only what is missing and writes the same gradebook. The
gradebook and report are written atomically.

One module of about 500 lines because it is the steps of one command, in order (select the
exercises, grade a submission, cache it, write gradebook and report), each used only here; what
runs submitted code lives in :mod:`.sandbox` and what judges its values in :mod:`.compare`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..checkpoint import _write_atomic, write_json_atomic
from .cases import CaseFormatError, Registry, load_registry
from .check import ExerciseResult, format_points, judge
from .compare import UnsupportedValue, validate_outcome
from .sandbox import Limits, Progress, landlock_abi, protect_parent, run_child

GRADER_VERSION = "2"
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_COPY_BYTES = 200 * 1024 * 1024
DEFAULT_JOBS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
CHECK_CALL = re.compile(r"""check\(\s*(?:exercise_id\s*=\s*)?["']([\w.\-]+)["']""")
CHAPTER_PREFIX = re.compile(r"^(ch\d+)")


# --- which exercises a submission is graded on ------------------------------------------------

def exercise_ids_in(sources: list[str]) -> list[str]:
    """Exercise ids named in ``check("...")`` calls, in order of first appearance."""
    seen: dict[str, None] = {}
    for source in sources:
        for match in CHECK_CALL.finditer(source):
            seen.setdefault(match.group(1), None)
    return list(seen)


def select_exercises(registry: Registry, path: Path, named: list[str], wanted: list[str] | None) -> list[str]:
    """The exercises to grade: ``--exercises`` ids/prefixes, else every exercise of the chapters
    the notebook's check() calls or its file name (``chNN_...``) point to.

    Deleting the check() calls therefore does not remove an exercise from the grade.
    """
    if wanted:
        prefixes = wanted
    else:
        prefixes = sorted({i.split(".", 1)[0] for i in named} | set(CHAPTER_PREFIX.findall(path.name)))
    chosen = []
    for exercise_id in sorted(registry.exercises):
        for prefix in prefixes:
            if exercise_id == prefix or exercise_id.startswith(prefix.rstrip(".") + "."):
                chosen.append(exercise_id)
                break
    return chosen


# --- one submission ------------------------------------------------------------------------

def cell_labels(cells: list) -> dict:
    """Notebook cell index -> how a learner finds the cell: ``code cell K [first line]``.

    Code cells are counted from 1 and markdown cells are not counted, so after "Run All"
    K is the number Jupyter shows as ``In [K]``.
    """
    labels = {}
    for number, (index, source) in enumerate(cells, 1):
        first = next((line.strip() for line in str(source).splitlines() if line.strip()), "")
        first = first if len(first) <= 40 else first[:37] + "..."
        labels[index] = f"code cell {number} [{first}]" if first else f"code cell {number} [empty]"
    return labels


def _label(labels: dict, cell) -> str:
    return labels.get(cell, f"cell {cell}") if type(cell) is int else "a cell"


def _copy_directory(source: Path, notebook: Path, target: Path) -> None:
    """Copy the submission's directory (without other notebooks or caches) into ``target``."""
    budget = [MAX_COPY_BYTES]

    def ignore(directory, names):
        skipped = []
        for name in names:
            full = Path(directory) / name
            if name in (".git", "__pycache__", ".ipynb_checkpoints") or (
                    name.endswith(".ipynb") and full.resolve() != notebook.resolve()) or not (
                    full.is_symlink() or full.is_dir() or full.is_file()):   # no FIFOs, sockets, devices
                skipped.append(name)
                continue
            if full.is_file() and not full.is_symlink():
                budget[0] -= full.stat().st_size
                if budget[0] < 0:
                    skipped.append(name)
        return skipped

    shutil.copytree(source, target, symlinks=True, ignore=ignore, dirs_exist_ok=True)


def _deny_read(options) -> list[str]:
    """Paths the child may not read (when Landlock is available): never an ancestor of the
    interpreter, the package or the temporary directory."""
    protected = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(__file__).resolve().parents[2],
                 Path(tempfile.gettempdir()).resolve()]
    candidates = [Path(d).resolve() for d in options.hidden] + [Path(options.work).resolve()]
    candidates += sorted({Path(s).resolve().parent for s in options.submissions})
    denied = []
    for path in candidates:
        if any(p == path or path in p.parents for p in protected):
            continue
        denied.append(str(path))
    return sorted(set(denied))


def _case_specs(registry: Registry, exercise_ids: list[str]) -> list[dict]:
    specs = []
    for exercise_id in exercise_ids:
        exercise = registry.get(exercise_id)
        for case in exercise.cases:
            specs.append({"i": len(specs), "exercise": exercise_id, "function": exercise.function,
                          "args": case.args, "kwargs": case.kwargs})
    return specs


def _run_cases(specs: list[dict], cells: list, workdir: str, limits: Limits, deny: list[str]) -> dict:
    """Run the cases in children (restarting after a crash or timeout); return outcomes by index."""
    outcomes: dict[int, object] = {}
    seconds: dict[int, float] = {}
    notes: list[str] = []
    isolation: list = []
    labels = cell_labels(cells)
    pending = list(specs)
    first = True
    timed_out_cells: set = set()
    while pending:
        # on a restart, cells that already timed out are skipped (they would only time out again)
        job = {"mode": "call", "cells": [c for c in cells if c[0] not in timed_out_cells], "cases": pending, "limits": limits.__dict__,
               "cell_timeout": limits.cell_timeout, "case_timeout": limits.case_timeout,
               "retry_timeout": limits.retry_timeout, "deny_read": deny}
        progress = Progress(limits.setup_deadline(len(cells)), limits.case_timeout * 1.5 + 1,
                            [s["i"] for s in pending])
        run = run_child(job, workdir, progress, tag="call")
        wanted = {s["i"] for s in pending}
        for line in run.lines:
            if first and type(line.get("isolation")) is list and not isolation:
                isolation = [str(x)[:100] for x in line["isolation"][:10]]
            elif first and type(line.get("cell")) is int and type(line.get("error")) is str:
                notes.append(f"{_label(labels, line['cell'])}: {line['error'][:200]}")
                if line["error"].startswith("timed out"):
                    timed_out_cells.add(line["cell"])
            index = line.get("i")
            if type(index) is not int or index not in wanted or index in outcomes:
                continue
            if line.get("skipped") is True:
                outcomes[index] = "not run: the function timed out on two earlier cases"
            elif line.get("timeout") is True:
                limit = line.get("limit")
                if type(limit) not in (int, float) or not 0 < limit <= limits.case_timeout:
                    limit = limits.case_timeout
                outcomes[index] = f"timed out after {limit:g} s"
            else:
                try:
                    outcomes[index] = validate_outcome(line.get("outcome"))
                except (UnsupportedValue, RecursionError) as error:
                    outcomes[index] = f"invalid result ({error})"
            took = line.get("seconds")
            seconds[index] = float(took) if type(took) in (int, float) else None
        first = False
        pending = [s for s in pending if s["i"] not in outcomes]
        if not pending:
            break
        ended = "timed out" if run.ended == "timeout" else f"the process ended ({run.ended})"
        if not progress.ready:
            reason = f"the notebook's code did not finish: {ended}"
            notes.append(reason)
            for spec in pending:
                outcomes[spec["i"]] = reason
            break
        # the child died or hung during the first pending case: blame that one, and the function's
        # remaining cases (a function that had to be killed once would only be killed again)
        blamed = pending.pop(0)
        outcomes[blamed["i"]] = f"no result: {ended}" + (" (memory limit?)" if "SIGKILL" in run.ended or
                                                         "SIGSEGV" in run.ended else "")
        if run.ended == "timeout":
            for spec in [s for s in pending if s["function"] == blamed["function"]]:
                outcomes[spec["i"]] = "not run: the function had to be stopped on an earlier case"
            pending = [s for s in pending if s["i"] not in outcomes]
    return {"outcomes": outcomes, "seconds": seconds, "notes": notes, "isolation": isolation}


def _execute(data: bytes, cells: list, workdir: str, limits: Limits, deny: list[str]) -> dict:
    """Run the notebook in a fresh kernel in a child (the report's record of cell errors)."""
    labels = cell_labels(cells)
    run = run_child({"mode": "execute", "notebook": data.decode("utf-8"), "limits": limits.__dict__,
                     "cell_timeout": limits.cell_timeout, "startup_timeout": limits.startup_timeout,
                     "deny_read": deny}, workdir,
                    Progress(limits.setup_deadline(len(cells)), 0.0), tag="execute")
    summary = next((line for line in run.lines if "executed" in line), None)
    execution = {"status": "did not finish: " + ("timed out" if run.ended == "timeout" else run.ended),
                 "cells": [], "seconds": run.seconds}
    if summary is not None and type(summary.get("executed")) is str and type(summary.get("cells")) is list:
        status = summary["executed"][:300]
        if type(summary.get("at_cell")) is int:
            status += f" in {_label(labels, summary['at_cell'])}"
        execution["status"] = status
        execution["cells"] = [{"cell": c.get("cell"), "label": _label(labels, c.get("cell")),
                               "error": str(c.get("error"))[:300]}
                              for c in summary["cells"][:50] if type(c) is dict]
    return execution


def grade_submission(path: Path, registry: Registry, options, limits: Limits, deny: list[str]) -> dict:
    """Grade one submission; never raises: a failure of the grader itself is a row with status "error"."""
    started = time.perf_counter()
    try:
        return _grade_submission(path, registry, options, limits, deny, started)
    except Exception as error:  # e.g. an unreadable directory to copy; the batch goes on
        record = {"submission": str(path), "sha256": "", "status": "error", "score": 0.0, "max_score": 0.0,
                  "exercises": {}, "notes": [f"grader error: {type(error).__name__}: {error}"[:300]],
                  "execution": None, "isolation": [], "seconds": {}}
        return _finish(record, registry, [], started)


def _grade_submission(path: Path, registry: Registry, options, limits: Limits, deny: list[str],
                      started: float) -> dict:
    record = {"submission": str(path), "sha256": "", "status": "graded", "score": 0.0, "max_score": 0.0,
              "exercises": {}, "notes": [], "execution": None, "isolation": [], "seconds": {}}
    try:
        data = path.read_bytes() if path.is_file() and path.stat().st_size <= MAX_NOTEBOOK_BYTES else None
    except OSError as error:
        data, record["notes"] = None, [f"cannot read: {error.strerror}"]
    if data is None:
        record["status"] = "error"
        record["notes"] = record["notes"] or ["not a file, or larger than 20 MB"]
        return _finish(record, registry, [], started)
    record["sha256"] = hashlib.sha256(data).hexdigest()
    try:
        import nbformat

        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        cells = [[i, c.source] for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        if not all(isinstance(s, str) for _, s in cells):
            raise ValueError("cell sources are not text")
    except Exception as error:  # corrupt JSON, not a notebook, wrong encoding
        record["status"] = "error"
        record["notes"] = [f"not a readable notebook ({type(error).__name__})"]
        return _finish(record, registry, select_exercises(registry, path, [], options.exercises), started)
    named = exercise_ids_in([s for _, s in cells])
    unknown = [i for i in named if i not in registry]
    if unknown:
        record["notes"].append("unknown exercise ids in check(): " + ", ".join(unknown))
    record["unknown_ids"] = unknown
    exercise_ids = select_exercises(registry, path, named, options.exercises)
    if not exercise_ids:
        record["status"] = "error"
        record["notes"].append("no exercises to grade (no check() calls of a known chapter)")
        return _finish(record, registry, [], started)
    with tempfile.TemporaryDirectory(prefix="pgnotes-grade-") as tmp:
        workdir = os.path.join(tmp, "work")
        _copy_directory(path.parent, path, Path(workdir))
        executor = None
        if options.execute:
            # the report's kernel run goes on beside the graded run, each in its own copy of the
            # directory, so a slow or looping notebook costs its time limits once, not twice
            exec_dir = os.path.join(tmp, "work-execute")
            _copy_directory(path.parent, path, Path(exec_dir))
            executor = ThreadPoolExecutor(max_workers=1)
            executing = executor.submit(_execute, data, cells, exec_dir, limits, deny)
        try:
            t0 = time.perf_counter()
            specs = _case_specs(registry, exercise_ids)
            ran = _run_cases(specs, cells, workdir, limits, deny)
            record["seconds"]["cases"] = time.perf_counter() - t0
        finally:
            if executor is not None:
                record["execution"] = executing.result()
                record["seconds"]["execute"] = record["execution"]["seconds"]
                executor.shutdown()
    record["isolation"] = ran["isolation"]
    record["notes"].extend(ran["notes"])
    by_exercise: dict[str, list] = {i: [] for i in exercise_ids}
    times: dict[str, list] = {i: [] for i in exercise_ids}
    for spec in specs:
        by_exercise[spec["exercise"]].append(ran["outcomes"].get(spec["i"], "no result"))
        times[spec["exercise"]].append(ran["seconds"].get(spec["i"]))
    results = [judge(registry.get(i), by_exercise[i], times[i]) for i in exercise_ids]
    return _finish(record, registry, exercise_ids, started, results)


def _finish(record: dict, registry: Registry, exercise_ids: list[str], started: float,
            results: list[ExerciseResult] | None = None) -> dict:
    results = results or [ExerciseResult(i, registry.get(i).total_points, status="not graded") for i in exercise_ids]
    for result in results:
        record["exercises"][result.exercise_id] = result.as_dict()
        if result.status not in ("graded",):
            record["notes"].append(f"{result.exercise_id}: {result.message or result.status}")
        for case in result.cases:
            if case.reason.startswith(("timed out", "no result", "the notebook", "not run")):
                record["notes"].append(f"{result.exercise_id} case {case.index + 1}: {case.reason}")
    record["score"] = round(sum(r.earned for r in results), 6)
    record["max_score"] = round(sum(r.total for r in results), 6)
    record["seconds"]["total"] = time.perf_counter() - started
    return record


# --- cache, gradebook, report ----------------------------------------------------------------

class Cache:
    """Per-submission results in the work directory, keyed by content, cases, limits and version."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / "hmac.key"
        if not key_path.exists():
            _write_atomic(key_path, secrets.token_bytes(32))
            os.chmod(key_path, 0o600)
        self.key = key_path.read_bytes()

    def _mac(self, payload: bytes) -> str:
        return hmac.new(self.key, payload, hashlib.sha256).hexdigest()

    def key_for(self, path: Path, context: str) -> str:
        try:
            content = path.read_bytes() if path.is_file() and path.stat().st_size <= MAX_NOTEBOOK_BYTES else b"<unreadable>"
        except OSError:
            content = b"<unreadable>"
        return hashlib.sha256(context.encode() + b"\0" + str(path).encode() + b"\0" + content).hexdigest()

    def load(self, key: str) -> dict | None:
        try:
            stored = json.loads((self.directory / f"{key}.json").read_text())
            payload = json.dumps(stored["record"], sort_keys=True).encode()
            if hmac.compare_digest(stored["mac"], self._mac(payload)):
                return stored["record"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def store(self, key: str, record: dict) -> None:
        payload = json.dumps(record, sort_keys=True).encode()
        write_json_atomic(self.directory / f"{key}.json", {"mac": self._mac(payload), "record": record})


def _cell(text: str) -> str:
    """Neutralize spreadsheet formulas in learner-controlled text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def gradebook_csv(records: list[dict], exercise_ids: list[str]) -> str:
    """Columns: submission, score, max_score, percent, one per exercise (points), status, notes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", "percent", *exercise_ids, "status", "notes"])
    for record in records:
        percent = 100.0 * record["score"] / record["max_score"] if record["max_score"] else 0.0
        cells = [format_points(record["exercises"][i]["earned"]) if i in record["exercises"] else ""
                 for i in exercise_ids]
        notes = "; ".join(dict.fromkeys(n.replace("\n", " ") for n in record["notes"]))
        writer.writerow([_cell(record["submission"]), format_points(record["score"]),
                         format_points(record["max_score"]), f"{percent:.1f}", *cells, record["status"],
                         _cell(notes[:2000])])
    return out.getvalue()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", nargs="+", help="submitted notebooks (.ipynb); directories are searched for *.ipynb")
    parser.add_argument("--out", default="gradebook.csv", help="gradebook CSV to write (default: gradebook.csv)")
    parser.add_argument("--report", default=None, help="JSON report with per-case detail (default: OUT with .json)")
    parser.add_argument("--hidden", action="append", default=[], metavar="DIR",
                        help="directory of hidden cases files (same format as the public ones); repeatable")
    parser.add_argument("--cases", action="append", default=[], metavar="DIR",
                        help="extra directory of public cases files; repeatable")
    parser.add_argument("--exercises", default=None,
                        help="comma-separated exercise ids or chapter prefixes (e.g. ch01) to grade every submission on "
                             "(default: the chapters named by the notebook's check() calls and file name)")
    parser.add_argument("--work", default=None, help="work directory for resumable per-submission results "
                                                     "(default: OUT with .work)")
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell_timeout,
                        help=f"seconds per notebook cell (default {Limits.cell_timeout:g})")
    parser.add_argument("--notebook-timeout", type=float, default=300.0,
                        help="seconds for all cells of a notebook together (default 300)")
    parser.add_argument("--case-timeout", type=float, default=Limits.case_timeout,
                        help=f"seconds per case (default {Limits.case_timeout:g}); after a first timeout every later "
                             f"case gets {Limits.retry_timeout:g} s, and a function that timed out twice is not called "
                             "again")
    parser.add_argument("--cpu", type=int, default=120, help="CPU seconds per child process (default 120)")
    parser.add_argument("--memory", type=float, default=4.0, help="GiB of address space per child process (default 4)")
    parser.add_argument("--execute", dest="execute", action="store_true", default=False,
                        help="also run each notebook in a Jupyter kernel (nbclient), for the report only; scores do "
                             "not depend on it (off by default: it costs several times the graded run)")
    parser.add_argument("--no-execute", dest="execute", action="store_false",
                        help="do not run the notebooks in a Jupyter kernel (the default)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                        help=f"submissions graded at once (default: the number of CPUs, at most 4; here {DEFAULT_JOBS})")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _expand(submissions: list[str]) -> list[Path]:
    paths = []
    for name in submissions:
        path = Path(name)
        if path.is_dir():
            paths.extend(sorted(p for p in path.glob("*.ipynb") if p.is_file()))
        else:
            paths.append(path)
    return sorted(dict.fromkeys(paths), key=str)


def grade(options) -> dict:
    """Grade ``options.submissions``; write the gradebook and report; return the report."""
    out = Path(options.out)
    options.report = options.report or str(out.with_suffix(".json"))
    options.work = options.work or str(out.with_name(out.name + ".work"))
    if isinstance(options.exercises, str):
        options.exercises = [e.strip() for e in options.exercises.split(",") if e.strip()]
    registry = load_registry(options.cases, options.hidden)
    limits = Limits(cell_timeout=options.cell_timeout, case_timeout=options.case_timeout,
                    retry_timeout=min(Limits.retry_timeout, options.case_timeout), cpu_seconds=options.cpu,
                    memory_bytes=int(options.memory * 1024**3),
                    startup_timeout=getattr(options, "startup_timeout", Limits.startup_timeout),
                    notebook_timeout=options.notebook_timeout)
    protect_parent()
    paths = _expand(options.submissions)
    options.submissions = [str(p) for p in paths]
    deny = _deny_read(options)
    cache = Cache(Path(options.work))
    context = json.dumps({"version": GRADER_VERSION, "cases": registry.fingerprint, "limits": limits.__dict__,
                          "exercises": options.exercises, "execute": options.execute}, sort_keys=True)

    def one(numbered):
        number, path = numbered
        key = cache.key_for(path, context)
        record = cache.load(key)
        cached = record is not None
        if record is None:
            record = grade_submission(path, registry, options, limits, deny)
            cache.store(key, record)
        if not options.quiet:
            print(f"[{number}/{len(paths)}] {path}: {format_points(record['score'])}/{format_points(record['max_score'])}"
                  f" {record['status']}" + (" (cached)" if cached else f" ({record['seconds']['total']:.1f} s)"),
                  flush=True)
        return record

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        records = list(pool.map(one, enumerate(paths, 1)))
    exercise_ids = sorted({i for r in records for i in r["exercises"]})
    _write_atomic(out, gradebook_csv(records, exercise_ids).encode())
    report = {
        "grader": {"version": GRADER_VERSION, "cases_fingerprint": registry.fingerprint, "case_files": registry.files,
                   "limits": limits.__dict__, "execute": options.execute, "landlock_abi": landlock_abi(),
                   "hidden_dirs": [str(Path(d)) for d in options.hidden]},
        "exercises": {i: {"points": registry.get(i).total_points, "cases": len(registry.get(i).cases),
                          "hidden_cases": sum(c.hidden for c in registry.get(i).cases)} for i in exercise_ids},
        "submissions": records,
    }
    write_json_atomic(options.report, report)
    return report


def run(args) -> int:
    try:
        report = grade(args)
    except CaseFormatError as error:
        print(f"pgnotes grade: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"gradebook: {args.out}  report: {args.report}  ({len(report['submissions'])} submissions)")
    return 0
