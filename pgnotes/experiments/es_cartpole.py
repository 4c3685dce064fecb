"""Every black-box method of the course on CartPole-v1 with one protocol: episodes to mean return 475 (chapter 3).

Run (about 1-2 CPU-minutes for 5 methods x 5 seeds on one core)::

    pgnotes es-cartpole                                  # writes results/es_cartpole.json
    pgnotes es-cartpole --methods snes --seeds 0 --out /tmp/quick.json

Resumable: every finished (method, seed) is kept in the results file, and the same command
run again continues with the runs still missing (``--time-budget`` stops it between runs;
``--checkpoint`` also checkpoints inside each run, after every generation).

Each (method, seed) trains a linear policy (4 observations -> 2 action scores, argmax; 10
parameters, all zero at the start) with :func:`pgnotes.policy_search.search_policy`: one
episode per candidate, and after every generation the mean of the search distribution is
played on 10 fresh episodes; when those average >= 475 the result is confirmed on 100 further
episodes, and the run is *solved* at the first generation whose confirmation averages >= 475
too. Training episodes (the population's) and evaluation episodes are counted separately; a
run stops unsolved after ``max_train_episodes`` training episodes. The methods:

* ``openai_es``: :class:`~pgnotes.solvers.openai_es.OpenAIES` (20 candidates = 10 antithetic
  pairs, fixed sigma 0.1, Adam 0.05, weight decay 0.005);
* ``snes`` / ``xnes``: :class:`~pgnotes.solvers.snes.SNES` and :class:`~pgnotes.solvers.xnes.XNES`
  with the papers' default population (10 for 10 parameters) and learning rates, initial
  sigma ``nes_sigma0``;
* ``cem``: :class:`~pgnotes.solvers.cem.CEM` (diagonal Gaussian, elites, no extra noise);
* ``cmaes``: :class:`~pgnotes.solvers.cmaes.CMAES` (Hansen's default population, 10).

On this task the initial step size of SNES, xNES, CEM and CMA-ES does not matter: the policy
takes the argmax of ``W o + b``, so multiplying all weights by a positive number changes no
action, and these four methods, started from zero weights, are invariant to that scaling (every
candidate, and every update, scales with the initial sigma). Runs with sigma0 = 0.2 and 0.5 gave
the same episodes on seeds 10-14; only OpenAI ES (fixed sigma, Adam's fixed step, weight decay)
depends on its scale. Every hyperparameter is a field of
:class:`Config`; a policy with hidden layers is initialized from a
``torch.Generator`` seeded with the run's seed (torch's global generator is not touched).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from pgnotes import command

METHODS = ("openai_es", "snes", "xnes", "cem", "cmaes")
Method = Literal["openai_es", "snes", "xnes", "cem", "cmaes"]
LABELS = {"openai_es": "OpenAI ES", "snes": "SNES", "xnes": "xNES", "cem": "CEM", "cmaes": "CMA-ES"}


@dataclass
class Config:
    """Hyperparameters of the comparison (the defaults made results/es_cartpole.json)."""

    env_id: str = "CartPole-v1"  #: Gymnasium id
    hidden: list[int] = field(default_factory=list)  #: hidden widths; none = linear policy (zero start), else an MLP initialized from a torch.Generator
    methods: list[Method] = field(default_factory=lambda: list(METHODS))  #: methods to run
    # OpenAI ES (Salimans et al. 2017)
    popsize: int = 20  #: OpenAI ES: 10 antithetic pairs
    sigma: float = 0.1  #: OpenAI ES: fixed noise standard deviation
    lr: float = 0.05  #: OpenAI ES: Adam step
    optimizer: str = "adam"  #: OpenAI ES: "adam" or "sgd"
    weight_decay: float = 0.005  #: OpenAI ES: weight decay
    # SNES and xNES (Wierstra et al. 2014): population and learning rates are the papers' defaults
    nes_popsize: int | None = None  #: SNES/xNES population; none = 4 + floor(3 ln d)
    nes_sigma0: float = 0.5  #: SNES/xNES initial step size (adapted from there on)
    # CEM (chapter 4)
    cem_popsize: int = 20  #: CEM population
    cem_elite_frac: float = 0.2  #: CEM fraction of elites
    cem_sigma0: float = 0.5  #: CEM initial standard deviation
    # CMA-ES (chapter 4)
    cmaes_popsize: int | None = None  #: CMA-ES population; none = 4 + floor(3 ln d)
    cmaes_sigma0: float = 0.5  #: CMA-ES initial step size
    # the protocol, shared by all methods
    episodes_per_candidate: int = 1  #: training episodes per candidate
    normalize_obs: bool = False  #: normalize observations by running statistics (clipped at 10)
    max_train_episodes: int = 4000  #: training-episode budget per run (200 generations of OpenAI ES)
    max_generations: int | None = None  #: optional cap on generations on top of the episode budget
    eval_episodes: int = 10  #: episodes per evaluation of the mean policy (after every generation)
    confirm_episodes: int = 100  #: episodes confirming an evaluation that reached the target
    target: float = 475.0  #: mean return that counts as solved
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])  #: seeds (each method runs every seed)
    out: str = "results/es_cartpole.json"  #: results file, relative to the current directory
    checkpoint: str | None = None  #: folder of per-run checkpoints (after every generation); none = resume between runs only
    time_budget: float | None = None  #: seconds for this invocation (checked between runs); run the command again to continue
    progress: bool = True  #: progress bars


ESCartPoleConfig = Config  #: the name chapter code and older scripts use


def init_policy(policy, seed: int):
    """Re-initialize every linear layer as torch's default does, from a ``torch.Generator`` seeded with ``seed``."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for module in policy.modules():
            if isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.in_features)  # kaiming_uniform(a=sqrt 5) = U(-1/sqrt(fan_in), ...)
                module.weight.uniform_(-bound, bound, generator=gen)
                if module.bias is not None:
                    module.bias.uniform_(-bound, bound, generator=gen)
    return policy


def make_solver(method: str, dim: int, seed: int, config, mean=None):
    """The ask/tell solver of ``method`` for a ``dim``-parameter policy, with ``config``'s hyperparameters."""
    mean = np.zeros(dim) if mean is None else np.asarray(mean, dtype=np.float64)
    if method == "openai_es":
        from pgnotes.solvers.openai_es import OpenAIES

        return OpenAIES(dim, config.popsize, mean=mean, sigma=config.sigma, lr=config.lr, optimizer=config.optimizer,
                        weight_decay=config.weight_decay, rng=seed)
    if method == "snes":
        from pgnotes.solvers.snes import SNES

        return SNES(dim, config.nes_popsize, mean=mean, sigma0=config.nes_sigma0, rng=seed)
    if method == "xnes":
        from pgnotes.solvers.xnes import XNES

        return XNES(dim, config.nes_popsize, mean=mean, sigma0=config.nes_sigma0, rng=seed)
    if method == "cem":
        from pgnotes.solvers.cem import CEM

        return CEM(dim, config.cem_popsize, mean=mean, sigma0=config.cem_sigma0, elite_frac=config.cem_elite_frac, rng=seed)
    if method == "cmaes":
        from pgnotes.solvers.cmaes import CMAES

        return CMAES(mean, config.cmaes_sigma0, config.cmaes_popsize, rng=seed)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def checkpoint_path(config, name: str) -> Path | None:
    """``<config.checkpoint>/<name>.ckpt``, or None without a checkpoint folder."""
    return None if getattr(config, "checkpoint", None) is None else Path(config.checkpoint) / f"{name}.ckpt"


def run_settings(config) -> dict:
    """The settings a run's checkpoint must match: the config without invocation options, budgets or the method list."""
    skip = (*command.RUN_OPTIONS, "methods", "max_train_episodes", "max_generations")
    return {k: v for k, v in asdict(config).items() if k not in skip}


def run_seed(config, seed: int, *, method: str = "openai_es", progress: bool = False) -> dict:
    """Train one (method, seed) on ``config.env_id`` and return a JSON-ready record."""
    import torch

    from pgnotes.evaluation import PolicyFitness
    from pgnotes.mlp_policy import make_policy, num_params
    from pgnotes.policy_search import search_policy

    policy = make_policy(config.env_id, hidden=tuple(config.hidden), zero_init=not config.hidden)
    if config.hidden:
        init_policy(policy, seed)
    initial = torch.nn.utils.parameters_to_vector(policy.parameters()).detach().double().numpy()
    fitness = PolicyFitness(config.env_id, policy, episodes=config.episodes_per_candidate,
                            normalize_obs=config.normalize_obs, seed=seed)
    solver = make_solver(method, num_params(policy), seed, config, mean=initial)
    generations = max(1, config.max_train_episodes // (solver.popsize * config.episodes_per_candidate))
    if config.max_generations is not None:
        generations = min(generations, config.max_generations)
    cpu0 = time.process_time()
    result = search_policy(fitness, solver, max_generations=generations,
                           eval_episodes=config.eval_episodes, target=config.target,
                           confirm_episodes=config.confirm_episodes, progress=progress,
                           checkpoint=checkpoint_path(config, f"es_cartpole_{method}_seed{seed}"),
                           settings={**run_settings(config), "method": method, "seed": seed})
    cpu = time.process_time() - cpu0
    fitness.close()
    record = {"method": method, "seed": seed}
    record.update(result.to_dict())
    record.update(seed=seed, popsize=solver.popsize, num_params=num_params(policy), cpu_seconds=cpu)
    record.pop("history")
    record["history"] = {k: result.history.to_dict()[k] for k in ("generation", "evaluations", "best_so_far", "generation_mean", "wall_time")}
    return record


def summarize_method(runs: list[dict]) -> dict:
    """Per-method summary: solved seeds, median/min/max training episodes to the target, CPU seconds."""
    solved = [r for r in runs if r["solved_generation"] is not None]

    def median(key):
        return float(np.median([r[key] for r in solved])) if solved else None

    episodes = [r["solved_train_episodes"] for r in solved]
    return {
        "seeds": [r["seed"] for r in runs],
        "solved": len(solved),
        "generations_to_target": [r["solved_generation"] for r in runs],
        "train_episodes_to_target": [r["solved_train_episodes"] for r in runs],
        "train_steps_to_target": [r["solved_train_steps"] for r in runs],
        "eval_episodes_used": [r["eval_episodes"] for r in runs],
        "cpu_seconds": [round(r["cpu_seconds"], 2) for r in runs],
        "wall_seconds": [round(r["seconds"], 2) for r in runs],
        "median_generations": median("solved_generation"),
        "median_train_episodes": median("solved_train_episodes"),
        "min_train_episodes": min(episodes) if episodes else None,
        "max_train_episodes": max(episodes) if episodes else None,
        "median_train_steps": median("solved_train_steps"),
        "median_cpu_seconds": float(np.median([r["cpu_seconds"] for r in runs])),
        "total_cpu_seconds": float(sum(r["cpu_seconds"] for r in runs)),
    }


def summarize(runs: list[dict], target: float) -> dict:
    """Summary over all runs: ``by_method`` holds :func:`summarize_method` for each method, in run order."""
    methods = list(dict.fromkeys(r.get("method", "openai_es") for r in runs))
    return {
        "target": target,
        "seeds": sorted({r["seed"] for r in runs}),
        "methods": methods,
        "by_method": {m: summarize_method([r for r in runs if r.get("method", "openai_es") == m]) for m in methods},
    }


def run(config: Config) -> int:
    import torch

    torch.set_num_threads(1)

    def run_job(method: str, seed: int) -> dict:
        return run_seed(config, seed, method=method, progress=config.progress)

    def report(record: dict) -> None:
        print(f"{LABELS[record['method']]:>9} seed {record['seed']}: solved at generation {record['solved_generation']} after "
              f"{record['solved_train_episodes']} training episodes ({record['cpu_seconds']:.1f} CPU-s)", flush=True)

    jobs = [{"method": m, "seed": s} for m in config.methods for s in config.seeds]
    payload = command.run_jobs(config, "es_cartpole", jobs, run_job, summarize=lambda runs: summarize(runs, config.target),
                               report=report)
    for method, s in payload.get("summary", {}).get("by_method", {}).items():
        print(f"{LABELS[method]:>9}: {s['solved']}/{len(s['seeds'])} solved, median {s['median_train_episodes']} training "
              f"episodes, {s['median_cpu_seconds']:.1f} CPU-s per seed")
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
