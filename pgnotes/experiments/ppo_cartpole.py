"""PPO and TRPO on CartPole-v1: environment steps to a mean return of 475 over 100 episodes (chapter 7).

Run (about 1 CPU-minute per PPO seed and 1-2 per TRPO seed, one core)::

    python -m pgnotes.experiments.ppo_cartpole                  # PPO, 5 seeds -> results/ppo_cartpole.json
    python -m pgnotes.experiments.ppo_cartpole --algo trpo      # TRPO, 5 seeds -> results/trpo_cartpole.json
    pgnotes ppo-cartpole --algo ppo --seeds 0 --out /tmp/quick.json

Each seed trains with :func:`pgnotes.rl.ppo.train` or :func:`pgnotes.rl.natural_pg.train` (all
hyperparameters are the defaults of :class:`~pgnotes.rl.ppo.PPOConfig` /
:class:`~pgnotes.rl.natural_pg.TRPOConfig`, stored in the file). The evaluation is chapter 2's:
whenever a training batch averages >= 450, the *stochastic* policy plays 100 fresh episodes;
the run is solved at the training steps of the first evaluation averaging >= 475, and stops
there. Steps count the training episodes only (evaluation episodes are not training data).
An unsolved seed counts as "more than the budget" in the median. Results are written relative
to the current directory, after every seed; a re-run skips seeds already in the file (same
configuration), so an interrupted sweep resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ALGOS = ("ppo", "trpo")
BUDGET = {"ppo": 200_000, "trpo": 300_000}
"""Training-step budget per seed (the issue's target for PPO is at most 100,000 steps)."""


def run_seed(algo: str, seed: int, budget: int, progress: bool = False) -> dict:
    """Train one seed until solved or out of budget; a JSON-ready record."""
    if algo == "ppo":
        from pgnotes.rl.ppo import train
    else:
        from pgnotes.rl.natural_pg import train
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = train(total_steps=budget, seed=seed, eval_threshold=450.0, target=475.0, stop_at_target=True,
                   eval_episodes=100, progress=progress)
    h = result.history
    return {
        "algo": algo,
        "seed": seed,
        "config": result.config.to_dict(),
        "solved_at_steps": h.solved_at,
        "history": h.to_dict(),
        "cpu_seconds": time.process_time() - cpu0,
        "wall_seconds": time.perf_counter() - wall0,
    }


def summarize(runs: list[dict]) -> dict:
    """Steps to 475 per seed, their median (unsolved = above the budget), solved count, CPU time."""
    runs = sorted(runs, key=lambda r: r["seed"])
    solved = [r["solved_at_steps"] for r in runs]
    median = float(np.median([s if s is not None else np.inf for s in solved])) if runs else np.inf
    return {
        "seeds": [r["seed"] for r in runs],
        "solved_at_steps": solved,
        "median_steps_to_solve": None if not np.isfinite(median) else median,
        "solved": int(sum(s is not None for s in solved)),
        "budget_steps": runs[0]["config"]["total_steps"] if runs else None,
        "cpu_seconds": [round(r["cpu_seconds"], 1) for r in runs],
        "total_cpu_seconds": float(sum(r["cpu_seconds"] for r in runs)),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algo", choices=ALGOS, default="ppo")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", type=int, default=None, help="training steps per seed (default: 200k PPO, 300k TRPO)")
    parser.add_argument("--out", default=None, help="default results/{algo}_cartpole.json (relative to the current directory)")
    parser.add_argument("--progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from pgnotes.checkpoint import write_json_atomic
    from pgnotes.provenance import environment, git_commit

    budget = args.budget or BUDGET[args.algo]
    if budget < 1:
        raise SystemExit("--budget must be >= 1")
    out = Path(args.out or f"results/{args.algo}_cartpole.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    if out.exists():
        previous = json.loads(out.read_text())
        runs = [r for r in previous.get("runs", []) if r["config"]["total_steps"] == budget and r["algo"] == args.algo]
    done = {r["seed"] for r in runs}
    argv = sys.argv[1:]
    command = " ".join(["pgnotes", *argv]) if argv[:1] == ["ppo-cartpole"] else " ".join(["python -m pgnotes.experiments.ppo_cartpole", *argv])
    for seed in args.seeds:
        if seed in done:
            continue
        record = run_seed(args.algo, seed, budget, args.progress)
        runs.append(record)
        print(f"{args.algo} seed {seed}: solved at {record['solved_at_steps']} steps, {record['cpu_seconds']:.1f} CPU-s", flush=True)
        write_json_atomic(out, {
            "experiment": f"{args.algo}_cartpole",
            "command": command,
            "algo": args.algo,
            "env_id": "CartPole-v1",
            "target": 475.0,
            "eval_episodes": 100,
            "evaluation": "stochastic policy, 100 fresh episodes, whenever a training batch averages >= 450, until one reaches 475; "
                          "steps are training steps of kept episodes (evaluation episodes not counted)",
            "commit": git_commit(),
            "environment": environment(),
            "summary": summarize(runs),
            "runs": runs,
        })
    s = summarize(runs)
    print(f"{args.algo}: steps to 475 per seed {s['solved_at_steps']} -> median {s['median_steps_to_solve']}; "
          f"{s['total_cpu_seconds'] / 60:.1f} CPU-min")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
