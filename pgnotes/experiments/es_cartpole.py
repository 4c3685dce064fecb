"""OpenAI ES with a linear policy on CartPole-v1: generations and episodes to mean return 475 (chapter 3).

Run (about 1-3 CPU-minutes for 5 seeds on one core)::

    python -m pgnotes.experiments.es_cartpole                       # writes results/es_cartpole.json
    python -m pgnotes.experiments.es_cartpole --seeds 0 --out /tmp/quick.json

Each seed trains :class:`~pgnotes.solvers.openai_es.OpenAIES` on the flat parameters of a
linear policy (4 observations -> 2 action scores, argmax; 10 parameters, all zero at the
start) with :func:`pgnotes.policy_search.search_policy`: one episode per candidate, and after
every generation the mean policy is played on 10 fresh episodes; when those average >= 475
the result is confirmed on 100 further episodes, and the run is *solved* at the first
generation whose confirmation averages >= 475 too. Training episodes (the population's) and
evaluation episodes are counted separately. Every hyperparameter is a field of
:class:`ESCartPoleConfig`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from pgnotes.provenance import environment, git_commit

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ESCartPoleConfig:
    """Hyperparameters of one run (defaults are the ones in results/es_cartpole.json)."""

    env_id: str = "CartPole-v1"
    hidden: tuple[int, ...] = ()  #: () = linear policy
    popsize: int = 20  #: 10 antithetic pairs
    sigma: float = 0.1
    lr: float = 0.05
    optimizer: str = "adam"
    weight_decay: float = 0.005
    episodes_per_candidate: int = 1
    normalize_obs: bool = False
    max_generations: int = 200
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


def run_seed(config, seed: int, *, progress: bool = False) -> dict:
    """Train one seed of OpenAI ES on ``config.env_id`` and return a JSON-ready record."""
    import torch

    from pgnotes.policy_search import PolicyFitness, make_policy, num_params, search_policy
    from pgnotes.solvers.openai_es import OpenAIES

    torch.manual_seed(seed)
    policy = make_policy(config.env_id, hidden=tuple(config.hidden), zero_init=not config.hidden)
    fitness = PolicyFitness(config.env_id, policy, episodes=config.episodes_per_candidate,
                            normalize_obs=config.normalize_obs, seed=seed)
    solver = OpenAIES(num_params(policy), config.popsize, sigma=config.sigma, lr=config.lr,
                      optimizer=config.optimizer, weight_decay=config.weight_decay, rng=seed)
    cpu0 = time.process_time()
    result = search_policy(fitness, solver, max_generations=config.max_generations,
                           eval_episodes=config.eval_episodes, target=config.target,
                           confirm_episodes=config.confirm_episodes, progress=progress)
    fitness.close()
    record = result.to_dict()
    record.update(seed=seed, num_params=num_params(policy), cpu_seconds=time.process_time() - cpu0)
    record.pop("history")
    record["history"] = {k: result.history.to_dict()[k] for k in ("generation", "evaluations", "best_so_far", "generation_mean", "wall_time")}
    return record


def summarize(runs: list[dict], target: float) -> dict:
    """Median generations / training episodes / env steps to the target over the solved seeds."""
    solved = [r for r in runs if r["solved_generation"] is not None]

    def median(key):
        return float(np.median([r[key] for r in solved])) if solved else None

    return {
        "target": target,
        "seeds": [r["seed"] for r in runs],
        "solved": len(solved),
        "generations_to_target": [r["solved_generation"] for r in runs],
        "train_episodes_to_target": [r["solved_train_episodes"] for r in runs],
        "train_steps_to_target": [r["solved_train_steps"] for r in runs],
        "eval_episodes_used": [r["eval_episodes"] for r in runs],
        "wall_seconds": [round(r["seconds"], 2) for r in runs],
        "median_generations": median("solved_generation"),
        "median_train_episodes": median("solved_train_episodes"),
        "median_train_steps": median("solved_train_steps"),
        "median_wall_seconds": float(np.median([r["seconds"] for r in runs])),
        "total_cpu_seconds": float(sum(r["cpu_seconds"] for r in runs)),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ESCartPoleConfig()
    parser.add_argument("--seeds", type=int, nargs="+", default=defaults.seeds)
    parser.add_argument("--hidden", type=int, nargs="*", default=list(defaults.hidden), help="hidden widths; none = linear")
    parser.add_argument("--popsize", type=int, default=defaults.popsize)
    parser.add_argument("--sigma", type=float, default=defaults.sigma)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--max-generations", type=int, default=defaults.max_generations)
    parser.add_argument("--out", default=str(ROOT / "results" / "es_cartpole.json"))
    parser.add_argument("--progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import torch

    from pgnotes.checkpoint import write_json_atomic

    torch.set_num_threads(1)
    config = ESCartPoleConfig(hidden=tuple(args.hidden), popsize=args.popsize, sigma=args.sigma, lr=args.lr,
                              max_generations=args.max_generations, seeds=list(args.seeds))
    env_facts, commit = environment(), git_commit()
    runs = []
    for seed in config.seeds:
        record = run_seed(config, seed, progress=args.progress)
        runs.append(record)
        print(f"seed {seed}: solved at generation {record['solved_generation']} after "
              f"{record['solved_train_episodes']} training episodes ({record['seconds']:.1f} s)", flush=True)
    summary = summarize(runs, config.target)
    command = command_line("pgnotes.experiments.es_cartpole", "es-cartpole")
    write_json_atomic(args.out, {
        "experiment": "es_cartpole", "command": command, "config": asdict(config), "commit": commit,
        "environment": env_facts, "summary": summary, "runs": runs,
    })
    print(f"median over {summary['solved']}/{len(runs)} solved seeds: {summary['median_generations']} generations, "
          f"{summary['median_train_episodes']} training episodes -> {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
