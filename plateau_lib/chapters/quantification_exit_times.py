r"""Fact 3 over the regime sweep: the exit time against the initial scale, the lazy and adaptive ends, stalls.

Fact 3 predicts that the time to leave the first plateau from an initialisation of scale
:math:`\alpha` grows linearly in :math:`\log(1/\alpha)`; this module measures it.

Chapter 2 (claim C3), read from the rows of
:func:`~plateau_lib.chapters.quantification_regimes.regime_sweep`. The study: the exit-time fit
(:func:`fit_exit_times`, :class:`ExitFit`), the runs that keep descending
(:func:`descending_plateau_times`) and those that stall (:func:`stalled`); its page: the glued
numbers (:func:`exit_values`, :func:`lazy_adaptive_values`, :func:`stall_values`) and the
figures (:func:`draw_lazy_adaptive`, :func:`draw_scale_summary`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_positive_float
from ..experiments import get_experiment
from ..fixed_pattern import (
    EscapeDirection,
    FloatArray,
    exit_time,
    max_escape_rate_1d,
    predicted_exit_slope,
)
from .page import DrawnFigure
from .quantification_regimes import RegimeRow, RegimeSweep, regime_arrays


@dataclass(frozen=True)
class ExitFit:
    r"""Fit of the exit time against :math:`\log(1/\alpha)` (:func:`fit_exit_times`).

    Attributes
    ----------
    scales : ndarray
        The scales that start on the first plateau (used in the fit).
    median_times : ndarray
        Median exit time over seeds at each of them.
    slope, intercept : float
        Least-squares line ``median_time = slope * log(1/scale) + intercept``.
    predicted_slope : float
        :func:`~plateau_lib.fixed_pattern.predicted_exit_slope` of the rate and step.
    rate : float
        :math:`\rho^*` at the zero network (:func:`~plateau_lib.fixed_pattern.max_escape_rate_1d` with :math:`r = -y`).
    """

    scales: FloatArray
    median_times: FloatArray
    slope: float
    intercept: float
    predicted_slope: float
    rate: float

    @property
    def ratio(self) -> float:
        """Measured over predicted slope."""
        return self.slope / self.predicted_slope

    @property
    def flow_slope(self) -> float:
        r"""The gradient flow's predicted slope :math:`1/\rho^*`: the alternative to ``predicted_slope``."""
        return 1.0 / self.rate

    @property
    def flow_ratio(self) -> float:
        """Measured slope over the flow's predicted slope."""
        return self.slope / self.flow_slope

    @property
    def rtol(self) -> float:
        r"""Tolerance of fact 3's check: half the relative gap between the two predictions.

        :math:`|1/\rho^* - s_{GD}| / (2 s_{GD})` with :math:`s_{GD}` = ``predicted_slope``. A
        measured slope within it of :math:`s_{GD}` is at least as far from the flow's slope,
        so the check tells the discretised prediction from the flow's.
        """
        return abs(self.flow_slope - self.predicted_slope) / (2 * self.predicted_slope)

    def resolution(self, lr: float) -> float:
        r"""How far exit times exact to one step (:math:`\eta` = ``lr``) can move the slope.

        :math:`2\eta/\text{span}`, with span the range of the median exit times fitted.
        """
        return 2 * check_positive_float(lr, "lr") / float(self.median_times.max() - self.median_times.min())


def fit_exit_times(settings: RegimeSweep, rows: Sequence[RegimeRow]) -> ExitFit:
    r"""Fit the median exit time over seeds against :math:`\log(1/\alpha)` on the scales that start on the saddle.

    The prediction uses the base experiment's data with :math:`r = -y` (every neuron is small
    on the first plateau) and its step size (:func:`~plateau_lib.fixed_pattern.predicted_exit_slope`).
    """
    if not isinstance(settings, RegimeSweep):
        raise TypeError(f"settings must be a RegimeSweep, got {type(settings).__name__}")
    cols = regime_arrays(rows)
    scales = np.unique(cols["scale"])[::-1]
    keep, med = [], []
    for s in scales:
        sel = cols["scale"] == s
        on_saddle = np.all(np.abs(cols["initial_loss"][sel] / cols["zero_level"][sel] - 1) <= settings.on_saddle_rtol)
        times = cols["exit_time"][sel]
        if on_saddle and np.all(np.isfinite(times)):
            keep.append(s)
            med.append(float(np.median(times)))
    if len(keep) < 2:
        raise ValueError("fewer than two scales start on the first plateau; nothing to fit")
    keep, med = np.array(keep), np.array(med)
    slope, intercept = np.polyfit(np.log(1 / keep), med, 1)
    experiment = get_experiment(settings.base)
    X, y = experiment.data()
    rate = max_escape_rate_1d(X, -y).rate
    lr = float(experiment.options["lr"]) if experiment.trainer == "gd" else None
    return ExitFit(keep, med, float(slope), float(intercept), predicted_exit_slope(rate, lr), rate)


def exit_values(fit: ExitFit, escape: EscapeDirection, X: ArrayLike, lr: float) -> dict[str, float | str]:
    r"""The glued numbers of fact 3: the escape direction, the predicted and measured slopes.

    With :math:`\rho^*` the escape rate and :math:`\eta` = ``lr``: the flow's slope
    :math:`1/\rho^*`, gradient descent's :math:`\eta/\log(1+\eta\rho^*)`, their ratio
    :math:`\eta\rho^*/\log(1+\eta\rho^*)` (``discretisation_factor``), the cost of a decade of
    :math:`\alpha`, slope :math:`\cdot\log 10`, and the slope's resolution :math:`2\eta/\text{span}`
    from exit times exact to one step on a span of times.
    """
    X = np.asarray(X)
    span = float(fit.median_times.max() - fit.median_times.min())
    return dict(
        escape_breakpoint=escape.breakpoint,
        rho_star=escape.rate,
        escape_where="a data point" if np.min(np.abs(X[:, 0] - escape.breakpoint)) < 1e-9 else "between data points",
        slope_flow=predicted_exit_slope(escape.rate),
        slope_gd=fit.predicted_slope,
        slope_measured=fit.slope,
        slope_ratio=fit.ratio,
        slope_ratio_flow=fit.slope * escape.rate,
        discretisation_factor=lr * escape.rate / np.log1p(lr * escape.rate),
        decade_cost=fit.slope * np.log(10),
        decade_steps=fit.slope * np.log(10) / lr,
        fit_alpha_max=float(fit.scales.max()),
        fit_span=span,
        slope_resolution=fit.resolution(lr),
        exit_slope_rtol=fit.rtol,
    )


def draw_lazy_adaptive(
    cols: Mapping[str, NDArray], fit: ExitFit, grid_t: ArrayLike, *, exit_fraction: float
) -> DrawnFigure:
    r"""Loss curves of every run coloured by :math:`\alpha` (left), exit time against :math:`\log(1/\alpha)` (right)."""
    from ..plotting import COLUMN_WIDTH_IN, figure, plot_exit_fit, plot_scale_curves

    grid_t = np.asarray(grid_t)
    fig, axes = figure(ncols=2, width=COLUMN_WIDTH_IN, height=3.8, gridspec_kw={"width_ratios": [1.2, 1]})
    ax = plot_scale_curves(axes[0, 0], grid_t, cols["grid_loss"], cols["scale"])
    ax.axhline(exit_fraction * cols["zero_level"][0], color="k", lw=0.6, ls=":")
    ax.legend(loc="lower left", ncol=2)
    ax.set_title("loss curves, every seed")
    ax = plot_exit_fit(axes[0, 1], np.log(1 / cols["scale"]), cols["exit_time"], np.log(1 / fit.scales),
                       fit.median_times, fit.slope, fit.intercept, fit.predicted_slope)
    ax.set_ylim(bottom=-5)
    ax.legend(loc="upper left")
    data = dict(
        grid_t=grid_t, grid_loss=cols["grid_loss"], scale=cols["scale"], seed=cols["seed"],
        exit_time=cols["exit_time"], fit_scales=fit.scales, fit_median_times=fit.median_times,
        slope=np.array([fit.slope, fit.predicted_slope]),
    )
    return DrawnFigure(fig, data=data)


def stalled(cols: Mapping[str, NDArray]) -> NDArray[np.bool_]:
    r"""The runs that stall: final loss above :math:`L_0/10`."""
    return cols["final_loss"] > cols["zero_level"] / 10


def draw_scale_summary(cols: Mapping[str, NDArray]) -> DrawnFigure:
    """Pattern changes (left), time on plateaus ending in a drop (middle), final loss (right), against the scale."""
    from ..plotting import COLUMN_WIDTH_IN, figure, plot_against_scale

    scale, stalls = cols["scale"], stalled(cols)
    fig, axes = figure(ncols=3, width=COLUMN_WIDTH_IN, height=3.4)
    ax = plot_against_scale(axes[0, 0], scale, cols["raw_changes"].astype(float) + 1, label="raw", color="C7")
    plot_against_scale(ax, scale, cols["filtered_changes"].astype(float) + 1, label="filtered", color="C0")
    ax.set_ylabel("pattern changes + 1")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), borderaxespad=0)
    ax = plot_against_scale(axes[0, 1], scale[~stalls], cols["plateau_time"][~stalls],
                            label="keep descending", color="C3", logy=False)
    plot_against_scale(ax, scale[stalls], cols["plateau_time"][stalls], label=r"stall above $L_0/10$",
                       color="C7", marker="s", logy=False)
    ax.set_ylabel(r"time on plateaus ($t = k\eta$)")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), borderaxespad=0)
    ax = plot_against_scale(axes[0, 2], scale, cols["final_loss"], label="final loss", color="C2")
    ax.set_ylabel("final loss")
    keys = ("scale", "seed", "raw_changes", "filtered_changes", "plateau_time", "final_loss", "final_plateau_start")
    return DrawnFigure(fig, data={key: cols[key] for key in keys})


@dataclass(frozen=True)
class DescendingPlateauTimes:
    r"""Median time on plateaus of the runs that keep descending, per scale (:func:`descending_plateau_times`).

    Attributes
    ----------
    scales : ndarray
        The scales (those of the exit-time fit, decreasing).
    median_times : ndarray
        Median ``plateau_time`` over the runs at that scale that do not stall
        (:func:`stalled`); ``nan`` where every run stalls.
    """

    scales: FloatArray
    median_times: FloatArray

    @property
    def missing(self) -> list[float]:
        """The scales at which every run stalls (the prose needs none)."""
        return [float(s) for s, t in zip(self.scales, self.median_times, strict=True) if math.isnan(t)]

    @property
    def per_decade(self) -> float:
        r"""Slope of the median times against :math:`\log_{10}(1/\alpha)`: time per decade of :math:`\alpha`."""
        return float(np.polyfit(np.log10(1 / self.scales), self.median_times, 1)[0])


def descending_plateau_times(cols: Mapping[str, NDArray], scales: ArrayLike) -> DescendingPlateauTimes:
    """Median time on plateaus ending in a drop over the runs that do not stall, at each of ``scales``."""
    scales = np.asarray(scales, dtype=np.float64)
    keep = ~stalled(cols)
    times = []
    for s in scales:
        sel = (cols["scale"] == s) & keep
        times.append(float(np.median(cols["plateau_time"][sel])) if sel.any() else math.nan)
    return DescendingPlateauTimes(scales, np.array(times))


def _median_at(cols: Mapping[str, NDArray], key: str, scale: float) -> float:
    return float(np.nanmedian(cols[key][cols["scale"] == scale]))


def tenth_times(cols: Mapping[str, NDArray], grid_t: ArrayLike) -> FloatArray:
    r"""Per run, the first time its loss (on the plotting grid) falls to :math:`L_0/10` (``nan`` if never)."""
    grid_t = np.asarray(grid_t)
    return np.array(
        [exit_time(grid_t, g, l0 / 10) for g, l0 in zip(cols["grid_loss"], cols["zero_level"], strict=True)]
    )


def lazy_adaptive_values(cols: Mapping[str, NDArray], grid_t: ArrayLike) -> dict[str, float | int]:
    r"""The glued medians over seeds at the lazy end (largest :math:`\alpha`) and the adaptive end (smallest)."""
    lazy, smallest = max(cols["scale"].tolist()), min(cols["scale"].tolist())
    tenth = tenth_times(cols, grid_t)

    def tenth_at(scale: float) -> tuple[float, int]:
        sel = (cols["scale"] == scale) & np.isfinite(tenth)
        return (float(np.median(tenth[sel])) if sel.any() else math.nan), int(np.sum(sel))

    (tenth_lazy, tenth_lazy_n), (tenth_adaptive, tenth_adaptive_n) = tenth_at(lazy), tenth_at(smallest)
    return dict(
        lazy_alpha=lazy,
        lazy_initial_ratio=_median_at(cols, "initial_loss", lazy) / float(cols["zero_level"][0]),
        smallest_alpha=smallest,
        plateau_time_lazy=_median_at(cols, "plateau_time", lazy),
        filt_lazy=_median_at(cols, "filtered_changes", lazy),
        filt_adaptive=_median_at(cols, "filtered_changes", smallest),
        tenth_lazy=tenth_lazy,
        tenth_adaptive=tenth_adaptive,
        tenth_lazy_n=tenth_lazy_n,
        tenth_adaptive_n=tenth_adaptive_n,
        movement_lazy=_median_at(cols, "movement", lazy),
        movement_adaptive=_median_at(cols, "movement", smallest),
        final_lazy=_median_at(cols, "final_loss", lazy),
        final_adaptive=_median_at(cols, "final_loss", smallest),
    )


def stall_values(
    cols: Mapping[str, NDArray], fit: ExitFit, descending: DescendingPlateauTimes
) -> dict[str, float | int]:
    r"""The glued numbers on stalling: how many runs stall, their directions, later plateaus' growth.

    A run is *adaptive* when its scale enters the exit-time fit (:math:`\alpha \le` the fit's
    largest) and *stuck* when it is adaptive and stalls (:func:`stalled`). ``later_vs_first``
    compares the descending runs' plateau time per decade with fact 3's cost of a decade,
    slope :math:`\cdot\log 10`.
    """
    adaptive = cols["scale"] <= fit.scales.max()
    stuck = adaptive & stalled(cols)
    per_decade = descending.per_decade
    return dict(
        n_stall_all=int(stalled(cols).sum()),
        free_per_decade=per_decade,
        later_vs_first=per_decade / (fit.slope * np.log(10)),
        free_pt_fit_max=float(descending.median_times[0]),
        free_pt_smallest=float(descending.median_times[-1]),
        n_stuck=int(stuck.sum()),
        frac_stuck=float(stuck.sum() / adaptive.sum()),
        stall_one_plateau=int(np.sum(stuck & (cols["n_plateaus"] == 1))),
        final_adaptive_free=float(np.median(cols["final_loss"][adaptive & ~stuck])),
        n_adaptive=int(adaptive.sum()),
        stuck_dirs_max=int(cols["n_directions"][stuck].max()) if stuck.any() else 0,
        other_dirs_median=float(np.median(cols["n_directions"][~stuck])),
    )


__all__ = [
    "descending_plateau_times",
    "DescendingPlateauTimes",
    "draw_lazy_adaptive",
    "draw_scale_summary",
    "exit_values",
    "ExitFit",
    "fit_exit_times",
    "lazy_adaptive_values",
    "stall_values",
    "stalled",
    "tenth_times",
]
