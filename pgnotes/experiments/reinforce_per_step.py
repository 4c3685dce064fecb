"""Per-step REINFORCE (Euskirchen, Algorithms 6/7) against the batched update, same episode budget (chapter 2).

Run (a few CPU-minutes on one core)::

    python -m pgnotes.experiments.reinforce_per_step          # writes results/reinforce_per_step.json
    python -m pgnotes.experiments.reinforce_per_step --seeds 0 --episodes 100 --out /tmp/quick.json

Both variants train the chapter's CartPole-v1 policy (MLP 4-32-2, tanh) with reward-to-go
weights :math:`G_t` (gamma 0.99), no baseline, and plain stochastic gradient ascent (no Adam), so
the only difference is *when* the parameters move:

* ``per_step`` (Algorithm 7): play one episode with the current policy, then for
  :math:`t = 0, \\dots, T-1` apply :math:`\\theta \\leftarrow \\theta + \\alpha\\, G_t\\, \\nabla_\\theta\\log\\pi_\\theta(a_t\\mid s_t)`
  at once, each step's score taken at the parameters left by the previous step (the returns
  :math:`G_t` were computed when the episode was played);
* ``batched`` (Algorithm 5 summed over steps, one update per batch of 10 episodes):
  :math:`\\theta \\leftarrow \\theta + \\alpha\\,\\frac1N\\sum_i\\sum_t G_{i,t}\\nabla_\\theta\\log\\pi_\\theta(a_{i,t}\\mid s_{i,t})`.

Summed over an episode, the per-step updates move :math:`\\theta` by about :math:`\\alpha` times the
per-episode gradient, so the two variants need different step sizes: each gets its own small grid
(``--alphas`` for per-step, ``--batched-alphas`` for batched) and the results keep every cell.
Score: the mean training return over the last 50 episodes, and the stochastic policy's
evaluation on 100 fresh episodes at the end.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from pgnotes import command

ENV_ID = "CartPole-v1"
GAMMA = 0.99
BATCH = 10


@dataclass
class Config:
    """Settings of the per-step against batched comparison (the defaults made the chapter's file)."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  #: seeds of every (variant, step size) cell
    episodes: int = 200  #: training episodes per run (at least 10)
    alphas: list[float] = field(default_factory=lambda: [0.001, 0.003, 0.01])  #: step sizes of the per-step variant
    batched_alphas: list[float] = field(default_factory=lambda: [0.003, 0.01, 0.03])  #: step sizes of the batched variant
    out: str = "results/reinforce_per_step.json"  #: results file, relative to the current directory
    time_budget: float | None = None  #: seconds for this invocation; run the command again to continue

    def __post_init__(self):
        if self.episodes < BATCH:
            raise ValueError(f"--episodes must be >= {BATCH}")


def train_one(variant: str, alpha: float, seed: int, episodes: int) -> dict:
    """Train one variant with step size ``alpha`` and ``seed`` for ``episodes`` episodes; return a JSON-ready record."""
    import torch

    from pgnotes.rl.policies import CategoricalPolicy
    from pgnotes.rl.reinforce import policy_gradient_weights, reward_to_go, surrogate_loss
    from pgnotes.rl.rollouts import EpisodeBatch, collect_episodes, evaluate_policy, make_vector_env

    if variant not in ("per_step", "batched"):
        raise ValueError(f"variant must be 'per_step' or 'batched', got {variant!r}")
    torch.set_num_threads(1)
    cpu0 = time.process_time()
    policy = CategoricalPolicy(4, 2, (32,), seed=seed)
    generator = torch.Generator().manual_seed(seed)
    per_batch = 1 if variant == "per_step" else BATCH
    envs = make_vector_env(ENV_ID, per_batch)
    returns: list[float] = []
    updates = 0
    first = True
    try:
        while len(returns) < episodes:
            episodes_now = collect_episodes(envs, policy, per_batch, generator=generator, seed=seed if first else None)
            first = False
            batch = EpisodeBatch(episodes_now)
            returns.extend(float(r) for r in batch.total_rewards)
            if variant == "per_step":
                g = reward_to_go(episodes_now[0].rewards, GAMMA)
                for t in range(batch.num_steps):                # Algorithm 7, line 4, one step at a time
                    logp = policy.log_prob(batch.observations[t : t + 1], batch.actions[t : t + 1])[0]
                    policy.zero_grad()
                    logp.backward()
                    with torch.no_grad():
                        for p in policy.parameters():
                            p.add_(alpha * g[t] * p.grad)
                    updates += 1
            else:
                w = policy_gradient_weights(batch, estimator="reward_to_go", baseline="none", gamma=GAMMA)
                policy.zero_grad()
                surrogate_loss(policy, batch, w).backward()
                with torch.no_grad():
                    for p in policy.parameters():
                        p.sub_(alpha * p.grad)                  # the loss is minus the objective
                updates += 1
    finally:
        envs.close()
    final = evaluate_policy(policy, ENV_ID, 100, seed=10_000 * (seed + 1) + episodes)
    return {
        "variant": variant, "alpha": alpha, "seed": seed, "episodes": episodes, "updates": updates,
        "returns": returns, "last50_mean": float(np.mean(returns[-50:])),
        "final_eval_mean": float(final.mean()), "final_eval_std": float(final.std()),
        "cpu_seconds": time.process_time() - cpu0,
    }


def run(config: Config) -> int:
    def report(record: dict) -> None:
        print(f"{record['variant']:8s} alpha={record['alpha']:<6g} seed {record['seed']}: last-50 mean {record['last50_mean']:6.1f}, "
              f"final eval {record['final_eval_mean']:6.1f}, {record['updates']} updates, {record['cpu_seconds']:.1f} CPU-s", flush=True)

    grid = [("per_step", a) for a in config.alphas] + [("batched", a) for a in config.batched_alphas]
    jobs = [{"variant": variant, "alpha": a, "seed": seed} for variant, a in grid for seed in config.seeds]
    command.run_jobs(config, "reinforce_per_step", jobs,
                     lambda variant, alpha, seed: train_one(variant, alpha, seed, config.episodes), report=report,
                     extra={"env_id": ENV_ID, "gamma": GAMMA, "batch_episodes": BATCH, "hidden": [32],
                            "evaluation": "stochastic policy, 100 fresh episodes after training"})
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
