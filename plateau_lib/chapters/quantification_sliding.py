r"""Sliding phases in Chapter 2: the run shown at its pinned level, and sliding over the regime sweep.

The study: the showcase's search and its final state (:func:`find_sliding_showcase`,
:func:`sliding_showcase`), the check's tolerance (:func:`sliding_tolerance`), sliding over the
sweep (:func:`sliding_statistics`); its page: the sentences (:func:`shown_sentence`,
:func:`end_sliding_sentence`), the glued numbers (:func:`sliding_showcase_values`,
:func:`sliding_sweep_values`) and the figures (:func:`draw_sliding`,
:func:`draw_sliding_statistics`). The state a run ends in is measured with the sweep's rows
(:func:`~plateau_lib.chapters.quantification_regimes.final_sliding_state`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_positive_float, check_positive_int
from ..experiments import Experiment
from ..fixed_pattern import (
    FloatArray,
    SlidingPhase,
    breakpoint_history,
    sliding_phases,
    weighted_phases,
)
from ..result import TrainResult
from ..sweeps import SeedSearch, first_seed
from .page import DrawnFigure
from .quantification_regimes import (
    TAIL_FRACTION,
    TAIL_STEPS,
    RegimeRow,
    RegimeSweep,
    SlidingState,
    final_sliding_state,
    regime_run,
)

#: Chapter 2's checks: a run has come to rest when its loss changed by at most ``REST_RTOL``
#: (relative) over its last ``TAIL_FRACTION``. (The other tolerances are derived from what they
#: separate: fact 3's from the two predicted slopes,
#: :attr:`~plateau_lib.chapters.quantification_exit_times.ExitFit.rtol`; the sliding check's from
#: each run's gap between its pinned and neighbouring levels, :func:`sliding_tolerance`.)
REST_RTOL = 1e-5


#: Steps at the end of the sliding showcase drawn in the middle panel (the loss against the
#: levels) and the right panel (the pinned breakpoints) of its figure.
SLIDING_ZOOM_STEPS = 400


SLIDING_PIN_STEPS = 60


#: How many seeds (from the chapter's seed onward) the sliding showcase searches
#: (:func:`find_sliding_showcase`).
SHOWCASE_SEARCH = 40


def find_sliding_showcase(
    settings: RegimeSweep, scale: float, seed: int, *, quick: bool = False,
    rows: Sequence[RegimeRow] = (), max_seeds: int = SHOWCASE_SEARCH,
) -> SeedSearch[RegimeRow]:
    """The first seed from ``seed`` onward whose run at ``scale`` ends in a sliding phase (``end_sliding``).

    Runs already in ``rows`` (same scale and seed) are reused; the others are run by
    :func:`~plateau_lib.chapters.quantification_regimes.regime_run`. At most ``max_seeds`` seeds,
    ``seed .. seed + max_seeds - 1``.
    """
    if not isinstance(settings, RegimeSweep):
        raise TypeError(f"settings must be a RegimeSweep, got {type(settings).__name__}")
    scale = check_positive_float(scale, "scale")
    max_seeds = check_positive_int(max_seeds, "max_seeds")
    known = {r.seed: r for r in rows if r.scale == scale}

    def run(s: int) -> RegimeRow:
        return known[s] if s in known else regime_run((settings, scale, s, bool(quick)))

    return first_seed(run, int(seed), max_seeds, lambda row: None if row.end_sliding else "does not end sliding")


@dataclass(frozen=True, eq=False)
class SlidingShowcase:
    r"""The run shown in the sliding section, at its end (:func:`sliding_showcase`).

    Attributes
    ----------
    row : RegimeRow
        The sweep's row of the run (its ``tail_change`` says whether it has come to rest).
    run : TrainResult
        The run, every step recorded.
    state : SlidingState
        Its final sliding state (:func:`~plateau_lib.chapters.quantification_regimes.final_sliding_state`).
    last_phase : SlidingPhase
        The last sliding phase of the first pinned data point.
    x_pin : float
        That data point.
    pinned_neurons : tuple of int
        The weight-carrying neurons whose breakpoints sit on a pinned point at the end.
    """

    row: RegimeRow
    run: TrainResult
    state: SlidingState
    last_phase: SlidingPhase
    x_pin: float
    pinned_neurons: tuple[int, ...]

    @property
    def gap(self) -> float:
        r"""Relative distance of the loss from the pinned level, :math:`|L - L^*_{\rm pin}|/L^*_{\rm pin}`."""
        return abs(self.state.loss - self.state.pinned) / self.state.pinned

    @property
    def gap_nbr(self) -> float:
        r"""Relative distance of the loss from the nearer neighbouring :math:`L^*` (over :math:`L^*_{\rm pin}`)."""
        s = self.state
        return min(abs(s.loss - s.lstar_off), abs(s.loss - s.lstar_on)) / s.pinned

    @property
    def above(self) -> float:
        r"""Signed :math:`(L - L^*_{\rm pin})/L^*_{\rm pin}`: not below :math:`-\epsilon` while sliding."""
        return (self.state.loss - self.state.pinned) / self.state.pinned

    @property
    def tolerance(self) -> float:
        """The check's tolerance on :attr:`above` and :attr:`gap` (:func:`sliding_tolerance`)."""
        s = self.state
        return float(sliding_tolerance(s.pinned, s.lstar_off, s.lstar_on, s.level_error)[0])

    @property
    def distinct(self) -> bool:
        """A neighbouring level differs from the pinned one by more than round-off (:func:`sliding_tolerance`)."""
        s = self.state
        return bool(sliding_tolerance(s.pinned, s.lstar_off, s.lstar_on, s.level_error)[1])

    @property
    def oscillation(self) -> float:
        """Range of the loss over the last ``TAIL_STEPS`` steps, relative to its median."""
        steps = self.run.steps
        tail = self.run.loss[steps >= steps[-1] - TAIL_STEPS]
        return float((tail.max() - tail.min()) / np.median(tail))

    @property
    def at_rest(self) -> bool:
        """The run has come to rest: its loss changed by at most ``REST_RTOL`` over its last ``TAIL_FRACTION``."""
        return bool(abs(self.row.tail_change) <= REST_RTOL)

    def describe(self) -> str:
        """The pins, the loss and the three levels at the end, and the last phase."""
        s = self.state
        return (
            f"seed {self.row.seed}: pins {s.pins}; loss {s.loss:.7f}, pinned level "
            f"{s.pinned:.7f}, L* off {s.lstar_off:.7f}, L* on {s.lstar_on:.7f}; "
            f"{self._phase_words()}"
        )

    def _phase_words(self) -> str:
        phase = self.last_phase
        if phase is None:
            return "no sliding phase at the end"
        return (f"phase: point {phase.i} on neuron {phase.j}'s breakpoint, steps {phase.start}-{phase.end}, "
                f"{phase.toggles} toggles")

    def describe_gaps(self) -> str:
        """The loss's distances from the pinned level and the nearer neighbour, the tolerance, the oscillation."""
        return (
            f"shown: gap to pinned {self.gap:.2e}, to nearest neighbour {self.gap_nbr:.2e}, "
            f"tolerance {self.tolerance:.2e}, oscillation {self.oscillation:.2e}"
        )


def sliding_tolerance(
    pinned: ArrayLike, lstar_off: ArrayLike, lstar_on: ArrayLike, level_error: ArrayLike
) -> tuple[FloatArray, NDArray[np.bool_]]:
    r"""The sliding check's relative tolerance: half the gap to the nearer distinct neighbouring level.

    Both neighbouring patterns' ranges contain the pinned range, so
    :math:`L^*_{\rm off}, L^*_{\rm on} \le L^*_{\rm pin}`. A neighbour is *distinct* when its
    gap :math:`L^*_{\rm pin} - L^*_k` exceeds ``level_error``, the round-off bound of the computed
    difference (:attr:`~plateau_lib.chapters.quantification_regimes.SlidingState.level_error`);
    otherwise its range gives the same level (the pin does not bind) and nothing can tell the two
    apart. With :math:`g` the smallest gap of a distinct neighbour,

    .. math::

        \epsilon = \frac{g}{2\,L^*_{\rm pin}} ,

    and a loss within :math:`\epsilon` (relative) of :math:`L^*_{\rm pin}` is nearer to it than to
    any other level: the tolerance tells the pinned level, the chapter's explanation, from its
    alternative, a loss that has gone to a neighbouring pattern's level. Without a distinct
    neighbour, :math:`\epsilon` is the round-off bound ``level_error`` over :math:`L^*_{\rm pin}`.

    Returns
    -------
    tolerance : ndarray
        :math:`\epsilon` per run.
    distinct : ndarray of bool
        Whether the run has a distinct neighbour.
    """
    pinned = np.asarray(pinned, dtype=float)
    error = np.asarray(level_error, dtype=float)
    gaps = pinned - np.stack([np.asarray(lstar_off, dtype=float), np.asarray(lstar_on, dtype=float)])
    apart = gaps > error
    distinct = apart.any(axis=0)
    smallest = np.where(apart, gaps, np.inf).min(axis=0)
    return np.where(distinct, smallest / 2, error) / pinned, distinct


def sliding_showcase(
    experiment: Experiment, row: RegimeRow, X: ArrayLike, y: ArrayLike, *, quick: bool = False
) -> SlidingShowcase:
    """Re-run the seed of ``row`` (found by :func:`find_sliding_showcase`) and measure its final sliding state.

    Raises
    ------
    ValueError
        If the run does not end in a sliding phase of a weight-carrying neuron.
    """
    if not isinstance(row, RegimeRow):
        raise TypeError(f"row must be a RegimeRow, got {type(row).__name__}")
    run = experiment.run(row.seed, quick=quick, record_every=1)
    phases = weighted_phases(run, X, y, sliding_phases(run))
    state = final_sliding_state(run, X, y, phases)
    if state is None:
        raise ValueError(f"row: the run of seed {row.seed} does not end in a sliding phase")
    pin_i = state.pins[0][0]
    last_phase = max((p for p in phases if p.i == pin_i), key=lambda p: p.end)
    pinned = tuple(sorted({j for _, j in state.pins}))
    return SlidingShowcase(row, run, state, last_phase, float(np.asarray(X)[pin_i, 0]), pinned)


def draw_sliding(slide: SlidingShowcase) -> DrawnFigure:
    """The loss with the last sliding phase (left), its last ``SLIDING_ZOOM_STEPS`` steps against the
    levels (middle), and the pinned breakpoints over the last ``SLIDING_PIN_STEPS`` steps (right)."""
    from ..plotting import COLUMN_WIDTH_IN, figure, plot_per_neuron, span_row

    run, state, phase, x_pin = slide.run, slide.state, slide.last_phase, slide.x_pin
    steps = run.steps
    fig, axes = figure(nrows=2, ncols=2, width=COLUMN_WIDTH_IN, height=5.8)
    ax = span_row(fig, axes, 0)
    ax.plot(steps[1:], run.loss[1:], color="C0", lw=1.0, label="GD loss")
    ax.axvspan(max(phase.start, 1), phase.end, color="C1", alpha=0.15, lw=0, label="sliding phase")
    ax.set_xscale("log")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("loss $L$")
    ax.legend(loc="center left")
    ax.set_title(f"seed {slide.row.seed}")
    ax = axes[1, 0]
    tail = steps >= steps[-1] - SLIDING_ZOOM_STEPS
    unit = 1e-5
    ax.plot(steps[tail], (run.loss[tail] - state.lstar_off) / unit, color="C0", lw=0.6, label="GD loss")
    ax.axhline((state.pinned - state.lstar_off) / unit, color="k", lw=1.0, label=r"$L^*_{\rm pin}$ (kink at $x_i$)")
    ax.axhline(0.0, color="k", lw=1.0, ls="--", label=r"$L^*$, $x_i$ inactive")
    ax.set_xlabel("step")
    ax.set_ylabel(r"$L - L^*(x_i$ inactive$)$  [$10^{-5}$]")
    ax.set_ylim(-0.15 * (state.pinned - state.lstar_off) / unit, 1.3 * (run.loss[tail].max() - state.lstar_off) / unit)
    ax.legend(loc="center right")
    ax.set_title(f"last {SLIDING_ZOOM_STEPS} steps")
    ax = axes[1, 1]
    window = steps >= steps[-1] - SLIDING_PIN_STEPS
    offset = breakpoint_history(run, list(slide.pinned_neurons))[window] - x_pin
    plot_per_neuron(ax, steps[window], offset, logy=False)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("step")
    ax.set_ylabel(r"breakpoint $-\,x_i$")
    ax.set_title(f"{len(slide.pinned_neurons)} breakpoint(s) at $x_i = {x_pin:.3f}$")
    data = dict(
        step=steps, loss=run.loss, levels=np.array([state.pinned, state.lstar_off, state.lstar_on]),
        window_step=steps[window], breakpoint_offset=offset,
    )
    return DrawnFigure(fig, data=data)


def sliding_fraction(cols: Mapping[str, NDArray]) -> FloatArray:
    """Per run, the share of its steps covered by sliding phases of weight-carrying neurons."""
    return cols["sliding_steps"] / cols["budget"]


def draw_sliding_statistics(cols: Mapping[str, NDArray]) -> DrawnFigure:
    """Sliding fraction against the scale (left); final loss against the levels, runs ending while sliding (right)."""
    from ..plotting import COLUMN_WIDTH_IN, figure, plot_against_scale

    fraction, ending = sliding_fraction(cols), cols["end_sliding"]
    fig, axes = figure(ncols=2, width=COLUMN_WIDTH_IN, height=3.2)
    ax = plot_against_scale(axes[0, 0], cols["scale"], fraction, label="median over seeds", color="C1", logy=False)
    ax.set_ylabel("fraction of the run in sliding phases")
    ax.legend(loc="center right")
    ax = axes[0, 1]
    if ending.any():
        end_loss = cols["end_loss"][ending]
        ax.plot(cols["end_pinned"][ending], end_loss, "o", color="C1", ms=4, label=r"$L^*_{\rm pin}$")
        ax.plot(cols["end_lstar_off"][ending], end_loss, "v", color="0.5", ms=3, label=r"$L^*$ ($x_i$ inactive)")
        lo, hi = np.nanmin(end_loss) / 1.5, np.nanmax(end_loss) * 1.5
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
        ax.legend(loc="upper left")
    else:
        ax.text(0.5, 0.5, "no run ends while sliding", transform=ax.transAxes, ha="center")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("level")
    ax.set_ylabel("final loss (runs ending while sliding)")
    data = dict(scale=cols["scale"], seed=cols["seed"], sliding_fraction=fraction, end_sliding=ending)
    data.update({key: cols[key] for key in ("end_loss", "end_pinned", "end_lstar_off", "end_lstar_on")})
    return DrawnFigure(fig, data=data)


@dataclass(frozen=True, eq=False)
class SlidingStatistics:
    r"""Sliding over the sweep (:func:`sliding_statistics`).

    Attributes
    ----------
    fraction : ndarray
        Per run, :func:`sliding_fraction`.
    base : ndarray of bool
        The runs at the base experiment's own scale.
    ending : ndarray of bool
        The runs that end in a sliding phase.
    at_rest : ndarray of bool
        Those of them that have come to rest (``|tail_change| <= REST_RTOL``).
    end_gap_min : float
        Smallest :math:`(L - L^*_{\rm pin})/L^*_{\rm pin}` at the end over the ``ending`` runs
        (``nan`` if none): not below :math:`-\epsilon` while the kink stays.
    end_gap_rest_max : float
        Largest :math:`|L - L^*_{\rm pin}|/L^*_{\rm pin}` over the ``at_rest`` runs (``nan`` if none).
    distinct : ndarray of bool
        The runs with a neighbouring level distinct from the pinned one (:func:`sliding_tolerance`).
    below_ratio : float
        Smallest :math:`(L - L^*_{\rm pin})/(L^*_{\rm pin}\epsilon)` over the ``ending`` runs, with
        :math:`\epsilon` each run's :func:`sliding_tolerance` (``nan`` if none): the check wants
        at least -1.
    rest_ratio : float
        Largest :math:`|L - L^*_{\rm pin}|/(L^*_{\rm pin}\epsilon)` over the ``at_rest`` runs with
        a distinct neighbour (``nan`` if none): the check wants at most 1.
    """

    fraction: FloatArray
    base: NDArray[np.bool_]
    ending: NDArray[np.bool_]
    at_rest: NDArray[np.bool_]
    end_gap_min: float
    end_gap_rest_max: float
    distinct: NDArray[np.bool_]
    below_ratio: float
    rest_ratio: float

    @property
    def n_same_level(self) -> int:
        """Runs ending while sliding whose pinned level equals both neighbouring levels to round-off."""
        return int(np.sum(self.ending & ~self.distinct))

    @property
    def ending_base(self) -> NDArray[np.bool_]:
        """The runs at the base scale that end in a sliding phase."""
        return self.ending & self.base

    def search_miss(self, max_seeds: int = SHOWCASE_SEARCH) -> float:
        r"""Chance that ``max_seeds`` independent runs at the base scale all miss a sliding end, at this sweep's rate:
        :math:`(1 - k/n)^{\text{max\_seeds}}`."""
        return (1 - int(self.ending_base.sum()) / int(self.base.sum())) ** max_seeds

    def describe(self) -> str:
        """How many runs end while sliding, their smallest excess, those at rest and their largest gap."""
        return (
            f"runs ending while sliding: {self.ending.sum()}; smallest (L - L_pin)/L_pin "
            f"{self.end_gap_min:.2e}; at rest: {self.at_rest.sum()}, largest |gap| {self.end_gap_rest_max:.2e}; "
            f"in units of half the gap to the neighbouring level: smallest excess {self.below_ratio:.2e}, "
            f"largest gap at rest {self.rest_ratio:.2e}; pinned level equal to both neighbours' "
            f"(to round-off): {self.n_same_level}"
        )


def sliding_statistics(cols: Mapping[str, NDArray], base_scale: float) -> SlidingStatistics:
    """Sliding fractions and the runs that end while sliding, against their pinned levels."""
    ending, pinned, end_loss = cols["end_sliding"], cols["end_pinned"], cols["end_loss"]
    at_rest = ending & (np.abs(cols["tail_change"]) <= REST_RTOL)
    gap = (end_loss - pinned) / pinned
    tol, distinct = sliding_tolerance(pinned, cols["end_lstar_off"], cols["end_lstar_on"], cols["end_level_error"])
    checked = at_rest & distinct
    return SlidingStatistics(
        fraction=sliding_fraction(cols),
        base=cols["scale"] == base_scale,
        ending=ending,
        at_rest=at_rest,
        end_gap_min=_reduce(np.min, gap[ending]),
        end_gap_rest_max=_reduce(np.max, np.abs(gap[at_rest])),
        distinct=distinct,
        below_ratio=_reduce(np.min, gap[ending] / tol[ending]),
        rest_ratio=_reduce(np.max, np.abs(gap[checked]) / tol[checked]),
    )


def _reduce(reduction: Callable[[FloatArray], float], values: FloatArray) -> float:
    """``reduction(values)`` as a float, ``nan`` for no values."""
    return float(reduction(values)) if values.size else math.nan


def end_sliding_sentence(stats: SlidingStatistics) -> str:
    """The prose's sentence on the runs of the sweep that end while sliding (or that none does)."""
    if not stats.ending.any():
        return "No run of the sweep ends while sliding."
    return (
        f"{int(stats.ending.sum())} of the {len(stats.ending)} runs end while sliding "
        f"({int(stats.ending_base.sum())} of the {int(stats.base.sum())} runs of plateau_1d). In "
        "every one the final loss is above the pinned level, up to gradient descent's "
        "oscillation (smallest relative excess "
        f"{stats.end_gap_min:.1e}), as it must be while "
        "the kink stays at the data point; most are still descending, the rest of the "
        "network not yet converged. "
        f"The {int(stats.at_rest.sum())} of them that have come to "
        f"rest (relative loss change below {REST_RTOL:.0e} over the last "
        f"{TAIL_FRACTION:.0%} of the run) sit within {stats.end_gap_rest_max:.1e} of the "
        "pinned level."
    )


def shown_sentence(slide: SlidingShowcase) -> str:
    """The prose's sentence on whether the shown run has come to rest, and what its pinned level then means."""
    if slide.at_rest:
        return (
            "This run has come to rest (relative loss change below "
            f"{REST_RTOL:.0e} over the last {TAIL_FRACTION:.0%} of the run), so its "
            "loss must sit at the pinned level."
        )
    return (
        f"This run has not come to rest (its loss still fell by {slide.row.tail_change:.1e} "
        f"over the last {TAIL_FRACTION:.0%} of the run): the pinned level is the "
        "level it approaches while the kink stays, a lower bound, not yet its loss."
    )


def sliding_showcase_values(
    slide: SlidingShowcase, search: SeedSearch[RegimeRow], stats: SlidingStatistics
) -> dict[str, float | int | str]:
    """The glued numbers and sentence of the sliding run shown, and of the search that found it."""
    s = slide.state
    return dict(
        showcase_tried=len(search.tried),
        search_miss=stats.search_miss(),
        shown_text=shown_sentence(slide),
        slide_seed=slide.row.seed,
        x_pin=slide.x_pin,
        n_pinned=len(slide.pinned_neurons),
        phase_start=slide.last_phase.start,
        slide_loss=s.loss,
        slide_off=s.lstar_off,
        slide_on=s.lstar_on,
        slide_pinned=s.pinned,
        slide_gap=slide.gap,
        slide_gap_nbr=slide.gap_nbr,
        slide_tol=slide.tolerance,
        slide_osc=slide.oscillation,
        on_below=s.lstar_off - s.lstar_on,
    )


def sliding_sweep_values(stats: SlidingStatistics) -> dict[str, float | int | str]:
    """The glued numbers and sentence of sliding over the sweep (``_1d``: the runs at the base scale)."""
    fraction, base = stats.fraction, stats.base
    return dict(
        end_sliding_text=end_sliding_sentence(stats),
        end_1d=int(stats.ending_base.sum()),
        end_rest_1d=int(np.sum(stats.at_rest & base)),
        n_1d_runs=int(base.sum()),
        slide_frac_1d_median=float(np.median(fraction[base])),
        slide_frac_1d_mean=float(np.mean(fraction[base])),
        slide_frac_1d_min=float(fraction[base].min()),
        slide_frac_1d_max=float(fraction[base].max()),
        n_runs=len(fraction),
        slide_frac_all=float(np.mean(fraction)),
        n_end_sliding=int(stats.ending.sum()),
        end_gap_min=stats.end_gap_min,
        n_end_rest=int(stats.at_rest.sum()),
        end_gap_rest_max=stats.end_gap_rest_max,
        below_ratio=stats.below_ratio,
        rest_ratio=stats.rest_ratio,
        n_same_level=stats.n_same_level,
    )


__all__ = [
    "draw_sliding",
    "draw_sliding_statistics",
    "end_sliding_sentence",
    "find_sliding_showcase",
    "REST_RTOL",
    "SHOWCASE_SEARCH",
    "shown_sentence",
    "sliding_fraction",
    "sliding_showcase",
    "sliding_showcase_values",
    "sliding_statistics",
    "sliding_sweep_values",
    "sliding_tolerance",
    "SlidingShowcase",
    "SlidingStatistics",
]
