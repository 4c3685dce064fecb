"""Pictures of black-box search on 2-D landscapes, shared by every solver of the course (chapter 3).

Per generation: the fitness landscape, the population the solver asked for, the mean of its
search distribution and the distribution's covariance ellipse (1 and 2 standard deviations).
:func:`trace_search` records a run through the ask/tell interface; :func:`plot_search_frame`
draws one generation; :func:`animate_search` makes a matplotlib animation (one panel per
solver) and :func:`animation_html` turns it into JavaScript/HTML that plays in the static
book; :func:`search_widget` is an ipywidgets slider that steps through the generations (an
``Image`` widget redrawn on each move, so the executed notebook stores the default frame).

The covariance hook
-------------------
A solver tells this module the shape of its search distribution through, in order:

1. ``solver.covariance`` -- a (dim, dim) array (attribute or property), e.g. :class:`NES`,
   :class:`OpenAIES`, CEM and CMA-ES;
2. ``solver.sigma`` -- a scalar (isotropic, ``sigma**2 I``) or a (dim,) array (diagonal);
3. otherwise the sample covariance of the population it asked for (labelled "population").

The landscape is drawn from the *objective* ``-fitness`` (the minimized functions of
:mod:`pgnotes.functions`), on a log color scale when it is non-negative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from pgnotes import _validate


@dataclass
class SearchFrame:
    """One generation: the distribution that produced ``population``, and the fitness it got."""

    generation: int
    population: np.ndarray  #: (popsize, dim)
    fitness: np.ndarray  #: (popsize,), maximized
    mean: np.ndarray  #: (dim,) mean before the update
    covariance: np.ndarray  #: (dim, dim) covariance before the update
    covariance_source: str  #: "solver.covariance", "solver.sigma" or "population"


@dataclass
class SearchTrace:
    """A recorded run: frames of :class:`SearchFrame` plus the final mean (after the last update)."""

    name: str
    frames: list[SearchFrame] = field(default_factory=list)
    final_mean: np.ndarray | None = None
    final_covariance: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def means(self) -> np.ndarray:
        """(generations + 1, dim): the mean before each update, then the final mean."""
        rows = [fr.mean for fr in self.frames]
        if self.final_mean is not None:
            rows.append(self.final_mean)
        return np.array(rows)

    @property
    def best_fitness(self) -> np.ndarray:
        """Best fitness of each generation's population."""
        return np.array([fr.fitness.max() for fr in self.frames])


def distribution_of(solver, population: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """``(mean, covariance, source)`` of a solver's search distribution through the covariance hook (module doc)."""
    if not hasattr(solver, "mean"):
        raise TypeError(f"solver must have a mean (a search distribution's centre), got {type(solver).__name__}")
    mean = np.array(solver.mean, dtype=np.float64)
    dim = mean.shape[0]
    cov = getattr(solver, "covariance", None)
    if cov is not None:
        cov = np.array(cov() if callable(cov) else cov, dtype=np.float64)
        if cov.shape != (dim, dim):
            raise ValueError(f"{type(solver).__name__}.covariance must have shape {(dim, dim)}, got {cov.shape}")
        return mean, cov, "solver.covariance"
    sigma = getattr(solver, "sigma", None)
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=np.float64)
        return mean, np.diag(np.broadcast_to(sigma**2, (dim,))).astype(np.float64), "solver.sigma"
    if population is None or len(population) < 2:
        return mean, np.full((dim, dim), np.nan), "population"
    centred = np.asarray(population) - mean
    return mean, centred.T @ centred / len(population), "population"


def _solver_like(solver) -> None:
    if not all(hasattr(solver, name) for name in ("ask", "tell", "mean")):
        raise TypeError(f"solver must be an ask/tell solver with a mean (e.g. pgnotes.solvers.cmaes.CMAES), got {type(solver).__name__}")


def _evaluate(f: Callable, x: np.ndarray, vectorized: bool) -> np.ndarray:
    values = np.asarray(f(x), dtype=np.float64) if vectorized else np.array([f(xi) for xi in x], dtype=np.float64)
    if values.shape != (x.shape[0],):
        raise ValueError(f"f must return one fitness per candidate, expected shape ({x.shape[0]},), got {values.shape}")
    return values


def trace_search(f: Callable, solver, generations: int, *, vectorized: bool = True, name: str | None = None) -> SearchTrace:
    """Run ``generations`` ask/tell generations of ``solver`` on fitness ``f`` (maximized) and record every one.

    Each frame holds the mean and covariance *before* the update (the distribution that
    sampled the population), the population and its fitness. Any dimension is recorded;
    the plots need ``dim == 2``. ``f`` takes the whole population when ``vectorized``.
    """
    _validate.callable_("f", f)
    _solver_like(solver)
    generations = _validate.integer_at_least("generations", generations, 1)
    _validate.boolean("vectorized", vectorized)
    popsize, dim = getattr(solver, "popsize", 1), getattr(solver, "dim", 1)
    _validate.allocation("generations * popsize * dim (every population is recorded)", generations, popsize, dim)
    trace = SearchTrace(name or type(solver).__name__)
    for _ in range(generations):
        mean, cov, source = distribution_of(solver)
        x = solver.ask()
        fitness = _evaluate(f, x, vectorized)
        if source == "population":
            mean, cov, source = distribution_of(solver, x)
        trace.frames.append(SearchFrame(solver.generation, x.copy(), fitness, mean, cov, source))
        solver.tell(x, fitness)
    trace.final_mean, trace.final_covariance, _ = distribution_of(solver)
    return trace


# -- drawing --------------------------------------------------------------------------------------
def _bounds(bounds) -> tuple[tuple[float, float], tuple[float, float]]:
    b = _validate._as_float_array("bounds", bounds)
    if b.shape == (2,):
        b = np.array([b, b])
    if b.shape != (2, 2) or not np.all(np.isfinite(b)) or np.any(b[:, 0] >= b[:, 1]):
        raise ValueError(f"bounds must be (low, high) or ((xlow, xhigh), (ylow, yhigh)) with low < high, got {bounds!r}")
    return (float(b[0, 0]), float(b[0, 1])), (float(b[1, 0]), float(b[1, 1]))


def plot_landscape(f: Callable, bounds, ax=None, *, resolution: int = 150, log: bool | None = None, cmap: str = "viridis_r"):
    """Draw the objective ``-f`` (``f`` a vectorized fitness, maximized) over ``bounds`` as an image; returns ``ax``.

    ``log`` (default: when the objective is non-negative) colors by ``log10(objective)``.
    """
    import matplotlib.pyplot as plt

    _validate.callable_("f", f)
    (x0, x1), (y0, y1) = _bounds(bounds)
    resolution = _validate.integer_at_least("resolution", resolution, 2, 4000)
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    values = _validate._as_float_array("f(points)", f(grid.reshape(-1, 2)))
    if values.shape != (resolution * resolution,):
        raise ValueError(f"f must map points (n, 2) to fitness values (n,), got shape {values.shape} for n = {resolution**2}")
    if not np.all(np.isfinite(values)):
        raise ValueError("f must return finite values over bounds; some are NaN or inf")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    objective = -values.reshape(resolution, resolution)
    if log is None:
        log = bool(np.all(objective >= 0))
    values = np.log10(objective + 1e-12 * max(1.0, float(objective.max()))) if log else objective
    ax.imshow(values, origin="lower", extent=(x0, x1, y0, y1), cmap=cmap, aspect="auto", interpolation="bilinear")
    ax.contour(xs, ys, values, levels=12, colors="white", linewidths=0.4, alpha=0.5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return ax


def ellipse_points(mean, covariance, n_std: float = 1.0, n: int = 100) -> np.ndarray:
    """Points (n, 2) on the ``n_std`` contour of the Gaussian ``N(mean, covariance)`` in 2-D."""
    mean = _validate.finite_array("mean", mean, shape=(2,))
    n_std = _validate.positive("n_std", n_std)
    n = _validate.integer_at_least("n", n, 2, 10**6)
    covariance = _validate._as_float_array("covariance", covariance)
    if covariance.shape != (2, 2):
        raise ValueError(f"covariance must be 2x2 for an ellipse, got shape {covariance.shape}")
    if not np.all(np.isfinite(covariance)):
        return np.full((n, 2), np.nan)
    vals, vecs = np.linalg.eigh(0.5 * (covariance + covariance.T))
    radii = n_std * np.sqrt(np.clip(vals, 0, None))
    angle = np.linspace(0, 2 * np.pi, n)
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return np.asarray(mean) + (circle * radii) @ vecs.T


class _Panel:
    """The artists of one solver's panel, updated in place frame by frame."""

    def __init__(self, ax, trace: SearchTrace, f: Callable, bounds, title: str | None):
        if trace.frames and trace.frames[0].population.shape[1] != 2:
            raise ValueError(f"plots need dim == 2, trace {trace.name!r} has dim {trace.frames[0].population.shape[1]}")
        self.ax, self.trace = ax, trace
        plot_landscape(f, bounds, ax)
        self.path, = ax.plot([], [], color="white", lw=1.0, alpha=0.9)
        self.pop = ax.scatter([], [], s=14, c="tab:orange", edgecolors="black", linewidths=0.4, zorder=3)
        self.ell1, = ax.plot([], [], color="red", lw=1.5, zorder=4)
        self.ell2, = ax.plot([], [], color="red", lw=1.0, ls="--", zorder=4)
        self.mean, = ax.plot([], [], marker="X", color="red", markeredgecolor="white", ms=9, ls="none", zorder=5)
        self.title = title or trace.name
        ax.set_xticks([])
        ax.set_yticks([])

    def update(self, t: int):
        frames = self.trace.frames
        fr = frames[min(t, len(frames) - 1)]
        means = self.trace.means[: min(t, len(frames) - 1) + 1]
        self.path.set_data(means[:, 0], means[:, 1])
        self.pop.set_offsets(fr.population)
        for line, k in ((self.ell1, 1.0), (self.ell2, 2.0)):
            pts = ellipse_points(fr.mean, fr.covariance, k)
            line.set_data(pts[:, 0], pts[:, 1])
        self.mean.set_data([fr.mean[0]], [fr.mean[1]])
        self.ax.set_title(f"{self.title}\ngeneration {fr.generation}, best {fr.fitness.max():.3g}", fontsize=9)
        return self.path, self.pop, self.ell1, self.ell2, self.mean


def _as_list(traces) -> list[SearchTrace]:
    if not isinstance(traces, SearchTrace) and (isinstance(traces, (str, bytes)) or not hasattr(traces, "__iter__")):
        raise TypeError(f"traces must be a SearchTrace (from trace_search) or a list of them, got {type(traces).__name__}")
    traces = [traces] if isinstance(traces, SearchTrace) else list(traces)
    if not traces or not all(isinstance(t, SearchTrace) and len(t) > 0 for t in traces):
        raise ValueError("traces must be a non-empty SearchTrace or a list of them, each with at least one frame")
    return traces


def _figure(traces, f, bounds, titles, panel_size):
    import matplotlib.pyplot as plt

    traces = _as_list(traces)
    _validate.callable_("f", f)
    _bounds(bounds)
    panel_size = _validate.real("panel_size", panel_size, 0.5, 50.0)
    if isinstance(titles, str):
        raise TypeError("titles must be a list of strings, one per trace, not one string")
    titles = list(titles) if titles is not None else [None] * len(traces)
    if len(titles) != len(traces):
        raise ValueError(f"titles must have one entry per trace ({len(traces)}), got {len(titles)}")
    fig, axes = plt.subplots(1, len(traces), figsize=(panel_size * len(traces), panel_size + 0.3), squeeze=False)
    panels = [_Panel(ax, tr, f, bounds, ti) for ax, tr, ti in zip(axes[0], traces, titles)]
    for p in panels:
        p.update(0)  # titles in place before the layout reserves room for them
    fig.tight_layout()
    return fig, panels


def plot_search_frame(traces, f: Callable, bounds, t: int = -1, *, titles: Sequence[str] | None = None, panel_size: float = 3.2):
    """Draw generation ``t`` (default: the last) of one trace or several side by side; returns the figure.

    ``f`` is the (vectorized, maximized) fitness the traces were recorded on; ``bounds`` the
    plotted box. Population: orange dots; mean: red cross and its path so far (white);
    covariance: red ellipses at 1 and 2 standard deviations.
    """
    _validate.integer_at_least("t", t, -1, None)
    n = max(len(tr) for tr in _as_list(traces))
    t = n - 1 if t == -1 else int(t)
    if not 0 <= t < n:
        raise ValueError(f"t must lie in [0, {n - 1}] or be -1, got {t}")
    fig, panels = _figure(traces, f, bounds, titles, panel_size)
    for p in panels:
        p.update(t)
    return fig


def animate_search(traces, f: Callable, bounds, *, titles: Sequence[str] | None = None, interval: int = 250,
                   panel_size: float = 3.2, dpi: int = 72):
    """A ``matplotlib.animation.FuncAnimation`` over the generations of one or several traces (one panel each).

    Show it in a notebook with :func:`animation_html`, which plays in the static HTML book.
    The figure is closed so it is not drawn a second time as a still.
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    interval = _validate.integer_at_least("interval", interval, 1, 10**6)
    dpi = _validate.integer_at_least("dpi", dpi, 10, 1000)
    fig, panels = _figure(traces, f, bounds, titles, panel_size)
    fig.set_dpi(dpi)
    n = max(len(p.trace) for p in panels)

    def update(t):
        artists = []
        for p in panels:
            artists.extend(p.update(t))
        return artists

    anim = FuncAnimation(fig, update, frames=n, interval=interval, blit=False)
    anim.pgnotes_dpi = dpi  # read by animation_html (a notebook backend may reset the figure's dpi)
    plt.close(fig)
    return anim


def animation_html(anim, *, default_mode: str = "once", frame_format: str = "jpeg"):
    """``IPython.display.HTML`` of ``anim.to_jshtml()``: frames embedded as images with play controls, no server needed.

    Frames are JPEG by default (about five times smaller than PNG for these smooth landscapes).
    """
    import matplotlib
    from IPython.display import HTML

    if frame_format not in ("jpeg", "png"):
        raise ValueError(f"frame_format must be 'jpeg' or 'png', got {frame_format!r}")
    _validate.one_of("default_mode", default_mode, ("loop", "once", "reflect"))
    if not hasattr(anim, "to_jshtml"):
        raise TypeError(f"anim must be a matplotlib Animation (from animate_search), got {type(anim).__name__}")
    with matplotlib.rc_context({"animation.frame_format": frame_format,
                                "savefig.dpi": getattr(anim, "pgnotes_dpi", "figure")}):
        html = anim.to_jshtml(default_mode=default_mode)
    return HTML(offline_controls(html))


_ICONS = {
    "fa fa-minus": "&minus;", "fa fa-plus": "+", "fa fa-fast-backward": "|&#9664;&#9664;",
    "fa fa-step-backward": "|&#9664;", "fa fa-play fa-flip-horizontal": "&#9664;", "fa fa-pause": "||",
    "fa fa-play": "&#9654;", "fa fa-step-forward": "&#9654;|", "fa fa-fast-forward": "&#9654;&#9654;|",
}


def offline_controls(html: str) -> str:
    """Make matplotlib's ``to_jshtml`` output self-contained: drop its Font Awesome stylesheet
    (fetched from a CDN, which fails offline) and draw the buttons with plain text symbols."""
    import re

    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">', "", html)
    return re.sub(r'<i class="(fa [^"]*)"></i>', lambda m: _ICONS.get(m.group(1), ""), html)


def frame_png(traces, f: Callable, bounds, t: int, *, titles: Sequence[str] | None = None, panel_size: float = 3.2,
              dpi: int = 80) -> bytes:
    """PNG bytes of :func:`plot_search_frame` for generation ``t`` (the figure is closed)."""
    import io

    import matplotlib.pyplot as plt

    fig = plot_search_frame(traces, f, bounds, t, titles=titles, panel_size=panel_size)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def search_widget(traces, f: Callable, bounds, *, default: int | None = None, titles: Sequence[str] | None = None,
                  panel_size: float = 3.2, dpi: int = 80):
    """An ipywidgets ``IntSlider`` over the generations above an ``Image`` of :func:`plot_search_frame`.

    Moving the slider redraws the frame (in a running notebook). ``default`` (the frame the
    executed notebook stores and the static HTML book shows) defaults to the middle
    generation. The picture is an ``ipywidgets.Image`` rather than captured output, which keeps
    notebook execution (nbclient, nbval) free of output-capture races. Returns the
    ``ipywidgets.VBox``; its ``children`` are ``(slider, image)``.
    """
    import ipywidgets as widgets

    traces = _as_list(traces)
    n = max(len(t) for t in traces)
    if default is not None:
        _validate.integer_at_least("default", default, 0, None)
    value = n // 2 if default is None else int(default)
    if not 0 <= value < n:
        raise ValueError(f"default must lie in [0, {n - 1}], got {default}")

    def render(generation: int) -> bytes:
        return frame_png(traces, f, bounds, generation, titles=titles, panel_size=panel_size, dpi=dpi)

    slider = widgets.IntSlider(value=value, min=0, max=n - 1, step=1, description="generation",
                               continuous_update=False)
    image = widgets.Image(value=render(value), format="png")
    slider.observe(lambda change: setattr(image, "value", render(change["new"])), names="value")
    return widgets.VBox([slider, image])
