r"""How the off-policy gradient's error grows with the distance between behaviour and target policy (chapter 2).

Run (about 10 CPU-seconds)::

    python -m pgnotes.experiments.reinforce_offpolicy       # writes results/reinforce_offpolicy.json

On a random episodic tabular MDP (6 states, 3 actions, termination 0.1 per step: about 10
steps per episode, gamma 0.95) the exact gradient of the start value is known
(:mod:`pgnotes.rl.tabular_mdp`). The target policy :math:`\pi` is fixed; behaviour policies
:math:`\mu_c` have logits :math:`\theta + c\,\xi` for one fixed random direction :math:`\xi`
and scales :math:`c` from 0 (on-policy) upwards. The distance is the KL divergence between
the trajectory distributions, :math:`\mathrm{KL}(P_\pi\Vert P_{\mu}) = \mathbb E_\pi\big[\sum_t
\mathrm{KL}(\pi(\cdot\mid s_t)\Vert\mu(\cdot\mid s_t))\big]` (the dynamics cancel), computed exactly.

For each behaviour policy, ``--repeats`` independent batches of ``--batch`` episodes are drawn
and every weighting of :func:`pgnotes.rl.offpolicy.off_policy_weights` estimates the gradient
on the same episodes (with the :math:`\gamma^t` factor, so on-policy estimates are unbiased).
Recorded per weighting: squared bias, variance (trace of the covariance of the batch
estimate) and mean squared error against the exact gradient, and the importance weights'
effective sample size.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from pgnotes import command

WEIGHTINGS = {
    "trajectory": {"mode": "trajectory"},
    "per_decision": {"mode": "per_decision"},
    "trajectory, clip 5": {"mode": "trajectory", "clip": 5.0},
    "per_decision, clip 5": {"mode": "per_decision", "clip": 5.0},
    "trajectory, self-normalized": {"mode": "trajectory", "self_normalize": True},
    "per_decision, self-normalized": {"mode": "per_decision", "self_normalize": True},
}


def trajectory_kl(mdp, theta_pi, theta_mu) -> float:
    """Exact KL(P_pi || P_mu) between trajectory distributions of an episodic MDP."""
    from pgnotes.rl import tabular_mdp as tm
    from pgnotes.score import softmax

    visits = tm.discounted_visitation(tm.TabularMDP(mdp.P, mdp.R, mdp.p0, 1.0), theta_pi)  # expected visits per state
    pi, mu = softmax(theta_pi), softmax(theta_mu)
    kl_per_state = np.sum(pi * (np.log(pi) - np.log(mu)), axis=1)
    return float(visits @ kl_per_state)


def episode_gradients(batch, theta, weights) -> np.ndarray:
    """Per-episode gradient terms sum_t w_t grad log pi(a_t|s_t) of a tabular softmax policy, shape (N, S*A)."""
    from pgnotes.score import categorical_score

    states = batch.observations.numpy()
    scores = categorical_score(batch.actions.numpy(), theta[states])
    terms = np.zeros((len(batch),) + theta.shape)
    np.add.at(terms, (batch.episode_index, states), weights[:, None] * scores)
    return terms.reshape(len(batch), -1)


@dataclass
class Config:
    """Settings of the off-policy experiment (the defaults made the chapter's file)."""

    scales: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 1.0, 1.5, 2.0])  #: behaviour logits theta + c * xi for these c (0: on-policy)
    batch: int = 100  #: episodes per batch (one gradient estimate)
    repeats: int = 200  #: independent batches per behaviour policy (at least 2)
    seed: int = 0  #: seed of the MDP, the target policy, the direction xi and the episodes
    out: str = "results/reinforce_offpolicy.json"  #: results file, relative to the current directory

    def __post_init__(self):
        if self.batch < 1 or self.repeats < 2:
            raise ValueError("--batch must be >= 1 and --repeats >= 2")


def measure(scales=(0.0, 0.25, 0.5, 1.0, 1.5, 2.0), *, batch: int = 100, repeats: int = 200, seed: int = 0) -> dict:
    """The measurement as a function (:func:`run` writes it to a file); returns a JSON-ready dict."""
    from pgnotes.rl import offpolicy as op
    from pgnotes.rl import tabular_mdp as tm
    from pgnotes.rl.rollouts import Episode, EpisodeBatch

    rng = np.random.default_rng(seed)
    mdp = tm.random_mdp(6, 3, rng=rng, termination=0.1, gamma=0.95)
    theta = rng.normal(size=(6, 3))
    direction = rng.normal(size=(6, 3))
    exact = tm.exact_gradient(mdp, theta).ravel()
    log_pi = np.log(tm.softmax(theta))
    records = []
    for c in scales:
        theta_mu = theta + c * direction
        log_mu = np.log(tm.softmax(theta_mu))
        estimates = {name: [] for name in WEIGHTINGS}
        ess = []
        for _ in range(repeats):
            episodes = [Episode(s, a, r, log_mu[s, a], True, False) for s, a, r in tm.sample_episodes(mdp, theta_mu, batch, rng)]
            b = EpisodeBatch(episodes)
            target = log_pi[b.observations.numpy(), b.actions.numpy()]
            discount = mdp.gamma ** b.time_index
            rho = op.cumulative_ratios(b, target)
            ess.append(op.effective_sample_size(rho[np.cumsum(b.lengths) - 1]))
            for name, kw in WEIGHTINGS.items():
                w = op.off_policy_weights(b, target, gamma=mdp.gamma, **kw) * discount
                estimates[name].append(episode_gradients(b, theta, w).mean(axis=0))
        row = {"scale": float(c), "kl": trajectory_kl(mdp, theta, theta_mu), "ess": float(np.mean(ess)), "weightings": {}}
        for name, est in estimates.items():
            est = np.array(est)
            bias_sq = float(np.sum((est.mean(0) - exact) ** 2))
            variance = float(est.var(0, ddof=1).sum())
            row["weightings"][name] = {
                "bias_sq": bias_sq,
                "variance": variance,
                "mse": float(np.mean(np.sum((est - exact) ** 2, axis=1))),
                # bias_sq includes the noise of the mean over repeats: variance / repeats
                "bias_sq_noise_level": variance / repeats,
            }
        records.append(row)
    return {
        "mdp": {"n_states": 6, "n_actions": 3, "termination": 0.1, "gamma": 0.95, "seed": seed},
        "batch_episodes": batch,
        "repeats": repeats,
        "exact_gradient_sq_norm": float(np.sum(exact**2)),
        "rows": records,
    }


def run(config: Config) -> int:
    cpu0 = time.process_time()
    data = measure(config.scales, batch=config.batch, repeats=config.repeats, seed=config.seed)
    for row in data["rows"]:
        w = row["weightings"]
        print(f"KL {row['kl']:6.3f}  ESS {row['ess']:6.1f}/{config.batch}  variance: " +
              ", ".join(f"{k} {v['variance']:.3g}" for k, v in w.items()), flush=True)
    command.write_results(config, "reinforce_offpolicy", {"cpu_seconds": time.process_time() - cpu0, **data})
    return 0


if __name__ == "__main__":
    sys.exit(command.main(__name__))
