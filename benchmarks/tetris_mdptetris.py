"""Our fast Tetris simulator side by side with MdpTetris, the C simulator of Thiery & Scherrer.

Both play the same greedy linear controller (21 Bertsekas features: 10 column heights, 9
absolute height differences, maximum height, holes; the constant feature does not change the
argmax) with the same weights on 10 x 20 boards, for the same number of games, in the same run.
Both are timed in CPU seconds of their own process (the machine is shared). Reported: lines
per game (mean and standard error; the piece sequences differ, so the means agree only
statistically) and lines cleared per CPU second, which for the same controller is
proportional to pieces per second.

MdpTetris is GPL software and is not part of this repository. Build it yourself from
https://github.com/brunoscherrer/mdptetris (needs GSL; `./configure && make -C src
mdptetris_play_games`), then:

    python benchmarks/tetris_mdptetris.py --mdptetris /path/to/mdptetris/src/mdptetris_play_games

which writes results/tetris_mdptetris.json (relative to the current directory). With
``--controller dellacherie`` it plays Dellacherie's hand-coded controller (MdpTetris's own
feature definitions, weights -1, 1, -1, -1, -4, -1) instead, MdpTetris only, and writes
results/tetris_mdptetris_dellacherie.json: its games last millions of lines, so give it
``--time-limit`` seconds; games still running then are left out and the file says so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pgnotes.provenance import environment, git_commit
from pgnotes.tetris import fast

# The mean of the noiseless CEM run (results/tetris_cem_none.json, iteration 80), rounded to
# two decimals: about a thousand lines a game, short enough to play hundreds of games.
# Order: 10 column heights, 9 |height differences|, maximum height, holes.
WEIGHTS_21 = [-1.52, -9.35, -11.93, -8.95, -6.95, -9.5, -10.75, -6.6, -12.92, 0.32, -5.34, -10.06, -2.99, -3.85,
              -7.09, -9.48, -9.31, -6.48, -10.07, -8.91, -37.16]
# MdpTetris feature ids (include/feature_functions.h): 8 next column height, 9 next column
# height difference, 7 maximum height, 5 holes.
MDPTETRIS_IDS = [8] * 10 + [9] * 9 + [7, 5]


def run_mdptetris(binary: Path, data: Path, games: int) -> dict:
    """Play ``games`` games with MdpTetris's mdptetris_play_games; lines per game and CPU seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copy(data / "pieces4.dat", tmp / "pieces4.dat")
        # reward id 0 (none), game-over evaluation -1 (a move that ends the game is never preferred)
        lines = ["0", "-1", str(len(WEIGHTS_21))] + [f"{i} {w!r}" for i, w in zip(MDPTETRIS_IDS, WEIGHTS_21)]
        (tmp / "weights.dat").write_text("\n".join(lines) + "\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([str(binary), "weights.dat", str(games), "10", "20", "stats.txt"], cwd=tmp,
                             capture_output=True, text=True, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    body = out.split("Mean score")[0]
    seed_line = next((l for l in body.splitlines() if l.startswith("#")), "")
    scores = [int(tok) for l in body.splitlines() if not l.startswith("#") for tok in l.split()]
    if len(scores) != games:
        raise RuntimeError(f"expected {games} scores from MdpTetris, parsed {len(scores)}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"lines": scores, "cpu_s": cpu, "seed_line": seed_line.lstrip("# ").strip()}


DELLACHERIE_FILE = "0\n-1\n6\n1 -1\n2 1\n3 -1\n4 -1\n5 -4\n6 -1\n"  # MdpTetris's dellacherie_initial.dat


def run_mdptetris_dellacherie(binary: Path, data: Path, games: int, time_limit: float) -> dict:
    """Dellacherie's controller in MdpTetris: lines of each finished game within ``time_limit`` seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copy(data / "pieces4.dat", tmp / "pieces4.dat")
        (tmp / "weights.dat").write_text(DELLACHERIE_FILE)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        with open(tmp / "out.txt", "w") as out:
            proc = subprocess.Popen([str(binary), "weights.dat", str(games), "10", "20", "stats.txt"], cwd=tmp, stdout=out)
            try:
                proc.wait(timeout=time_limit)
                stopped = False
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                stopped = True
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        text = (tmp / "out.txt").read_text()
    body = text.split("Mean score")[0]
    scores = [int(tok) for l in body.splitlines() if not l.startswith("#") for tok in l.split()]
    return {"lines": scores, "games_requested": games, "stopped_at_time_limit": stopped,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "wall_s": time.perf_counter() - start,
            "mdptetris_rng": next((l.lstrip("# ").strip() for l in body.splitlines() if l.startswith("#")), "")}


def run_pgnotes(games: int) -> dict:
    """Play ``games`` games with pgnotes.tetris.fast (seeds 0..games-1); lines, pieces and CPU seconds."""
    weights = np.array(WEIGHTS_21 + [0.0])  # the constant feature's weight: irrelevant to the argmax
    fast.play_game(weights, max_pieces=10)  # compile or load the numba cache outside the timing
    start = time.process_time()
    results = [fast.play_game(weights, seed=s) for s in range(games)]
    cpu = time.process_time() - start
    return {"lines": [r.lines for r in results], "pieces": int(sum(r.pieces for r in results)), "cpu_s": cpu}


def summary(lines: list[int]) -> dict:
    x = np.asarray(lines, dtype=float)
    return {"mean": float(x.mean()), "se": float(x.std(ddof=1) / math.sqrt(len(x))), "games": len(x)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mdptetris", required=True, help="path of the built mdptetris_play_games")
    parser.add_argument("--data", default=None, help="MdpTetris data folder with pieces4.dat (default: ../data from the binary)")
    parser.add_argument("--games", type=int, default=None, help="games per simulator (default 500; dellacherie: 3)")
    parser.add_argument("--controller", choices=("bertsekas", "dellacherie"), default="bertsekas")
    parser.add_argument("--time-limit", type=float, default=3600.0, help="seconds (dellacherie only)")
    parser.add_argument("--out", default=None, help="default: results/tetris_mdptetris[_dellacherie].json")
    args = parser.parse_args(argv)
    binary = Path(args.mdptetris).resolve()
    data = Path(args.data) if args.data else binary.parent.parent / "data"
    command = "python benchmarks/tetris_mdptetris.py " + " ".join(sys.argv[1:] if argv is None else argv)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
               "loadavg": list(os.getloadavg())}
    if args.controller == "dellacherie":
        games = args.games or 3
        played = run_mdptetris_dellacherie(binary, data, games, args.time_limit)
        result = {"benchmark": "tetris_mdptetris_dellacherie", "command": command, "commit": git_commit(),
                  "environment": environment(),
                  "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine,
                  "config": {"games": games, "width": 10, "height": 20, "features_file": DELLACHERIE_FILE,
                             "time_limit_s": args.time_limit}, **played}
        out = Path(args.out or "results/tetris_mdptetris_dellacherie.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"Dellacherie in MdpTetris: {len(played['lines'])} of {games} games finished: {played['lines']} lines "
              f"({played['cpu_s']:.0f} CPU s{', stopped at the time limit' if played['stopped_at_time_limit'] else ''})")
        return 0
    args.games = args.games or 500
    args.out = args.out or "results/tetris_mdptetris.json"

    ours = run_pgnotes(args.games)
    theirs = run_mdptetris(binary, data, args.games)
    s_ours, s_theirs = summary(ours["lines"]), summary(theirs["lines"])
    rows = [
        {"name": "pgnotes fast (numba bitboards)", **s_ours, "cpu_s": ours["cpu_s"],
         "lines_per_cpu_s": sum(ours["lines"]) / ours["cpu_s"], "pieces_per_cpu_s": ours["pieces"] / ours["cpu_s"]},
        {"name": "MdpTetris (C, Thiery & Scherrer)", **s_theirs, "cpu_s": theirs["cpu_s"],
         "lines_per_cpu_s": sum(theirs["lines"]) / theirs["cpu_s"], "pieces_per_cpu_s": None},
    ]
    result = {
        "benchmark": "tetris_mdptetris",
        "command": command,
        "commit": git_commit(),
        "environment": environment(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine,
        "config": {"games": args.games, "width": 10, "height": 20, "weights_21": WEIGHTS_21,
                   "mdptetris_feature_ids": MDPTETRIS_IDS},
        "rows": rows,
        "ours_over_mdptetris_lines_per_cpu_s": rows[0]["lines_per_cpu_s"] / rows[1]["lines_per_cpu_s"],
        "mean_difference_in_se": (s_ours["mean"] - s_theirs["mean"]) / math.hypot(s_ours["se"], s_theirs["se"]),
        "mdptetris_rng": theirs["seed_line"],
        "games_lines": {"pgnotes": ours["lines"], "mdptetris": theirs["lines"]},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    for r in rows:
        print(f"{r['name']:36s} {r['mean']:9.1f} ± {r['se']:6.1f} lines/game   {r['lines_per_cpu_s']:10,.0f} lines/CPU s")
    print(f"ours / MdpTetris, lines per CPU second: {result['ours_over_mdptetris_lines_per_cpu_s']:.2f}; "
          f"difference of the means: {result['mean_difference_in_se']:+.2f} standard errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
