"""OpenAI ES, SNES or xNES with a linear policy and observation normalization on a MuJoCo task (chapter 3).

Run (Swimmer-v5, target 325; about 0.1 CPU-second per 1,000-step episode, so the default
budget of 2,000 training episodes is at most about 4 CPU-minutes, plus evaluations)::

    pgnotes es-mujoco                                    # writes results/es_swimmer.json
    pgnotes es-mujoco --env-id HalfCheetah-v5 --target 3430 --out results/es_halfcheetah.json
    pgnotes es-mujoco --method snes --eval-every 8 --seeds 0 1 2 3 4   # results/es_swimmer_snes.json

Resumable: finished seeds are kept in the results file and the same command continues with the
others (``--time-budget`` stops between seeds); with ``--checkpoint FOLDER`` each seed also
checkpoints after every generation (solver, observation statistics and evaluations together),
so even an interrupted seed continues where it stopped. ``--method`` picks :class:`~pgnotes.solvers.openai_es.OpenAIES` (default),
:class:`~pgnotes.solvers.snes.SNES` or :class:`~pgnotes.solvers.xnes.XNES`; the NES methods use
the papers' default population (12 for Swimmer's 18 parameters) and learning rates and start
from step size ``--nes-sigma0``. With 12 candidates, ``--eval-every 8`` evaluates every 96
training episodes, close to OpenAI ES's 5 x 20 = 100. Outputs are relative to the current
directory; the default file is ``results/es_swimmer.json`` for OpenAI ES and
``results/es_swimmer_<method>.json`` otherwise.

The policy is linear, ``a = clip(W o_norm + b, -1, 1)``, on observations normalized by a
running mean and standard deviation (:class:`~pgnotes.evaluation.RunningMeanStd`,
updated after each generation from every observation its rollouts saw, as in Salimans et
al. and ARS V2). Every ``eval_every`` generations the mean policy plays ``eval_episodes``
fresh episodes; the run stops when that average reaches the target or when the training
budget is spent, and the file reports the best evaluation reached, honestly, either way.
Each seed is written to the results file as soon as it finishes.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pgnotes import command
from pgnotes.experiments.es_cartpole import checkpoint_path, make_solver, run_settings


@dataclass
class Config:
    """Hyperparameters of one run (the defaults made results/es_swimmer.json)."""

    env_id: str = "Swimmer-v5"  #: Gymnasium id (MuJoCo)
    method: Literal["openai_es", "snes", "xnes"] = "openai_es"  #: the solver
    hidden: list[int] = field(default_factory=list)  #: hidden widths; none = linear policy (zero start)
    popsize: int = 20  #: OpenAI ES population (antithetic pairs)
    sigma: float = 0.1  #: OpenAI ES noise standard deviation
    lr: float = 0.05  #: OpenAI ES Adam step
    optimizer: str = "adam"  #: OpenAI ES optimizer: "adam" or "sgd"
    weight_decay: float = 0.005  #: OpenAI ES weight decay
    nes_popsize: int | None = None  #: SNES/xNES population; none = 4 + floor(3 ln d)
    nes_sigma0: float = 0.5  #: SNES/xNES initial step size
    normalize_obs: bool = True  #: normalize observations by running statistics (clipped at 10)
    max_train_episodes: int = 2000  #: training-episode budget per seed
    eval_every: int = 5  #: evaluate the mean policy every this many generations
    eval_episodes: int = 3  #: episodes per evaluation
    target: float = 325.0  #: stop once an evaluation reaches it
    seeds: list[int] = field(default_factory=lambda: [0])  #: seeds to run
    out: str | None = None  #: results file; none = results/es_swimmer.json (OpenAI ES) or results/es_swimmer_<method>.json
    checkpoint: str | None = None  #: folder of per-seed checkpoints (after every generation); none = resume between seeds only
    time_budget: float | None = None  #: seconds for this invocation (checked between seeds); run the command again to continue
    progress: bool = True  #: progress bars


ESMujocoConfig = Config  #: the older name


def run_seed(config: Config, seed: int, *, progress: bool = False) -> dict:
    """Train one seed; returns a JSON-ready record with the evaluation curve."""
    import torch

    from pgnotes.experiments.es_cartpole import init_policy
    from pgnotes.evaluation import PolicyFitness
    from pgnotes.mlp_policy import make_policy, num_params
    from pgnotes.policy_search import search_policy

    policy = make_policy(config.env_id, hidden=tuple(config.hidden), zero_init=not config.hidden)
    if config.hidden:
        init_policy(policy, seed)
    initial = torch.nn.utils.parameters_to_vector(policy.parameters()).detach().double().numpy()
    fitness = PolicyFitness(config.env_id, policy, normalize_obs=config.normalize_obs, seed=seed)
    solver = make_solver(config.method, num_params(policy), seed, config, mean=initial)
    cpu0 = time.process_time()
    result = search_policy(fitness, solver, max_generations=max(1, config.max_train_episodes // solver.popsize),
                           eval_every=config.eval_every, eval_episodes=config.eval_episodes,
                           target=config.target, progress=progress,
                           checkpoint=checkpoint_path(config, f"es_mujoco_{config.env_id}_{config.method}_seed{seed}"),
                           settings={**run_settings(config), "seed": seed})
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


def summarize(config: Config, runs: list[dict]) -> dict:
    """Per-seed lists (in run order) of the numbers the chapter reads."""
    reached = [r["solved_train_episodes"] for r in runs]
    return {
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


def run(config: Config) -> int:
    import torch

    torch.set_num_threads(1)
    if config.out is None:
        name = "es_swimmer.json" if config.method == "openai_es" else f"es_swimmer_{config.method}.json"
        config = dataclasses.replace(config, out=f"results/{name}")

    def report(record: dict) -> None:
        print(f"seed {record['seed']}: best evaluation {record['best_eval_return']:.1f} "
              f"(target {config.target:g} reached after {record['solved_train_episodes']} training episodes), "
              f"{record['train_episodes']} episodes, {record['cpu_seconds']:.0f} CPU-s", flush=True)

    command.run_jobs(config, "es_mujoco", [{"seed": s} for s in config.seeds],
                     lambda seed: run_seed(config, seed, progress=config.progress),
                     summarize=lambda runs: summarize(config, runs), report=report)
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
