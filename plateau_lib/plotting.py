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
from matplotlib.figure import Figure

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
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.4,
}
SEGMENT_COLOURS = ("#dbe9f6", "#f6e7d7")
PLATEAU_COLOUR = "#d62728"
CHANGE_COLOUR = "0.35"


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 7.0, height: float = 3.0,
           **kwargs) -> tuple[Figure, np.ndarray]:
    """A figure in the book's style with an array of axes (always 2-D, squeezed out by callers)."""
    with mpl.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False,
                                 layout="constrained", **kwargs)
    for ax in axes.flat:
        _style_axes(ax)
    return fig, axes


def _style_axes(ax: Axes) -> None:
    for key, value in STYLE.items():
        if key.startswith("axes.spines."):
            ax.spines[key.rsplit(".", 1)[1]].set_visible(value)
    ax.grid(True, alpha=STYLE["grid.alpha"])


def shade_segments(ax: Axes, segments: Sequence, *, alpha: float = 0.8) -> Axes:
    """Shade alternating constant-pattern segments (objects with ``start``, ``end``)."""
    for k, seg in enumerate(segments):
        ax.axvspan(max(seg.start, 1), seg.end, color=SEGMENT_COLOURS[k % 2], alpha=alpha, lw=0, zorder=0)
    return ax


def mark_steps(ax: Axes, steps: Sequence[int], **kwargs) -> Axes:
    """Thin vertical lines at ``steps`` (e.g. pattern changes)."""
    style = {"color": CHANGE_COLOUR, "lw": 0.6, "alpha": 0.7, "zorder": 1} | kwargs
    for s in steps:
        ax.axvline(max(s, 1), **style)
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


def plot_counts(ax: Axes, result: TrainResult, *, logx: bool = True, neurons: Sequence[int] | None = None) -> Axes:
    """Activation counts :math:`a_j` of each neuron against step, as step functions."""
    cols = range(result.counts.shape[1]) if neurons is None else neurons
    cmap = plt.get_cmap("tab20")
    for j in cols:
        ax.step(result.steps + 1, result.counts[:, j], where="post", color=cmap(j % 20), lw=1.0)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("active points $a_j$")
    return ax


def plot_network_1d(ax: Axes, net: ShallowReLU, X: np.ndarray, y: np.ndarray, *, label: str | None = None,
                    data: bool = True, breakpoints: bool = True, color: str | None = None) -> Axes:
    """The data, the network on a fine grid, and its breakpoints inside the data range."""
    x = X[:, 0]
    fine = np.linspace(x.min(), x.max(), 801)[:, None]
    if data:
        ax.plot(x, y, "o", ms=3, color="0.4", label="data", zorder=2)
    (line,) = ax.plot(fine[:, 0], net(fine), label=label, color=color, zorder=3)
    if breakpoints:
        t = breakpoints_1d(net)
        t = t[np.isfinite(t) & (t > x.min()) & (t < x.max())]
        ax.plot(t, net(t[:, None]), "|", ms=10, mew=1.5, color=line.get_color(), zorder=4)
    ax.set_xlabel("$x$")
    return ax


def plot_network_2d(ax: Axes, net: ShallowReLU, X: np.ndarray, *, levels: int = 15,
                    neurons: Sequence[int] | None = None) -> Axes:
    """Filled contours of a 2-D network on the data's bounding box, with the lines
    :math:`w_j \\cdot x + b_j = 0` of the neurons in ``neurons`` (default: all)."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 121), np.linspace(lo[1], hi[1], 121), indexing="ij")
    values = net(np.column_stack([g0.ravel(), g1.ravel()])).reshape(g0.shape)
    ax.contourf(g0, g1, values, levels=levels, cmap="viridis")
    span = 3 * float(np.max(hi - lo))
    for j in range(net.n) if neurons is None else neurons:
        (w0, w1), b = net.W[j], net.b[j]
        norm = np.hypot(w0, w1)
        if norm == 0:
            continue
        p = -b * np.array([w0, w1]) / norm**2
        ax.plot([p[0] + span * w1 / norm, p[0] - span * w1 / norm],
                [p[1] - span * w0 / norm, p[1] + span * w0 / norm], color="w", lw=0.6, alpha=0.8)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    return ax


def plot_raw_changes(ax: Axes, changes: Sequence[int], *, y: float = 0.02, **kwargs) -> Axes:
    """A rug of raw pattern-change steps along the bottom of ``ax`` (axes-fraction height ``y``)."""
    style = {"color": "0.25", "lw": 0.4, "alpha": 0.5} | kwargs
    xs = np.maximum(np.asarray(changes, dtype=float), 1.0)
    ax.vlines(xs, 0, y, transform=ax.get_xaxis_transform(), **style)
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


def plot_plateau_timeline(ax: Axes, rows: Sequence, *, last_step: float) -> Axes:
    """One line per seed: each detected plateau as a bar on a log-step axis, coloured by
    whether it lies within one constant-pattern segment (rows with ``seed``, ``start``,
    ``end``, ``within``)."""
    seeds = sorted({r.seed for r in rows})
    position = {s: k for k, s in enumerate(seeds)}
    for r in rows:
        colour = "C2" if r.within else PLATEAU_COLOUR
        ax.plot([max(r.start, 1), r.end], [position[r.seed]] * 2, color=colour, lw=4, solid_capstyle="butt")
    ax.set_xscale("log")
    ax.set_xlim(1, last_step + 1)
    ax.set_yticks(range(len(seeds)), [str(s) for s in seeds], fontsize=6)
    ax.set_ylabel("seed")
    ax.set_xlabel("step + 1")
    ax.plot([], [], color="C2", lw=4, label="within one segment")
    ax.plot([], [], color=PLATEAU_COLOUR, lw=4, label="pattern changes inside")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    return ax


def plot_level_agreement(ax: Axes, levels: np.ndarray, lstars: np.ndarray, mask: np.ndarray | None = None) -> Axes:
    """Observed plateau level against :math:`L^*(D, S)` of its pattern, with the diagonal."""
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
    ax.legend(loc="lower right")
    return ax
