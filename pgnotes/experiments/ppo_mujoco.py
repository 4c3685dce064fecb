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

The file is rewritten after every seed and a re-run skips seeds already in it
(:func:`pgnotes.command.run_jobs`), so a stopped sweep resumes at the seed it stopped in. A seed
itself restarts from scratch: :func:`pgnotes.rl.ppo.train` keeps no checkpoints.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from pgnotes import command

OVERRIDES = dict(num_envs=8, steps_per_batch=8000, minibatch_size=256, epochs=10, learning_rate=3e-4, gamma=0.99, lam=0.95,
                 clip=0.2, max_grad_norm=None, entropy_coef=0.0, log_std_init=-0.5)


@dataclass
class Config:
    """Settings of the MuJoCo PPO runs (the defaults are the issue's protocol; the trainer's are ``OVERRIDES``)."""

    env: str = "HalfCheetah-v5"  #: Gymnasium id of the MuJoCo task
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  #: training seeds, one run each
    steps: int = 1_000_000  #: environment steps per seed
    out: str = "results/ppo_{env}.json"  #: results file, relative to the current directory ({env} is replaced, lower case)
    time_budget: float | None = None  #: seconds for this invocation (checked between seeds); run the command again to continue
    progress: bool = True  #: a progress bar per seed

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError("--steps must be >= 1")


def run_seed(env_id: str, seed: int, steps: int, progress: bool = False) -> dict:
    """Train one seed for ``steps`` environment steps; a JSON-ready record with a final 10-episode evaluation."""
    from pgnotes.rl.ppo import train
    from pgnotes.rl.rollouts import evaluate_policy

    result, seconds = command.timed(train, env_id=env_id, total_steps=steps, seed=seed, progress=progress, **OVERRIDES)
    returns = evaluate_policy(result.policy, env_id, 10, seed=10_000 * (seed + 1), num_envs=10)
    h = result.history
    return {
        "seed": seed,
        "config": result.config.to_dict(),
        "final_eval_mean": float(returns.mean()),
        "final_eval_std": float(returns.std()),
        "history": h.to_dict(),
        **seconds,  # of the training (the final evaluation not included)
    }


def summarize(runs: list[dict]) -> dict:
    """The final return per seed, their mean, and the CPU time per seed."""
    finals = [r["final_eval_mean"] for r in runs]
    return {"seeds": [r["seed"] for r in runs], "final_eval_mean": finals, "mean_over_seeds": float(np.mean(finals)),
            "cpu_seconds": [round(r["cpu_seconds"], 1) for r in runs]}


def run(config: Config) -> int:
    def report(r: dict) -> None:
        print(f"{config.env} seed {r['seed']}: final return {r['final_eval_mean']:.1f} +- {r['final_eval_std']:.1f}, "
              f"{r['cpu_seconds'] / 60:.1f} CPU-min", flush=True)

    command.run_jobs(config, "ppo_mujoco", [{"seed": seed} for seed in config.seeds],
                     lambda seed: run_seed(config.env, seed, config.steps, config.progress),
                     summarize=summarize, report=report,
                     extra={"env_id": config.env, "steps": config.steps,
                            "protocol": "final stochastic policy, 10 episodes; the issue asks for 1M steps x 3 seeds"})
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
