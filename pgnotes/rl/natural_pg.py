r"""The natural policy gradient and TRPO (Kakade 2001; Schulman et al. 2015; chapter 7).

Chapter 3 preconditioned the search gradient of a *search distribution* by the inverse of its
Fisher matrix. A policy is a family of distributions too, one per state, and Kakade (2001) used
the Fisher matrix averaged over the states the policy visits,

.. math::
    \mathbf F(\theta) = \mathbb E_{s\sim d^\pi}\,\mathbb E_{a\sim\pi_\theta(\cdot\mid s)}
    \big[\nabla_\theta\log\pi_\theta(a\mid s)\,\nabla_\theta\log\pi_\theta(a\mid s)^\top\big],

which is also the Hessian of the mean KL divergence
:math:`\bar D(\theta) = \mathbb E_s\,\mathrm{KL}(\pi_{\theta_\text{old}}(\cdot\mid s)\,\|\,\pi_\theta(\cdot\mid s))`
at :math:`\theta = \theta_\text{old}`. With thousands of parameters :math:`\mathbf F` is never
formed: :func:`fisher_vector_product` computes :math:`\mathbf F v` by differentiating
:math:`\nabla\bar D\cdot v` once more (two backward passes), and :func:`conjugate_gradient`
solves :math:`\mathbf F x = g` with such products only.

TRPO (:func:`trpo_step`) maximizes the importance-weighted surrogate
:math:`L(\theta) = \mathbb E[\tfrac{\pi_\theta(a\mid s)}{\pi_{\theta_\text{old}}(a\mid s)}\hat A]`
subject to :math:`\bar D(\theta)\le\delta`: the direction :math:`x = \mathbf F^{-1} g`, the step
:math:`\sqrt{2\delta / x^\top\mathbf F x}\;x` that reaches the quadratic model's KL radius, and a
backtracking line search that accepts the first shrunken step that improves :math:`L` *and*
keeps the measured :math:`\bar D` within :math:`\delta`. :func:`train` runs the whole loop on
the course's collector with the value baseline and GAE of :mod:`pgnotes.rl.gae`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from pgnotes import _validate
from pgnotes.rl.gae import AdvantageBatch, train_on_policy
from pgnotes.rl.policies import Policy, ValueFunction
from pgnotes.rl.training import OnPolicyConfig, OnPolicyHistory

__all__ = [
    "flat_params",
    "set_flat_params",
    "flat_grad",
    "detached_distribution",
    "mean_kl",
    "fisher_vector_product",
    "conjugate_gradient",
    "natural_gradient",
    "trust_region_step",
    "surrogate",
    "TRPOStep",
    "trpo_step",
    "fit_value",
    "normalized",
    "TRPOConfig",
    "TRPOResult",
    "train",
]


def _params(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


def flat_params(module: torch.nn.Module) -> torch.Tensor:
    """All trainable parameters as one flat vector (a copy). Chapter 7."""
    return torch.cat([p.detach().reshape(-1) for p in _params(module)]).clone()


def set_flat_params(module: torch.nn.Module, vector: torch.Tensor) -> None:
    """Write a flat vector (as from :func:`flat_params`) back into the module's parameters. Chapter 7."""
    torch.nn.utils.vector_to_parameters(torch.as_tensor(vector), _params(module))


def flat_grad(output: torch.Tensor, module: torch.nn.Module, **kwargs) -> torch.Tensor:
    """Gradient of a scalar ``output`` with respect to the module's parameters, as one flat vector. Chapter 7."""
    grads = torch.autograd.grad(output, _params(module), **kwargs)
    return torch.cat([g.reshape(-1) for g in grads])


def detached_distribution(dist: torch.distributions.Distribution) -> torch.distributions.Distribution:
    """A copy of a Categorical or Normal distribution cut from the autograd graph (the "old" policy). Chapter 7."""
    if isinstance(dist, torch.distributions.Categorical):
        return torch.distributions.Categorical(logits=dist.logits.detach())
    if isinstance(dist, torch.distributions.Normal):
        return torch.distributions.Normal(dist.loc.detach(), dist.scale.detach())
    raise TypeError(f"dist must be a Categorical or Normal distribution, got {type(dist).__name__}")


def _weights(weights, n: int) -> torch.Tensor | None:
    if weights is None:
        return None
    w = _validate.finite_array("weights", weights, shape=(n,))
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    return torch.as_tensor(w / w.sum())


def mean_kl(policy: Policy, obs: torch.Tensor, old: torch.distributions.Distribution, weights=None) -> torch.Tensor:
    r""":math:`\bar D = \sum_s w_s\,\mathrm{KL}(\pi_\text{old}(\cdot\mid s)\,\|\,\pi_\theta(\cdot\mid s))` over the observations ``obs``. Chapter 7.

    ``old`` is the old policy's distribution on ``obs`` (see :func:`detached_distribution`);
    ``weights`` (normalized here) default to the plain mean over the observations.
    """
    new = policy.distribution(obs)
    kl = torch.distributions.kl_divergence(old, new)
    if not policy.discrete:
        kl = kl.sum(-1)
    w = _weights(weights, kl.shape[0])
    return kl.mean() if w is None else (w.to(kl.dtype) * kl).sum()


def fisher_vector_product(policy: Policy, obs: torch.Tensor, *, weights=None, damping: float = 0.0) -> Callable[[torch.Tensor], torch.Tensor]:
    r"""A function :math:`v\mapsto(\mathbf F + \text{damping}\,I)\,v` for the policy's Fisher matrix over ``obs``. Chapter 7.

    :math:`\mathbf F` is the Hessian of :func:`mean_kl` at the current parameters (the old
    policy is the current one, detached); each product is one extra backward pass through
    :math:`\nabla\bar D\cdot v`. ``weights`` weight the states (default: equally).
    """
    damping = _validate.non_negative("damping", damping)
    old = detached_distribution(policy.distribution(obs))
    kl = mean_kl(policy, obs, old, weights)
    grad = flat_grad(kl, policy, create_graph=True)

    def product(vector: torch.Tensor) -> torch.Tensor:
        vector = torch.as_tensor(vector, dtype=grad.dtype)
        if vector.shape != grad.shape:
            raise ValueError(f"vector must have shape {tuple(grad.shape)} (one entry per parameter), got {tuple(vector.shape)}")
        hvp = flat_grad(grad @ vector, policy, retain_graph=True)
        return hvp.detach() + damping * vector

    return product


def conjugate_gradient(matvec: Callable, b, *, iterations: int = 10, tol: float = 1e-10):
    r"""Solve :math:`A x = b` for a symmetric positive (semi)definite :math:`A` given only ``matvec(v)`` = :math:`Av`. Chapter 7.

    Hestenes-Stiefel conjugate gradient from :math:`x_0 = 0`: at most ``iterations`` products,
    stopping when :math:`\lVert r\rVert^2 <` ``tol``. In exact arithmetic it solves an
    :math:`n\times n` system in :math:`n` iterations; on a singular :math:`A` with :math:`b` in
    its range it converges to the minimum-norm solution. Works on numpy arrays and torch tensors.
    """
    iterations = _validate.integer_at_least("iterations", iterations, 1)
    tol = _validate.non_negative("tol", tol)
    x = b * 0.0
    r = b + 0.0  # residual b - A x
    p = r + 0.0
    rr = float((r * r).sum())
    for _ in range(iterations):
        if rr < tol:
            break
        Ap = matvec(p)
        pAp = float((p * Ap).sum())
        if pAp <= 0:
            break  # direction of zero curvature: A is singular along p
        alpha = rr / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = float((r * r).sum())
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def natural_gradient(policy: Policy, obs: torch.Tensor, gradient, *, weights=None, damping: float = 0.0,
                     iterations: int = 10, tol: float = 1e-10) -> torch.Tensor:
    r""":math:`\mathbf F^{-1} g` by conjugate gradient with Fisher-vector products over ``obs`` (Kakade 2001). Chapter 7.

    ``gradient`` is a flat vector over the policy's parameters (e.g. a policy-gradient estimate);
    on the tabular MDP of chapter 2, with the exact gradient and the discounted state weights,
    this equals the dense :math:`\mathbf F^{+}\nabla J` (tested).
    """
    fvp = fisher_vector_product(policy, obs, weights=weights, damping=damping)
    dtype = next(p for p in policy.parameters() if p.requires_grad).dtype
    gradient = torch.as_tensor(gradient).to(dtype)
    return conjugate_gradient(fvp, gradient, iterations=iterations, tol=tol)


def trust_region_step(direction, fisher_direction, max_kl: float):
    r"""Scale a search direction :math:`x` to the KL radius: :math:`\sqrt{2\delta / x^\top\mathbf F x}\;x`. Chapter 7.

    ``fisher_direction`` is :math:`\mathbf F x`. Under the quadratic model
    :math:`\mathrm{KL} \approx \tfrac12\Delta^\top\mathbf F\Delta` the returned step has KL exactly
    ``max_kl`` (:math:`\delta > 0`, else ``ValueError``). Works on numpy arrays and torch tensors.
    """
    max_kl = _validate.positive("max_kl", max_kl)
    quad = float((direction * fisher_direction).sum())
    if not np.isfinite(quad) or quad <= 0:
        raise ValueError(f"direction must have positive curvature x^T F x > 0, got {quad!r}")
    return np.sqrt(2.0 * max_kl / quad) * direction


def surrogate(policy: Policy, obs: torch.Tensor, actions: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    r"""TRPO's surrogate :math:`L(\theta) = \frac1N\sum_t \frac{\pi_\theta(a_t\mid s_t)}{\pi_\text{old}(a_t\mid s_t)}\hat A_t` (to maximize). Chapter 7.

    Its gradient at :math:`\theta_\text{old}` is the policy gradient with weights :math:`\hat A_t`.
    """
    log_probs = policy.log_prob(obs, actions)
    ratio = torch.exp(log_probs - old_log_probs.to(log_probs.dtype))
    return (ratio * advantages.to(log_probs.dtype)).mean()


@dataclass
class TRPOStep:
    """Outcome of one :func:`trpo_step` (chapter 7)."""

    accepted: bool
    """Whether the line search found an acceptable step (if not, the parameters are unchanged)."""
    kl: float
    """Measured mean KL between the old and the new policy (0 if rejected)."""
    improvement: float
    """Surrogate improvement :math:`L(\\theta_\\text{new}) - L(\\theta_\\text{old})`."""
    expected_improvement: float
    """Linear prediction :math:`g^\\top\\Delta\\theta` for the full step."""
    step_fraction: float
    """Fraction of the full step taken (backtracking factor to the power of the tries)."""
    backtracks: int
    """Number of halvings before acceptance."""


def trpo_step(
    policy: Policy,
    obs: torch.Tensor,
    actions: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    *,
    max_kl: float = 0.01,
    damping: float = 0.1,
    cg_iterations: int = 10,
    backtrack_iterations: int = 10,
    backtrack_ratio: float = 0.5,
) -> TRPOStep:
    r"""One TRPO policy update on a batch (Schulman et al. 2015, Appendix C). Chapter 7.

    1. :math:`g = \nabla_\theta L` at :math:`\theta_\text{old}` (:func:`surrogate`);
    2. :math:`x \approx (\mathbf F + \text{damping}\,I)^{-1} g` by ``cg_iterations`` of conjugate gradient;
    3. full step :math:`\Delta = \sqrt{2\,\text{max\_kl} / x^\top\mathbf F x}\;x` (the quadratic
       model :math:`\tfrac12\Delta^\top\mathbf F\Delta` of the KL equals ``max_kl``);
    4. try :math:`\theta_\text{old} + \text{backtrack\_ratio}^j\Delta`, :math:`j = 0, 1, \dots`,
       and keep the first that improves :math:`L` and whose *measured* mean KL is at most
       ``max_kl``; if none does, restore :math:`\theta_\text{old}`.

    Raises ``ValueError`` naming the argument for ``max_kl <= 0`` and the other bad inputs.
    """
    max_kl = _validate.positive("max_kl", max_kl)
    damping = _validate.non_negative("damping", damping)
    cg_iterations = _validate.integer_at_least("cg_iterations", cg_iterations, 1)
    backtrack_iterations = _validate.integer_at_least("backtrack_iterations", backtrack_iterations, 1)
    backtrack_ratio = _validate.probability("backtrack_ratio", backtrack_ratio, open_high=True)
    if obs.shape[0] < 1:
        raise ValueError("obs must hold at least one state (batch size >= 1)")

    old_params = flat_params(policy)
    with torch.no_grad():
        old_dist = detached_distribution(policy.distribution(obs))
    loss_old = surrogate(policy, obs, actions, old_log_probs, advantages)
    g = flat_grad(loss_old, policy).detach()
    loss_old = float(loss_old.detach())
    if not torch.all(torch.isfinite(g)):
        raise ValueError("the surrogate gradient is not finite (check the advantages)")
    if float(g @ g) == 0.0:
        return TRPOStep(False, 0.0, 0.0, 0.0, 0.0, 0)
    fvp = fisher_vector_product(policy, obs, damping=damping)
    x = conjugate_gradient(fvp, g, iterations=cg_iterations)
    Fx = fvp(x)
    quad = float(x @ Fx)
    if not np.isfinite(quad) or quad <= 0:
        return TRPOStep(False, 0.0, 0.0, 0.0, 0.0, 0)
    full_step = trust_region_step(x, Fx, max_kl)
    expected = float(g @ full_step)
    fraction = 1.0
    for j in range(backtrack_iterations):
        set_flat_params(policy, old_params + fraction * full_step)
        with torch.no_grad():
            improvement = float(surrogate(policy, obs, actions, old_log_probs, advantages)) - loss_old
            kl = float(mean_kl(policy, obs, old_dist))
        if np.isfinite(kl) and kl <= max_kl and improvement > 0:
            return TRPOStep(True, kl, improvement, expected, fraction, j)
        fraction *= backtrack_ratio
    set_flat_params(policy, old_params)
    return TRPOStep(False, 0.0, 0.0, expected, 0.0, backtrack_iterations)


def fit_value(value_fn: ValueFunction, optimizer: torch.optim.Optimizer, obs: torch.Tensor, targets: torch.Tensor, *,
              epochs: int, minibatch_size: int, generator: torch.Generator) -> float:
    """Regress :math:`V_\\phi(s)` on ``targets`` by ``epochs`` passes of shuffled minibatches; returns the last full-batch MSE. Chapter 7."""
    epochs = _validate.integer_at_least("epochs", epochs, 1)
    minibatch_size = _validate.integer_at_least("minibatch_size", minibatch_size, 1)
    n = obs.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, minibatch_size):
            idx = order[start:start + minibatch_size]
            optimizer.zero_grad()
            loss = torch.mean((value_fn(obs[idx]) - targets[idx]) ** 2)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return float(torch.mean((value_fn(obs) - targets) ** 2))


@dataclass
class TRPOConfig(OnPolicyConfig):
    """Every hyperparameter of :func:`train` (chapter 7): the fields of :class:`~pgnotes.rl.training.OnPolicyConfig` and these.

    Defaults: the CartPole-v1 setting of the chapter's results.
    """

    total_steps: int = 200_000
    """Training budget in environment steps (of kept episodes)."""
    steps_per_batch: int = 2000
    """Minimum environment steps per TRPO update (whole episodes)."""
    lam: float = 0.97
    """GAE parameter :math:`\\lambda`."""
    max_kl: float = 0.02
    """KL radius :math:`\\delta` of the trust region."""
    damping: float = 0.1
    """Added to the Fisher matrix's diagonal in conjugate gradient."""
    cg_iterations: int = 10
    """Conjugate-gradient iterations per update."""
    backtrack_iterations: int = 10
    """Line-search tries (each halves the step)."""
    value_learning_rate: float = 1e-3
    """Adam step size of the value network."""
    value_epochs: int = 5
    """Passes over the batch of the value regression per update."""
    value_minibatch: int = 64
    """Minibatch size of the value regression."""

    def __post_init__(self):
        _validate.positive("max_kl", self.max_kl)
        _validate.non_negative("damping", self.damping)
        _validate.integer_at_least("cg_iterations", self.cg_iterations, 1)
        _validate.integer_at_least("backtrack_iterations", self.backtrack_iterations, 1)
        _validate.positive("value_learning_rate", self.value_learning_rate)
        _validate.integer_at_least("value_epochs", self.value_epochs, 1)
        _validate.integer_at_least("value_minibatch", self.value_minibatch, 1)
        super().__post_init__()


@dataclass
class TRPOResult:
    """Outcome of :func:`train`: the trained ``policy`` and ``value_fn``, the ``history`` and the ``config``. Chapter 7."""

    policy: Policy
    value_fn: ValueFunction
    history: OnPolicyHistory
    config: TRPOConfig


def normalized(advantages: torch.Tensor) -> torch.Tensor:
    """Advantages standardized to zero mean and unit standard deviation (unchanged if fewer than 2). Chapter 7."""
    if advantages.numel() < 2:
        return advantages
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def train(config: TRPOConfig | None = None, *, progress: bool = True, **overrides) -> TRPOResult:
    """Train a policy with TRPO and a GAE value baseline on the course's collector. Chapter 7.

    The loop is :func:`~pgnotes.rl.gae.train_on_policy`; each update is one :func:`trpo_step`
    on the batch (advantages standardized if ``normalize_advantages``), then :func:`fit_value`
    on the :math:`\\lambda`-returns.
    """
    config = TRPOConfig.with_overrides(config, overrides)

    def make_update(policy: Policy, value_fn: ValueFunction, generator: torch.Generator):
        value_opt = torch.optim.Adam(value_fn.parameters(), lr=config.value_learning_rate)

        def update(batch: AdvantageBatch) -> tuple[float, float]:
            adv = normalized(batch.advantages) if config.normalize_advantages else batch.advantages
            info = trpo_step(policy, batch.observations, batch.actions, batch.log_probs, adv, max_kl=config.max_kl,
                             damping=config.damping, cg_iterations=config.cg_iterations,
                             backtrack_iterations=config.backtrack_iterations)
            value_loss = fit_value(value_fn, value_opt, batch.observations, batch.returns, epochs=config.value_epochs,
                                   minibatch_size=config.value_minibatch, generator=generator)
            return info.kl, value_loss

        return update

    policy, value_fn, history = train_on_policy(config, make_update, name="TRPO", progress=progress)
    return TRPOResult(policy, value_fn, history, config)
