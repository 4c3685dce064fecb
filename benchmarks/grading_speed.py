"""Seconds per submission of ``pgnotes grade``, on the course's own solution notebooks.

Each solutions/*.ipynb that calls check() is graded cold (a fresh work directory, so nothing
comes from the cache), once with the nbclient execution step (``--execute``) and once without
it (``--no-execute``, the default). A third column shows the cost of a re-run that finds everything cached. All
runs use the default limits and one submission at a time.

    .venv/bin/python benchmarks/grading_speed.py [--repeat 2]

The report's own timings split each submission into the kernel run ("execute") and the
child that runs the cases ("cases").
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pgnotes.grading.batch import add_arguments, exercise_ids_in, grade  # noqa: E402


def graded_solutions() -> list[Path]:
    paths = []
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if exercise_ids_in([c.source for c in notebook.cells if c.cell_type == "code"]):
            paths.append(path)
    return paths


def run(paths: list[Path], out: Path, *extra: str) -> tuple[float, dict]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(p) for p in paths] + ["--out", str(out / "gradebook.csv"), "--quiet", "--jobs", "1",
                                                        *extra])
    start = time.perf_counter()
    report = grade(args)
    return time.perf_counter() - start, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="cold runs per mode (median is shown)")
    options = parser.parse_args()
    paths = graded_solutions()
    if not paths:
        print("no graded solution notebooks found")
        return 0
    rows = {p.name: {} for p in paths}
    for mode, extra in (("with nbclient", ("--execute",)), ("--no-execute", ("--no-execute",))):
        samples: dict[str, list] = {p.name: [] for p in paths}
        for _ in range(options.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                _, report = run(paths, Path(tmp), *extra)
                for record in report["submissions"]:
                    name = Path(record["submission"]).name
                    samples[name].append(record["seconds"])
                    assert record["score"] == record["max_score"], f"{name}: {record['notes']}"
                if mode == "--no-execute":
                    cached_seconds, _ = run(paths, Path(tmp), *extra)
                    rows["(re-run, all cached)"] = {"cached": cached_seconds / len(paths)}
        for name, values in samples.items():
            rows[name][mode] = statistics.median(v["total"] for v in values)
            if mode == "with nbclient":
                rows[name]["execute"] = statistics.median(v["execute"] for v in values)
            rows[name]["cases"] = statistics.median(v["cases"] for v in values)
    print(f"pgnotes grade, seconds per submission ({platform.machine()}, Python {platform.python_version()}, "
          f"median of {options.repeat} cold run(s), one at a time)")
    header = f"{'submission':<36} {'with nbclient':>14} {'(kernel run)':>13} {'--no-execute':>13} {'(cases child)':>14}"
    print(header)
    print("-" * len(header))
    for name in [p.name for p in paths]:
        row = rows[name]
        print(f"{name:<36} {row['with nbclient']:>14.2f} {row['execute']:>13.2f} {row['--no-execute']:>13.2f} "
              f"{row['cases']:>14.2f}")
    mean_exec = statistics.mean(rows[p.name]["with nbclient"] for p in paths)
    mean_plain = statistics.mean(rows[p.name]["--no-execute"] for p in paths)
    print("-" * len(header))
    print(f"{'mean':<36} {mean_exec:>14.2f} {'':>13} {mean_plain:>13.2f}")
    print(f"re-run with every submission cached: {rows['(re-run, all cached)']['cached']:.3f} s per submission")
    return 0


if __name__ == "__main__":
    sys.exit(main())
