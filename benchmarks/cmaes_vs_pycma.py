"""pgnotes CMA-ES against pycma (the reference implementation), side by side (chapter 4).

For sphere, ellipsoid (condition 1e6) and Rosenbrock in dimensions 10 and 20: sigma0 = 1,
x0 ~ N(0, I) drawn from seed s, stop at f < 1e-8 (minimization; our solver maximizes
``as_fitness(f)``), both with their default parameters. Prints the median number of
evaluations over the seeds, successes, time per generation, and the ratio ours / pycma.
A run that stalls (e.g. in Rosenbrock's local minimum) counts as infinitely many evaluations
in the median, so one stall out of five does not change the median.

    python benchmarks/cmaes_vs_pycma.py [--seeds 5] [--out results/cmaes_vs_pycma.json]
"""

from __future__ import annotations

import os

# Before numpy is imported: threaded BLAS on small matrices (CMA-ES's eigendecomposition in 32-64
# dimensions) ran 50x slower than one thread on a busy 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from pgnotes.checkpoint import write_json_atomic
from pgnotes.functions import as_fitness, ellipsoid, rosenbrock, sphere
from pgnotes.solvers.cmaes import CMAES
from pgnotes.provenance import environment, git_commit

FUNCTIONS = {"sphere": sphere, "ellipsoid": ellipsoid, "rosenbrock": rosenbrock}
TARGET = 1e-8
MAX_EVALS = 100_000


def run_ours(f, x0, seed: int) -> tuple[float, float, int]:
    """Evaluations to f < TARGET (inf if it stalls), seconds per generation, generations."""
    solver = CMAES(x0, 1.0, rng=seed)
    fitness_of = as_fitness(f)
    evals, generations, start = 0, 0, time.perf_counter()
    while evals < MAX_EVALS:
        x = solver.ask()
        fitness = fitness_of(x)
        solver.tell(x, fitness)
        evals += len(x)
        generations += 1
        if -fitness.max() < TARGET:
            break
        if solver.stop():
            evals = np.inf
            break
    else:
        evals = np.inf
    return evals, (time.perf_counter() - start) / generations, generations


def run_pycma(f, x0, seed: int) -> tuple[float, float, int]:
    import cma

    es = cma.CMAEvolutionStrategy(x0, 1.0, {"ftarget": TARGET, "verbose": -9, "seed": seed, "maxfevals": MAX_EVALS})
    start = time.perf_counter()
    while not es.stop():
        x = es.ask()
        es.tell(x, list(f(np.asarray(x))))
    evals = es.countevals if es.result.fbest < TARGET else np.inf
    return evals, (time.perf_counter() - start) / es.countiter, es.countiter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--out", type=Path, default=None, help="also write the table as JSON here")
    args = parser.parse_args(argv)

    rows = []
    header = f"{'function':<11}{'dim':>4} {'ours evals':>11}{'pycma evals':>12}{'ratio':>7} {'ok':>7} {'ours ms/gen':>12}{'pycma ms/gen':>13}"
    print(header)
    print("-" * len(header))
    for name, f in FUNCTIONS.items():
        for dim in args.dims:
            ours, ref = [], []
            for seed in range(args.seeds):
                x0 = np.random.default_rng(seed).standard_normal(dim)
                ours.append(run_ours(f, x0, seed + 1))
                ref.append(run_pycma(f, x0, seed + 1))
            e_ours = float(np.median([r[0] for r in ours]))
            e_ref = float(np.median([r[0] for r in ref]))
            t_ours = 1e3 * float(np.median([r[1] for r in ours]))
            t_ref = 1e3 * float(np.median([r[1] for r in ref]))
            ok_ours = sum(np.isfinite(r[0]) for r in ours)
            ok_ref = sum(np.isfinite(r[0]) for r in ref)
            ratio = e_ours / e_ref
            print(f"{name:<11}{dim:>4} {e_ours:>11.0f}{e_ref:>12.0f}{ratio:>7.3f} {ok_ours:>3}/{ok_ref:<3} {t_ours:>12.3f}{t_ref:>13.3f}", flush=True)
            rows.append(dict(function=name, dim=dim, ours_median_evals=e_ours, pycma_median_evals=e_ref, ratio=ratio,
                             ours_successes=int(ok_ours), pycma_successes=int(ok_ref), seeds=args.seeds,
                             ours_evals=[float(r[0]) for r in ours], pycma_evals=[float(r[0]) for r in ref],
                             ours_ms_per_generation=t_ours, pycma_ms_per_generation=t_ref))
    worst = max(r["ratio"] for r in rows)
    print(f"\nworst ratio ours/pycma: {worst:.3f} (target <= 1.15)")
    if args.out is not None:
        import cma

        write_json_atomic(args.out, {
            "config": {"sigma0": 1.0, "x0": "N(0, I) from numpy default_rng(seed)", "target": TARGET,
                       "max_evals": MAX_EVALS, "seeds": list(range(args.seeds)), "solver_seed": "seed + 1",
                       "pycma_version": cma.__version__},
            "commit": git_commit(),
            "environment": environment(),
            "command": "python benchmarks/cmaes_vs_pycma.py --out " + str(args.out),
            "rows": rows,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
