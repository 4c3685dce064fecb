r"""Gradient variance of the REINFORCE estimators on CartPole-v1, and the baseline's zero mean (chapter 2).

Run (about 1-2 CPU-minutes)::

    python -m pgnotes.experiments.reinforce_variance        # writes results/reinforce_variance.json

One policy is trained with reward-to-go and a learned value baseline (the chapter's default
configuration, seed 0) and frozen at several points of training (``--stages``, in training
episodes). At each stage its value net is refitted to the reward-to-go at the measured
discount ``--gamma`` on fresh episodes, then the frozen policy collects ``--batches``
independent batches of 10 episodes, and on each batch the gradient estimate of every variant
is computed *on the same episodes*. With the default ``--gamma 1`` every variant without a
batch-mean baseline is an unbiased estimate of the same gradient (of the expected undiscounted
return), so their variances compare like with like; with a discount, the whole return keeps the
:math:`\gamma^t` factor that the reward-to-go drops, and the targets differ:

=========================== =============================================================
``whole_return``            Algorithm 4: :math:`R(\tau)\sum_t\nabla\log\pi`
``whole_return+mean``       minus the batch-mean return
``reward_to_go``            Algorithms 5-7: :math:`\sum_t G_t\nabla\log\pi_t`
``reward_to_go+mean``       minus the batch mean of :math:`G_t` at each step :math:`t`
``reward_to_go+value``      minus :math:`V_\phi(s_t)` (the value net frozen with the policy)
=========================== =============================================================

Recorded per variant: the total variance across batches (trace of the covariance of the
gradient vector), the squared norm of the mean gradient, and their ratio. For the baselines, the per-batch
difference "without minus with" is exactly the baseline term :math:`\frac1N\sum b\,\nabla\log\pi`;
``norm_ratio`` :math:`= B\lVert\bar d\rVert^2/\operatorname{tr}\hat\Sigma_d` compares the squared norm of its
mean over :math:`B` batches with what noise alone gives: about 1 when
:math:`\mathbb E[b\nabla\log\pi] = 0`, much larger when the baseline biases the estimate. The value baseline is fitted on earlier data, so it is exactly
unbiased; the batch means use the batch itself, a bias of order 1/N.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from pgnotes import command

VARIANTS = {
    "whole_return": ("whole_return", "none"),
    "whole_return+mean": ("whole_return", "mean"),
    "reward_to_go": ("reward_to_go", "none"),
    "reward_to_go+mean": ("reward_to_go", "mean"),
    "reward_to_go+value": ("reward_to_go", "value"),
}


@dataclass
class Config:
    """Settings of the gradient-variance experiment (the defaults made the chapter's file)."""

    stages: list[int] = field(default_factory=lambda: [0, 100, 200, 300])  #: training episodes at which the policy is frozen (increasing multiples of 10)
    batches: int = 100  #: independent batches of 10 episodes per stage (at least 2)
    seed: int = 0  #: seed of the trained policy
    gamma: float = 1.0  #: discount of the measured estimators (1: all unbiased for the same gradient)
    value_batches: int = 30  #: fresh batches to refit the frozen value net at --gamma
    out: str = "results/reinforce_variance.json"  #: results file, relative to the current directory

    def __post_init__(self):
        if not self.stages or sorted(self.stages) != list(self.stages) or self.stages[0] < 0:
            raise ValueError("--stages must be increasing and >= 0")
        if any(s % 10 for s in self.stages):
            raise ValueError("--stages must be multiples of the batch size (10)")
        if self.batches < 2:
            raise ValueError("--batches must be >= 2")


def gradients_at(policy, value_fn, *, batches: int, episodes_per_batch: int = 10, gamma: float = 0.99, seed: int = 0) -> dict[str, np.ndarray]:
    """Gradient estimates of every variant on ``batches`` independent batches; ``{variant: (batches, n_params)}``."""
    import torch

    from pgnotes.rl.reinforce import policy_gradient, policy_gradient_weights
    from pgnotes.rl.rollouts import EpisodeBatch, collect_episodes, make_vector_env

    envs = make_vector_env("CartPole-v1", episodes_per_batch)
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, list] = {name: [] for name in VARIANTS}
    try:
        for b in range(batches):
            batch = EpisodeBatch(collect_episodes(envs, policy, episodes_per_batch, generator=generator, seed=seed if b == 0 else None))
            for name, (estimator, baseline) in VARIANTS.items():
                w = policy_gradient_weights(batch, estimator=estimator, baseline=baseline, gamma=gamma, value_fn=value_fn)
                out[name].append(policy_gradient(policy, batch, w))
    finally:
        envs.close()
    return {name: np.array(g) for name, g in out.items()}


def refit_value(policy, value_fn, *, gamma: float, batches: int, episodes_per_batch: int = 10, seed: int = 0) -> float:
    """Fit the (copied, frozen-with-the-policy) value net to reward-to-go at ``gamma`` on fresh batches; returns the last MSE.

    The batches are independent of the ones the gradients are measured on, so the baseline
    stays exactly unbiased there.
    """
    import torch

    from pgnotes.rl.reinforce import fit_value_function
    from pgnotes.rl.rollouts import EpisodeBatch, collect_episodes, make_vector_env

    envs = make_vector_env("CartPole-v1", episodes_per_batch)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(value_fn.parameters(), lr=0.03)
    loss = float("nan")
    try:
        for b in range(batches):
            batch = EpisodeBatch(collect_episodes(envs, policy, episodes_per_batch, generator=generator, seed=seed if b == 0 else None))
            loss = fit_value_function(value_fn, optimizer, batch, gamma, iterations=50)
    finally:
        envs.close()
    return loss


def summarize_stage(grads: dict[str, np.ndarray]) -> dict:
    """Total variance and mean-gradient norm per variant, and z-scores of each baseline term."""
    stats = {}
    for name, g in grads.items():
        total = float(g.var(axis=0, ddof=1).sum())
        signal = float(np.sum(g.mean(axis=0) ** 2))
        stats[name] = {
            "total_variance": total,
            "mean_grad_sq_norm": signal,
            # noise-to-signal: how many batches until the mean's noise equals its squared norm
            "relative_variance": total / signal if signal > 0 else float("inf"),
        }
    baseline_terms = {}
    for with_b, without in [("whole_return+mean", "whole_return"), ("reward_to_go+mean", "reward_to_go"), ("reward_to_go+value", "reward_to_go")]:
        term = grads[without] - grads[with_b]  # (1/N) sum_t b_t grad log pi_t, per batch
        B = term.shape[0]
        mean = term.mean(axis=0)
        cov_trace = float(term.var(axis=0, ddof=1).sum())
        se = term.std(axis=0, ddof=1) / np.sqrt(B)
        z = np.divide(mean, se, out=np.zeros_like(se), where=se > 0)
        baseline_terms[with_b] = {
            # ||mean||^2 / E||mean||^2 under zero mean: about 1 if E[b grad log pi] = 0, >> 1 if biased
            "norm_ratio": float(B * np.sum(mean**2) / cov_trace) if cov_trace > 0 else 0.0,
            "max_abs_z": float(np.max(np.abs(z))),
            "n_params": int(z.size),
            "mean_norm": float(np.linalg.norm(mean)),
            "per_batch_norm": float(np.sqrt(np.mean(np.sum(term**2, axis=1)))),
        }
    return {"variants": stats, "baseline_terms": baseline_terms}


def run(config: Config) -> int:
    import copy

    import torch

    from pgnotes.rl.policies import CategoricalPolicy, ValueFunction
    from pgnotes.rl.reinforce import train
    from pgnotes.rl.rollouts import evaluate_policy

    torch.set_num_threads(1)
    cpu0 = time.process_time()
    # stage 0: the untrained policy and value net of the seed (an untrained V is still a valid baseline)
    frozen = {0: (CategoricalPolicy(4, 2, (32,), seed=config.seed), ValueFunction(4, (32,), seed=config.seed + 1))}

    def freeze(result):
        done = result.history.episodes[-1]
        if done in config.stages:
            frozen[done] = (copy.deepcopy(result.policy), copy.deepcopy(result.value_fn))
        return done >= config.stages[-1]

    if config.stages[-1] > 0:
        train(total_episodes=config.stages[-1], progress=False, final_eval=False, seed=config.seed, callback=freeze)
    missing = [s for s in config.stages if s not in frozen]
    if missing:
        raise SystemExit(f"--stages not reached by training: {missing}")

    records = []
    for stage in config.stages:
        policy, value_fn = frozen[stage]
        value_loss = refit_value(policy, value_fn, gamma=config.gamma, batches=config.value_batches, seed=500 + stage)
        grads = gradients_at(policy, value_fn, batches=config.batches, gamma=config.gamma, seed=1000 + stage)
        summary = summarize_stage(grads)
        returns = evaluate_policy(policy, "CartPole-v1", 50, seed=77)
        records.append({"stage_episodes": stage, "policy_mean_return": float(returns.mean()), "value_fit_mse": value_loss, **summary})
        v = summary["variants"]
        print(f"stage {stage:4d} (return {returns.mean():6.1f}): " + ", ".join(f"{k} {v[k]['total_variance']:.3g}" for k in VARIANTS), flush=True)
    command.write_results(config, "reinforce_variance", {
        "env_id": "CartPole-v1",
        "episodes_per_batch": 10,
        "batches": config.batches,
        "gamma": config.gamma,
        "value_batches": config.value_batches,
        "seed": config.seed,
        "cpu_seconds": time.process_time() - cpu0,
        "stages": records,
    })
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
