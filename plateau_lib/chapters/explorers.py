r"""Interactive explorers: gradient descent with its plateau levels, and ANLS against GD.

An explorer is three plain pieces and a thin widget layer on top:

* a frozen *settings* object (:class:`GDSettings`, :class:`AnlsSettings`) whose fields are the
  controls, checked on construction (a bad value raises an error naming the field);
* a *compute* function, settings :math:`\to` view (:func:`compute_gd`, :func:`compute_anls`),
  which runs the library's trainers and analyses;
* a *draw* function, view :math:`\to` matplotlib figure (:func:`draw_gd`, :func:`draw_anls`).

:class:`Explorer` ties them to ipywidgets controls. ipywidgets is imported only when a widget
is built, so the library works without Jupyter. Moving a control replaces one settings field,
recomputes and redraws; the figure is rendered to PNG into an ``Image`` widget, so no
interactive matplotlib backend is needed.

Displayed in a notebook, an explorer offers two representations of itself: the live widget
(``application/vnd.jupyter.widget-view+json``) and a static HTML fallback, a PNG of its
current state with a note on how to run it live. A Jupyter front end with a kernel shows the
widget. The book's HTML build drops the widget view (``nb_mime_priority_overrides`` in
``_config.yml``) and shows the fallback, so a page never carries a dead widget.

Speed: with the defaults (the ``plateau_1d`` experiment's quick budget, 8000 GD steps on 41
points and 10 neurons) an update of the GD explorer takes about 0.3 s on one core, training,
pattern analysis and PNG rendering included; the ANLS explorer adds 30 ANLS sweeps (about
0.01 s in the design's variant).

One module although over 600 lines: the widget layer is bound field by field to the settings (each
:class:`Control` names a settings field) and shows nothing but what the draw functions return, so
a reader who changes one control reads both halves; the precomputed states for the page, which
use only the plain pieces, are apart in :mod:`~plateau_lib.chapters.explorer_grid`.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, NamedTuple, Protocol

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from numpy.typing import NDArray

from .._validation import check_choice, check_positive_float, check_positive_int
from ..experiments import Experiment, get_experiment
from ..lower_bound import segmentation_lower_bound
from ..network import ShallowReLU
from ..patterns import pattern_segments
from ..plotting import (
    PLATEAU_COLOUR,
    figure,
    network_curve_1d,
    plot_counts,
    plot_loss,
    plot_network_1d,
    plot_plateaus,
)
from ..result import TrainResult
from ..targets import TARGETS, target_latex
from ..trainers.anls import train_anls
from .anls_variants import VARIANT_NAMES, VARIANTS
from .anls_vs_gd import SWEEPS, anls_joint_options
from .explanation_runs import PlateauRow, plateau_rows, segment_levels

#: Targets the explorers offer: the 1-D ones (the network is drawn against the data).
ONE_D_TARGETS: tuple[str, ...] = tuple(name for name, (d, _, _) in TARGETS.items() if d == 1)
#: The registered experiment whose settings are the explorers' defaults.
DEFAULT_EXPERIMENT = "plateau_1d"
#: At most about this many recorded steps per run (the stride grows with the budget).
MAX_RECORDS = 2000
#: ANLS variants of the ANLS explorer: Chapter 4's four and the benchmark's ``anls-joint``.
ANLS_VARIANTS: tuple[str, ...] = (*VARIANT_NAMES, "joint")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class GDSettings:
    r"""What the gradient-descent explorer trains.

    Attributes
    ----------
    target : str
        A 1-D target of :data:`plateau_lib.targets.TARGETS` (:data:`ONE_D_TARGETS`).
    points : int
        Number of equispaced data points :math:`m \ge 2` on :math:`[-1, 1]`.
    width : int
        Number of neurons :math:`n`.
    init_scale : float
        Initialisation scale :math:`\alpha`: every parameter is drawn from :math:`N(0, \alpha^2)`.
    lr : float
        Gradient-descent step size :math:`\eta`.
    steps : int
        Gradient-descent budget.
    seed : int
        Seed of the initial network.
    """

    target: str
    points: int
    width: int
    init_scale: float
    lr: float
    steps: int
    seed: int

    def __post_init__(self) -> None:
        check_choice(self.target, "target", ONE_D_TARGETS)
        if check_positive_int(self.points, "points") < 2:
            raise ValueError(f"points must be >= 2, got {self.points}")
        check_positive_int(self.width, "width")
        check_positive_float(self.init_scale, "init_scale")
        check_positive_float(self.lr, "lr")
        check_positive_int(self.steps, "steps")
        check_positive_int(self.seed, "seed", allow_zero=True)

    @classmethod
    def defaults(cls, **changes: Any) -> GDSettings:
        """The :data:`DEFAULT_EXPERIMENT`'s data, network, step size and quick budget, with ``changes``."""
        e = get_experiment(DEFAULT_EXPERIMENT)
        base = {"target": e.target, "points": e.m, "width": e.width, "init_scale": e.init_scale,
                "lr": float(e.options["lr"]), "steps": e.budget(quick=True), "seed": e.seed}
        return cls(**(base | changes))  # a subclass's own fields keep their dataclass defaults

    def experiment(self) -> Experiment:
        """The registered default experiment with these settings."""
        return get_experiment(DEFAULT_EXPERIMENT).with_changes(
            name="explorer", target=self.target, m=self.points, width=self.width, init_scale=self.init_scale,
            options={"lr": self.lr}, steps=self.steps, seed=self.seed,
            record_every=max(1, self.steps // MAX_RECORDS),
        )


@dataclass(frozen=True)
class AnlsSettings(GDSettings):
    r"""What the ANLS-versus-GD explorer trains: :class:`GDSettings` plus the ANLS run.

    Attributes
    ----------
    sweeps : int
        ANLS sweep budget.
    variant : str
        One of :data:`ANLS_VARIANTS` (options: :func:`anls_variant_options`).
    """

    sweeps: int = SWEEPS
    variant: str = "global"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.sweeps, "sweeps")
        check_choice(self.variant, "variant", ANLS_VARIANTS)


def anls_variant_options(variant: str, lr: float) -> dict[str, Any]:
    """Options of :func:`~plateau_lib.trainers.anls.train_anls` for an explorer variant.

    Chapter 4's variants (:meth:`~plateau_lib.chapters.anls_variants.VariantSettings.options_for`, polishing
    with the gradient-descent step ``lr``) and ``"joint"``, the benchmark's ``anls-joint``
    (:func:`~plateau_lib.chapters.anls_vs_gd.anls_joint_options`).
    """
    variant = check_choice(variant, "variant", ANLS_VARIANTS)
    if variant == "joint":
        return anls_joint_options(1)
    return VARIANTS.options_for(variant, lr)


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class GDView:
    """A computed state of the gradient-descent explorer.

    Attributes
    ----------
    settings : GDSettings
    X, y : ndarray
        The data.
    result : TrainResult
        The gradient-descent run.
    plateaus : list of PlateauRow
        Its detected plateaus (empty if the run diverged).
    levels : ndarray, shape (k, 3)
        Rows ``(start, end, L*)``: each flicker-filtered constant-pattern segment and
        :math:`L^*(D, S)` of its pattern (:func:`~plateau_lib.chapters.explanation_runs.segment_levels`).
    seconds : float
        Wall time of the computation.
    """

    settings: GDSettings
    X: NDArray[np.float64]
    y: NDArray[np.float64]
    result: TrainResult
    plateaus: list[PlateauRow]
    levels: NDArray[np.float64]
    seconds: float

    @property
    def filtered_changes(self) -> int:
        """Pattern changes after the flicker filter: one fewer than the constant-pattern segments."""
        return max(len(self.levels) - 1, 0)

    def summary(self) -> str:
        """One line: final loss, plateaus and pattern changes (the figure's title)."""
        r = self.result
        if not r.completed:
            return f"gradient descent stopped: {r.message}"
        return (f"final loss {r.final_loss:.3g} after {r.nit} steps; {len(self.plateaus)} plateau(s) detected; "
                f"{self.filtered_changes} pattern changes after the flicker filter ({len(r.pattern_changes)} raw)")


@dataclass(frozen=True)
class AnlsView:
    """A computed state of the ANLS-versus-GD explorer.

    Attributes
    ----------
    settings : AnlsSettings
    X, y : ndarray
        The data.
    initial : ShallowReLU
        The common initial network.
    gd, anls : TrainResult
        Gradient descent and ANLS from ``initial``.
    lower_bound : float
        The segmentation lower bound of fact 5 with ``width + 1`` pieces.
    seconds : float
        Wall time of the computation.
    """

    settings: AnlsSettings
    X: NDArray[np.float64]
    y: NDArray[np.float64]
    initial: ShallowReLU
    gd: TrainResult
    anls: TrainResult
    lower_bound: float
    seconds: float

    def summary(self) -> str:
        """One line: both final losses and wall times, and the lower bound (the figure's title)."""
        g, a = self.gd, self.anls
        gd = f"{g.final_loss:.3g} in {g.wall_time:.2f} s" if g.completed else f"stopped ({g.message})"
        return (f"GD: {gd}; ANLS ({self.settings.variant}): {a.final_loss:.3g} in {a.wall_time:.3f} s "
                f"({a.nit} sweeps); lower bound {self.lower_bound:.3g}")


def compute_gd(settings: GDSettings) -> GDView:
    """Train by gradient descent as ``settings`` say and analyse the run's plateaus and patterns."""
    if not isinstance(settings, GDSettings):
        raise TypeError(f"settings must be a GDSettings, got {type(settings).__name__}")
    start = time.perf_counter()
    experiment = settings.experiment()
    X, y = experiment.data()
    result = experiment.run(settings.seed)
    if np.all(np.isfinite(result.loss)):
        plateaus = plateau_rows(result, X, y, seed=settings.seed)
        levels = segment_levels(result, X, y, pattern_segments(result))
    else:  # diverged: the recorded losses are not finite, there is nothing to segment
        plateaus, levels = [], np.empty((0, 3))
    return GDView(settings, X, y, result, plateaus, levels, time.perf_counter() - start)


@functools.lru_cache(maxsize=1)
def _gd_run(settings: AnlsSettings) -> TrainResult:
    """The gradient-descent run of ``settings`` (which the variant and sweeps do not change).

    Kept for the next call: a reader switching the variant, or a grid whose last axis is the
    variant, reuses it (a result is never modified after it is built).
    """
    experiment = settings.experiment()
    return experiment.run(settings.seed, net=experiment.initial_network(settings.seed))


def compute_anls(settings: AnlsSettings) -> AnlsView:
    """Train by gradient descent and by ANLS from the same initial network."""
    if not isinstance(settings, AnlsSettings):
        raise TypeError(f"settings must be an AnlsSettings, got {type(settings).__name__}")
    start = time.perf_counter()
    experiment = settings.experiment()
    X, y = experiment.data()
    net = experiment.initial_network(settings.seed)
    gd = _gd_run(replace(settings, variant=ANLS_VARIANTS[0], sweeps=SWEEPS))
    anls = train_anls(net, X, y, sweeps=settings.sweeps, **anls_variant_options(settings.variant, settings.lr))
    bound = segmentation_lower_bound(X[:, 0], y, settings.width + 1)
    return AnlsView(settings, X, y, net, gd, anls, bound, time.perf_counter() - start)


# --------------------------------------------------------------------------- drawing

GD_COLOUR, ANLS_COLOUR = "C0", "C1"


def _panels() -> tuple[Figure, np.ndarray]:
    """Three panels in a row with fixed margins (no constrained layout: a redraw costs half)."""
    fig, axes = figure(ncols=3, width=11.0, height=3.6, detached=True, layout=None)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.14, top=0.83, wspace=0.28)
    return fig, axes


def _finish_panels(fig: Figure, axes: Sequence[Any], titles: Sequence[str], summary: str) -> Figure:
    """Title the panels at a fixed height, drop minor ticks, and put the run's summary on top.

    Both halve the time a frame takes to draw: matplotlib otherwise measures every tick label
    to place each title, and makes a tick object for each minor tick of the log axes.
    """
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, y=1.0)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_minor_locator(NullLocator())
    fig.suptitle(summary, fontsize=9)
    return fig


def draw_gd(view: GDView) -> Figure:
    """Loss with the levels :math:`L^*(D,S)` of its constant-pattern segments; counts; the network.

    Panel 1 draws the loss against step + 1, each flicker-filtered constant-pattern segment's
    :math:`L^*(D,S)` as a dashed black line over the segment, and the detected plateaus in
    red: on a plateau the loss sits on the dashed line (claim C2). Panel 2 draws every
    neuron's activation count :math:`a_j`; panel 3 the final network against the data.
    """
    fig, axes = _panels()
    ax_loss, ax_counts, ax_net = axes[0]
    r = view.result
    plot_loss(ax_loss, r, color=GD_COLOUR, label="GD loss")
    if len(view.levels):
        start, end, level = view.levels.T
        ax_loss.hlines(level, np.maximum(start, 1), end, color="k", lw=1, ls="--", zorder=4,
                       label=r"$L^*(D,S)$ of the segment's pattern")
    plot_plateaus(ax_loss, view.plateaus)
    ax_loss.legend(loc="lower left")
    plot_counts(ax_counts, r)
    plot_network_1d(ax_net, r.net, view.X, view.y, label="network after GD", color=GD_COLOUR)
    ax_net.legend(loc="best")
    titles = ("loss and predicted plateau levels", "activation counts $a_j$",
              f"target ${target_latex(view.settings.target)}$")
    return _finish_panels(fig, axes[0], titles, view.summary())


def _evaluations(result: TrainResult) -> NDArray[np.float64]:
    """Cumulative loss evaluations at each recorded step of a GD or ANLS run."""
    if "nfev_per_sweep" in result.extra:
        per_sweep = result.extra["nfev_per_sweep"]
        return per_sweep[np.minimum(result.steps, len(per_sweep) - 1)].astype(np.float64)
    return (result.steps + 1).astype(np.float64)


def draw_anls(view: AnlsView) -> Figure:
    """GD and ANLS from one initial network: loss against evaluations and wall time; the fits.

    Panels 1 and 2 draw both losses against the number of loss evaluations (machine
    independent) and against wall time, with the lower bound of fact 5 dotted; panel 3 both
    final networks against the data.
    """
    fig, axes = _panels()
    ax_ev, ax_time, ax_net = axes[0]
    runs = (("GD", view.gd, GD_COLOUR), (f"ANLS ({view.settings.variant})", view.anls, ANLS_COLOUR))
    for label, result, colour in runs:
        ax_ev.plot(_evaluations(result), result.loss, color=colour, label=label)
        ax_time.plot(np.maximum(result.times, 1e-6), result.loss, color=colour, label=label)
    for ax, xlabel in ((ax_ev, "loss evaluations"), (ax_time, "wall time [s]")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss $L$")
        if view.lower_bound > 0:
            ax.axhline(view.lower_bound, color=PLATEAU_COLOUR, ls=":", lw=1.2, label="lower bound (fact 5)")
    ax_ev.legend(loc="lower left")
    plot_network_1d(ax_net, view.gd.net, view.X, view.y, label="GD", color=GD_COLOUR)
    plot_network_1d(ax_net, view.anls.net, view.X, view.y, label="ANLS", color=ANLS_COLOUR, data=False)
    ax_net.legend(loc="best")
    titles = ("loss against evaluations", "loss against wall time", f"target ${target_latex(view.settings.target)}$")
    return _finish_panels(fig, axes[0], titles, view.summary())


class FigureArrays(NamedTuple):
    """The arrays an explorer's figure draws, by name: compared with the references, and saved only."""

    #: Compared with the references by ``book check``.
    checked: dict[str, Any]
    #: Saved beside them but not compared (wall times, runs decided by near-ties).
    unchecked: dict[str, Any]


def gd_arrays(view: GDView) -> FigureArrays:
    """What :func:`draw_gd` draws, by name; nothing is saved unchecked.

    The numbers of the view's summary come along as scalars: ``final_loss``, ``plateaus``,
    ``pattern_changes`` (after the flicker filter) and ``raw_changes``.
    """
    r = view.result
    fine, curve = network_curve_1d(r.net, view.X)
    start = np.array([p.start for p in view.plateaus], dtype=float)
    end = np.array([p.end for p in view.plateaus], dtype=float)
    level = np.array([p.level for p in view.plateaus], dtype=float)
    arrays = {
        "step": r.steps, "loss": r.loss, "levels": view.levels,
        "counts": r.counts.astype(np.int16),  # at most 201 points (the control's range): a quarter of int64
        "plateau_start": start, "plateau_end": end, "plateau_level": level,
        "x": view.X[:, 0], "y": view.y, "fine_x": fine, "network": curve,
        "final_loss": r.final_loss, "plateaus": len(view.plateaus),
        "pattern_changes": view.filtered_changes, "raw_changes": len(r.pattern_changes),
    }
    return FigureArrays(checked=arrays, unchecked={})


def anls_arrays(view: AnlsView) -> FigureArrays:
    """What :func:`draw_anls` draws, by name: compared with the references, and saved only.

    Saved only: the wall times, and the ANLS run, whose sweeps end on accept/reject comparisons
    of nearly equal losses (as Chapter 4's ``sweep_kept``). Scalars: ``gd_final``,
    ``lower_bound``; ``anls_final`` and ``sweeps`` (ANLS sweeps run) with the ANLS run.
    """
    fine, gd_curve = network_curve_1d(view.gd.net, view.X)
    _, anls_curve = network_curve_1d(view.anls.net, view.X)
    arrays = {
        "gd_evaluations": _evaluations(view.gd), "gd_loss": view.gd.loss, "gd_network": gd_curve,
        "x": view.X[:, 0], "y": view.y, "fine_x": fine,
        "gd_final": view.gd.final_loss, "lower_bound": view.lower_bound,
    }
    saved = {
        "gd_time": view.gd.times, "anls_time": view.anls.times,
        "anls_evaluations": _evaluations(view.anls), "anls_loss": view.anls.loss, "anls_network": anls_curve,
        "anls_final": view.anls.final_loss, "sweeps": view.anls.nit,
    }
    return FigureArrays(checked=arrays, unchecked=saved)


# --------------------------------------------------------------------------- controls


@dataclass(frozen=True)
class Control:
    """One control of an explorer, bound to a settings field.

    Attributes
    ----------
    field : str
        The settings field it sets.
    label : str
        Its label.
    kind : {"choice", "int", "log"}
        A drop-down of ``options``; an integer slider on ``[low, high]`` with ``step``; a
        logarithmic slider on ``[low, high]`` with ``step`` in :math:`\\log_{10}`.
    """

    field: str
    label: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: float = 1.0
    options: tuple[str, ...] = ()

    def widget(self, widgets: Any, value: Any) -> Any:
        """The ipywidgets control (``widgets`` is the ipywidgets module) holding ``value``."""
        common = {"description": self.label, "continuous_update": False,
                  "style": {"description_width": "8em"}}
        if self.kind == "choice":
            common.pop("continuous_update")
            return widgets.Dropdown(options=self.options, value=value, **common)
        if self.kind == "int":
            return widgets.IntSlider(value=value, min=int(self.low), max=int(self.high), step=int(self.step), **common)
        return widgets.FloatLogSlider(value=value, base=10, min=math.log10(self.low), max=math.log10(self.high),
                                      step=self.step, readout_format=".2g", **common)


#: Controls of the gradient-descent explorer.
GD_CONTROLS: tuple[Control, ...] = (
    Control("target", "target", "choice", options=ONE_D_TARGETS),
    Control("width", "width n", "int", 1, 40),
    Control("points", "data points m", "int", 5, 201),
    Control("init_scale", "init. scale α", "log", 1e-6, 1.0, 0.25),
    Control("lr", "step size η", "log", 1e-3, 1.0, 0.05),
    Control("steps", "GD steps", "int", 1000, 50_000, 1000),
    Control("seed", "seed", "int", 0, 99),
)
#: Controls of the ANLS-versus-GD explorer.
ANLS_CONTROLS: tuple[Control, ...] = (
    *GD_CONTROLS,
    Control("variant", "ANLS variant", "choice", options=ANLS_VARIANTS),
    Control("sweeps", "ANLS sweeps", "int", 1, 100),
)


# --------------------------------------------------------------------------- the explorer

#: How to get the live explorer: the end of both notes below.
_LIVE = (
    "Open this chapter on Binder or a JupyterHub (the rocket icon at the top of the page), or run it on "
    'your machine as described in <a href="running.html">Running the book</a>.'
)
_NOTE = (
    "<strong>Static picture.</strong> The book's pages are rendered without a Python kernel, so this "
    "is the explorer in its default state. In a running notebook the same cell shows controls for {controls}, "
    "and the figure follows them. " + _LIVE
)
_GRID_NOTE = (
    "<strong>Precomputed states.</strong> The book's pages are rendered without a Python kernel, so the "
    "controls above choose among the states of a grid computed when the book was built, with the same "
    "library calls as the live explorer. In a running notebook the same cell shows controls for {controls} "
    "over their whole ranges, and the figure is recomputed. " + _LIVE
)


class StaticStates(Protocol):
    """Precomputed states of an explorer that render themselves as a page's HTML block.

    What :class:`Explorer` needs of its ``frames`` (implemented by
    :class:`~plateau_lib.chapters.explorer_grid.StaticExplorer`, which this module does not import).
    """

    @property
    def name(self) -> str:
        """The name of the explorer the states were computed for (``"gd"``, ``"anls"``)."""
        ...

    def static_html(self, *, title: str, note: str) -> str:
        """The states as one self-contained HTML block, titled ``title``, with the HTML ``note`` under it."""
        ...


class Explorer:
    """Controls, a figure and a status line, kept in step with a settings object.

    Parameters
    ----------
    name : str
        Short identifier (``"gd"``, ``"anls"``), written into the static fallback.
    settings : GDSettings or AnlsSettings
        Initial settings.
    compute : callable
        settings :math:`\\to` view.
    draw : callable
        view :math:`\\to` :class:`matplotlib.figure.Figure`.
    controls : sequence of Control
        One control per settings field to expose.
    title : str
        Shown above the controls and used as the static picture's alternative text.
    frames : StaticStates, optional
        Precomputed states (:func:`~plateau_lib.chapters.explorer_grid.compute_frames`): the
        static fallback is then their HTML (:meth:`StaticStates.static_html`), an explorer whose
        controls swap frames, instead of one picture.

    Attributes
    ----------
    settings, view, figure
        The current settings, computed view and drawn figure (replaced together by
        :meth:`update`, so they always agree).
    """

    def __init__(self, name: str, settings: Any, compute: Callable[[Any], Any], draw: Callable[[Any], Figure],
                 controls: Sequence[Control], *, title: str, frames: StaticStates | None = None) -> None:
        known = {f.name for f in fields(settings)}
        unknown = [c.field for c in controls if c.field not in known]
        if unknown:
            raise ValueError(f"controls name unknown settings fields: {', '.join(unknown)}")
        if frames is not None and getattr(frames, "name", None) != name:
            raise ValueError(f"frames must be the precomputed states of the {name!r} explorer "
                             "(plateau_lib.chapters.explorer_grid.compute_frames)")
        self.name, self.title, self.frames = name, title, frames
        self._compute, self._draw, self._specs = compute, draw, tuple(controls)
        self.settings = settings
        self.view = compute(settings)
        self.figure = draw(self.view)
        self._ui: dict[str, Any] | None = None

    def update(self, **changes: Any) -> None:
        """Replace settings fields (checked first), recompute and redraw.

        On an invalid value nothing changes and the error propagates.
        """
        settings = replace(self.settings, **changes)
        view = self._compute(settings)
        self.settings, self.view, self.figure = settings, view, self._draw(view)
        if self._ui is not None:
            self._refresh()

    def png(self, dpi: float = 90) -> bytes:
        """The current figure as PNG bytes."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()

    # ----- widget layer (ipywidgets imported here only)

    def _build(self) -> dict[str, Any]:
        import ipywidgets as widgets

        controls = {c.field: c.widget(widgets, getattr(self.settings, c.field)) for c in self._specs}
        for field, control in controls.items():
            control.observe(self._on_change(field), names="value")
        image = widgets.Image(value=self.png(), format="png", layout=widgets.Layout(max_width="100%"))
        status = widgets.HTML(value=self._ready())
        grid = widgets.GridBox(list(controls.values()),
                               layout=widgets.Layout(grid_template_columns="repeat(3, minmax(16em, 1fr))"))
        box = widgets.VBox([widgets.HTML(f"<b>{html.escape(self.title)}</b>"), grid, status, image])
        return {"controls": controls, "image": image, "status": status, "box": box}

    def _on_change(self, field: str) -> Callable[[Mapping[str, Any]], None]:
        def handler(change: Mapping[str, Any]) -> None:
            assert self._ui is not None
            self._ui["status"].value = "<i>computing…</i>"
            try:
                self.update(**{field: change["new"]})
            except (TypeError, ValueError) as err:
                self._ui["status"].value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
        return handler

    def _refresh(self) -> None:
        assert self._ui is not None
        start = time.perf_counter()
        self._ui["image"].value = self.png()
        self._ui["status"].value = self._ready(time.perf_counter() - start)

    def _ready(self, render: float | None = None) -> str:
        """The status line: the figure's title holds the results, this line the timing."""
        took = f"computed in {self.view.seconds:.2f} s"
        if render is not None:
            took += f", drawn in {render:.2f} s"
        return f"<i>Move a control to recompute ({took}).</i>"

    def _widgets(self) -> dict[str, Any]:
        if self._ui is None:
            self._ui = self._build()
        return self._ui

    @property
    def controls(self) -> dict[str, Any]:
        """The ipywidgets controls by settings field (built on first use)."""
        return self._widgets()["controls"]

    @property
    def widget(self) -> Any:
        """The whole explorer as one ipywidgets box (built on first use)."""
        return self._widgets()["box"]

    # ----- static fallback and notebook display

    def static_html(self) -> str:
        """A self-contained HTML fallback: the precomputed states, or a PNG of the current state; how to run it live."""
        labels = ", ".join(c.label for c in self._specs)
        if self.frames is not None:
            return self.frames.static_html(title=self.title, note=_GRID_NOTE.format(controls=html.escape(labels)))
        data = base64.b64encode(self.png(dpi=110)).decode("ascii")
        alt = html.escape(f"{self.title}: {self.view.summary()}", quote=True)
        return (
            f'<div class="plateau-explorer-static" data-explorer="{html.escape(self.name, quote=True)}">'
            f'<img src="data:image/png;base64,{data}" alt="{alt}" style="max-width:100%"/>'
            f'<p class="plateau-explorer-note">{_NOTE.format(controls=html.escape(labels))}</p></div>'
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        try:
            bundle = dict(self.widget._repr_mimebundle_())
        except ImportError:  # no ipywidgets: the static picture only
            bundle = {"text/plain": repr(self)}
        bundle["text/html"] = self.static_html()
        return bundle

    def __repr__(self) -> str:
        return f"<Explorer {self.name!r}: {self.view.summary()}>"


def gd_explorer(*, frames: StaticStates | None = None, **settings: Any) -> Explorer:
    """The gradient-descent explorer of Chapter 1 (``settings`` override :meth:`GDSettings.defaults`).

    Example: ``gd_explorer(width=20).update(lr=0.05)``; in a notebook, display the returned
    object (last expression of a cell). ``frames``: precomputed states for the HTML page
    (:class:`Explorer`).
    """
    return Explorer("gd", GDSettings.defaults(**settings), compute_gd, draw_gd, GD_CONTROLS,
                    title="Gradient descent, its plateaus and their predicted levels", frames=frames)


def anls_explorer(*, frames: StaticStates | None = None, **settings: Any) -> Explorer:
    """The ANLS-versus-GD explorer of Chapter 4.

    ``settings`` override the defaults: :meth:`GDSettings.defaults` plus the ANLS fields' defaults.
    ``frames``: precomputed states for the HTML page (:class:`Explorer`).
    """
    return Explorer("anls", AnlsSettings.defaults(**settings), compute_anls, draw_anls, ANLS_CONTROLS,
                    title="ANLS against gradient descent from the same initial network", frames=frames)
