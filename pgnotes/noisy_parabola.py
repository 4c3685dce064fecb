r"""The search gradient on a noisy parabola: Figure 1 of Euskirchen's notes (chapter 1).

A scalar :math:`x` is scored by a black box that returns the parabola
:math:`f(x) = h - (x - x^\star)^2` plus Gaussian noise. The search distribution is
:math:`\mathcal N(\mu, \sigma^2)` with fixed :math:`\sigma`; each iteration of Algorithm 1
draws :math:`\lambda` samples, scores them, and moves the mean along the score-function
estimate

.. math:: \nabla_\mu J \approx \frac1\lambda \sum_{k} (f^{(k)} - b)\, \frac{x^{(k)} - \mu}{\sigma^2}.

:func:`run` records every generation so :func:`plot` can draw the figure: the samples and
their noisy fitness over the true parabola (the fitness values "hint at a gradient"), and
the mean moving to the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pgnotes import _validate
from pgnotes.estimators import score_function_gradient
from pgnotes.score import gaussian_score_mean


@dataclass(frozen=True)
class NoisyParabola:
    """Black-box fitness (maximized) :math:`h - (x - x^\\star)^2 + \\text{noise}`."""

    optimum: float = 3.0
    height: float = 10.0
    noise_std: float = 1.0

    def __post_init__(self):
        _validate.real("optimum", self.optimum)
        _validate.real("height", self.height)
        _validate.non_negative("noise_std", self.noise_std)

    def true_fitness(self, x) -> np.ndarray:
        x = _validate.finite_array("x", x)
        return self.height - (x - self.optimum) ** 2

    def __call__(self, x, rng: np.random.Generator) -> np.ndarray:
        x = _validate.finite_array("x", x)
        rng = _validate.generator(rng)
        return self.true_fitness(x) + self.noise_std * rng.standard_normal(x.shape)


@dataclass
class Trace:
    """What each iteration of :func:`run` saw: means, samples, noisy fitness and gradient estimates."""

    means: list[float] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)
    fitness: list[np.ndarray] = field(default_factory=list)
    gradients: list[float] = field(default_factory=list)
    stderrs: list[float] = field(default_factory=list)


def run(
    problem: NoisyParabola,
    *,
    mean: float = -3.0,
    sigma: float = 1.0,
    popsize: int = 20,
    step_size: float = 0.05,
    iterations: int = 40,
    baseline=None,
    rng: np.random.Generator | int = 0,
) -> Trace:
    """Algorithm 1 (Search Gradient) on the mean of N(mean, sigma^2); returns the :class:`Trace`. Chapter 1."""
    _validate.instance("problem", problem, NoisyParabola)
    mean = _validate.real("mean", mean)
    sigma = _validate.positive("sigma", sigma)
    step_size = _validate.positive("step_size", step_size)
    popsize = _validate.integer_at_least("popsize", popsize, 2)
    iterations = _validate.integer_at_least("iterations", iterations, 1)
    _validate.allocation("popsize * iterations (the trace keeps every sample)", popsize, iterations)
    if baseline is not None and not isinstance(baseline, str):
        _validate.real("baseline", baseline)
    rng = _validate.generator(rng)
    mu = float(mean)
    trace = Trace()
    for _ in range(iterations):
        x = mu + sigma * rng.standard_normal(popsize)                    # "mutation"
        f = problem(x, rng)                                               # evaluation
        g = gaussian_score_mean(x[:, None], np.array([mu]), np.array([sigma]))  # log-derivative
        estimate = score_function_gradient(f, g, baseline=baseline)      # gradient of J
        trace.means.append(mu)
        trace.samples.append(x)
        trace.fitness.append(f)
        trace.gradients.append(float(estimate.value[0]))
        trace.stderrs.append(float(estimate.stderr[0]))
        mu = mu + step_size * float(estimate.value[0])                    # "selection"
    trace.means.append(mu)
    return trace


def plot(trace: Trace, problem: NoisyParabola, *, generation: int = 0, axes=None):
    """Figure 1: samples of one generation over the parabola (top) and the mean per iteration (bottom)."""
    import matplotlib.pyplot as plt

    _validate.instance("trace", trace, Trace)
    _validate.instance("problem", problem, NoisyParabola)
    _validate.integer_at_least("generation", generation, 0, None)
    if not 0 <= generation < len(trace.samples):
        raise ValueError(f"generation must lie in [0, {len(trace.samples) - 1}], got {generation}")
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(7, 6), height_ratios=[3, 2])
    top, bottom = axes
    span = np.concatenate(trace.samples + [np.array(trace.means)])
    grid = np.linspace(min(span.min(), problem.optimum) - 1, max(span.max(), problem.optimum) + 1, 400)
    top.plot(grid, problem.true_fitness(grid), "g--", label="true fitness (unknown)")
    x, f, mu = trace.samples[generation], trace.fitness[generation], trace.means[generation]
    top.scatter(x, f, s=18, color="tab:blue", zorder=3, label=f"samples of generation {generation} (noisy fitness)")
    top.axvline(mu, color="tab:red", lw=1, label="search mean")
    arrow = 0.05 * trace.gradients[generation]
    top.annotate("", xy=(mu + arrow, f.min()), xytext=(mu, f.min()), arrowprops=dict(arrowstyle="->", color="tab:red", lw=2))
    top.set_ylabel("fitness")
    top.legend(fontsize="small", loc="lower right")
    iterations = np.arange(len(trace.means))
    bottom.plot(iterations, trace.means, color="tab:red", label="mean of the search distribution")
    bottom.axhline(problem.optimum, color="g", ls="--", label="optimum")
    bottom.set_xlabel("iteration")
    bottom.set_ylabel("x")
    bottom.legend(fontsize="small")
    return axes
