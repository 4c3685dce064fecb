"""PPO on a MuJoCo task (default HalfCheetah-v5): return after a budget of environment steps (chapter 7).

Run (the issue's protocol is 1,000,000 steps x 3 seeds; about 10-20 CPU-minutes per seed on one core)::

    python -m pgnotes.experiments.ppo_mujoco                                  # -> results/ppo_halfcheetah-v5.json
    python -m pgnotes.experiments.ppo_mujoco --seeds 0 --steps 300000         # what fits a shared machine

Each seed trains :func:`pgnotes.rl.ppo.train` with a Gaussian policy (state-independent
log-std) and these overrides of :class:`~pgnotes.rl.ppo.PPOConfig`: 8 environments, whole
episodes (1,000 steps each, so 8,000 steps per batch), 10 epochs of minibatches of 256, Adam 3e-4,
GAE(0.99, 0.95), clip 0.2, no gradient-norm clipping (one Adam over separate policy and value
networks; a global norm clip would let the value loss's large gradients shrink the policy's
step). No observation or reward normalization. The final policy is evaluated on 10 episodes
(stochastic) and the file records the learning curve, the final return and the CPU time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

OVERRIDES = dict(num_envs=8, steps_per_batch=8000, minibatch_size=256, epochs=10, learning_rate=3e-4, gamma=0.99, lam=0.95,
                 clip=0.2, max_grad_norm=None, entropy_coef=0.0, log_std_init=-0.5)


def run_seed(env_id: str, seed: int, steps: int, progress: bool = False) -> dict:
    """Train one seed for ``steps`` environment steps; a JSON-ready record with a final 10-episode evaluation."""
    from pgnotes.rl.ppo import train
    from pgnotes.rl.rollouts import evaluate_policy

    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = train(env_id=env_id, total_steps=steps, seed=seed, progress=progress, **OVERRIDES)
    cpu = time.process_time() - cpu0
    returns = evaluate_policy(result.policy, env_id, 10, seed=10_000 * (seed + 1), num_envs=10)
    h = result.history
    return {
        "seed": seed,
        "config": result.config.to_dict(),
        "final_eval_mean": float(returns.mean()),
        "final_eval_std": float(returns.std()),
        "history": h.to_dict(),
        "cpu_seconds": cpu,
        "wall_seconds": time.perf_counter() - wall0,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--out", default=None, help="default results/ppo_{env}.json (relative to the current directory)")
    parser.add_argument("--progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from pgnotes.checkpoint import write_json_atomic
    from pgnotes.provenance import environment, git_commit

    if args.steps < 1:
        raise SystemExit("--steps must be >= 1")
    out = Path(args.out or f"results/ppo_{args.env.lower()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    if out.exists():
        runs = [r for r in json.loads(out.read_text()).get("runs", []) if r["config"]["total_steps"] == args.steps]
    done = {r["seed"] for r in runs}
    command = " ".join(["python -m pgnotes.experiments.ppo_mujoco", *sys.argv[1:]])
    for seed in args.seeds:
        if seed in done:
            continue
        record = run_seed(args.env, seed, args.steps, args.progress)
        runs.append(record)
        print(f"{args.env} seed {seed}: final return {record['final_eval_mean']:.1f} +- {record['final_eval_std']:.1f}, "
              f"{record['cpu_seconds'] / 60:.1f} CPU-min", flush=True)
        finals = [r["final_eval_mean"] for r in runs]
        write_json_atomic(out, {
            "experiment": "ppo_mujoco",
            "command": command,
            "env_id": args.env,
            "steps": args.steps,
            "protocol": "final stochastic policy, 10 episodes; the issue asks for 1M steps x 3 seeds",
            "commit": git_commit(),
            "environment": environment(),
            "summary": {"seeds": [r["seed"] for r in runs], "final_eval_mean": finals,
                        "mean_over_seeds": float(np.mean(finals)),
                        "cpu_seconds": [round(r["cpu_seconds"], 1) for r in runs]},
            "runs": runs,
        })
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
