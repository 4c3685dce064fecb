r"""Off-policy policy gradients: importance weights and a replay buffer of episodes (chapter 2).

Episodes collected by a *behaviour* policy :math:`\mu` (an older copy of the policy, or any other)
can still estimate the gradient for the *target* policy :math:`\pi_\theta`, by reweighting with
the likelihood ratio of the trajectory (the policy-gradient lecture slides, "Off-policy algorithms"); the dynamics cancel,
as in the score:

.. math::
    \frac{P_\pi(\tau)}{P_\mu(\tau)} = \prod_{t} \frac{\pi_\theta(a_t\mid s_t)}{\mu(a_t\mid s_t)},\qquad
    \nabla_\theta J = \mathbb E_{\tau\sim\mu}\Big[\frac{P_\pi(\tau)}{P_\mu(\tau)}\sum_t \nabla_\theta\log\pi_\theta(a_t\mid s_t)\,G_t\Big].

Two ways to weight (``mode``), both unbiased (``mode="none"`` ignores the behaviour policy, a
biased reference point):

* ``"trajectory"``: every step carries the ratio of the whole episode, :math:`\rho_{0:T-1}`;
* ``"per_decision"``: the reward :math:`r_{t'}` only depends on actions up to :math:`t'`, so it
  needs only :math:`\rho_{0:t'} = \prod_{k\le t'}\pi/\mu`; the weight of step :math:`t` is
  :math:`\sum_{t'\ge t}\gamma^{t'-t}\rho_{0:t'} r_{t'}` (Precup, Sutton & Singh 2000). Fewer
  factors, less variance.

Products of ratios have a variance that grows exponentially with the episode length and the
distance between :math:`\pi` and :math:`\mu`. Two standard remedies, both biased:

* ``clip=c``: truncate each (cumulative) weight at ``c``;
* ``self_normalize=True``: divide by the batch mean of the weights (weighted importance
  sampling), whose expectation is 1; consistent, biased for finite batches.

:class:`ReplayBuffer` stores episodes with the log-probabilities of the policy that collected
them, so any later policy can reuse them; :func:`train` is the loop of the slides: collect,
store, refit the baseline, several gradient steps on samples from the buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from pgnotes import _validate
from pgnotes.rl.policies import Policy
from pgnotes.rl.reinforce import ReinforceHistory, _check_choice, fit_value_function, gradient_step, reward_to_go
from pgnotes.rl.rollouts import Episode, EpisodeBatch, collect_episodes
from pgnotes.rl.training import TrainerConfig, run_training

__all__ = [
    "MODES",
    "target_log_probs",
    "cumulative_ratios",
    "off_policy_weights",
    "effective_sample_size",
    "ReplayBuffer",
    "OffPolicyConfig",
    "train",
]

MODES = ("trajectory", "per_decision", "none")


@torch.no_grad()
def target_log_probs(policy: Policy, batch: EpisodeBatch) -> np.ndarray:
    r""":math:`\log\pi_\theta(a_t\mid s_t)` of the target policy at every step of the batch, shape (num_steps,). Chapter 2."""
    return policy.log_prob(batch.observations, batch.actions).double().numpy()


def cumulative_ratios(batch: EpisodeBatch, target_logp) -> np.ndarray:
    r"""Per-step cumulative likelihood ratios :math:`\rho_{0:t} = \prod_{k\le t}\pi(a_k\mid s_k)/\mu(a_k\mid s_k)`, shape (num_steps,). Chapter 2.

    :math:`\mu`'s log-probabilities are the ``log_probs`` stored with each episode.
    """
    _validate.instance("batch", batch, EpisodeBatch, "pgnotes.rl.rollouts.EpisodeBatch")
    target_logp = _validate.finite_array("target_logp", target_logp, shape=(batch.num_steps,))
    log_ratio = target_logp - batch.log_probs
    out = np.empty_like(log_ratio)
    start = 0
    for e in batch.episodes:
        stop = start + len(e)
        out[start:stop] = np.exp(np.cumsum(log_ratio[start:stop]))
        start = stop
    if not np.all(np.isfinite(out)):
        worst = float(np.max(np.abs(target_logp - batch.log_probs)))
        raise ValueError(
            "target_logp makes the likelihood ratios pi/mu overflow (largest |log pi - log mu| per step "
            f"{worst:.3g}): target_logp must be the target policy's log-probabilities of the batch's actions"
        )
    return out


def off_policy_weights(
    batch: EpisodeBatch,
    target_logp,
    *,
    gamma: float = 0.99,
    mode: str = "per_decision",
    clip: float | None = None,
    self_normalize: bool = False,
    baseline=None,
) -> np.ndarray:
    r"""Weights :math:`w_{i,t}` such that :math:`\frac1N\sum_{i,t} w_{i,t}\nabla\log\pi_\theta(a_{i,t}\mid s_{i,t})` estimates :math:`\nabla J(\pi_\theta)` from episodes of :math:`\mu`. Chapter 2.

    Parameters
    ----------
    batch : EpisodeBatch
        Episodes with the behaviour policy's log-probabilities in ``log_probs``.
    target_logp : array (num_steps,)
        :math:`\log\pi_\theta(a_t\mid s_t)` (see :func:`target_log_probs`).
    gamma : float
        Discount of the reward-to-go.
    mode : {"trajectory", "per_decision", "none"}
        Weight every step by the whole episode's ratio, or each reward by the ratio up to it;
        ``"none"`` sets every ratio to 1 (reuse without correction: biased).
    clip : float, optional
        Truncate every (cumulative) ratio at this value (> 0).
    self_normalize : bool
        Divide the ratios by their batch mean (for ``"per_decision"``: the mean over episodes
        of :math:`\rho_{0:\min(t, T_i-1)}`, each of which has expectation 1 under :math:`\mu`).
    baseline : array (num_steps,), optional
        A baseline :math:`b_t` that does not depend on :math:`a_t` (e.g. a value :math:`V(s_t)`),
        subtracted *inside* the importance weight: :math:`\rho_{0:T-1}(G_t - b_t)` for
        ``"trajectory"``, and :math:`\ldots - \rho_{0:t} b_t` for ``"per_decision"``. Both terms have
        mean zero under :math:`\mu` because :math:`\mathbb E_\mu[\rho_{0:t} b_t\nabla\log\pi_t] =
        \mathbb E_\pi[b_t\nabla\log\pi_t] = 0`. (Subtracting a constant from the *weighted* terms
        instead would be biased: :math:`\mathbb E_\mu[\nabla\log\pi] \ne 0` when :math:`\mu \ne \pi`.)
    """
    _check_choice("mode", mode, MODES)
    gamma = _validate.probability("gamma", gamma, open_low=False)
    if clip is not None:
        clip = _validate.positive("clip", clip)
    _validate.boolean("self_normalize", self_normalize)
    rho = cumulative_ratios(batch, target_logp)
    if mode == "none":
        rho = np.ones_like(rho)
    if baseline is not None:
        baseline = _validate.finite_array("baseline", baseline, shape=(batch.num_steps,))
    ends = np.cumsum(batch.lengths) - 1
    if mode in ("trajectory", "none"):
        per_episode = rho[ends]
        if clip is not None:
            per_episode = np.minimum(per_episode, clip)
        if self_normalize:
            per_episode = per_episode / per_episode.mean()
        g = np.concatenate([reward_to_go(e.rewards, gamma) for e in batch.episodes])
        if baseline is not None:
            g = g - baseline
        return per_episode[batch.episode_index] * g
    if clip is not None:
        rho = np.minimum(rho, clip)
    if self_normalize:
        # rho_{0:min(t, T_i - 1)} for every episode i and time t: a martingale with mean 1 under mu
        T = int(batch.lengths.max())
        table = np.empty((len(batch), T))
        start = 0
        for i, e in enumerate(batch.episodes):
            table[i, : len(e)] = rho[start : start + len(e)]
            table[i, len(e) :] = rho[start + len(e) - 1]
            start += len(e)
        rho = rho / table.mean(axis=0)[batch.time_index]
    weighted = rho * batch.rewards
    out = np.empty_like(weighted)
    start = 0
    for e in batch.episodes:
        stop = start + len(e)
        out[start:stop] = reward_to_go(weighted[start:stop], gamma)
        start = stop
    if baseline is not None:
        out = out - rho * baseline
    return out


def effective_sample_size(weights) -> float:
    r"""Kish's effective sample size :math:`(\sum w)^2/\sum w^2` of importance weights. Chapter 2."""
    w = _validate.finite_array("weights", weights, ndim=1)
    if w.size == 0 or np.sum(w**2) == 0:
        return 0.0
    return float(np.sum(w) ** 2 / np.sum(w**2))


class ReplayBuffer:
    """A first-in first-out store of whole episodes, each with its behaviour log-probabilities. Chapter 2.

    Parameters
    ----------
    capacity : int
        Maximum number of episodes kept (>= 1); the oldest are dropped first.
    rng : numpy.random.Generator or int
        Randomness of :meth:`sample`.
    """

    def __init__(self, capacity: int, rng=0):
        self.capacity = _validate.integer_at_least("capacity", capacity, 1)
        self.rng = _validate.generator(rng)
        self._episodes: list[Episode] = []

    def __len__(self) -> int:
        return len(self._episodes)

    def add(self, episodes: Sequence[Episode]) -> None:
        """Append episodes (dropping the oldest beyond ``capacity``)."""
        if isinstance(episodes, Episode) or not hasattr(episodes, "__iter__"):
            raise TypeError(f"episodes must be a list of Episode objects, got {type(episodes).__name__}")
        episodes = list(episodes)
        for e in episodes:
            if not isinstance(e, Episode):
                raise TypeError(f"episodes must be Episode objects, got {type(e).__name__}")
        self._episodes.extend(episodes)
        if len(self._episodes) > self.capacity:
            del self._episodes[: len(self._episodes) - self.capacity]

    def sample(self, n: int) -> EpisodeBatch:
        """``n`` distinct episodes drawn uniformly, as a batch (``n`` <= ``len(self)``)."""
        n = _validate.integer_at_least("n", n, 1)
        if n > len(self):
            raise ValueError(f"n must be <= the number of stored episodes ({len(self)}), got {n}")
        idx = self.rng.choice(len(self), size=n, replace=False)
        return EpisodeBatch([self._episodes[i] for i in idx])


@dataclass
class OffPolicyConfig(TrainerConfig):
    """Hyperparameters of :func:`train` (chapter 2): the fields of :class:`~pgnotes.rl.training.TrainerConfig` and these."""

    total_episodes: int = 300
    """Environment episodes collected (the sample budget)."""
    episodes_per_iteration: int = 10
    """Fresh episodes added to the buffer per iteration."""
    capacity: int = 20
    """Replay buffer size in episodes (20: this iteration's and the previous one's)."""
    batches_per_iteration: int = 2
    """Gradient steps per iteration, each on a sample from the buffer."""
    batch_size: int = 10
    """Episodes per gradient step."""
    mode: str = "per_decision"
    """``"per_decision"``, ``"trajectory"`` or ``"none"`` (see :func:`off_policy_weights`)."""
    clip: float | None = 5.0
    """Truncate cumulative ratios at this value (None: no clipping)."""
    self_normalize: bool = False
    """Divide the ratios by their batch mean."""
    learning_rate: float = 0.01
    """Adam step size of the policy."""
    value_learning_rate: float = 0.01
    """Adam step size of the value network (the baseline)."""
    value_iterations: int = 10
    """Full-batch regression steps of the value network per iteration, on the fresh episodes."""

    def __post_init__(self):
        _check_choice("mode", self.mode, MODES)
        for name in ("total_episodes", "episodes_per_iteration", "capacity", "batches_per_iteration", "batch_size", "value_iterations"):
            _validate.integer_at_least(name, getattr(self, name), 1)
        if self.batch_size > self.capacity:
            raise ValueError(f"batch_size must be <= capacity ({self.capacity}), got {self.batch_size}")
        if self.clip is not None:
            _validate.positive("clip", self.clip)
        _validate.positive("learning_rate", self.learning_rate)
        _validate.positive("value_learning_rate", self.value_learning_rate)
        _validate.boolean("self_normalize", self.self_normalize)
        super().__post_init__()


def train(config: OffPolicyConfig | None = None, *, progress: bool = True, **overrides) -> tuple[Policy, ReinforceHistory]:
    """Off-policy REINFORCE with a replay buffer (the loop of the policy-gradient lecture slides). Chapter 2.

    Each iteration: collect ``episodes_per_iteration`` episodes with the current policy and
    store them; update the baseline (a value network :math:`V_\\phi`, regressed on the fresh
    episodes' reward-to-go); then ``batches_per_iteration`` times sample ``batch_size``
    episodes from the buffer, weight them by :func:`off_policy_weights` with :math:`V_\\phi(s_t)`
    as the baseline inside the importance weights, divide the weights by their standard
    deviation (a step-size choice) and take an Adam step
    (:func:`~pgnotes.rl.reinforce.gradient_step`). With ``eval_threshold`` set, evaluations
    run as in REINFORCE; the final policy is always evaluated. Returns ``(policy, history)``.
    """
    _validate.boolean("progress", progress)
    config = OffPolicyConfig.with_overrides(config, overrides)

    def make_step(envs, policy, value_fn, generator):
        optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
        value_opt = torch.optim.Adam(value_fn.parameters(), lr=config.value_learning_rate)
        buffer = ReplayBuffer(config.capacity, rng=config.seed)

        def step(done: int, seed: int | None):
            n = min(config.episodes_per_iteration, config.total_episodes - done)
            fresh = EpisodeBatch(collect_episodes(envs, policy, n, generator=generator, seed=seed, max_steps=config.max_steps))
            buffer.add(fresh.episodes)
            value_loss = fit_value_function(value_fn, value_opt, fresh, config.gamma, config.value_iterations)
            norm = 0.0
            for _ in range(config.batches_per_iteration):
                batch = buffer.sample(min(config.batch_size, len(buffer)))
                with torch.no_grad():
                    baseline = value_fn(batch.observations).double().numpy()
                weights = off_policy_weights(
                    batch, target_log_probs(policy, batch), gamma=config.gamma, mode=config.mode,
                    clip=config.clip, self_normalize=config.self_normalize, baseline=baseline,
                )
                norm = gradient_step(policy, optimizer, batch, weights / (weights.std() + 1e-8))
            return fresh.total_rewards, fresh.num_steps, {"grad_norm": norm, "value_loss": value_loss}

        return step

    history = ReinforceHistory()
    policy, _ = run_training(config, history, make_step, total=config.total_episodes, num_envs=config.episodes_per_iteration,
                             name=f"off-policy {config.mode}", progress=progress, final_eval=True)
    return policy, history
