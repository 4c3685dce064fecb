"""pgnotes.viz (chapter 3): the covariance hook, search traces, frames, the HTML animation and the slider."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pgnotes.functions import as_fitness, rastrigin, sphere  # noqa: E402
from pgnotes.solvers.cem import CEM  # noqa: E402
from pgnotes.solvers.nes import NES  # noqa: E402
from pgnotes.solvers.openai_es import OpenAIES  # noqa: E402
from pgnotes.viz import (  # noqa: E402
    animate_search,
    animation_html,
    distribution_of,
    ellipse_points,
    plot_search_frame,
    search_widget,
    trace_search,
)

F = as_fitness(sphere)
BOX = ((-3, 3), (-3, 3))


class SigmaOnly:
    mean = np.array([1.0, 2.0])
    sigma = np.array([0.5, 2.0])


class Nothing:
    mean = np.array([0.0, 0.0])


def test_covariance_hook_order():
    mean, cov, source = distribution_of(NES(2, 4, cov="full", sigma0=0.5))
    assert source == "solver.covariance"
    np.testing.assert_allclose(cov, 0.25 * np.eye(2))
    _, cov, source = distribution_of(SigmaOnly())
    assert source == "solver.sigma"
    np.testing.assert_allclose(cov, np.diag([0.25, 4.0]))
    pop = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    _, cov, source = distribution_of(Nothing(), pop)
    assert source == "population"
    np.testing.assert_allclose(cov, np.diag([0.5, 2.0]))


def test_trace_records_the_distribution_before_each_update():
    solver = NES(2, 6, mean=[2.0, 2.0], cov="diagonal", rng=0)
    means = [solver.mean.copy()]
    trace = trace_search(F, solver, 5)
    assert len(trace) == 5 and trace.frames[0].population.shape == (6, 2)
    np.testing.assert_allclose(trace.frames[0].mean, means[0])
    np.testing.assert_allclose(trace.means[-1], solver.mean)
    assert trace.means.shape == (6, 2)
    for fr in trace.frames:
        np.testing.assert_allclose(fr.fitness, F(fr.population))


def test_ellipse_points_lie_on_the_mahalanobis_contour():
    cov = np.array([[2.0, 0.8], [0.8, 1.0]])
    pts = ellipse_points([1.0, -1.0], cov, n_std=2.0, n=50)
    d = pts - [1.0, -1.0]
    np.testing.assert_allclose(np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d), 4.0, rtol=1e-10)


def test_frame_and_animation_for_several_solvers():
    f = as_fitness(rastrigin)
    traces = [
        trace_search(f, NES(2, 8, mean=[2.0, 2.0], rng=0), 3, name="NES"),
        trace_search(f, OpenAIES(2, 8, mean=[2.0, 2.0], sigma=0.5, lr=0.1, rng=0), 3),
        trace_search(f, CEM(2, 8, mean=[2.0, 2.0], sigma0=1.0, elite_frac=0.25, rng=0), 3),
    ]
    fig = plot_search_frame(traces, f, BOX, 1)
    assert len(fig.axes) == 3 and "generation 1" in fig.axes[0].get_title()
    plt.close(fig)
    html = animation_html(animate_search(traces, f, BOX, panel_size=2.0, dpi=40)).data
    assert "<script" in html and html.count("data:image/jpeg;base64") == 3
    assert "http" not in html and "fa-play" not in html and "&#9654;" in html  # self-contained for the offline book


def test_widget_default_is_the_middle_generation():
    trace = trace_search(F, OpenAIES(2, 4, mean=[1.0, 1.0], sigma=0.3, rng=0), 5)
    widget = search_widget(trace, F, BOX)
    slider, image = widget.children
    assert (slider.min, slider.max, slider.value) == (0, 4, 2)
    first = image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    slider.value = 4  # moving the slider redraws the picture
    assert image.value != first
    plt.close("all")
    with pytest.raises(ValueError, match="default"):
        search_widget(trace, F, BOX, default=9)


def test_bad_input():
    trace = trace_search(F, OpenAIES(2, 4, rng=0), 2)
    with pytest.raises(ValueError, match="bounds"):
        plot_search_frame(trace, F, ((1, -1), (0, 1)))
    with pytest.raises(ValueError, match="t must"):
        plot_search_frame(trace, F, BOX, 7)
    with pytest.raises(ValueError, match="dim == 2"):
        plot_search_frame(trace_search(as_fitness(sphere), OpenAIES(3, 4, rng=0), 1), F, BOX)
    with pytest.raises(ValueError, match="traces"):
        animate_search([], F, BOX)
    with pytest.raises(ValueError, match="generations"):
        trace_search(F, OpenAIES(2, 4, rng=0), 0)
    plt.close("all")
