r"""Proximal policy optimization with the clipped surrogate (Schulman et al. 2017; chapter 7).

TRPO keeps the new policy near the old one with a hard KL constraint, which needs
Fisher-vector products, conjugate gradient and a line search. PPO drops the constraint and
instead removes the incentive to move far: with the ratio
:math:`r_t(\theta) = \pi_\theta(a_t\mid s_t) / \pi_{\theta_\text{old}}(a_t\mid s_t)`,

.. math::
    L^{\mathrm{CLIP}}(\theta) = \mathbb E_t\big[\min\big(r_t\hat A_t,\;
    \operatorname{clip}(r_t, 1-\epsilon, 1+\epsilon)\,\hat A_t\big)\big],

a pessimistic bound on the TRPO surrogate: once a ratio has moved past :math:`1\pm\epsilon` in
the direction its advantage rewards, that sample's gradient is zero. That makes it safe to take
*several epochs* of minibatch Adam steps on one batch. At :math:`\theta = \theta_\text{old}` every
ratio is 1 and the gradient of :math:`L^{\mathrm{CLIP}}` is the policy gradient with weights
:math:`\hat A_t` (tested).

The full loss (:func:`ppo_loss`) adds the value regression and an entropy bonus,
:math:`-L^{\mathrm{CLIP}} + c_v\,\mathbb E[(V_\phi(s_t) - \hat R_t)^2] - c_e\,\mathbb E[\mathcal H(\pi_\theta(\cdot\mid s_t))]`,
with advantages from GAE (:mod:`pgnotes.rl.gae`) normalized per minibatch. :func:`train` runs
the loop on the course's collector with ``torch.optim.Adam`` and an explicit ``torch.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pgnotes import _validate
from pgnotes.rl.gae import AdvantageBatch, train_on_policy
from pgnotes.rl.natural_pg import detached_distribution, mean_kl, normalized
from pgnotes.rl.policies import Policy, ValueFunction
from pgnotes.rl.training import OnPolicyConfig, OnPolicyHistory

__all__ = ["clipped_surrogate", "ppo_loss", "PPOUpdate", "ppo_update", "PPOConfig", "PPOResult", "train"]


def clipped_surrogate(log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor, clip: float = 0.2) -> torch.Tensor:
    r"""PPO's clipped surrogate :math:`\frac1N\sum_t\min(r_t\hat A_t, \operatorname{clip}(r_t,1-\epsilon,1+\epsilon)\hat A_t)` (to maximize). Chapter 7.

    Parameters
    ----------
    log_probs : tensor (N,)
        :math:`\log\pi_\theta(a_t\mid s_t)` under the policy being optimized (with gradient).
    old_log_probs : tensor (N,)
        :math:`\log\pi_{\theta_\text{old}}(a_t\mid s_t)` of the policy that collected the batch.
    advantages : tensor (N,)
        :math:`\hat A_t`.
    clip : float
        :math:`\epsilon > 0` (Schulman et al. 2017 use 0.2); ``clip <= 0`` raises ``ValueError``.
    """
    clip = _validate.positive("clip", clip)
    if log_probs.shape != old_log_probs.shape or log_probs.shape != advantages.shape or log_probs.ndim != 1:
        raise ValueError(f"log_probs, old_log_probs and advantages must be 1-D of one length, got shapes "
                         f"{tuple(log_probs.shape)}, {tuple(old_log_probs.shape)}, {tuple(advantages.shape)}")
    if log_probs.shape[0] < 1:
        raise ValueError("log_probs must hold at least one sample (batch size >= 1)")
    ratio = torch.exp(log_probs - old_log_probs.to(log_probs.dtype))
    advantages = advantages.to(log_probs.dtype)
    return torch.minimum(ratio * advantages, torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages).mean()


def ppo_loss(policy: Policy, value_fn: ValueFunction, obs: torch.Tensor, actions: torch.Tensor, old_log_probs: torch.Tensor,
             advantages: torch.Tensor, returns: torch.Tensor, *, clip: float = 0.2, value_coef: float = 0.5,
             entropy_coef: float = 0.0) -> tuple[torch.Tensor, dict]:
    r"""The loss to *minimize*: :math:`-L^{\mathrm{CLIP}} + c_v\,\text{MSE}(V, \hat R) - c_e\,\bar{\mathcal H}`, and its parts. Chapter 7."""
    value_coef = _validate.non_negative("value_coef", value_coef)
    entropy_coef = _validate.non_negative("entropy_coef", entropy_coef)
    dist = policy.distribution(obs)
    log_probs = dist.log_prob(actions)
    entropy = dist.entropy()
    if not policy.discrete:
        log_probs, entropy = log_probs.sum(-1), entropy.sum(-1)
    objective = clipped_surrogate(log_probs, old_log_probs, advantages, clip)
    value_loss = torch.mean((value_fn(obs) - returns) ** 2)
    loss = -objective + value_coef * value_loss - entropy_coef * entropy.mean()
    with torch.no_grad():
        ratio = torch.exp(log_probs - old_log_probs)
        clipped = float(((ratio - 1).abs() > clip).float().mean())
    return loss, {"objective": float(objective.detach()), "value_loss": float(value_loss.detach()), "entropy": float(entropy.mean().detach()),
                  "clip_fraction": clipped}


@dataclass
class PPOUpdate:
    """Diagnostics of one :func:`ppo_update` (chapter 7)."""

    kl: float
    """Mean KL between the policy before and after the update, over the batch's states."""
    value_loss: float
    """Value MSE of the last minibatch."""
    clip_fraction: float
    """Fraction of the last epoch's samples whose ratio lay outside :math:`1\\pm\\epsilon`."""
    entropy: float
    """Mean policy entropy over the last minibatch."""
    epochs: int
    """Epochs run (fewer than asked if ``target_kl`` stopped it)."""


def ppo_update(policy: Policy, value_fn: ValueFunction, optimizer: torch.optim.Optimizer, batch: AdvantageBatch, *,
               epochs: int = 10, minibatch_size: int = 64, clip: float = 0.2, value_coef: float = 0.5,
               entropy_coef: float = 0.0, normalize_advantages: bool = True, max_grad_norm: float | None = 0.5,
               target_kl: float | None = None, generator: torch.Generator | None = None) -> PPOUpdate:
    """``epochs`` passes of shuffled minibatch Adam steps on :func:`ppo_loss` over one batch. Chapter 7.

    ``optimizer`` must hold the parameters of both ``policy`` and ``value_fn``. Advantages are
    normalized per minibatch when ``normalize_advantages``; gradients are clipped to
    ``max_grad_norm`` (None: no clipping); with ``target_kl``, an epoch ending with the
    approximate KL above it stops the update early. Bad input (``epochs`` or
    ``minibatch_size`` < 1, ``clip <= 0``) raises ``ValueError`` naming the argument.
    """
    epochs = _validate.integer_at_least("epochs", epochs, 1)
    minibatch_size = _validate.integer_at_least("minibatch_size", minibatch_size, 1)
    clip = _validate.positive("clip", clip)
    if max_grad_norm is not None:
        max_grad_norm = _validate.positive("max_grad_norm", max_grad_norm)
    if target_kl is not None:
        target_kl = _validate.positive("target_kl", target_kl)
    n = batch.num_steps
    if n < 1:
        raise ValueError("batch must hold at least one step")
    obs = batch.observations
    with torch.no_grad():
        old_dist = detached_distribution(policy.distribution(obs))
    params = [p for group in optimizer.param_groups for p in group["params"]]
    stats: dict = {}
    done_epochs = 0
    clip_fractions: list[float] = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        clip_fractions = []
        for start in range(0, n, minibatch_size):
            idx = order[start:start + minibatch_size]
            adv = batch.advantages[idx]
            if normalize_advantages:
                adv = normalized(adv)
            loss, stats = ppo_loss(policy, value_fn, obs[idx], batch.actions[idx], batch.log_probs[idx], adv, batch.returns[idx],
                                   clip=clip, value_coef=value_coef, entropy_coef=entropy_coef)
            optimizer.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            clip_fractions.append(stats["clip_fraction"] * len(idx))
        done_epochs += 1
        if target_kl is not None:
            with torch.no_grad():
                if float(mean_kl(policy, obs, old_dist)) > target_kl:
                    break
    with torch.no_grad():
        kl = float(mean_kl(policy, obs, old_dist))
    return PPOUpdate(kl=kl, value_loss=stats["value_loss"], clip_fraction=float(np.sum(clip_fractions) / n),
                     entropy=stats["entropy"], epochs=done_epochs)


@dataclass
class PPOConfig(OnPolicyConfig):
    """Every hyperparameter of :func:`train` (chapter 7): the fields of :class:`~pgnotes.rl.training.OnPolicyConfig` and these.

    Defaults: the CartPole-v1 setting of the chapter's results.
    """

    clip: float = 0.2
    """Clipping range :math:`\\epsilon`."""
    epochs: int = 10
    """Passes over each batch."""
    minibatch_size: int = 64
    """Samples per Adam step."""
    learning_rate: float = 1e-3
    """Adam step size (policy and value network together)."""
    value_coef: float = 0.5
    """Weight :math:`c_v` of the value loss."""
    entropy_coef: float = 0.0
    """Weight :math:`c_e` of the entropy bonus."""
    max_grad_norm: float | None = 0.5
    """Clip the gradient norm (None: no clipping)."""
    target_kl: float | None = None
    """Stop a batch's epochs early when the mean KL exceeds this (None: never)."""

    def __post_init__(self):
        _validate.positive("clip", self.clip)
        _validate.integer_at_least("epochs", self.epochs, 1)
        _validate.integer_at_least("minibatch_size", self.minibatch_size, 1)
        _validate.positive("learning_rate", self.learning_rate)
        _validate.non_negative("value_coef", self.value_coef)
        _validate.non_negative("entropy_coef", self.entropy_coef)
        if self.max_grad_norm is not None:
            _validate.positive("max_grad_norm", self.max_grad_norm)
        if self.target_kl is not None:
            _validate.positive("target_kl", self.target_kl)
        super().__post_init__()


@dataclass
class PPOResult:
    """Outcome of :func:`train`: the trained ``policy`` and ``value_fn``, the ``history`` and the ``config``. Chapter 7."""

    policy: Policy
    value_fn: ValueFunction
    history: OnPolicyHistory
    config: PPOConfig


def train(config: PPOConfig | None = None, *, progress: bool = True, **overrides) -> PPOResult:
    """Train a policy with PPO (clipped surrogate, GAE, value loss, entropy bonus) on the course's collector. Chapter 7.

    The loop is :func:`~pgnotes.rl.gae.train_on_policy`; each update is :func:`ppo_update`
    with one Adam optimizer over the policy and the value network. Environment steps count the
    kept episodes' steps; evaluations (chapter 2's protocol, triggered by ``eval_threshold``)
    are not counted.
    """
    config = PPOConfig.with_overrides(config, overrides)

    def make_update(policy: Policy, value_fn: ValueFunction, generator: torch.Generator):
        optimizer = torch.optim.Adam([*policy.parameters(), *value_fn.parameters()], lr=config.learning_rate)

        def update(batch: AdvantageBatch) -> tuple[float, float]:
            info = ppo_update(policy, value_fn, optimizer, batch, epochs=config.epochs, minibatch_size=config.minibatch_size,
                              clip=config.clip, value_coef=config.value_coef, entropy_coef=config.entropy_coef,
                              normalize_advantages=config.normalize_advantages, max_grad_norm=config.max_grad_norm,
                              target_kl=config.target_kl, generator=generator)
            return info.kl, info.value_loss

        return update

    policy, value_fn, history = train_on_policy(config, make_update, name="PPO", progress=progress)
    return PPOResult(policy, value_fn, history, config)
