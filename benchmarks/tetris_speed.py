"""Pieces per second of greedy linear Tetris controllers: our fast path, our reference path, tetris-gymnasium.

Every row does the same work per piece: enumerate all placements of the current piece, score
each resulting board with a linear function of its features, play the best one (10 x 20 board,
one process, one core; rates are per second of the process's CPU time). Ratios are measured in
this one run, since the machine is shared and absolute numbers are noisy.

    .venv/bin/python benchmarks/tetris_speed.py            # prints the table, writes results/tetris_speed.json

The tetris-gymnasium row runs its placement-level wrapper (GroupedActionsObservations with its
FeatureVectorObservation) in a separate virtual environment, because tetris-gymnasium needs
jax, chex and opencv, which the course does not install:

    python3 -m venv .venv-bench && .venv-bench/bin/pip install tetris-gymnasium==0.3.1

Without it the row is skipped with a message saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"

# Bertsekas weights learned by noisy CEM (results/tetris_cem_constant.json, iteration 29, rounded):
# they average about 65,000 lines a game, so the rate is not dominated by resets.
BERTSEKAS_WEIGHTS = [9.47, -8.74, -2.52, -4.45, -2.32, 0.19, -6.09, -0.2, -8.73, 6.13, -15.92, -11.86, -15.11,
                     -13.79, -12.24, -13.74, -17.79, -10.13, -15.92, -7.69, -73.02, 3.92]


def _rate(play, seconds: float) -> tuple[float, int]:
    """Call ``play(seed) -> pieces`` on successive seeds for about ``seconds`` of CPU time; return (pieces/s, pieces).

    CPU time of this process, not wall time: the machine is shared, and a process that waits
    for a core should not look slower than it is.
    """
    pieces, seed, start = 0, 0, time.process_time()
    while time.process_time() - start < seconds:
        pieces += play(seed)
        seed += 1
    return pieces / (time.process_time() - start), pieces


def tetris_gymnasium_worker(seconds: float) -> dict:
    """Runs inside .venv-bench: a greedy linear controller through GroupedActionsObservations."""
    import gymnasium as gym
    import numpy as np
    import tetris_gymnasium  # noqa: F401
    from tetris_gymnasium.wrappers.grouped import GroupedActionsObservations
    from tetris_gymnasium.wrappers.observation import FeatureVectorObservation

    env = gym.make("tetris_gymnasium/Tetris", width=10, height=20, gravity=True)
    env = GroupedActionsObservations(env, observation_wrappers=[FeatureVectorObservation(env)])
    # features: 10 heights, max height, holes, bumpiness
    w = np.r_[-0.5 * np.ones(10), -1.0, -10.0, -1.0]

    def greedy(obs, info):
        return int(np.argmax(np.where(info["action_mask"] > 0, obs.astype(np.float64) @ w, -np.inf)))

    obs, info = env.reset(seed=12345)  # warm up outside the timing
    for _ in range(5):
        obs, *_, info = env.step(greedy(obs, info))
    placed, episodes, start = 0, 0, time.process_time()
    while time.process_time() - start < seconds:
        obs, info = env.reset(seed=episodes)
        episodes += 1
        done = False
        while not done and time.process_time() - start < seconds:
            obs, reward, terminated, truncated, info = env.step(greedy(obs, info))
            placed += 1
            done = terminated or truncated
    elapsed = time.process_time() - start
    return {"pieces_per_s": placed / elapsed, "pieces": placed, "episodes": episodes,
            "version": __import__("importlib.metadata").metadata.version("tetris-gymnasium")}


def tetris_gymnasium_row(seconds: float) -> dict | str:
    """Run the worker in .venv-bench (or here, if tetris_gymnasium imports); a string says why not."""
    try:
        import tetris_gymnasium  # noqa: F401

        return tetris_gymnasium_worker(seconds)
    except ImportError:
        pass
    if not BENCH_PYTHON.exists():
        return ("skipped: tetris-gymnasium is not installed (it needs jax, chex and opencv); to include it: "
                "python3 -m venv .venv-bench && .venv-bench/bin/pip install tetris-gymnasium==0.3.1")
    proc = subprocess.run([str(BENCH_PYTHON), __file__, "--tetris-gymnasium-worker", str(seconds)],
                          capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    if proc.returncode != 0:
        return "skipped: tetris-gymnasium failed in .venv-bench: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="time per row (default 4)")
    parser.add_argument("--out", default=str(ROOT / "results" / "tetris_speed.json"), help="results file (default: %(default)s)")
    parser.add_argument("--tetris-gymnasium-worker", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tetris_gymnasium_worker is not None:
        print(json.dumps(tetris_gymnasium_worker(args.tetris_gymnasium_worker)))
        return 0

    import numpy as np

    from pgnotes.provenance import environment, git_commit
    from pgnotes.checkpoint import write_json_atomic
    from pgnotes.tetris import DELLACHERIE_WEIGHTS, fast, reference

    w = np.array(BERTSEKAS_WEIGHTS)
    fast.play_game(w, max_pieces=10)  # compile (or load the cache) outside the timing
    fast.play_game(DELLACHERIE_WEIGHTS, "dellacherie", max_pieces=10)
    cap = 100_000  # pieces per game, so several games (seeds) are played in each row
    rows = {}
    rows["fast, Bertsekas (22)"] = _rate(lambda s: fast.play_game(w, seed=s, max_pieces=cap).pieces, args.seconds)
    rows["fast, Dellacherie (6)"] = _rate(
        lambda s: fast.play_game(DELLACHERIE_WEIGHTS, "dellacherie", seed=s, max_pieces=cap).pieces, args.seconds)
    rows["reference, Bertsekas (22)"] = _rate(lambda s: reference.play_game(w, seed=s, max_pieces=2000).pieces, args.seconds)
    tg = tetris_gymnasium_row(args.seconds)
    if isinstance(tg, dict):
        rows[f"tetris-gymnasium {tg['version']} GroupedActionsObservations"] = (tg["pieces_per_s"], tg["pieces"])

    base = rows["fast, Bertsekas (22)"][0]
    print(f"{'controller (argmax over all placements)':58s} {'pieces/s':>12s} {'fast / this':>12s}")
    for name, (rate, _) in rows.items():
        print(f"{name:58s} {rate:12,.0f} {base / rate:12.1f}")
    if isinstance(tg, str):
        print(f"tetris-gymnasium: {tg}")
    print("published figures for comparison: a C implementation of the protocol ~260,000 pieces/s (Bertsekas), "
          "tetris-gymnasium placement wrapper 325-370/s")
    write_json_atomic(args.out, {
        "benchmark": "tetris_speed", "commit": git_commit(), "environment": environment(), "seconds_per_row": args.seconds,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "rows": [{"name": k, "pieces_per_s": r, "pieces": n, "fast_over_this": base / r} for k, (r, n) in rows.items()],
        "skipped": None if isinstance(tg, dict) else tg,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
