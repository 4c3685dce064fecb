"""What an infinite loop costs ``pgnotes grade``: one looping submission, and a batch of 40.

The submissions are the course's own solution notebooks (full marks), some of them made to
loop the way learners' notebooks do:

- ``function``: one exercise function loops forever (``while True: pass``);
- ``swallow``: one function sleeps in a loop that swallows every exception, so the time
  limit inside the child cannot stop it and the grader has to kill the process;
- ``top``: a code cell at the top level loops forever (the functions after it still count);
- ``two``: two functions loop;
- ``helper``: a helper used by another exercise's function loops (two exercises lose);
- ``sometimes``: a ``while`` loop that ends on some inputs and not on others.

Everything runs with the grader's default options (no kernel run for the report unless
``--execute`` is given, the default number of jobs), from a cold work directory.

    .venv/bin/python benchmarks/grading_loops.py            # one looping submission + the batch of 40
    .venv/bin/python benchmarks/grading_loops.py --single   # only the single submissions
    .venv/bin/python benchmarks/grading_loops.py --execute  # with the report's kernel run

Besides the wall time, the table shows the CPU seconds used by the grader's child processes
(a number that does not depend on what else the machine is doing) and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pgnotes.grading.batch import add_arguments, grade  # noqa: E402

LOOPS = {
    # kind: (chapter, cell appended or inserted, where: "end" or an index among the cells)
    "function": ("ch05", "def holes(board):\n    while True:\n        pass\n", "end"),
    "swallow": ("ch03", "import time\n\n\ndef centered_ranks(fitness):\n    while True:\n        try:\n"
                        "            time.sleep(60)\n        except BaseException:\n            pass\n", "end"),
    "top": ("ch01", "while True:\n    pass\n", 4),
    "two": ("ch04", "def cma_weights(popsize):\n    while True:\n        pass\n\n\n"
                    "def plan_return(obs, plans):\n    while True:\n        pass\n", "end"),
    "helper": ("ch02", "def reward_to_go(rewards, gamma):\n    while True:\n        pass\n", "end"),
    "sometimes": ("ch06", "_original = reconstruct_perturbations\n\n\n"
                          "def reconstruct_perturbations(noise, indices, dim):\n"
                          "    while len(indices) > 2:\n        pass\n"
                          "    return _original(noise, indices, dim)\n", "end"),
}


def solution(chapter: str) -> Path:
    return next((ROOT / "solutions").glob(f"{chapter}_*.ipynb"))


def looping(kind: str, folder: Path, number: int) -> Path:
    chapter, source, where = LOOPS[kind]
    notebook = nbformat.read(solution(chapter), as_version=4)
    cell = new_code_cell(source)
    if where == "end":
        notebook.cells.append(cell)
    else:
        notebook.cells.insert(where, cell)
    path = folder / f"{number:02d}_{solution(chapter).stem}_loop_{kind}.ipynb"
    nbformat.write(notebook, path)
    return path


def honest(chapter: str, folder: Path, number: int) -> Path:
    path = folder / f"{number:02d}_{solution(chapter).stem}.ipynb"
    shutil.copy(solution(chapter), path)
    return path


def run(paths: list[Path], out: Path, *extra: str) -> tuple[float, float, dict]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(p) for p in paths] + ["--out", str(out / "gradebook.csv"), "--quiet", *extra])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    report = grade(args)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, report


def describe(record: dict) -> str:
    lost = [f"{i} {e['earned']:g}/{e['total']:g}" for i, e in record["exercises"].items() if e["earned"] < e["total"]]
    return f"{record['score']:g}/{record['max_score']:g}" + (f" (lost: {', '.join(lost)})" if lost else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", action="store_true", help="only the single looping submissions")
    parser.add_argument("--execute", action="store_true", help="with the report's kernel run (pgnotes grade --execute)")
    options = parser.parse_args()
    extra = ("--execute",) if options.execute else ()
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; CPUs: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("\none looping submission at a time (default options):")
        print(f"{'kind':<10} {'wall s':>7} {'child CPU s':>12}  score")
        for number, kind in enumerate(LOOPS):
            folder = tmp / f"single_{kind}"
            folder.mkdir()
            path = looping(kind, folder, number)
            wall, cpu, report = run([path], folder, *extra)
            print(f"{kind:<10} {wall:>7.1f} {cpu:>12.1f}  {describe(report['submissions'][0])}", flush=True)
        if options.single:
            return 0
        folder = tmp / "batch"
        folder.mkdir()
        chapters = ["ch01", "ch02", "ch03", "ch04", "ch05", "ch06"]
        paths = [looping(kind, folder, number) for number, kind in enumerate(LOOPS)]
        paths += [honest(chapters[k % len(chapters)], folder, len(paths) + k) for k in range(40 - len(paths))]
        wall, cpu, report = run(paths, folder, *extra)
        full = sum(r["score"] == r["max_score"] for r in report["submissions"])
        print(f"\nbatch of {len(paths)} submissions, {len(LOOPS)} looping: {wall:.1f} s wall, {cpu:.1f} s child CPU; "
              f"{full} with full marks")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
