"""Does a process pool pay for ARS rollouts on this machine? (chapter 4)

Times one batch of HalfCheetah-v5 episodes (the 2N = 16 rollouts of an N = 8 iteration, linear
policy, 1000 steps each) on 1 and on 2 worker processes of :class:`pgnotes.evaluation.LinearPolicyFitness`,
after a warm-up batch, and records the load average, since on a shared machine the answer
depends on what else runs.

    python benchmarks/ars_parallel.py [--episodes 16] [--out results/ars_parallel.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from pgnotes.checkpoint import write_json_atomic
from pgnotes.provenance import environment, git_commit
from pgnotes.evaluation import LinearPolicyFitness


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rows = []
    print(f"{'workers':>7} {'episodes':>8} {'wall s':>7} {'episodes/s':>10} {'load avg':>8}")
    for workers in args.workers:
        with LinearPolicyFitness(args.env, max_steps=1000, workers=workers) as pool:
            n, obs_dim = pool.policy.n_params, pool.policy.obs_dim
            tasks = [(np.random.default_rng(k).normal(0, 0.03, n), np.zeros(obs_dim), np.ones(obs_dim), k, 0.0, 1000, True)
                     for k in range(args.episodes)]
            pool.run(tasks[:workers])  # warm up every worker
            start = time.perf_counter()
            pool.run(tasks)
            wall = time.perf_counter() - start
        load = os.getloadavg()[0]
        rows.append({"workers": workers, "episodes": args.episodes, "wall_s": wall, "load_average_1min": load})
        print(f"{workers:>7} {args.episodes:>8} {wall:>7.2f} {args.episodes / wall:>10.1f} {load:>8.2f}", flush=True)
    if args.out:
        write_json_atomic(args.out, {"env": args.env, "cpus": os.cpu_count(), "rows": rows,
                                     "command": "python benchmarks/ars_parallel.py --out " + args.out,
                                     "commit": git_commit(), "environment": environment()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
