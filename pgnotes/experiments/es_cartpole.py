"""Every black-box method of the course on CartPole-v1 with one protocol: episodes to mean return 475 (chapter 3).

Run (about 1-2 CPU-minutes for 5 methods x 5 seeds on one core)::

    python -m pgnotes.experiments.es_cartpole                       # writes results/es_cartpole.json
    python -m pgnotes.experiments.es_cartpole --methods snes --seeds 0 --out /tmp/quick.json

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
:class:`ESCartPoleConfig`; a policy with hidden layers is initialized from a
``torch.Generator`` seeded with the run's seed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pgnotes.provenance import environment, git_commit

ROOT = Path(__file__).resolve().parents[2]  # kept for modules that import it; outputs are cwd-relative
METHODS = ("openai_es", "snes", "xnes", "cem", "cmaes")
LABELS = {"openai_es": "OpenAI ES", "snes": "SNES", "xnes": "xNES", "cem": "CEM", "cmaes": "CMA-ES"}


@dataclass
class ESCartPoleConfig:
    """Hyperparameters of one run (defaults are the ones in results/es_cartpole.json)."""

    env_id: str = "CartPole-v1"
    hidden: tuple[int, ...] = ()  #: () = linear policy (zero start); else an MLP initialized from a torch.Generator
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    # OpenAI ES (Salimans et al. 2017)
    popsize: int = 20  #: OpenAI ES: 10 antithetic pairs
    sigma: float = 0.1  #: OpenAI ES: fixed noise standard deviation
    lr: float = 0.05  #: OpenAI ES: Adam step
    optimizer: str = "adam"
    weight_decay: float = 0.005
    # SNES and xNES (Wierstra et al. 2014): population and learning rates are the papers' defaults
    nes_popsize: int | None = None  #: None = 4 + floor(3 ln d)
    nes_sigma0: float = 0.5  #: initial step size (adapted from there on)
    # CEM (chapter 4)
    cem_popsize: int = 20
    cem_elite_frac: float = 0.2
    cem_sigma0: float = 0.5
    # CMA-ES (chapter 4)
    cmaes_popsize: int | None = None  #: None = 4 + floor(3 ln d)
    cmaes_sigma0: float = 0.5
    # the protocol, shared by all methods
    episodes_per_candidate: int = 1
    normalize_obs: bool = False
    max_train_episodes: int = 4000  #: budget per run (200 generations of OpenAI ES)
    max_generations: int | None = None  #: optional cap on generations on top of the episode budget
    eval_episodes: int = 10
    confirm_episodes: int = 100
    target: float = 475.0
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])


def command_line(module: str, subcommand: str) -> str:
    """The command that reproduces this run: ``pgnotes SUB ...`` or ``python -m MODULE ...``."""
    argv = sys.argv[1:]
    if argv[:1] == [subcommand]:
        return " ".join(["pgnotes", *argv])
    return " ".join(["python -m " + module, *argv])


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


def run_seed(config, seed: int, *, method: str = "openai_es", progress: bool = False) -> dict:
    """Train one (method, seed) on ``config.env_id`` and return a JSON-ready record."""
    import torch

    from pgnotes.policy_search import PolicyFitness, make_policy, num_params, search_policy

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
                           confirm_episodes=config.confirm_episodes, progress=progress)
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ESCartPoleConfig()
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=defaults.methods)
    parser.add_argument("--seeds", type=int, nargs="+", default=defaults.seeds)
    parser.add_argument("--hidden", type=int, nargs="*", default=list(defaults.hidden), help="hidden widths; none = linear")
    parser.add_argument("--popsize", type=int, default=defaults.popsize, help="OpenAI ES population")
    parser.add_argument("--sigma", type=float, default=defaults.sigma, help="OpenAI ES noise")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="OpenAI ES Adam step")
    parser.add_argument("--nes-sigma0", type=float, default=defaults.nes_sigma0, help="SNES/xNES initial step size")
    parser.add_argument("--cem-sigma0", type=float, default=defaults.cem_sigma0)
    parser.add_argument("--cmaes-sigma0", type=float, default=defaults.cmaes_sigma0)
    parser.add_argument("--max-train-episodes", type=int, default=defaults.max_train_episodes)
    parser.add_argument("--max-generations", type=int, default=defaults.max_generations)
    parser.add_argument("--out", default=str(Path("results") / "es_cartpole.json"))
    parser.add_argument("--progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import torch

    from pgnotes.checkpoint import write_json_atomic

    torch.set_num_threads(1)
    config = ESCartPoleConfig(hidden=tuple(args.hidden), methods=list(args.methods), popsize=args.popsize, sigma=args.sigma,
                              lr=args.lr, nes_sigma0=args.nes_sigma0, cem_sigma0=args.cem_sigma0,
                              cmaes_sigma0=args.cmaes_sigma0, max_train_episodes=args.max_train_episodes,
                              max_generations=args.max_generations, seeds=list(args.seeds))
    env_facts, commit = environment(), git_commit()
    runs = []
    for method in config.methods:
        for seed in config.seeds:
            record = run_seed(config, seed, method=method, progress=args.progress)
            runs.append(record)
            print(f"{LABELS[method]:>9} seed {seed}: solved at generation {record['solved_generation']} after "
                  f"{record['solved_train_episodes']} training episodes ({record['cpu_seconds']:.1f} CPU-s)", flush=True)
    summary = summarize(runs, config.target)
    command = command_line("pgnotes.experiments.es_cartpole", "es-cartpole")
    write_json_atomic(args.out, {
        "experiment": "es_cartpole", "command": command, "config": asdict(config), "commit": commit,
        "environment": env_facts, "summary": summary, "runs": runs,
    })
    for method, s in summary["by_method"].items():
        print(f"{LABELS[method]:>9}: {s['solved']}/{len(s['seeds'])} solved, median {s['median_train_episodes']} training "
              f"episodes, {s['median_cpu_seconds']:.1f} CPU-s per seed")
    print(f"-> {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
