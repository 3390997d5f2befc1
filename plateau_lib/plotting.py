"""Plotting functions shared by every chapter, in one consistent style.

Each function draws onto a given :class:`matplotlib.axes.Axes` and returns it,
so chapters compose figures freely; :func:`figure` makes a styled figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from .network import ShallowReLU, breakpoints_1d
from .result import TrainResult

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.4,
}
#: Width (inches) of the book's content column at a desktop's width (672 CSS px at 1280 px, 96 CSS px
#: per inch): a figure this wide is shown at its own size, so its text shows at the points it is
#: drawn in (at least 9; ``book browse`` checks it). A wider figure is scaled down to fit.
COLUMN_WIDTH_IN = 7.0
SEGMENT_COLOURS = ("#dbe9f6", "#f6e7d7")
PLATEAU_COLOUR = "#d62728"
CHANGE_COLOUR = "0.35"


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 7.0, height: float = 3.0,
           detached: bool = False, layout: str | None = "constrained", **kwargs) -> tuple[Figure, np.ndarray]:
    """A figure in the book's style with an ``nrows`` x ``ncols`` array of axes (always 2-D).

    The order of ``nrows`` and ``ncols`` is matplotlib's (:func:`matplotlib.pyplot.subplots`);
    the array is 2-D even for one row, so ``axes[0, k]`` always works.

    ``detached=True`` makes a figure that pyplot does not manage: a notebook never shows it
    by itself and it is freed with its last reference (the explorers redraw one repeatedly
    and render it to PNG themselves). ``layout=None`` skips matplotlib's constrained layout,
    which costs about half of a render; the caller then places the axes itself.
    """
    with mpl.rc_context(STYLE):
        if detached:
            fig = Figure(figsize=(width, height), layout=layout)
            axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
        else:
            fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False,
                                     layout=layout, **kwargs)
    for ax in axes.flat:
        _style_axes(ax)
    return fig, axes


def span_row(fig: Figure, axes: np.ndarray, row: int) -> Axes:
    """Replace the axes of row ``row`` of a :func:`figure` by one styled axes spanning the whole row."""
    spec = axes[row, 0].get_subplotspec().get_gridspec()
    for ax in axes[row]:
        ax.remove()
    with mpl.rc_context(STYLE):
        ax = fig.add_subplot(spec[row, :])
    _style_axes(ax)
    return ax


def _style_axes(ax: Axes) -> None:
    for key, value in STYLE.items():
        if key.startswith("axes.spines."):
            ax.spines[key.rsplit(".", 1)[1]].set_visible(value)
    ax.grid(True, alpha=STYLE["grid.alpha"])


def shade_segments(ax: Axes, segments: Sequence, *, alpha: float = 0.8) -> Axes:
    """Shade alternating constant-pattern segments (objects with ``start``, ``end``).

    Each segment is a full-height band, as :meth:`~matplotlib.axes.Axes.axvspan` draws it, but
    the bands of one colour form a single collection: a run has thousands of segments, and one
    patch each makes the figure slow to draw.
    """
    spans = np.array([(max(seg.start, 1), seg.end) for seg in segments], dtype=float).reshape(-1, 2)
    for k, colour in enumerate(SEGMENT_COLOURS):
        x0, x1 = spans[k::2, 0], spans[k::2, 1]
        if not x0.size:
            continue
        bands = np.stack([np.column_stack([x0, np.zeros_like(x0)]), np.column_stack([x0, np.ones_like(x0)]),
                          np.column_stack([x1, np.ones_like(x1)]), np.column_stack([x1, np.zeros_like(x1)])], axis=1)
        ax.add_collection(PolyCollection(bands, transform=ax.get_xaxis_transform(), facecolors=colour,
                                         alpha=alpha, linewidths=0, zorder=0), autolim=False)
    if spans.size:
        ax.update_datalim(np.column_stack([spans.ravel(), np.zeros(spans.size)]), updatey=False)
        ax.autoscale_view()
    return ax


def plot_loss(ax: Axes, result: TrainResult, *, label: str | None = None, logx: bool = True,
              x: str = "steps", **kwargs) -> Axes:
    """Loss against step (or ``x="time"`` for wall time) on a log scale."""
    xs = result.steps + 1 if x == "steps" else result.times
    ax.plot(xs, result.loss, label=label, **kwargs)
    ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel("step + 1" if x == "steps" else "wall time [s]")
    ax.set_ylabel("loss $L$")
    return ax


def plot_plateaus(ax: Axes, plateaus: Sequence, levels: Sequence[float] | None = None) -> Axes:
    """Mark detected plateaus (``start``, ``end``, ``level``) and optional predicted levels."""
    for k, p in enumerate(plateaus):
        ax.hlines(p.level, max(p.start, 1), p.end, color=PLATEAU_COLOUR, lw=3, alpha=0.55,
                  label="detected plateau" if k == 0 else None, zorder=3)
        if levels is not None:
            ax.hlines(levels[k], max(p.start, 1), p.end, color="k", lw=1, ls="--",
                      label=r"$L^*(D, S)$ of its pattern" if k == 0 else None, zorder=4)
    return ax


def plot_counts(ax: Axes, result: TrainResult, *, logx: bool = True, neurons: Sequence[int] | None = None,
                highlight: Sequence[int] | None = None) -> Axes:
    """Activation counts :math:`a_j` of each neuron against step, as step functions.

    With ``highlight``, those neurons are drawn in colour (``C0``, ``C1``, ... in their order) over
    the others in light grey: many neurons' counts overlap, and a reader can follow a few.
    """
    cols = range(result.counts.shape[1]) if neurons is None else neurons
    cmap = plt.get_cmap("tab20")
    picked = {j: k for k, j in enumerate(highlight)} if highlight is not None else None
    for j in cols:
        if picked is None:
            style = {"color": cmap(j % 20), "lw": 1.0}
        elif j in picked:
            style = {"color": f"C{picked[j] % 10}", "lw": 1.3, "zorder": 3}
        else:
            style = {"color": "0.8", "lw": 0.7, "zorder": 2}
        ax.step(result.steps + 1, result.counts[:, j], where="post", **style)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("active points $a_j$")
    return ax


#: Points of the fine grid on which :func:`network_curve_1d` evaluates a 1-D network.
CURVE_POINTS = 801


def network_curve_1d(net: ShallowReLU, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fine grid over the data's range (:data:`CURVE_POINTS` points) and the network on it.

    What :func:`plot_network_1d` draws; the explorers save it as the data of their frames.
    """
    x = X[:, 0]
    fine = np.linspace(x.min(), x.max(), CURVE_POINTS)
    return fine, net(fine[:, None])


def plot_network_1d(ax: Axes, net: ShallowReLU, X: np.ndarray, y: np.ndarray, *, label: str | None = None,
                    data: bool = True, breakpoints: bool = True, color: str | None = None) -> Axes:
    """The data, the network on a fine grid (:func:`network_curve_1d`), and its breakpoints inside the data range."""
    x = X[:, 0]
    if data:
        ax.plot(x, y, "o", ms=3, color="0.4", label="data", zorder=2)
    (line,) = ax.plot(*network_curve_1d(net, X), label=label, color=color, zorder=3)
    if breakpoints:
        t = breakpoints_1d(net)
        t = t[np.isfinite(t) & (t > x.min()) & (t < x.max())]
        if t.size:
            ax.plot(t, net(t[:, None]), "|", ms=10, mew=1.5, color=line.get_color(), zorder=4)
    ax.set_xlabel("$x$")
    return ax


def _breakpoint_line(ax: Axes, w: np.ndarray, b: float, span: float, **style) -> float:
    """Draw the line :math:`w\\cdot x + b = 0` (2-D) over a length ``2 span``; return :math:`|w|` (0: nothing drawn)."""
    norm = float(np.hypot(w[0], w[1]))
    if norm > 0:
        p = -b * np.asarray(w) / norm**2
        ax.plot([p[0] + span * w[1] / norm, p[0] - span * w[1] / norm],
                [p[1] - span * w[0] / norm, p[1] + span * w[0] / norm], **style)
    return norm


def _grid_2d(net: ShallowReLU, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 121 x 121 grid over the data's bounding box and the network on it."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 121), np.linspace(lo[1], hi[1], 121), indexing="ij")
    return g0, g1, net(np.column_stack([g0.ravel(), g1.ravel()])).reshape(g0.shape)


def shared_levels_2d(nets: Sequence[ShallowReLU], X: np.ndarray, n: int = 15) -> np.ndarray:
    """``n + 1`` contour levels spanning the values of every network in ``nets`` on the grid of
    :func:`plot_network_2d`: panels drawn with them share one colour scale (see :func:`levels_colorbar`)."""
    values = [_grid_2d(net, X)[2] for net in nets]
    lo, hi = min(float(v.min()) for v in values), max(float(v.max()) for v in values)
    return mpl.ticker.MaxNLocator(nbins=n).tick_values(lo, hi)  # round values that cover [lo, hi]


def levels_colorbar(fig: Figure, axes, levels: np.ndarray, *, label: str, cmap: str = "viridis", **kwargs):
    """One colourbar for panels filled with the contour ``levels`` (:func:`shared_levels_2d`), about
    six of them labelled; ``kwargs`` go to :meth:`~matplotlib.figure.Figure.colorbar`."""
    norm = mpl.colors.BoundaryNorm(levels, plt.get_cmap(cmap).N)
    bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=label, **kwargs)
    bar.locator = mpl.ticker.MaxNLocator(nbins=6)
    return bar


def plot_network_2d(ax: Axes, net: ShallowReLU, X: np.ndarray, *, levels: int | np.ndarray = 15,
                    neurons: Sequence[int] | None = None) -> Axes:
    """Filled contours of a 2-D network on the data's bounding box, with the lines
    :math:`w_j \\cdot x + b_j = 0` of the neurons in ``neurons`` (default: all).

    ``levels``: the number of levels, chosen for this network, or the level values (the same for
    panels that compare: :func:`shared_levels_2d`).
    """
    lo, hi = X.min(axis=0), X.max(axis=0)
    g0, g1, values = _grid_2d(net, X)
    ax.contourf(g0, g1, values, levels=levels, cmap="viridis")
    span = 3 * float(np.max(hi - lo))
    for j in range(net.n) if neurons is None else neurons:
        _breakpoint_line(ax, net.W[j], net.b[j], span, color="w", lw=0.6, alpha=0.8)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    return ax


def shade_plateaus(ax: Axes, rows: Sequence, *, label: str | None = None) -> Axes:
    """A light red band over each detected plateau (rows with ``start``, ``end``), for panels against step."""
    for k, r in enumerate(rows):
        ax.axvspan(max(r.start, 1), r.end, color="C3", alpha=0.08, lw=0, label=label if k == 0 else None)
    return ax


def plot_raw_changes(ax: Axes, changes: Sequence[int], *, y: float = 0.02, **kwargs) -> Axes:
    """A rug of raw pattern-change steps along the bottom of ``ax`` (axes-fraction height ``y``)."""
    style = {"color": "0.25", "lw": 0.4, "alpha": 0.5} | kwargs
    return rug(ax, np.maximum(np.asarray(changes, dtype=float), 1.0), y, **style)


def rug(ax: Axes, xs: ArrayLike, height: float, **style) -> Axes:
    """Vertical ticks at ``xs`` from the bottom of ``ax`` up to axes-fraction ``height``.

    Drawn as one line broken by NaNs rather than one segment per tick
    (:meth:`~matplotlib.axes.Axes.vlines`): runs have tens of thousands of pattern changes, and on
    a log axis every separate segment is transformed separately.
    """
    xs = np.asarray(xs, dtype=float).ravel()
    if xs.size:
        x = np.repeat(xs, 3)
        x[2::3] = np.nan
        y = np.tile([0.0, height, np.nan], xs.size)
        ax.plot(x, y, transform=ax.get_xaxis_transform(), scalex=True, scaley=False, **style)
    return ax


def plot_run_overview(ax: Axes, result: TrainResult, segments: Sequence, rows: Sequence, *,
                      raw_changes: bool = True) -> Axes:
    """Loss (log-log) with the filtered constant-pattern segments shaded in alternating
    colours, the raw pattern changes as a rug, and each detected plateau with its level
    :math:`L^*(D, S)` (rows with ``start``, ``end``, ``level``, ``lstar``)."""
    shade_segments(ax, segments)
    if raw_changes:
        plot_raw_changes(ax, result.pattern_changes)
    plot_loss(ax, result, color="C0", label="GD loss", zorder=5)
    plot_plateaus(ax, rows, levels=[r.lstar for r in rows])
    ax.set_xlim(1, result.steps[-1] + 1)
    return ax


def plot_snapshots_1d(axes: Sequence[Axes], nets: Sequence[ShallowReLU], titles: Sequence[str],
                      X: np.ndarray, y: np.ndarray) -> Sequence[Axes]:
    """Small multiples: the data and each network in ``nets`` with its breakpoints."""
    for k, (ax, net, title) in enumerate(zip(axes, nets, titles, strict=True)):
        plot_network_1d(ax, net, X, y, color=f"C{k % 10}")
        ax.set_title(title)
    return axes


def snapshot_legend_handles() -> list:
    """Legend handles that explain a panel of :func:`plot_snapshots_1d` (data, network, breakpoints)."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], ls="", marker="o", ms=3, color="0.4", label="data"),
            Line2D([], [], color="C0", label="network $N(x)$"),
            Line2D([], [], ls="", marker="|", ms=10, mew=1.5, color="C0", label="breakpoint $-b_j/w_j$")]


def plot_plateau_timeline(ax: Axes, rows: Sequence, *, last_step: float, legend: bool = True) -> Axes:
    """One line per seed: each detected plateau as a bar on a log-step axis, coloured by
    whether it lies within one constant-pattern segment (rows with ``seed``, ``start``,
    ``end``, ``within``). ``legend=False``: the labels only (for a legend of the figure)."""
    seeds = sorted({r.seed for r in rows})
    position = {s: k for k, s in enumerate(seeds)}
    for r in rows:
        colour = "C2" if r.within else PLATEAU_COLOUR
        ax.plot([max(r.start, 1), r.end], [position[r.seed]] * 2, color=colour, lw=4, solid_capstyle="butt")
    ax.set_xscale("log")
    ax.set_xlim(1, last_step + 1)
    every = 1 if len(seeds) <= 12 else 2 if len(seeds) <= 24 else 5  # labels of the body size that fit
    ax.set_yticks(range(0, len(seeds), every), [str(s) for s in seeds[::every]])
    ax.set_ylim(-0.7, len(seeds) - 0.3)
    ax.set_ylabel("seed")
    ax.set_xlabel("step + 1")
    ax.plot([], [], color="C2", lw=4, label="within one segment")
    ax.plot([], [], color=PLATEAU_COLOUR, lw=4, label="pattern changes inside")
    if legend:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    return ax


def plot_level_agreement(ax: Axes, levels: np.ndarray, lstars: np.ndarray, mask: np.ndarray | None = None, *,
                         legend: bool = True) -> Axes:
    """Observed plateau level against :math:`L^*(D, S)` of its pattern, with the diagonal.
    ``legend=False``: the labels only (for a legend of the figure)."""
    mask = np.ones(len(levels), bool) if mask is None else np.asarray(mask, bool)
    lo = min(levels.min(), lstars.min()) / 2
    hi = max(levels.max(), lstars.max()) * 2
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--", label="$L = L^*$")
    ax.plot(lstars[mask], levels[mask], "o", ms=4, color="C0", label="plateau followed by a drop")
    ax.plot(lstars[~mask], levels[~mask], "s", ms=4, mfc="none", color="C1", label="final stagnation")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.set_xlabel(r"$L^*(D, S)$ of the plateau's pattern")
    ax.set_ylabel("median loss on the plateau")
    if legend:
        ax.legend(loc="lower right")
    return ax


# --------------------------------------------------------------------------- chapter 2 (quantification)


def plot_gap_and_bound(ax: Axes, t: np.ndarray, gap: np.ndarray, bound: np.ndarray, *, label: str,
                       bound_label: str | None = None, color: str = "C0", **kwargs) -> Axes:
    """A decaying gap (e.g. :math:`L - L^*`) and its bound against time, log scale in the gap."""
    ax.plot(t, gap, color=color, label=label, **kwargs)
    ax.plot(t, bound, color=color, ls="--", lw=1.0, label=bound_label)
    ax.set_yscale("log")
    ax.set_xlabel("time $t$ since the segment start")
    return ax


def plot_rate_history(ax: Axes, t: np.ndarray, lam: np.ndarray, *, events: Sequence[float] = (),
                      label: str | None = None, color: str = "C2") -> Axes:
    """The kernel's smallest positive eigenvalue :math:`\\lambda(t)` (log scale), with event times as a rug."""
    ok = lam > 0
    ax.plot(t[ok], lam[ok], color=color, label=label, lw=1.0)
    ax.set_yscale("log")
    if len(events):
        rug(ax, events, 0.03, color="0.3", lw=0.4)
    ax.set_xlabel("time $t$")
    ax.set_ylabel(r"$\lambda(t)$")
    return ax


def plot_per_neuron(ax: Axes, t: np.ndarray, values: np.ndarray, *, logy: bool = True, floor: float = 1e-300) -> Axes:
    """One line per neuron (columns of ``values``) against ``t``; zeros drawn at ``floor`` on a log axis."""
    cmap = plt.get_cmap("tab20")
    for j in range(values.shape[1]):
        v = np.maximum(np.abs(values[:, j]), floor) if logy else values[:, j]
        ax.plot(t, v, color=cmap(j % 20), lw=0.9)
    if logy:
        ax.set_yscale("log")
    return ax


def plot_power_law(ax: Axes, x: np.ndarray, y: np.ndarray, slope: float, intercept: float, *,
                   label: str, fit_label: str, color: str = "C0") -> Axes:
    """Points ``(x, y)`` on log-log axes with the fitted line :math:`y = e^{b} x^{a}`."""
    ax.plot(x, y, "o", color=color, ms=5, label=label)
    xs = np.geomspace(x.min(), x.max(), 50)
    ax.plot(xs, np.exp(intercept) * xs**slope, color=color, lw=1.0, ls="--", label=fit_label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return ax


def scale_colours(scales: Sequence[float]) -> dict[float, tuple]:
    """One colour per initial scale, from large (yellow) to small (purple)."""
    logs = np.log10(np.asarray(scales, float))
    span = (logs.max() - logs.min()) or 1.0
    cmap = plt.get_cmap("viridis")
    return {float(s): cmap(0.9 * (lg - logs.min()) / span) for s, lg in zip(scales, logs, strict=True)}


def plot_scale_curves(ax: Axes, t: np.ndarray, curves: np.ndarray, scales: Sequence[float]) -> Axes:
    """Loss curves (rows of ``curves`` on the time grid ``t``), one colour per scale, log-log."""
    colours = scale_colours(sorted(set(map(float, scales)), reverse=True))
    for s in sorted(colours, reverse=True):
        rows = np.asarray([float(v) == s for v in scales])
        for k, curve in enumerate(curves[rows]):
            ax.plot(t[t > 0], curve[t > 0], color=colours[s], lw=0.8, alpha=0.8,
                    label=rf"$\alpha = 10^{{{np.log10(s):.0f}}}$" if k == 0 else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"time $t = k\eta$")
    ax.set_ylabel("loss $L$")
    return ax


def plot_against_scale(ax: Axes, scales: np.ndarray, values: np.ndarray, *, label: str | None = None,
                       color: str = "C0", marker: str = "o", logy: bool = True) -> Axes:
    """Each run's value against its initial scale (log x, decreasing to the right) and the median per scale."""
    uniq = np.unique(scales)
    ax.plot(scales, values, marker, color=color, ms=3, alpha=0.45, mew=0)
    med = [np.nanmedian(values[scales == s]) for s in uniq]
    ax.plot(uniq, med, marker + "-", color=color, ms=5, lw=1.2, label=label)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    ax.set_xlabel(r"initial scale $\alpha$")
    return ax


def plot_exit_fit(ax: Axes, log_inv_scale: np.ndarray, times: np.ndarray, fit_x: np.ndarray, fit_y: np.ndarray,
                  slope: float, intercept: float, predicted_slope: float) -> Axes:
    """Exit times against :math:`\\log(1/\\alpha)`: runs, medians of the fitted scales, the fitted line and
    a line of the predicted slope through the medians' centroid."""
    ax.plot(log_inv_scale, times, "o", color="0.55", ms=3, mew=0, label="runs")
    ax.plot(fit_x, fit_y, "o", color="C0", ms=6, mfc="none", label="median over seeds (fitted)")
    xs = np.linspace(0, max(log_inv_scale.max(), fit_x.max()) * 1.02, 50)
    ax.plot(xs, slope * xs + intercept, color="C0", lw=1.2, label=f"fit: slope {slope:.3f}")
    x0, y0 = fit_x.mean(), fit_y.mean()
    ax.plot(xs, y0 + predicted_slope * (xs - x0), color="C3", ls="--", lw=1.2,
            label=f"predicted slope {predicted_slope:.3f}")
    ax.set_xlabel(r"$\log(1/\alpha)$")
    ax.set_ylabel("time to leave the first plateau")
    return ax


# --------------------------------------------------------------------------- Chapter 3: stationary points

DETERMINED_COLOUR = "C2"
UNDETERMINED_COLOUR = "C1"


def plot_stationarity_scores(ax: Axes, before: np.ndarray, after: np.ndarray, *, carrying: Sequence[bool],
                             tol: float, floor: float = 1e-18) -> Axes:
    """Per-neuron relative stationarity residuals before and after polishing (log scale).

    ``carrying[j]`` marks the neurons with :math:`c_j \\ne 0` after polishing (fact 4 applies to
    them); the others are drawn grey. Exact zeros are drawn at ``floor``."""
    j = np.arange(len(before))
    carrying = np.asarray(carrying, bool)
    b, a = np.maximum(before, floor), np.maximum(after, floor)
    ax.plot(j, b, "o", mfc="none", color="C0", ms=6, label="end of gradient descent")
    ax.plot(j[carrying], a[carrying], "o", color="C3", ms=5, label=r"polished, $c_j \ne 0$")
    if (~carrying).any():
        ax.plot(j[~carrying], a[~carrying], "x", color="0.5", ms=5, label=r"polished, $c_j = 0$")
    ax.axhline(tol, color="k", lw=0.8, ls="--", label=f"tolerance {tol:g}")
    ax.axhline(np.finfo(float).eps, color="0.5", lw=0.8, ls=":", label="machine epsilon")
    ax.set_yscale("log")
    ax.set_xticks(j)
    ax.set_xlabel("neuron $j$")
    ax.set_ylabel(r"$\|R_j\| / (\mathrm{rms}(y)\,\mathrm{rms}\|\tilde x\|)$")
    return ax


def _cell_extent_1d(net: ShallowReLU, x: np.ndarray, idx: np.ndarray, S: Sequence[int]) -> tuple[float, float]:
    t = breakpoints_1d(net)[list(S)] if len(S) else np.zeros(0)
    t = t[np.isfinite(t)]
    lo_x, hi_x = x[idx].min(), x[idx].max()
    left = t[t <= lo_x]
    right = t[t >= hi_x]
    lo = max(left.max() if left.size else x.min(), x.min())
    hi = min(right.min() if right.size else x.max(), x.max())
    return float(lo), float(hi)


def plot_cells_1d(ax: Axes, net: ShallowReLU, X: np.ndarray, y: np.ndarray, cells: Sequence,
                  S: Sequence[int], *, legend: bool = True) -> Axes:
    """Data, network and, on each cell between breakpoints, the least-squares line of the cell's data.

    ``cells`` are :class:`~plateau_lib.stationarity.PatternCell` objects; a cell's line (dashed)
    is green where fact 4 determines it, orange where it does not; cells outside every active
    set are shaded, breakpoints of the neurons in ``S`` dotted."""
    x = X[:, 0]
    ax.plot(x, y, "o", ms=3, color="0.45", zorder=2)
    fine = np.linspace(x.min(), x.max(), 801)
    ax.plot(fine, net(fine[:, None]), color="C0", lw=2.4, alpha=0.45, zorder=3)
    for cell in cells:
        lo, hi = _cell_extent_1d(net, x, cell.indices, S)
        xs = np.linspace(lo, hi, 50)
        colour = DETERMINED_COLOUR if cell.determined else UNDETERMINED_COLOUR
        ax.plot(xs, cell.ls_coef[0] * xs + cell.ls_coef[1], color=colour, lw=1.3, ls="--", zorder=4)
        if not cell.active:
            ax.axvspan(lo, hi, color="0.85", alpha=0.6, lw=0, zorder=0)
    t = breakpoints_1d(net)[list(S)] if len(S) else np.zeros(0)
    t = t[np.isfinite(t) & (t > x.min()) & (t < x.max())]
    for tk in t:
        ax.axvline(tk, color="0.3", lw=0.6, ls=":", zorder=1)
    ax.set_xlabel("$x$")
    if legend:
        ax.legend(handles=cells_1d_legend_handles(), loc="lower right")
    return ax


def cells_1d_legend_handles() -> list:
    """Legend handles for :func:`plot_cells_1d` (for a legend shared by several panels)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [
        Line2D([], [], ls="none", marker="o", ms=3, color="0.45", label="data"),
        Line2D([], [], color="C0", lw=2.4, alpha=0.45, label="network"),
        Line2D([], [], color=DETERMINED_COLOUR, lw=1.3, ls="--", label="cell's LS line, determined by fact 4"),
        Line2D([], [], color=UNDETERMINED_COLOUR, lw=1.3, ls="--", label="cell's LS line, not determined"),
        Patch(color="0.85", alpha=0.6, label="cell outside every active set"),
    ]


def plot_catalogue_losses(ax: Axes, rows: Sequence) -> Axes:
    """Final gradient-descent loss against :math:`L^*` of its final pattern, one marker per run
    (rows with ``lstar``, ``loss``, ``converged``, ``polished``)."""
    lstar = np.array([r.lstar for r in rows])
    loss = np.array([r.loss for r in rows])
    conv = np.array([r.converged for r in rows])
    pol = np.array([r.polished for r in rows])
    lo, hi = min(lstar.min(), loss.min()) / 1.5, max(lstar.max(), loss.max()) * 1.5
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--", label="$L = L^*$")
    ax.plot(lstar[conv], loss[conv], "o", color="C0", ms=5, label=r"converged ($\|\nabla L\| \leq$ gtol)")
    ax.plot(lstar[~conv & pol], loss[~conv & pol], "o", mfc="none", color="C2", ms=6,
            label="not converged, polish accepted")
    ax.plot(lstar[~conv & ~pol], loss[~conv & ~pol], "x", color="C3", ms=5, label="not converged, polish rejected")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(r"$L^*(D, S)$ of the final pattern")
    ax.set_ylabel("final loss of gradient descent")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), borderaxespad=0)
    return ax


def plot_catalogue_levels(ax: Axes, rows: Sequence, *, jitter: float = 0.12) -> Axes:
    """Final losses by width (stationary points: filled; others: crosses) with the segmentation
    lower bound of each width (rows with ``width``, ``seed``, ``loss``, ``polished``, ``lower_bound``)."""
    widths = sorted({r.width for r in rows})
    pos = {w: k for k, w in enumerate(widths)}
    floor = min(r.loss for r in rows) / 1e3
    for k, r in enumerate(rows):
        xk = pos[r.width] + jitter * ((k * 0.618) % 1 - 0.5) * 2
        if r.polished:
            ax.plot(xk, r.polished_loss, "o", color="C0", ms=5)
        else:
            ax.plot(xk, r.loss, "x", color="C3", ms=5)
    ax.plot([], [], "o", color="C0", ms=5, label="stationary point (polished)")
    ax.plot([], [], "x", color="C3", ms=5, label="gradient descent, not stationary")
    for w in widths:
        lb = next(r.lower_bound for r in rows if r.width == w)
        ax.hlines(max(lb, floor), pos[w] - 0.35, pos[w] + 0.35, color="k", lw=2,
                  label="lower bound, $n+1$ pieces" if w == widths[0] else None)
        if lb < floor:
            ax.annotate(f"{lb:.0e}", (pos[w], floor), textcoords="offset points", xytext=(0, 4), ha="center")
    ax.set_yscale("log")
    top = max(max(r.loss for r in rows), max(r.polished_loss for r in rows if r.polished) if any(
        r.polished for r in rows) else 0.0)
    ax.set_ylim(top=top * 30)
    ax.set_xticks(range(len(widths)), [str(w) for w in widths])
    ax.set_xlabel("width $n$")
    ax.set_ylabel("loss")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), borderaxespad=0)
    return ax


def plot_cells_2d(ax: Axes, net: ShallowReLU, X: np.ndarray, cells: Sequence, S: Sequence[int], *,
                  ms: float = 18) -> Axes:
    """The data points coloured by cell, the lines :math:`w_j\\cdot x + b_j = 0` of the neurons in ``S``,
    and at each cell its label; cells outside every active set in grey, determined cells ringed."""
    from matplotlib import patheffects

    cmap = plt.get_cmap("tab10")
    lo, hi = X.min(axis=0), X.max(axis=0)
    for k, cell in enumerate(cells):
        pts = X[cell.indices]
        colour = "0.75" if not cell.active else cmap(k % 10)
        ax.scatter(pts[:, 0], pts[:, 1], s=ms, color=colour, lw=0, zorder=2)
        if cell.determined:
            ax.scatter(pts[:, 0], pts[:, 1], s=ms * 2.2, facecolor="none", edgecolor="k", lw=0.6, zorder=3)
        centroid = pts.mean(axis=0)
        anchor = pts[np.argmin(np.sum((pts - centroid) ** 2, axis=1))]
        ax.annotate(str(k), anchor, textcoords="offset points", xytext=(5, 5), fontsize=9.5, weight="bold",
                    zorder=5, path_effects=[patheffects.withStroke(linewidth=2.5, foreground="w")])
    span = 3 * float(np.max(hi - lo))
    for j in S:
        b = net.b[j]
        norm = _breakpoint_line(ax, net.W[j], b, span, color="k", lw=0.9)
        if norm == 0:
            continue
        # an arrow from the line's point nearest the centre towards the neuron's active side
        centre = (lo + hi) / 2
        foot = centre - (np.dot(net.W[j], centre) + b) * net.W[j] / norm**2
        if np.all(foot >= lo) and np.all(foot <= hi):
            ax.annotate("", xy=foot + 0.12 * float(np.max(hi - lo)) * net.W[j] / norm, xytext=foot,
                        arrowprops={"arrowstyle": "->", "color": "k", "lw": 0.9}, zorder=4)
    pad = 0.05 * (hi - lo)
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    return ax


def plot_cell_moments(ax: Axes, cells: Sequence, S: Sequence[int], *, scale: float = 1.0,
                      floor: float = 1e-18) -> Axes:
    """Matrix of :math:`\\|\\rho_C\\|` (the residual's affine moments on cell :math:`C`) for the cells
    inside each neuron's active set, with a last column :math:`\\|R_j\\| = \\|\\sum_{C\\subseteq A_j}\\rho_C\\|`,
    all divided by ``scale`` and on a log colour scale."""
    S = list(S)
    M = np.full((len(S), len(cells) + 1), np.nan)
    for a, j in enumerate(S):
        total = np.zeros_like(cells[0].moment)
        for k, cell in enumerate(cells):
            if j in cell.active:
                M[a, k] = np.linalg.norm(cell.moment) / scale
                total = total + cell.moment
        M[a, -1] = np.linalg.norm(total) / scale
    shown = np.log10(np.maximum(M, floor))
    im = ax.imshow(shown, cmap="magma_r", vmin=np.log10(floor), vmax=0, aspect="auto")
    for a in range(M.shape[0]):
        for k in range(M.shape[1]):
            if np.isfinite(M[a, k]):
                ax.text(k, a, f"{M[a, k]:.0e}".replace("e-0", "e-"), ha="center", va="center", fontsize=9,
                        color="w" if shown[a, k] > np.log10(floor) / 2 else "k")
    ax.set_xticks(range(M.shape[1]), [str(k) for k in range(len(cells))] + [r"$\Sigma$"])
    ax.set_yticks(range(len(S)), [f"$j={j}$" for j in S])
    ax.set_xlabel(r"cell $C \subseteq A_j$ (last column: the sum over them, $R_j$)")
    ax.axvline(len(cells) - 0.5, color="k", lw=1)
    ax.grid(False)
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.85)
    cb.set_label(r"$\log_{10}$ relative moment")
    return ax


# --------------------------------------------------------------------------- Chapter 4: ANLS

#: One colour per benchmark method (ANLS variants warm, peers cool), shared by the chapter's figures.
METHOD_COLOURS = {
    "gd": "C0", "adam": "C9", "lbfgs": "C4", "lm": "C2", "oga": "C7",
    "anls": "C1", "anls-design": "C3", "anls-joint": "C1", "gd+anls": "C5", "varpro": "C8",
}
LOWER_BOUND_STYLE = {"color": "k", "lw": 1.0, "ls": "-", "alpha": 0.8}


def plot_threshold_target(ax: Axes, search, X: np.ndarray, y: np.ndarray) -> Axes:
    """One neuron's ANLS target :math:`t` (dots), the data, and the chosen single-ReLU fit
    :math:`\\gamma\\,\\mathrm{relu}(s(x-\\tau))`; solid vertical: chosen threshold, dotted: the
    neuron's current breakpoint (if inside the data). ``search``: a
    :class:`~plateau_lib.chapters.anls_sweep.ThresholdSearch`."""
    x = X[:, 0]
    fine = np.linspace(x.min(), x.max(), 801)
    ax.plot(x, y, "o", ms=2.5, color="0.6", label="data $y$", zorder=2)
    ax.plot(x, search.target, "o", ms=3.5, color="C0", label=f"target $t$ of neuron {search.neuron}", zorder=3)
    ax.plot(fine, search.fit(fine), color="C3", lw=1.6,
            label=rf"best single fit $\gamma\,\mathrm{{relu}}({'+' if search.s > 0 else '-'}(x - \tau))$", zorder=4)
    ax.axvline(search.tau, color="C3", lw=1.0, zorder=1)
    if np.isfinite(search.current_tau) and x.min() <= search.current_tau <= x.max():
        ax.axvline(search.current_tau, color="0.3", lw=1.0, ls=":", label="current breakpoint", zorder=1)
    ax.set_xlabel("$x$")
    ax.set_ylabel("value")
    return ax


def plot_threshold_gains(ax: Axes, search) -> Axes:
    """Gain :math:`G(\\tau, s)` of every candidate threshold (right-facing :math:`s=+1` and
    left-facing :math:`s=-1`), the chosen one (star) and the gain of the neuron's current activation
    (dashed)."""
    cand = search.candidates
    for s, colour, label in ((1, "C0", r"$s=+1$ (active for $x>\tau$)"), (-1, "C1", r"$s=-1$ (active for $x<\tau$)")):
        sel = cand.s == s
        order = np.argsort(cand.tau[sel])
        ax.plot(cand.tau[sel][order], cand.gain[sel][order], ".-", ms=4, lw=0.8, color=colour, label=label)
    ax.plot(search.tau, search.gain, "*", ms=13, color="C3", zorder=5,
            label=rf"chosen: $\tau={search.tau:.2f}$, $s={search.s:+d}$")
    ax.axhline(search.current_gain, color="0.3", lw=1.0, ls="--", label="current activation")
    ax.set_xlabel(r"threshold $\tau$")
    ax.set_ylabel(r"gain $(\varphi\cdot t)^2/\varphi\cdot\varphi$")
    return ax


def plot_sweep_updates(ax: Axes, neurons: np.ndarray, proposed: np.ndarray, accepted: np.ndarray,
                       start_loss: float) -> Axes:
    """The loss after each proposed neuron update of one sweep: filled if kept, open if rejected;
    the line follows the loss the sweep carries on with."""
    neurons, proposed, accepted = np.asarray(neurons), np.asarray(proposed), np.asarray(accepted, bool)
    kept = np.minimum.accumulate(np.where(accepted, proposed, np.inf))
    kept = np.minimum(kept, start_loss)
    k = np.arange(1, len(neurons) + 1)
    ax.step(np.r_[0, k], np.r_[start_loss, kept], where="post", color="C3", lw=1.2, label="loss the sweep keeps")
    ax.plot(k[accepted], proposed[accepted], "o", color="C3", ms=5, label="update kept")
    ax.plot(k[~accepted], proposed[~accepted], "o", mfc="none", color="0.4", ms=5, label="update rejected")
    ax.set_xticks(np.r_[0, k], ["start"] + [str(j) for j in neurons])
    ax.set_xlabel("neuron updated (in sweep order)")
    ax.set_ylabel("loss $L$")
    ax.set_yscale("log")
    return ax


def plot_median_band(ax: Axes, x: np.ndarray, q25: np.ndarray, median: np.ndarray, q75: np.ndarray, *,
                     label: str | None = None, color: str = "C0", alpha: float = 0.18, **kwargs) -> Axes:
    """A median curve with its interquartile band."""
    ax.fill_between(x, q25, q75, color=color, alpha=alpha, lw=0)
    ax.plot(x, median, color=color, label=label, **kwargs)
    return ax


def plot_seed_strips(ax: Axes, values: Sequence[np.ndarray], labels: Sequence[str], *,
                     colours: Sequence[str] | None = None, jitter: float = 0.12, logy: bool = True) -> Axes:
    """One column of points per method (one point per seed, jittered deterministically) and a bar at the
    median of each column."""
    for k, v in enumerate(values):
        v = np.asarray(v, float)
        colour = colours[k] if colours is not None else f"C{k % 10}"
        offsets = jitter * (np.linspace(-1, 1, v.size) if v.size > 1 else np.zeros(1))
        ax.plot(k + offsets, v, "o", ms=3, color=colour, alpha=0.65, mew=0)
        ax.hlines(np.median(v), k - 0.3, k + 0.3, color=colour, lw=2.2)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7.5)
    if logy:
        ax.set_yscale("log")
    ax.set_xlim(-0.6, len(labels) - 0.4)
    return ax
