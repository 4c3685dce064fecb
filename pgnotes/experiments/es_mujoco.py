"""OpenAI ES, SNES or xNES with a linear policy and observation normalization on a MuJoCo task (chapter 3).

Run (Swimmer-v5, target 325; about 0.1 CPU-second per 1,000-step episode, so the default
budget of 2,000 training episodes is at most about 4 CPU-minutes, plus evaluations)::

    python -m pgnotes.experiments.es_mujoco                          # writes results/es_swimmer.json
    python -m pgnotes.experiments.es_mujoco --env HalfCheetah-v5 --target 3430 --out results/es_halfcheetah.json
    python -m pgnotes.experiments.es_mujoco --method snes --eval-every 8 --seeds 0 1 2 3 4   # results/es_swimmer_snes.json

``--method`` picks :class:`~pgnotes.solvers.openai_es.OpenAIES` (default),
:class:`~pgnotes.solvers.snes.SNES` or :class:`~pgnotes.solvers.xnes.XNES`; the NES methods use
the papers' default population (12 for Swimmer's 18 parameters) and learning rates and start
from step size ``--nes-sigma0``. With 12 candidates, ``--eval-every 8`` evaluates every 96
training episodes, close to OpenAI ES's 5 x 20 = 100. Outputs are relative to the current
directory; the default file is ``results/es_swimmer.json`` for OpenAI ES and
``results/es_swimmer_<method>.json`` otherwise.

The policy is linear, ``a = clip(W o_norm + b, -1, 1)``, on observations normalized by a
running mean and standard deviation (:class:`~pgnotes.policy_search.RunningMeanStd`,
updated after each generation from every observation its rollouts saw, as in Salimans et
al. and ARS V2). Every ``eval_every`` generations the mean policy plays ``eval_episodes``
fresh episodes; the run stops when that average reaches the target or when the training
budget is spent, and the file reports the best evaluation reached, honestly, either way.
Each seed is written to the results file as soon as it finishes.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pgnotes.experiments.es_cartpole import command_line, make_solver
from pgnotes.provenance import environment, git_commit


@dataclass
class ESMujocoConfig:
    """Hyperparameters of one run (defaults are those of results/es_swimmer.json)."""

    env_id: str = "Swimmer-v5"
    method: str = "openai_es"  #: "openai_es", "snes" or "xnes"
    hidden: tuple[int, ...] = ()
    popsize: int = 20
    sigma: float = 0.1
    lr: float = 0.05
    optimizer: str = "adam"
    weight_decay: float = 0.005
    nes_popsize: int | None = None  #: SNES/xNES: None = 4 + floor(3 ln d)
    nes_sigma0: float = 0.5  #: SNES/xNES initial step size
    normalize_obs: bool = True
    max_train_episodes: int = 2000
    eval_every: int = 5
    eval_episodes: int = 3
    target: float = 325.0
    seeds: list[int] = field(default_factory=lambda: [0])


def run_seed(config: ESMujocoConfig, seed: int, *, progress: bool = False) -> dict:
    """Train one seed; returns a JSON-ready record with the evaluation curve."""
    import torch

    from pgnotes.experiments.es_cartpole import init_policy
    from pgnotes.policy_search import PolicyFitness, make_policy, num_params, search_policy

    policy = make_policy(config.env_id, hidden=tuple(config.hidden), zero_init=not config.hidden)
    if config.hidden:
        init_policy(policy, seed)
    initial = torch.nn.utils.parameters_to_vector(policy.parameters()).detach().double().numpy()
    fitness = PolicyFitness(config.env_id, policy, normalize_obs=config.normalize_obs, seed=seed)
    solver = make_solver(config.method, num_params(policy), seed, config, mean=initial)
    cpu0 = time.process_time()
    result = search_policy(fitness, solver, max_generations=max(1, config.max_train_episodes // solver.popsize),
                           eval_every=config.eval_every, eval_episodes=config.eval_episodes,
                           target=config.target, progress=progress)
    record = result.to_dict()
    record.pop("history")
    record["history"] = {k: result.history.to_dict()[k] for k in ("generation", "evaluations", "best_so_far", "generation_mean", "wall_time")}
    best = int(np.argmax(result.eval_return)) if result.eval_return else None
    record.update(
        method=config.method,
        popsize=solver.popsize,
        seed=seed,
        num_params=num_params(policy),
        cpu_seconds=time.process_time() - cpu0,
        best_eval_return=None if best is None else result.eval_return[best],
        best_eval_train_episodes=None if best is None else result.eval_train_episodes[best],
        final_eval_return=result.eval_return[-1] if result.eval_return else None,
        normalizer=None if fitness.normalizer is None else {
            "count": fitness.normalizer.count, "mean": fitness.normalizer.mean.tolist(), "std": fitness.normalizer.std.tolist()},
    )
    fitness.close()
    return record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ESMujocoConfig()
    parser.add_argument("--env", default=d.env_id)
    parser.add_argument("--method", choices=("openai_es", "snes", "xnes"), default=d.method)
    parser.add_argument("--nes-sigma0", type=float, default=d.nes_sigma0, help="SNES/xNES initial step size")
    parser.add_argument("--target", type=float, default=d.target)
    parser.add_argument("--seeds", type=int, nargs="+", default=d.seeds)
    parser.add_argument("--popsize", type=int, default=d.popsize)
    parser.add_argument("--sigma", type=float, default=d.sigma)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--no-normalize", action="store_true", help="turn observation normalization off")
    parser.add_argument("--max-train-episodes", type=int, default=d.max_train_episodes)
    parser.add_argument("--eval-every", type=int, default=d.eval_every)
    parser.add_argument("--eval-episodes", type=int, default=d.eval_episodes)
    parser.add_argument("--out", default=None, help="default results/es_swimmer.json (OpenAI ES) or results/es_swimmer_<method>.json")
    parser.add_argument("--progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import torch

    from pgnotes.checkpoint import write_json_atomic

    torch.set_num_threads(1)
    if args.out is None:
        args.out = str(Path("results") / ("es_swimmer.json" if args.method == "openai_es" else f"es_swimmer_{args.method}.json"))
    config = ESMujocoConfig(env_id=args.env, method=args.method, nes_sigma0=args.nes_sigma0, target=args.target, seeds=list(args.seeds), popsize=args.popsize,
                            sigma=args.sigma, lr=args.lr, weight_decay=args.weight_decay,
                            normalize_obs=not args.no_normalize, max_train_episodes=args.max_train_episodes,
                            eval_every=args.eval_every, eval_episodes=args.eval_episodes)
    command = command_line("pgnotes.experiments.es_mujoco", "es-mujoco")
    header = {"experiment": "es_mujoco", "command": command, "config": asdict(config), "commit": git_commit(),
              "environment": environment()}
    runs = []
    for seed in config.seeds:
        record = run_seed(config, seed, progress=args.progress)
        runs.append(record)
        reached = [r["solved_train_episodes"] for r in runs]
        summary = {
            "method": config.method,
            "target": config.target,
            "seeds": [r["seed"] for r in runs],
            "reached": sum(r is not None for r in reached),
            "train_episodes_to_target": reached,
            "best_eval_return": [r["best_eval_return"] for r in runs],
            "final_eval_return": [r["final_eval_return"] for r in runs],
            "train_episodes": [r["train_episodes"] for r in runs],
            "cpu_seconds": [round(r["cpu_seconds"], 1) for r in runs],
            "wall_seconds": [round(r["seconds"], 1) for r in runs],
        }
        write_json_atomic(args.out, {**header, "summary": summary, "runs": runs})
        print(f"seed {seed}: best evaluation {record['best_eval_return']:.1f} "
              f"(target {config.target:g} reached after {record['solved_train_episodes']} training episodes), "
              f"{record['train_episodes']} episodes, {record['cpu_seconds']:.0f} CPU-s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
