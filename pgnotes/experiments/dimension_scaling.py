""""Works best in small parameter spaces": success rate and evaluations against dimension (chapter 4).

Every black-box method of the course minimizes the sphere ``f(x) = |x|^2`` from ``x0 ~ N(0, I)``
(seeded) in dimensions 2 to 64, with the same budget of evaluations, until the best candidate
has ``f < target``. A run succeeds if it gets there within the budget; its cost is the number
of evaluations used. Run::

    python -m pgnotes.experiments.dimension_scaling        # writes results/ch04_dimension_scaling.json

The settings are each method's defaults, or the common choices stated in ``METHODS``; none is
tuned per dimension, which is the point: what works in 2-D with a fixed population and step
size needs ever more evaluations (or fails) as the dimension grows. A gradient would cost the
same one backward pass in every dimension.
"""

from __future__ import annotations

import os

# Before numpy is imported: threaded BLAS on small matrices (CMA-ES's eigendecomposition in 32-64
# dimensions) ran 50x slower than one thread on a busy 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from pgnotes import command
from pgnotes.functions import as_fitness, sphere
from pgnotes.solvers import optimize
from pgnotes.solvers.ars import ARS
from pgnotes.solvers.cem import CEM
from pgnotes.solvers.cmaes import CMAES
from pgnotes.solvers.nes import NES
from pgnotes.solvers.openai_es import OpenAIES
from pgnotes.solvers.random_search import RandomSearch
from pgnotes.solvers.simple_ea import SimpleEA

#: name -> (description of the settings, factory(x0, seed) -> solver)
METHODS: dict[str, tuple[str, Callable]] = {
    "random search": ("100 samples per generation from N(x0, I)",
                      lambda x0, s: RandomSearch(x0.size, 100, center=x0, scale=1.0, rng=s)),
    "(1+1) EA, 1/5 rule": ("SimpleEA, one parent, sigma0 = 1, 1/5 success rule",
                           lambda x0, s: SimpleEA(x0.size, 1, x0=x0, init_scale=1e-12, sigma=1.0, adapt="one_fifth", rng=s)),
    "CEM": ("popsize 50, 10 elites, sigma0 = 1, no extra noise",
            lambda x0, s: CEM(x0.size, 50, mean=x0, sigma0=1.0, elite_frac=0.2, rng=s)),
    "CMA-ES": ("defaults of Hansen (2016), sigma0 = 1", lambda x0, s: CMAES(x0, 1.0, rng=s)),
    "NES (diagonal)": ("popsize 20, separable Gaussian, exact Fisher, sigma0 = 1",
                       lambda x0, s: NES(x0.size, 20, mean=x0, sigma0=1.0, cov="diagonal", rng=s)),
    "OpenAI ES": ("popsize 50 antithetic, sigma 0.1, Adam lr 0.05, no weight decay",
                  lambda x0, s: OpenAIES(x0.size, 50, mean=x0, sigma=0.1, lr=0.05, weight_decay=0.0, rng=s)),
    "ARS V1-t": ("N = 8, b = 4, step 0.05, noise 0.05",
                 lambda x0, s: ARS(x0, 8, 4, step_size=0.05, noise=0.05, rng=s)),
}
MethodName = Literal["random search", "(1+1) EA, 1/5 rule", "CEM", "CMA-ES", "NES (diagonal)", "OpenAI ES", "ARS V1-t"]


@dataclass
class Config:
    """Settings of the dimension-scaling experiment (the defaults made the chapter's file)."""

    methods: list[MethodName] = field(default_factory=lambda: list(METHODS))  #: methods to run (each with the settings in METHODS)
    dims: list[int] = field(default_factory=lambda: [2, 4, 8, 16, 32, 64])  #: dimensions of the sphere
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])  #: x0 ~ N(0, I) from numpy default_rng(seed); the solver gets seed + 1
    budget: int = 20_000  #: evaluations per run
    target: float = 1e-2  #: success: best sphere value below this
    out: str = "results/ch04_dimension_scaling.json"  #: results file, relative to the current directory
    time_budget: float | None = None  #: seconds for this invocation; run the command again to continue


def run_one(method: str, dim: int, seed: int, budget: int, target: float) -> float:
    """Evaluations until the best candidate has ``sphere < target`` (inf if the budget runs out)."""
    x0 = np.random.default_rng(seed).standard_normal(dim)
    solver = METHODS[method][1](x0, seed + 1)
    history = optimize(as_fitness(sphere), solver, max_evaluations=budget, target=-target, vectorized=True,
                       progress=False)
    if history.best_so_far and history.best_so_far[-1] >= -target:
        return float(history.evaluations[-1])
    return float("inf")


def run(config: Config) -> int:
    def run_row(method: str, dim: int) -> dict:
        t = time.perf_counter()
        evals = [run_one(method, dim, seed, config.budget, config.target) for seed in config.seeds]
        ok = [e for e in evals if np.isfinite(e)]
        return {"evaluations": evals, "success_rate": len(ok) / len(evals),
                "median_evaluations": float(np.median(evals)), "seconds": time.perf_counter() - t}

    def report(row: dict) -> None:
        print(f"{row['method']:<20} dim {row['dim']:>3}: success rate {row['success_rate']:.2f}, median evaluations "
              f"{row['median_evaluations']:>8.0f}  ({row['seconds']:.1f} s)", flush=True)

    def summarize(rows: list[dict]) -> dict:
        return {"function": "sphere", "settings": {m: METHODS[m][0] for m in config.methods},
                "seconds": sum(r["seconds"] for r in rows)}

    jobs = [{"method": m, "dim": d} for m in config.methods for d in config.dims]
    command.run_jobs(config, "dimension_scaling", jobs, run_row, summarize=summarize, report=report,
                     records_key="rows")
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
