"""Mutation tests of the exercise cases: plausible wrong answers must lose marks.

For every exercise, several implementations that a learner could plausibly write, each with
one real mistake (an off-by-one reward-to-go, a forgotten discount, sigma where sigma^2
belongs, a missing antithetic sign, only the left column of a piece, no bounds check, float
indices where integers are asked, inputs changed in place...), are run through ``check``'s
engine on the shipped public cases. Each must lose marks, and the solution notebook's own
function must keep full marks. When a case set stops catching a mistake, this test fails.

The mutants are written from the mistakes, not by editing the solutions: each is the whole
function as a learner with that misunderstanding would write it.
"""

from __future__ import annotations

import builtins
from pathlib import Path

import nbformat
import numpy as np
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from pgnotes.grading.batch import exercise_ids_in
from pgnotes.grading.check import registry, run_check

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ("ch01", "ch02", "ch03", "ch04", "ch05", "ch06")
MUTANTS: dict[str, dict[str, object]] = {}


def mutant(exercise_id: str, mistake: str):
    """Register the decorated function as a wrong answer to ``exercise_id``."""
    def register(function):
        MUTANTS.setdefault(exercise_id, {})[mistake] = function
        return function
    return register


def softmax_rows(theta):
    z = np.exp(theta - theta.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def rtg(rewards, gamma):
    out, running = np.zeros(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def ranks01(f):
    f = np.asarray(f, dtype=float)
    r = np.empty(len(f))
    r[np.argsort(f)] = np.arange(len(f))
    return r / (len(f) - 1) - 0.5


# --- chapter 1 -------------------------------------------------------------------------------

@mutant("ch01.gaussian_score_mean", "divides by sigma instead of sigma^2")
def _(x, mean, std):
    return (x - mean) / std


@mutant("ch01.gaussian_score_mean", "sign flipped (mean - x)")
def _(x, mean, std):
    return (mean - x) / std**2


@mutant("ch01.gaussian_score_mean", "keeps the 1/2 of the exponent")
def _(x, mean, std):
    return (x - mean) / (2 * std**2)


@mutant("ch01.gaussian_score_mean", "averages over the samples (wrong axis / shape)")
def _(x, mean, std):
    return ((x - mean) / std**2).mean(axis=0)


@mutant("ch01.gaussian_score_log_std", "forgets the -1 from the normalizer")
def _(x, mean, std):
    return ((x - mean) / std) ** 2


@mutant("ch01.gaussian_score_log_std", "derivative with respect to std, not log std")
def _(x, mean, std):
    return (x - mean) ** 2 / std**3 - 1 / std


@mutant("ch01.gaussian_score_log_std", "derivative with respect to log variance")
def _(x, mean, std):
    return 0.5 * ((x - mean) / std) ** 2 - 0.5


@mutant("ch01.gaussian_score_log_std", "std where the variance belongs")
def _(x, mean, std):
    return (x - mean) ** 2 / std - 1


@mutant("ch01.score_function_estimate", "ignores the baseline")
def _(fitness, scores, baseline=0.0):
    return (fitness[:, None] * scores).mean(axis=0)


@mutant("ch01.score_function_estimate", "sums instead of averaging")
def _(fitness, scores, baseline=0.0):
    return ((fitness - baseline)[:, None] * scores).sum(axis=0)


@mutant("ch01.score_function_estimate", "divides by n - 1")
def _(fitness, scores, baseline=0.0):
    return ((fitness - baseline)[:, None] * scores).sum(axis=0) / max(len(fitness) - 1, 1)


@mutant("ch01.score_function_estimate", "subtracts the baseline after averaging")
def _(fitness, scores, baseline=0.0):
    return (fitness[:, None] * scores).mean(axis=0) - baseline


@mutant("ch01.score_function_estimate", "averages over the wrong axis")
def _(fitness, scores, baseline=0.0):
    return ((fitness - baseline)[:, None] * scores).mean(axis=1)


@mutant("ch01.estimate_quadratic_gradient", "score divided by sigma instead of sigma^2")
def _(mean, std, center, num_samples, rng):
    x = mean + std * rng.standard_normal((num_samples, len(mean)))
    f = -np.sum((x - center) ** 2, axis=1)
    return ((f - f.mean())[:, None] * (x - mean) / std).mean(axis=0)


@mutant("ch01.estimate_quadratic_gradient", "samples with the variance as the scale")
def _(mean, std, center, num_samples, rng):
    x = mean + std**2 * rng.standard_normal((num_samples, len(mean)))
    f = -np.sum((x - center) ** 2, axis=1)
    return (f[:, None] * (x - mean) / std**2).mean(axis=0)


@mutant("ch01.estimate_quadratic_gradient", "fitness with the wrong sign (minimizes)")
def _(mean, std, center, num_samples, rng):
    x = mean + std * rng.standard_normal((num_samples, len(mean)))
    f = np.sum((x - center) ** 2, axis=1)
    return ((f - f.mean())[:, None] * (x - mean) / std**2).mean(axis=0)


@mutant("ch01.estimate_quadratic_gradient", "sums the terms instead of averaging")
def _(mean, std, center, num_samples, rng):
    x = mean + std * rng.standard_normal((num_samples, len(mean)))
    f = -np.sum((x - center) ** 2, axis=1)
    return (f[:, None] * (x - mean) / std**2).sum(axis=0)


# --- chapter 2 -------------------------------------------------------------------------------

@mutant("ch02.reward_to_go", "off by one: starts at the next reward")
def _(rewards, gamma):
    if not 0 <= gamma <= 1:
        raise ValueError("gamma")
    out, running = np.zeros(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        out[t] = running
        running = rewards[t] + gamma * running
    return out


@mutant("ch02.reward_to_go", "forgets the discount")
def _(rewards, gamma):
    if not 0 <= gamma <= 1:
        raise ValueError("gamma")
    return np.cumsum(np.asarray(rewards, float)[::-1])[::-1]


@mutant("ch02.reward_to_go", "discounts from the start of the episode (gamma^t')")
def _(rewards, gamma):
    if not 0 <= gamma <= 1:
        raise ValueError("gamma")
    d = gamma ** np.arange(len(rewards)) * np.asarray(rewards, float)
    return np.cumsum(d[::-1])[::-1]


@mutant("ch02.reward_to_go", "sums the past instead of the future")
def _(rewards, gamma):
    if not 0 <= gamma <= 1:
        raise ValueError("gamma")
    out, running = np.zeros(len(rewards)), 0.0
    for t in range(len(rewards)):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


@mutant("ch02.reward_to_go", "no check of gamma")
def _(rewards, gamma):
    return rtg(rewards, gamma)


@mutant("ch02.reward_to_go", "works in place on the caller's rewards")
def _(rewards, gamma):
    if not 0 <= gamma <= 1:
        raise ValueError("gamma")
    for t in reversed(range(len(rewards) - 1)):
        rewards[t] += gamma * rewards[t + 1]
    return rewards


@mutant("ch02.surrogate_loss", "divides by the number of steps")
def _(log_probs, weights, num_episodes):
    return float(-np.mean(weights * log_probs))


@mutant("ch02.surrogate_loss", "wrong sign")
def _(log_probs, weights, num_episodes):
    return float(np.sum(weights * log_probs) / num_episodes)


@mutant("ch02.surrogate_loss", "forgets the normalization")
def _(log_probs, weights, num_episodes):
    return float(-np.sum(weights * log_probs))


@mutant("ch02.surrogate_loss", "probabilities instead of log-probabilities")
def _(log_probs, weights, num_episodes):
    return float(-np.sum(weights * np.exp(log_probs)) / num_episodes)


@mutant("ch02.mean_baseline_weights", "one constant baseline: the mean over all steps")
def _(episodes, gamma):
    g = [rtg(r, gamma) for r in episodes]
    allg = np.concatenate(g)
    return allg - allg.mean()


@mutant("ch02.mean_baseline_weights", "divides by the number of episodes, not those still running")
def _(episodes, gamma):
    g = [rtg(r, gamma) for r in episodes]
    sums = np.zeros(max(map(len, g)))
    for x in g:
        sums[: len(x)] += x
    b = sums / len(g)
    return np.concatenate([x - b[: len(x)] for x in g])


@mutant("ch02.mean_baseline_weights", "baseline from the start return G_0 only")
def _(episodes, gamma):
    g = [rtg(r, gamma) for r in episodes]
    b = np.mean([x[0] for x in g])
    return np.concatenate([x - b for x in g])


@mutant("ch02.mean_baseline_weights", "forgets the discount")
def _(episodes, gamma):
    g = [rtg(r, 1.0) for r in episodes]
    longest = max(map(len, g))
    b = np.array([np.mean([x[t] for x in g if len(x) > t]) for t in range(longest)])
    return np.concatenate([x - b[: len(x)] for x in g])


@mutant("ch02.mean_baseline_weights", "returns the reward-to-go without the baseline")
def _(episodes, gamma):
    return np.concatenate([rtg(r, gamma) for r in episodes])


@mutant("ch02.reinforce_gradient", "forgets the gamma^t factor")
def _(theta, states, actions, rewards, gamma):
    pi, grad = softmax_rows(theta), np.zeros_like(theta)
    for s_ep, a_ep, r_ep in zip(states, actions, rewards):
        g = rtg(r_ep, gamma)
        for t, (s, a) in enumerate(zip(s_ep, a_ep)):
            grad[s] += g[t] * (np.eye(theta.shape[1])[a] - pi[s])
    return grad / len(states)


@mutant("ch02.reinforce_gradient", "whole return instead of the reward-to-go")
def _(theta, states, actions, rewards, gamma):
    pi, grad = softmax_rows(theta), np.zeros_like(theta)
    for s_ep, a_ep, r_ep in zip(states, actions, rewards):
        g = rtg(r_ep, gamma)
        for t, (s, a) in enumerate(zip(s_ep, a_ep)):
            grad[s] += gamma**t * g[0] * (np.eye(theta.shape[1])[a] - pi[s])
    return grad / len(states)


@mutant("ch02.reinforce_gradient", "score one_hot(a), forgetting - pi(s)")
def _(theta, states, actions, rewards, gamma):
    grad = np.zeros_like(theta)
    for s_ep, a_ep, r_ep in zip(states, actions, rewards):
        g = rtg(r_ep, gamma)
        for t, (s, a) in enumerate(zip(s_ep, a_ep)):
            grad[s, a] += gamma**t * g[t]
    return grad / len(states)


@mutant("ch02.reinforce_gradient", "averages over steps, not episodes")
def _(theta, states, actions, rewards, gamma):
    pi, grad = softmax_rows(theta), np.zeros_like(theta)
    for s_ep, a_ep, r_ep in zip(states, actions, rewards):
        g = rtg(r_ep, gamma)
        for t, (s, a) in enumerate(zip(s_ep, a_ep)):
            grad[s] += gamma**t * g[t] * (np.eye(theta.shape[1])[a] - pi[s])
    return grad / sum(len(s) for s in states)


@mutant("ch02.reinforce_gradient", "softmax over the wrong axis")
def _(theta, states, actions, rewards, gamma):
    z = np.exp(theta)
    pi, grad = z / z.sum(axis=0, keepdims=True), np.zeros_like(theta)
    for s_ep, a_ep, r_ep in zip(states, actions, rewards):
        g = rtg(r_ep, gamma)
        for t, (s, a) in enumerate(zip(s_ep, a_ep)):
            grad[s] += gamma**t * g[t] * (np.eye(theta.shape[1])[a] - pi[s])
    return grad / len(states)


@mutant("ch02.per_decision_weights", "ratio of the current step only")
def _(rewards, target_logp, behaviour_logp, gamma):
    return rtg(np.exp(target_logp - behaviour_logp) * rewards, gamma)


@mutant("ch02.per_decision_weights", "ratio upside down (mu / pi)")
def _(rewards, target_logp, behaviour_logp, gamma):
    return rtg(np.exp(np.cumsum(behaviour_logp - target_logp)) * rewards, gamma)


@mutant("ch02.per_decision_weights", "whole-trajectory weight times G_t")
def _(rewards, target_logp, behaviour_logp, gamma):
    return np.exp(np.sum(target_logp - behaviour_logp)) * rtg(rewards, gamma)


@mutant("ch02.per_decision_weights", "ratio up to t times G_t")
def _(rewards, target_logp, behaviour_logp, gamma):
    return np.exp(np.cumsum(target_logp - behaviour_logp)) * rtg(rewards, gamma)


@mutant("ch02.per_decision_weights", "forgets the discount")
def _(rewards, target_logp, behaviour_logp, gamma):
    return rtg(np.exp(np.cumsum(target_logp - behaviour_logp)) * rewards, 1.0)


@mutant("ch02.per_decision_weights", "ratios of the actions before t' only (exclusive product)")
def _(rewards, target_logp, behaviour_logp, gamma):
    log_rho = np.concatenate([[0.0], np.cumsum(target_logp - behaviour_logp)[:-1]])
    return rtg(np.exp(log_rho) * rewards, gamma)


# --- chapter 3 -------------------------------------------------------------------------------

@mutant("ch03.es_gradient", "divides by sigma^2")
def _(noise, fitness, sigma):
    if sigma <= 0:
        raise ValueError("sigma")
    return fitness @ noise / (len(fitness) * sigma**2)


@mutant("ch03.es_gradient", "forgets sigma")
def _(noise, fitness, sigma):
    if sigma <= 0:
        raise ValueError("sigma")
    return fitness @ noise / len(fitness)


@mutant("ch03.es_gradient", "checks sigma < 0 only")
def _(noise, fitness, sigma):
    if sigma < 0:
        raise ValueError("sigma")
    with np.errstate(all="ignore"):
        return fitness @ noise / (len(fitness) * sigma)


@mutant("ch03.es_gradient", "divides by n - 1")
def _(noise, fitness, sigma):
    if sigma <= 0:
        raise ValueError("sigma")
    return fitness @ noise / (max(len(fitness) - 1, 1) * sigma)


@mutant("ch03.es_gradient", "averages over the wrong axis")
def _(noise, fitness, sigma):
    if sigma <= 0:
        raise ValueError("sigma")
    return (fitness[:, None] * noise).mean(axis=1) / sigma


@mutant("ch03.centered_ranks", "argsort taken as the ranks")
def _(fitness):
    return np.argsort(fitness) / (len(fitness) - 1) - 0.5


@mutant("ch03.centered_ranks", "divides by n instead of n - 1")
def _(fitness):
    r = np.empty(len(fitness))
    r[np.argsort(fitness)] = np.arange(len(fitness))
    return r / len(fitness) - 0.5


@mutant("ch03.centered_ranks", "rank 0 for the highest value")
def _(fitness):
    r = np.empty(len(fitness))
    r[np.argsort(-fitness)] = np.arange(len(fitness))
    return r / (len(fitness) - 1) - 0.5


@mutant("ch03.centered_ranks", "maps to [-1, 1]")
def _(fitness):
    r = np.empty(len(fitness))
    r[np.argsort(fitness)] = np.arange(len(fitness))
    return 2 * r / (len(fitness) - 1) - 1


@mutant("ch03.centered_ranks", "forgets to centre")
def _(fitness):
    r = np.empty(len(fitness))
    r[np.argsort(fitness)] = np.arange(len(fitness))
    return r / (len(fitness) - 1)


@mutant("ch03.antithetic_es_step", "missing antithetic sign: [eps; eps]")
def _(mean, eps, fitness_plus, fitness_minus, sigma, lr):
    noise = np.concatenate([eps, eps])
    u = ranks01(np.concatenate([fitness_plus, fitness_minus]))
    return mean + lr * u @ noise / (len(u) * sigma)


@mutant("ch03.antithetic_es_step", "raw fitness instead of centred ranks")
def _(mean, eps, fitness_plus, fitness_minus, sigma, lr):
    noise = np.concatenate([eps, -eps])
    f = np.concatenate([fitness_plus, fitness_minus])
    return mean + lr * f @ noise / (len(f) * sigma)


@mutant("ch03.antithetic_es_step", "ranks the plus and minus halves separately")
def _(mean, eps, fitness_plus, fitness_minus, sigma, lr):
    if len(fitness_plus) < 2:
        u = np.concatenate([np.zeros(1), np.zeros(1)])
    else:
        u = np.concatenate([ranks01(fitness_plus), ranks01(fitness_minus)])
    noise = np.concatenate([eps, -eps])
    return mean + lr * u @ noise / (len(u) * sigma)


@mutant("ch03.antithetic_es_step", "n = number of pairs in the denominator")
def _(mean, eps, fitness_plus, fitness_minus, sigma, lr):
    noise = np.concatenate([eps, -eps])
    u = ranks01(np.concatenate([fitness_plus, fitness_minus]))
    return mean + lr * u @ noise / (len(eps) * sigma)


@mutant("ch03.antithetic_es_step", "steps downhill")
def _(mean, eps, fitness_plus, fitness_minus, sigma, lr):
    noise = np.concatenate([eps, -eps])
    u = ranks01(np.concatenate([fitness_plus, fitness_minus]))
    return mean - lr * u @ noise / (len(u) * sigma)


@mutant("ch03.isotropic_fisher", "log-sigma entry 2 instead of 2 d")
def _(sigma, dim):
    return np.diag(np.append(np.full(dim, 1 / sigma**2), 2.0))


@mutant("ch03.isotropic_fisher", "mean block I / sigma instead of I / sigma^2")
def _(sigma, dim):
    return np.diag(np.append(np.full(dim, 1 / sigma), 2.0 * dim))


@mutant("ch03.isotropic_fisher", "log-sigma entry d (forgets the 2)")
def _(sigma, dim):
    return np.diag(np.append(np.full(dim, 1 / sigma**2), float(dim)))


@mutant("ch03.isotropic_fisher", "the covariance sigma^2 I instead of its inverse")
def _(sigma, dim):
    return np.diag(np.append(np.full(dim, sigma**2), 2.0 * dim))


@mutant("ch03.isotropic_fisher", "leaves out the log-sigma row and column")
def _(sigma, dim):
    return np.eye(dim) / sigma**2


@mutant("ch03.natural_gradient_step", "forgets the learning rate")
def _(scores, fitness, lr):
    n = len(fitness)
    return np.linalg.solve(scores.T @ scores / n, fitness @ scores / n)


@mutant("ch03.natural_gradient_step", "the plain gradient, no Fisher")
def _(scores, fitness, lr):
    return lr * fitness @ scores / len(fitness)


@mutant("ch03.natural_gradient_step", "Fisher not divided by lambda")
def _(scores, fitness, lr):
    return lr * np.linalg.solve(scores.T @ scores, fitness @ scores / len(fitness))


@mutant("ch03.natural_gradient_step", "centred covariance of the scores as the Fisher")
def _(scores, fitness, lr):
    return lr * np.linalg.solve(np.cov(scores.T, bias=True), fitness @ scores / len(fitness))


@mutant("ch03.natural_gradient_step", "multiplies by F instead of solving")
def _(scores, fitness, lr):
    n = len(fitness)
    return lr * (scores.T @ scores / n) @ (fitness @ scores / n)


# --- chapter 4 -------------------------------------------------------------------------------

def _ars(theta, deltas, r_plus, r_minus, step_size, top_b, *, key=None, keep=None, sigma_r=None, divisor=None):
    key = np.maximum(r_plus, r_minus) if key is None else key
    order = np.argsort(-key, kind="stable")[:top_b] if keep is None else keep
    kept = np.concatenate([r_plus[order], r_minus[order]])
    s = kept.std() if sigma_r is None else sigma_r
    return theta + step_size / ((top_b if divisor is None else divisor) * s) * (r_plus[order] - r_minus[order]) @ deltas[order]


@mutant("ch04.ars_update", "sigma_R of all 2N returns (V1, not V1-t)")
def _(theta, deltas, r_plus, r_minus, step_size, top_b):
    return _ars(theta, deltas, r_plus, r_minus, step_size, top_b,
                sigma_r=np.concatenate([r_plus, r_minus]).std())


@mutant("ch04.ars_update", "divides by N instead of b")
def _(theta, deltas, r_plus, r_minus, step_size, top_b):
    return _ars(theta, deltas, r_plus, r_minus, step_size, top_b, divisor=len(deltas))


@mutant("ch04.ars_update", "ranks the directions by r+ only")
def _(theta, deltas, r_plus, r_minus, step_size, top_b):
    return _ars(theta, deltas, r_plus, r_minus, step_size, top_b, key=r_plus)


@mutant("ch04.ars_update", "ranks by |r+ - r-|")
def _(theta, deltas, r_plus, r_minus, step_size, top_b):
    return _ars(theta, deltas, r_plus, r_minus, step_size, top_b, key=np.abs(r_plus - r_minus))


@mutant("ch04.ars_update", "keeps the worst directions (ascending sort)")
def _(theta, deltas, r_plus, r_minus, step_size, top_b):
    keep = np.argsort(np.maximum(r_plus, r_minus), kind="stable")[:top_b]
    return _ars(theta, deltas, r_plus, r_minus, step_size, top_b, keep=keep)


@mutant("ch04.ars_update", "sample standard deviation (divisor 2b - 1)")
def _(theta, deltas, r_plus, r_minus, step_size, top_b):
    order = np.argsort(-np.maximum(r_plus, r_minus), kind="stable")[:top_b]
    s = np.concatenate([r_plus[order], r_minus[order]]).std(ddof=1)
    return _ars(theta, deltas, r_plus, r_minus, step_size, top_b, sigma_r=s)


@mutant("ch04.cma_weights", "mu rounded up")
def _(popsize):
    mu = -(-popsize // 2)
    raw = np.log((popsize + 1) / 2) - np.log(np.arange(1, mu + 1))
    return raw / raw.sum()


@mutant("ch04.cma_weights", "ln(mu + 1/2) instead of ln((lambda + 1)/2)")
def _(popsize):
    mu = popsize // 2
    raw = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
    return raw / raw.sum()


@mutant("ch04.cma_weights", "not normalized")
def _(popsize):
    mu = popsize // 2
    return np.log((popsize + 1) / 2) - np.log(np.arange(1, mu + 1))


@mutant("ch04.cma_weights", "equal weights")
def _(popsize):
    return np.full(popsize // 2, 1 / (popsize // 2))


@mutant("ch04.cma_weights", "ranks counted from 0 (ln(i + 1) with i = 1..mu)")
def _(popsize):
    mu = popsize // 2
    raw = np.log((popsize + 1) / 2) - np.log(np.arange(2, mu + 2))
    return raw / raw.sum()


def _pendulum(obs, plans, *, clip_u=True, clip_speed=True, reward_after=False, wrap=True, old_speed=False,
              gravity=15.0):
    plans = np.clip(plans, -2, 2) if clip_u else np.asarray(plans)
    theta = np.full(len(plans), np.arctan2(obs[1], obs[0]))
    speed = np.full(len(plans), float(obs[2]))
    total = np.zeros(len(plans))

    def reward(th, sp, u):
        angle = np.arctan2(np.sin(th), np.cos(th)) if wrap else th
        return -(angle**2 + 0.1 * sp**2 + 0.001 * u**2)

    for t in range(plans.shape[1]):
        u = plans[:, t]
        if not reward_after:
            total += reward(theta, speed, u)
        new_speed = speed + (gravity * np.sin(theta) + 3 * u) * 0.05
        new_speed = np.clip(new_speed, -8, 8) if clip_speed else new_speed
        theta = theta + 0.05 * (speed if old_speed else new_speed)
        speed = new_speed
        if reward_after:
            total += reward(theta, speed, u)
    return total


@mutant("ch04.plan_return", "reward of the state after the action")
def _(obs, plans):
    return _pendulum(obs, plans, reward_after=True)


@mutant("ch04.plan_return", "does not clip the torque")
def _(obs, plans):
    return _pendulum(obs, plans, clip_u=False)


@mutant("ch04.plan_return", "does not clip the angular speed")
def _(obs, plans):
    return _pendulum(obs, plans, clip_speed=False)


@mutant("ch04.plan_return", "angle not wrapped to [-pi, pi]")
def _(obs, plans):
    return _pendulum(obs, plans, wrap=False)


@mutant("ch04.plan_return", "moves the angle with the old speed")
def _(obs, plans):
    return _pendulum(obs, plans, old_speed=True)


@mutant("ch04.plan_return", "gravity with the wrong sign")
def _(obs, plans):
    return _pendulum(obs, plans, gravity=-15.0)


# --- chapter 5 -------------------------------------------------------------------------------

def _heights(board):
    board = np.asarray(board, bool)
    top = board.shape[0] - np.argmax(board[::-1], axis=0)
    return np.where(board.any(axis=0), top, 0)


def _holes(board):
    board = np.asarray(board, bool)
    return int(_heights(board).sum() - board.sum())


@mutant("ch05.holes", "empty cells below the highest filled cell of the whole board")
def _(board):
    top = _heights(board).max()
    return int((~board[:top]).sum())


@mutant("ch05.holes", "row 0 taken as the top (empty cells above a filled one)")
def _(board):
    return _holes(board[::-1])


@mutant("ch05.holes", "only the empty cells directly below a filled cell")
def _(board):
    return int((board[1:] & ~board[:-1]).sum())


@mutant("ch05.holes", "counts columns with a hole, not cells")
def _(board):
    h = _heights(board)
    return int(sum(1 for c in range(board.shape[1]) if (~board[: h[c], c]).any()))


@mutant("ch05.holes", "counts filled cells under the top instead of empty ones")
def _(board):
    return int(board.sum() - (_heights(board) > 0).sum())


@mutant("ch05.landing_row", "the piece's left column only")
def _(heights, bottom, column):
    return int(heights[column] - bottom[0])


@mutant("ch05.landing_row", "max of the heights minus the left bottom")
def _(heights, bottom, column):
    return int(max(heights[column:column + len(bottom)]) - bottom[0])


@mutant("ch05.landing_row", "min instead of max")
def _(heights, bottom, column):
    return int(max(0, np.min(heights[column:column + len(bottom)] - bottom)))


@mutant("ch05.landing_row", "adds the bottom offsets")
def _(heights, bottom, column):
    return int(np.max(heights[column:column + len(bottom)] + bottom))


@mutant("ch05.landing_row", "slice one column short")
def _(heights, bottom, column):
    w = len(bottom)
    return int(max(0, np.max(heights[column:column + max(w - 1, 1)] - bottom[: max(w - 1, 1)])))


@mutant("ch05.landing_row", "returns a float row")
def _(heights, bottom, column):
    return float(np.max(heights[column:column + len(bottom)] - bottom))


@mutant("ch05.landing_row", "column taken as the right edge")
def _(heights, bottom, column):
    w = len(bottom)
    start = max(column - w + 1, 0)
    return int(np.max(heights[start:start + w] - bottom))


def _features(h, holes):
    return np.concatenate([h, np.abs(np.diff(h)), [h.max(), holes, 1]]).astype(float)


@mutant("ch05.bertsekas_features", "height counted from the top of the board")
def _(board):
    h = np.where(board.any(axis=0), board.shape[0] - np.argmax(board, axis=0), 0)
    return _features(h, _holes(board))


@mutant("ch05.bertsekas_features", "height = number of filled cells in the column")
def _(board):
    return _features(board.sum(axis=0), _holes(board))


@mutant("ch05.bertsekas_features", "signed height differences")
def _(board):
    h = _heights(board)
    return np.concatenate([h, np.diff(h), [h.max(), _holes(board), 1]]).astype(float)


@mutant("ch05.bertsekas_features", "forgets the constant feature")
def _(board):
    h = _heights(board)
    return np.concatenate([h, np.abs(np.diff(h)), [h.max(), _holes(board)]]).astype(float)


@mutant("ch05.bertsekas_features", "an empty column gets the full board height")
def _(board):
    h = board.shape[0] - np.argmax(board[::-1], axis=0)
    return _features(h, _holes(board))


@mutant("ch05.bertsekas_features", "integer array where floats are asked")
def _(board):
    h = _heights(board)
    return np.concatenate([h, np.abs(np.diff(h)), [h.max(), _holes(board), 1]]).astype(np.int64)


@mutant("ch05.noisy_cem_update", "keeps the lowest fitness (minimizes)")
def _(samples, fitness, n_elite, noise):
    e = samples[np.argsort(fitness, kind="stable")[:n_elite]]
    return e.mean(axis=0), e.var(axis=0) + noise


@mutant("ch05.noisy_cem_update", "variance with divisor n_elite - 1")
def _(samples, fitness, n_elite, noise):
    e = samples[np.argsort(-fitness, kind="stable")[:n_elite]]
    return e.mean(axis=0), e.var(axis=0, ddof=1) + noise


@mutant("ch05.noisy_cem_update", "standard deviation instead of variance")
def _(samples, fitness, n_elite, noise):
    e = samples[np.argsort(-fitness, kind="stable")[:n_elite]]
    return e.mean(axis=0), e.std(axis=0) + noise


@mutant("ch05.noisy_cem_update", "reversed ascending sort: ties keep the later sample")
def _(samples, fitness, n_elite, noise):
    e = samples[np.argsort(fitness, kind="stable")[::-1][:n_elite]]
    return e.mean(axis=0), e.var(axis=0) + noise


@mutant("ch05.noisy_cem_update", "forgets the noise")
def _(samples, fitness, n_elite, noise):
    e = samples[np.argsort(-fitness, kind="stable")[:n_elite]]
    return e.mean(axis=0), e.var(axis=0)


@mutant("ch05.noisy_cem_update", "variance around the mean of all samples")
def _(samples, fitness, n_elite, noise):
    e = samples[np.argsort(-fitness, kind="stable")[:n_elite]]
    return e.mean(axis=0), ((e - samples.mean(axis=0)) ** 2).mean(axis=0) + noise


@mutant("ch05.noisy_cem_update", "noise added to the standard deviation")
def _(samples, fitness, n_elite, noise):
    e = samples[np.argsort(-fitness, kind="stable")[:n_elite]]
    return e.mean(axis=0), (e.std(axis=0) + noise) ** 2


# --- chapter 6 -------------------------------------------------------------------------------

@mutant("ch06.reconstruct_perturbations", "no bounds check")
def _(noise, indices, dim):
    return np.stack([noise[i:i + dim] for i in indices])


@mutant("ch06.reconstruct_perturbations", "bounds check off by one (rejects the last valid index)")
def _(noise, indices, dim):
    if np.any(indices + dim >= len(noise)) or np.any(indices < 0):
        raise ValueError("index out of range")
    return np.stack([noise[i:i + dim] for i in indices])


@mutant("ch06.reconstruct_perturbations", "checks the end of the table, not negative indices")
def _(noise, indices, dim):
    if np.any(indices + dim > len(noise)):
        raise ValueError("index out of range")
    return np.stack([noise[i:i + dim] for i in indices])


@mutant("ch06.reconstruct_perturbations", "checks only the largest index against the table size")
def _(noise, indices, dim):
    if np.max(indices) >= len(noise):
        raise ValueError("index out of range")
    return np.stack([noise[i:i + dim] for i in indices])


@mutant("ch06.reconstruct_perturbations", "blocks of the table instead of slices at the index")
def _(noise, indices, dim):
    if np.any(indices < 0) or np.any(indices + dim > len(noise)):
        raise ValueError("index out of range")
    return np.stack([noise[(i // dim) * dim:(i // dim) * dim + dim] for i in indices])


@mutant("ch06.sort_gathered", "float indices where integers are asked")
def _(rows, directions):
    rows = rows[rows[:, 0] >= 0]
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    if not np.array_equal(rows[:, 0], np.arange(directions)):
        raise ValueError("directions")
    return rows[:, 1], rows[:, 2]


@mutant("ch06.sort_gathered", "keeps the padding rows")
def _(rows, directions):
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    return rows[:, 1].astype(np.int64), rows[:, 2]


@mutant("ch06.sort_gathered", "no check for missing or repeated directions")
def _(rows, directions):
    rows = rows[rows[:, 0] >= 0]
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    return rows[:, 1].astype(np.int64), rows[:, 2]


@mutant("ch06.sort_gathered", "checks only the number of rows")
def _(rows, directions):
    rows = rows[rows[:, 0] >= 0]
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    if len(rows) != directions:
        raise ValueError("directions")
    return rows[:, 1].astype(np.int64), rows[:, 2]


@mutant("ch06.sort_gathered", "drops padding but keeps rank order (no sort)")
def _(rows, directions):
    rows = rows[rows[:, 0] >= 0]
    if sorted(rows[:, 0]) != list(range(directions)):
        raise ValueError("directions")
    return rows[:, 1].astype(np.int64), rows[:, 2]


@mutant("ch06.sort_gathered", "sorts by the noise index instead of k")
def _(rows, directions):
    rows = rows[rows[:, 0] >= 0]
    if sorted(rows[:, 0]) != list(range(directions)):
        raise ValueError("directions")
    rows = rows[np.argsort(rows[:, 1], kind="stable")]
    return rows[:, 1].astype(np.int64), rows[:, 2]


@mutant("ch06.sort_gathered", "sorts the caller's array in place")
def _(rows, directions):
    rows[:] = rows[np.argsort(rows[:, 0], kind="stable")]
    kept = rows[rows[:, 0] >= 0]
    if not np.array_equal(kept[:, 0], np.arange(directions)):
        raise ValueError("directions")
    return kept[:, 1].astype(np.int64), kept[:, 2].copy()


def _eps(noise, indices, dim):
    return np.stack([noise[i:i + dim] for i in indices])


@mutant("ch06.algorithm2_update", "divides by sigma^2")
def _(theta, noise, indices, returns, sigma, alpha):
    return theta + alpha / (len(indices) * sigma**2) * returns @ _eps(noise, indices, len(theta))


@mutant("ch06.algorithm2_update", "n = the parameter dimension")
def _(theta, noise, indices, returns, sigma, alpha):
    return theta + alpha / (len(theta) * sigma) * returns @ _eps(noise, indices, len(theta))


@mutant("ch06.algorithm2_update", "forgets the learning rate")
def _(theta, noise, indices, returns, sigma, alpha):
    return theta + 1 / (len(indices) * sigma) * returns @ _eps(noise, indices, len(theta))


@mutant("ch06.algorithm2_update", "steps downhill")
def _(theta, noise, indices, returns, sigma, alpha):
    return theta - alpha / (len(indices) * sigma) * returns @ _eps(noise, indices, len(theta))


@mutant("ch06.algorithm2_update", "standardized returns instead of raw ones")
def _(theta, noise, indices, returns, sigma, alpha):
    z = (returns - returns.mean()) / (returns.std() + 1e-8)
    return theta + alpha / (len(indices) * sigma) * z @ _eps(noise, indices, len(theta))


@mutant("ch06.algorithm2_update", "updates theta in place")
def _(theta, noise, indices, returns, sigma, alpha):
    theta += alpha / (len(indices) * sigma) * returns @ _eps(noise, indices, len(theta))
    return theta



# --- more mistakes, found by trying the exercises as a learner ---------------------------------

@mutant("ch01.score_function_estimate", "subtracts the baseline from the scores")
def _(fitness, scores, baseline=0.0):
    return (fitness[:, None] * (scores - baseline)).mean(axis=0)


@mutant("ch02.reward_to_go", "rejects gamma = 0 (checks 0 < gamma)")
def _(rewards, gamma):
    if not 0 < gamma <= 1:
        raise ValueError("gamma")
    return rtg(rewards, gamma)


@mutant("ch02.reward_to_go", "rejects only gamma > 1")
def _(rewards, gamma):
    if gamma > 1:
        raise ValueError("gamma")
    return rtg(rewards, gamma)


@mutant("ch02.mean_baseline_weights", "leave-one-out baseline (other episodes only)")
def _(episodes, gamma):
    g = [rtg(r, gamma) for r in episodes]
    out = []
    for i, x in enumerate(g):
        b = np.array([np.mean([y[t] for j, y in enumerate(g) if j != i and len(y) > t] or [0.0])
                      for t in range(len(x))])
        out.append(x - b)
    return np.concatenate(out)


@mutant("ch02.reinforce_gradient", "gamma^t on an undiscounted reward-to-go")
def _(theta, states, actions, rewards, gamma):
    pi, grad = softmax_rows(theta), np.zeros_like(theta)
    for s_ep, a_ep, r_ep in zip(states, actions, rewards):
        g = rtg(r_ep, 1.0)
        for t, (s, a) in enumerate(zip(s_ep, a_ep)):
            grad[s] += gamma**t * g[t] * (np.eye(theta.shape[1])[a] - pi[s])
    return grad / len(states)


@mutant("ch03.es_gradient", "subtracts the mean fitness")
def _(noise, fitness, sigma):
    if sigma <= 0:
        raise ValueError("sigma")
    return (fitness - fitness.mean()) @ noise / (len(fitness) * sigma)


@mutant("ch03.antithetic_es_step", "minus values ranked first, paired with [eps; -eps]")
def _(mean, eps, fitness_plus, fitness_minus, sigma, lr):
    noise = np.concatenate([eps, -eps])
    u = ranks01(np.concatenate([fitness_minus, fitness_plus]))
    return mean + lr * u @ noise / (len(u) * sigma)


@mutant("ch03.antithetic_es_step", "moves the caller's mean in place")
def _(mean, eps, fitness_plus, fitness_minus, sigma, lr):
    noise = np.concatenate([eps, -eps])
    u = ranks01(np.concatenate([fitness_plus, fitness_minus]))
    mean += lr * u @ noise / (len(u) * sigma)
    return mean


@mutant("ch04.ars_update", "divides by sigma_R squared")
def _(theta, deltas, r_plus, r_minus, step_size, top_b):
    order = np.argsort(-np.maximum(r_plus, r_minus), kind="stable")[:top_b]
    s = np.concatenate([r_plus[order], r_minus[order]]).std()
    return _ars(theta, deltas, r_plus, r_minus, step_size, top_b, sigma_r=s**2)


@mutant("ch04.ars_update", "updates theta in place")
def _(theta, deltas, r_plus, r_minus, step_size, top_b):
    theta += _ars(theta, deltas, r_plus, r_minus, step_size, top_b) - theta
    return theta


@mutant("ch04.plan_return", "angle from arccos(cos theta), losing its sign")
def _(obs, plans):
    return _pendulum(np.array([np.cos(np.arccos(obs[0])), abs(obs[1]), obs[2]]), plans)


@mutant("ch04.plan_return", "atan2 with cos and sin swapped")
def _(obs, plans):
    return _pendulum(np.array([obs[1], obs[0], obs[2]]), plans)


@mutant("ch04.plan_return", "clips the caller's plans in place")
def _(obs, plans):
    np.clip(plans, -2, 2, out=plans)
    return _pendulum(obs, plans)


@mutant("ch05.holes", "empty cells between the lowest and the highest filled cell only")
def _(board):
    total = 0
    for c in range(board.shape[1]):
        rows = np.flatnonzero(board[:, c])
        if len(rows):
            total += int((~board[rows[0]:rows[-1], c]).sum())
    return total


@mutant("ch05.landing_row", "tallest column minus the piece's lowest offset")
def _(heights, bottom, column):
    return int(np.max(heights[column:column + len(bottom)]) - np.min(bottom))


@mutant("ch05.noisy_cem_update", "sorts the caller's samples in place")
def _(samples, fitness, n_elite, noise):
    order = np.argsort(-fitness, kind="stable")
    samples[:] = samples[order]
    e = samples[:n_elite]
    return e.mean(axis=0), e.var(axis=0) + noise


# --- the tests -------------------------------------------------------------------------------

class _Shell:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def solution_functions(chapter: str) -> dict:
    """The functions defined by the solution notebook of ``chapter`` (its code cells run in order)."""
    path = next((ROOT / "solutions").glob(f"{chapter}_*.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    transform = TransformerManager().transform_cell
    namespace = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": lambda: _Shell()}
    import pgnotes.grading

    saved = pgnotes.grading.check
    pgnotes.grading.check = lambda *args, **kwargs: None
    try:
        for cell in notebook.cells:
            if cell.cell_type == "code":
                exec(compile(transform(cell.source), str(path), "exec"), namespace)
    finally:
        pgnotes.grading.check = saved
    return namespace


EXERCISES = sorted(i for i in registry().exercises if i.split(".")[0] in CHAPTERS)


def test_every_exercise_has_at_least_three_mutants():
    assert len(EXERCISES) == 24
    for exercise_id in EXERCISES:
        assert len(MUTANTS.get(exercise_id, {})) >= 3, exercise_id
    assert set(MUTANTS) <= set(EXERCISES)


@pytest.fixture(scope="module")
def solutions():
    return {chapter: solution_functions(chapter) for chapter in CHAPTERS}


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_the_solution_keeps_full_marks(solutions, exercise_id):
    exercise = registry().get(exercise_id)
    function = solutions[exercise_id.split(".")[0]][exercise.function]
    result = run_check(exercise_id, function)
    assert result.earned == pytest.approx(result.total), result.text(2)


@pytest.mark.parametrize("exercise_id,mistake", [(e, m) for e in sorted(MUTANTS) for m in MUTANTS[e]])
def test_a_plausible_mistake_loses_marks(exercise_id, mistake):
    result = run_check(exercise_id, MUTANTS[exercise_id][mistake])
    assert result.earned < result.total, f"{exercise_id}: '{mistake}' earns full marks"
    assert result.status in ("graded", "incomplete"), result.text()


def test_the_notebooks_check_every_exercise():
    for chapter in CHAPTERS:
        for folder in ("exercises", "solutions"):
            path = next((ROOT / folder).glob(f"{chapter}_*.ipynb"))
            sources = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
            assert set(exercise_ids_in(sources)) == {i for i in EXERCISES if i.startswith(chapter + ".")}, path


def test_every_hint_names_a_section_that_exists():
    """The first hint points at a chapter section by its title: the title must still be a heading."""
    import re

    for exercise_id in EXERCISES:
        exercise = registry().get(exercise_id)
        assert exercise.idea, f"{exercise_id}: no idea (first hint)"
        chapter_match = re.match(r'Chapter (\d+)([a-z]?), "([^"]+)"$', exercise.section)
        appendix_match = re.match(r'Appendix "([^"]+)", "([^"]+)"$', exercise.section)
        assert chapter_match or appendix_match, f"{exercise_id}: section {exercise.section!r} is not " \
                                                'Chapter N, "Title" or Appendix "Page", "Title"'
        if chapter_match:
            number, suffix, title = chapter_match.groups()
            pages = list((ROOT / "book").glob(f"ch{int(number):02d}{suffix}_*.ipynb"))
        else:
            page, title = appendix_match.groups()
            pages = [p for p in (ROOT / "book").glob("appendix_*.ipynb")
                     if nbformat.read(p, as_version=4).cells[0].source.lstrip("# ").startswith(page)]
        assert len(pages) == 1, f"{exercise_id}: no single page for {exercise.section!r}"
        headings = [line.lstrip("#").strip().replace("`", "")
                    for cell in nbformat.read(pages[0], as_version=4).cells if cell.cell_type == "markdown"
                    for line in cell.source.splitlines() if line.startswith("#")]
        assert title in headings, f"{exercise_id}: no heading {title!r} in {pages[0].name}"
