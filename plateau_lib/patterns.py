r"""Activation-pattern segments, loss plateaus, and how the two relate (claim C2).

Each step is a plain rule stated in its docstring:

1. **Flicker filter** (:func:`debounce_flips`, :func:`filtered_changes`). The raw
   bookkeeping of a :class:`~plateau_lib.result.TrainResult` records every change of
   every pattern entry :math:`D_{ij}`. Gradient descent makes many of them meaningless:
   a data point sitting on a breakpoint is pushed across it and back at almost every
   step (the discrete iteration chatters around the kink). The filter debounces each
   entry with hysteresis: its filtered state changes only when the raw state has
   *stayed* at a new value for at least ``min_dwell`` consecutive steps, and the change
   is dated to the step that stable run began. Neurons that carry no weight change their
   pattern without effect on the loss; ``neurons=`` (e.g. :func:`~plateau_lib.theory.significant_neurons`)
   leaves them out.
2. **Pattern segments** (:func:`pattern_segments`, :func:`raw_segments`): the maximal
   step intervals ``[start, end)`` on which the (filtered or raw) pattern is constant.
3. **Plateaus** (:func:`detect_plateaus`): a scale-free rule on the loss history alone:
   maximal unions of ``window``-fold stretches of time over each of which the loss stays
   within a factor ``window**slope_tol`` of itself, lasting a factor ``min_span`` in time.
4. **Relation** (:func:`relate`, :func:`match_plateaus`): for each plateau, the
   constant-pattern segment that covers most of it, the fraction covered, and whether the
   pattern is constant on it (up to a stated margin at its ends).
5. **State at a plateau** (:func:`plateau_index`, :func:`plateau_network`,
   :func:`plateau_pattern`): the recorded network and pattern nearest its middle step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float_array, check_positive_int, check_real
from .network import ShallowReLU, activation_pattern, check_problem
from .result import TrainResult, check_result
from .theory import SIGNIFICANCE_RTOL, significant_neurons

__all__ = [
    "PLATEAU_MIN_SPAN",
    "PLATEAU_SLOPE_TOL",
    "PLATEAU_WINDOW",
    "DEFAULT_DWELL_FRACTION",
    "EDGE_TOL",
    "Plateau",
    "PlateauMatch",
    "Segment",
    "debounce_flips",
    "default_min_dwell",
    "detect_plateaus",
    "final_plateau",
    "filtered_changes",
    "match_plateaus",
    "nearest_record",
    "pattern_segments",
    "plateau_index",
    "plateau_network",
    "plateau_pattern",
    "raw_segments",
    "relate",
]

DEFAULT_DWELL_FRACTION = 0.01
"""Default ``min_dwell`` as a fraction of the run length (see :func:`default_min_dwell`)."""
#: Default share of a plateau, at each end, in which a pattern change still counts as "within"
#: one segment (the loss is still settling onto the plateau or already leaving it; :func:`relate`).
EDGE_TOL = 0.1


# --------------------------------------------------------------------------------------
# validation helpers (local: they name this module's arguments)
# --------------------------------------------------------------------------------------


def _check_flips(flips: object) -> NDArray[np.int64]:
    if isinstance(flips, (str, bytes)) or flips is None:
        raise TypeError(f"flips must be an integer array of rows (step, i, j), got {type(flips).__name__}")
    arr = np.asarray(flips)
    if arr.size == 0:
        return np.zeros((0, 3), dtype=np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"flips must be an integer array of rows (step, i, j), got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"flips must have shape (F, 3) with rows (step, i, j), got shape {arr.shape}")
    if arr.min() < 0:
        raise ValueError("flips must hold non-negative steps and indices")
    arr = arr.astype(np.int64)
    # rows sorted by (step, i, j): a repeated row is a pair of equal neighbours (np.unique(axis=0)
    # finds the same, sorting the rows as opaque records, several times slower)
    ordered = arr[np.lexsort((arr[:, 2], arr[:, 1], arr[:, 0]))]
    if np.any(np.all(ordered[1:] == ordered[:-1], axis=1)):
        raise ValueError("flips must not repeat a row (step, i, j): an entry changes at most once per step")
    return arr


def _neuron_mask(neurons: object, n: int) -> NDArray[np.bool_] | None:
    """``None`` (all neurons), a boolean mask of length ``n`` or indices in ``[0, n)``."""
    if neurons is None:
        return None
    if isinstance(neurons, (str, bytes)):
        raise TypeError(f"neurons must be None, neuron indices or a boolean mask, got {type(neurons).__name__}")
    if not isinstance(neurons, (np.ndarray, Iterable)):
        raise TypeError(f"neurons must be None, neuron indices or a boolean mask, got {type(neurons).__name__}")
    arr = np.asarray(neurons if isinstance(neurons, np.ndarray) else list(neurons))
    if arr.dtype == np.bool_:
        if arr.shape != (n,):
            raise ValueError(f"neurons as a boolean mask must have shape ({n},), got {arr.shape}")
        return arr.copy()
    if arr.size == 0:
        return np.zeros(n, dtype=bool)
    if not np.issubdtype(arr.dtype, np.integer) or arr.ndim != 1:
        raise TypeError(f"neurons must be None, a 1-D array of neuron indices or a boolean mask, got {arr!r}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"neurons must be indices in [0, {n}), got {arr.tolist()}")
    mask = np.zeros(n, dtype=bool)
    mask[arr] = True
    return mask


# --------------------------------------------------------------------------------------
# 1. the flicker filter
# --------------------------------------------------------------------------------------


def default_min_dwell(last_step: int) -> int:
    r"""The default dwell of the flicker filter: 1 % of the run, at least one step.

    ``max(1, ceil(DEFAULT_DWELL_FRACTION * last_step))``: 200 steps for a 20 000-step run,
    80 for an 8 000-step run.

    Why this value. Flicker is a property of the *discrete* iteration, counted in steps:
    when a data point lies on a breakpoint, each gradient step pushes the breakpoint across
    it and the next pushes it back (the iteration chatters around the kink of the ReLU),
    so the entry toggles every one to a few steps whatever the run length. In the 1-D
    ``sin(pi x)`` runs of the book (GD, step 0.1, seeds 3 to 19, 20 000 steps), 99 % of
    the runs of the entries that chatter (20 toggles or more) last at most 17 steps. The
    structures this filter serves are long: a plateau of :func:`detect_plateaus` (default
    ``min_span = 2``) that ends at step :math:`t` lasts at least :math:`t/2` steps, so a
    plateau in the second half of a run lasts at least 25 % of it, 25 times the dwell.
    1 % of the run therefore sits an order of magnitude above flicker and an order of
    magnitude below the plateaus, and it scales with the run like the plateaus do.
    The price: a genuine excursion shorter than the dwell (a small neuron's breakpoint
    passing a point and coming back during a fast transition) is absorbed too; pass
    ``min_dwell`` explicitly to resolve fast transitions.
    """
    last_step = check_positive_int(last_step, "last_step", allow_zero=True)
    return max(1, math.ceil(DEFAULT_DWELL_FRACTION * last_step))


def debounce_flips(
    flips: ArrayLike,
    *,
    last_step: int,
    min_dwell: int,
    neurons: Iterable[int] | NDArray[np.bool_] | None = None,
    n: int | None = None,
) -> NDArray[np.int64]:
    r"""Debounce raw pattern-entry flips with hysteresis; return the filtered flips.

    Parameters
    ----------
    flips : array_like of int, shape (F, 3)
        Rows ``(step, i, j)``: entry :math:`D_{ij}` changed at ``step`` (its value at
        ``step`` differs from its value at ``step - 1``), as in ``TrainResult.flips``.
    last_step : int
        Last step of the record (``TrainResult.steps[-1]``); must be ``>=`` every flip step.
    min_dwell : int
        Minimal number of consecutive steps (``>= 1``) the raw state must hold a new value
        before the filtered state follows.
    neurons : None, indices or boolean mask, optional
        Keep only flips of these neurons (columns ``j``); ``None`` keeps all.
    n : int, optional
        Network width, needed only to check a boolean ``neurons`` mask (defaults to
        ``1 + max j``).

    Returns
    -------
    ndarray of int, shape (F', 3)
        The filtered flips ``(step, i, j)``, sorted by step, then ``i``, then ``j``.

    Notes
    -----
    The rule, for one entry with raw toggle steps :math:`s_1 < \dots < s_K`:

    * the raw state after toggle :math:`k` holds on the steps :math:`[s_k, s_{k+1})`
      (with :math:`s_{K+1} =` ``last_step + 1``), a *run* of :math:`s_{k+1} - s_k` steps;
    * a run is *stable* if it lasts at least ``min_dwell`` steps; the last run, cut by the
      end of the record, counts only if it too lasts ``min_dwell`` steps (a switch in the
      last ``min_dwell - 1`` steps of a run is not yet confirmed and is not reported);
    * the filtered state starts at the raw initial state and, at each stable run whose
      value differs from it, switches to that value; the filtered flip is dated
      :math:`s_k`, the step the stable run began.

    Consequences: toggling back and forth faster than ``min_dwell`` (flicker) never
    registers, however long it goes on; flicker followed by a settled switch registers
    once, at the start of the settled run; a brief excursion to the old value does not
    undo a switch. Since the filtered state equals the value of the latest stable run,
    the filtered flips are where consecutive stable runs (and the initial state) differ.
    With ``min_dwell = 1`` every run is stable and the filter returns the raw flips.
    """
    arr = _check_flips(flips)
    last_step = check_positive_int(last_step, "last_step", allow_zero=True)
    min_dwell = check_positive_int(min_dwell, "min_dwell")
    if len(arr) and arr[:, 0].max() > last_step:
        raise ValueError(f"last_step={last_step} must be >= every flip step, got a flip at step {arr[:, 0].max()}")
    if neurons is not None and (len(arr) or n is not None):
        width = check_positive_int(int(arr[:, 2].max()) + 1 if n is None else n, "n", allow_zero=True)
        if len(arr) and arr[:, 2].max() >= width:
            raise ValueError(f"n={width} is smaller than a neuron index in flips ({arr[:, 2].max()})")
        mask = _neuron_mask(neurons, width)
        arr = arr[mask[arr[:, 2]]] if len(arr) else arr
    if len(arr) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    # group by entry (i, j), time-ordered inside each group
    order = np.lexsort((arr[:, 0], arr[:, 2], arr[:, 1]))
    a = arr[order]
    step, i, j = a[:, 0], a[:, 1], a[:, 2]
    new_entry = np.ones(len(a), dtype=bool)
    new_entry[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    group = np.cumsum(new_entry) - 1
    # parity of the raw state after each toggle (1 = differs from the initial state)
    first = np.flatnonzero(new_entry)
    rank = np.arange(len(a)) - first[group]
    parity = (rank + 1) % 2
    # run length: until the entry's next toggle, or to the end of the record
    nxt = np.empty(len(a), dtype=np.int64)
    nxt[:-1] = step[1:]
    last_of_group = np.ones(len(a), dtype=bool)
    last_of_group[:-1] = new_entry[1:]
    nxt[last_of_group] = last_step + 1
    stable = (nxt - step) >= min_dwell
    # filtered flip where a stable run's value differs from the previous stable run's
    # (or, for the entry's first stable run, from the initial state, parity 0)
    idx = np.flatnonzero(stable)
    if len(idx) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    prev_parity = np.zeros(len(idx), dtype=np.int64)
    same_group = group[idx[1:]] == group[idx[:-1]]
    prev_parity[1:] = np.where(same_group, parity[idx[:-1]], 0)
    keep = idx[parity[idx] != prev_parity]
    out = a[keep]
    return out[np.lexsort((out[:, 2], out[:, 1], out[:, 0]))]


def _resolve_dwell(result: TrainResult, min_dwell: int | None) -> int:
    last = int(result.steps[-1])
    return default_min_dwell(last) if min_dwell is None else check_positive_int(min_dwell, "min_dwell")


def filtered_changes(
    result: TrainResult,
    *,
    min_dwell: int | None = None,
    neurons: Iterable[int] | NDArray[np.bool_] | None = None,
) -> NDArray[np.int64]:
    """Steps at which the flicker-filtered activation pattern changes.

    Parameters
    ----------
    result : TrainResult
        A training run (its ``flips`` and last recorded step are used).
    min_dwell : int, optional
        Dwell of the filter in steps; ``None`` uses :func:`default_min_dwell` of the
        run's last step (1 % of the run).
    neurons : None, indices or boolean mask of length n, optional
        Only the pattern columns of these neurons count (e.g.
        :func:`~plateau_lib.theory.significant_neurons`).

    Returns
    -------
    ndarray of int
        Sorted distinct steps ``s >= 1`` at which some filtered entry changes (the
        filtered pattern at ``s`` differs from that at ``s - 1``); see :func:`debounce_flips`.
    """
    result = check_result(result)
    dwell = _resolve_dwell(result, min_dwell)
    n = result.net.n
    mask = _neuron_mask(neurons, n)
    flips = debounce_flips(result.flips, last_step=int(result.steps[-1]), min_dwell=dwell, neurons=mask, n=n)
    return np.unique(flips[:, 0]).astype(np.int64)


# --------------------------------------------------------------------------------------
# 2. constant-pattern segments
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A maximal step interval ``[start, end)`` on which the activation pattern is constant.

    Attributes
    ----------
    start : int
        First step of the segment (0, or a step where the pattern changed).
    end : int
        One past the last step (the next change, or ``last_step + 1`` for the last
        segment), so the segments of a run partition ``0, 1, ..., last_step``.
    counts : tuple of int
        Activation counts :math:`a_j` recorded at the recorded step nearest the
        segment's middle step ``(start + end - 1) / 2`` (ties to the earlier step).
        These are raw counts: inside a filtered segment a flickering entry may be caught
        in either state.
    raw_changes : int
        Raw pattern changes strictly inside the segment (steps ``start < s < end``): the
        flicker the filter absorbed. Always 0 for :func:`raw_segments`.
    """

    start: int
    end: int
    counts: tuple[int, ...]
    raw_changes: int

    @property
    def length(self) -> int:
        """Number of steps in the segment, ``end - start``."""
        return self.end - self.start


def _segments(result: TrainResult, changes: NDArray[np.int64]) -> list[Segment]:
    last = int(result.steps[-1])
    bounds = np.concatenate([[0], changes[(changes > 0) & (changes <= last)], [last + 1]]).astype(np.int64)
    raw = np.sort(np.asarray(result.pattern_changes, dtype=np.int64))
    steps = np.asarray(result.steps, dtype=np.float64)
    out = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        k = _nearest(steps, (start + end - 1) / 2)
        inside = int(np.searchsorted(raw, end, side="left") - np.searchsorted(raw, start, side="right"))
        out.append(Segment(int(start), int(end), tuple(int(a) for a in result.counts[k]), inside))
    return out


def pattern_segments(
    result: TrainResult,
    *,
    min_dwell: int | None = None,
    neurons: Iterable[int] | NDArray[np.bool_] | None = None,
) -> list[Segment]:
    """Constant-pattern segments of a run between the flicker-filtered pattern changes.

    Parameters
    ----------
    result : TrainResult
    min_dwell : int, optional
        Dwell of the flicker filter (:func:`debounce_flips`); ``None`` uses
        :func:`default_min_dwell` (1 % of the run).
    neurons : None, indices or boolean mask, optional
        Restrict the pattern to these neurons' columns (see :func:`filtered_changes`).

    Returns
    -------
    list of Segment
        Consecutive segments ``[start, end)``: the first starts at 0, each next one at the
        previous ``end`` (a filtered change), the last ends at ``last_step + 1``.
    """
    return _segments(result, filtered_changes(result, min_dwell=min_dwell, neurons=neurons))


def raw_segments(result: TrainResult) -> list[Segment]:
    """Constant-pattern segments between the *raw* pattern changes (no filtering).

    The same as :func:`pattern_segments` with ``min_dwell=1`` and all neurons, computed
    from ``result.pattern_changes``; for side-by-side comparison with the filtered ones.
    """
    result = check_result(result)
    return _segments(result, np.unique(np.asarray(result.pattern_changes, dtype=np.int64)))


# --------------------------------------------------------------------------------------
# 3. plateaus of the loss
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plateau:
    """A stretch of the loss history on which the loss stagnates (:func:`detect_plateaus`).

    Attributes
    ----------
    start, end : float
        First and last recorded step (or time) of the plateau, both included. ``start``
        is 0 when the plateau begins with the run.
    span : float
        ``end / start``, the plateau's length as a factor in time (with the first positive
        recorded time in place of ``start`` when ``start`` is 0).
    level : float
        Median of the recorded losses on ``[start, end]``.
    rel_change : float
        ``(loss(end) - loss(start)) / loss(start)``: negative when the loss still falls.
    """

    start: float
    end: float
    span: float
    level: float
    rel_change: float

    @property
    def length(self) -> float:
        """``end - start`` (in steps or time units)."""
        return self.end - self.start

    @property
    def middle(self) -> float:
        """``(start + end) / 2``."""
        return (self.start + self.end) / 2


class _RangeTable:
    """Sparse table for O(1) range minimum and maximum queries on a fixed array."""

    def __init__(self, values: NDArray[np.float64]) -> None:
        self.lo = [values]
        self.hi = [values]
        width = 1
        while 2 * width <= len(values):
            lo, hi = self.lo[-1], self.hi[-1]
            self.lo.append(np.minimum(lo[:-width], lo[width:]))
            self.hi.append(np.maximum(hi[:-width], hi[width:]))
            width *= 2

    def spread(self, first: NDArray[np.int64], last: NDArray[np.int64]) -> NDArray[np.float64]:
        """``max - min`` of ``values[first[k] : last[k] + 1]`` for every k."""
        length = last - first + 1
        level = np.floor(np.log2(length)).astype(np.int64)
        out = np.empty(len(first))
        for p in np.unique(level):
            sel = level == p
            a, b = first[sel], last[sel] - (1 << int(p)) + 1
            out[sel] = np.maximum(self.hi[p][a], self.hi[p][b]) - np.minimum(self.lo[p][a], self.lo[p][b])
        return out


#: Defaults of :func:`detect_plateaus`: a plateau's log-log slope bound, the time factor of its
#: windows and its least span (see there for why these values). Over a window the loss of a
#: plateau stays within the factor ``PLATEAU_WINDOW ** PLATEAU_SLOPE_TOL`` of itself.
PLATEAU_SLOPE_TOL = 0.1


PLATEAU_WINDOW = 2.0


PLATEAU_MIN_SPAN = 2.0


def detect_plateaus(
    steps: ArrayLike,
    loss: ArrayLike,
    *,
    slope_tol: float = PLATEAU_SLOPE_TOL,
    window: float = PLATEAU_WINDOW,
    min_span: float = PLATEAU_MIN_SPAN,
) -> list[Plateau]:
    r"""Plateaus of a loss history by a scale-free rule on the log-log curve.

    Parameters
    ----------
    steps : array_like, shape (k,)
        Recorded steps (or continuous times): finite, ``>= 0``, strictly increasing.
        Only ``steps[0]`` may be 0.
    loss : array_like, shape (k,)
        Loss at each recorded step: finite and ``> 0``.
    slope_tol : float
        Bound on the log-log slope :math:`|d\log L / d\log t|` of a plateau, ``>= 0``.
        Default 0.1: at that slope, losing one decade of loss takes ten decades of time,
        which is stagnation for any practical budget, while the drops between plateaus
        of gradient descent have slopes of order one (a power-law decay
        :math:`L\propto t^{-p}` with :math:`p\ge 1` is progress, not a plateau).
    window : float
        Time factor ``> 1`` of the windows on which the slope is measured. Default 2: a
        window is a doubling of time, the coarsest resolution that still separates a
        plateau from the drop that ends it.
    min_span : float
        A plateau must last at least this factor in time, ``end / start >= min_span``
        (``>= 1``). Default 2: the loss has stagnated at least as long as all the
        training that led to it.

    Returns
    -------
    list of Plateau
        In time order, non-overlapping.

    Notes
    -----
    The rule. Let :math:`t_0 < t_1 < \dots` be the recorded times that are positive. For
    each :math:`t_k` with :math:`\rho t_k \le t_{\text{last}}` (:math:`\rho` = ``window``;
    windows must lie inside the record, so the end of a run is judged on a full window
    too), the *window* :math:`W_k` is the set of recorded points from :math:`t_k` up to and
    including the first recorded point at or after :math:`\rho t_k`: the shortest recorded
    stretch starting at :math:`t_k` that covers a factor :math:`\rho` in time (exactly
    :math:`[t_k, \rho t_k]` when :math:`\rho t_k` is recorded; longer, never shorter, where the
    record is sparse). The window of :math:`t_0` also contains the point at time 0 when
    there is one. :math:`W_k` is *flat* when

    .. math::

        \max_{W_k} \log L - \min_{W_k} \log L \;\le\; \texttt{slope\_tol}\cdot\log\rho ,

    i.e. over a factor :math:`\rho` in time the loss stays within a factor
    :math:`\rho^{\texttt{slope\_tol}}` of itself (7 % for the defaults): the mean
    log-log slope over the window is at most ``slope_tol`` in magnitude and no bump
    inside it is larger. A plateau is a maximal union of flat windows that share recorded
    points, from the first point of its first window to the last point of its last one,
    kept when its span ``end / start`` is at least ``min_span`` (with :math:`t_0` in place
    of a start at 0). So every recorded point of a plateau lies in a flat window, and a
    drop by more than the tolerance within a factor :math:`\rho` in time lies in none.

    Only ratios of times and of losses enter, so the plateaus are the same after
    multiplying the loss by a positive constant (levels scale with it) or the times by a
    positive constant (starts and ends scale with it). A run's first recorded positive
    step plays the role of the origin of log-time: if the loss hardly changes over the
    first ``window``-fold stretch (e.g. steps 1 to 2), that stretch is flat too.
    """
    t = as_float_array(steps, "steps", 1, allow_empty=True)
    L = as_float_array(loss, "loss", 1, allow_empty=True)
    if len(t) != len(L):
        raise ValueError(f"steps and loss must have the same length, got {len(t)} and {len(L)}")
    if len(t) and t.min() < 0:
        raise ValueError("steps must be >= 0")
    if np.any(np.diff(t) <= 0):
        raise ValueError("steps must be strictly increasing")
    if np.any(L <= 0):
        raise ValueError("loss must be > 0 everywhere (plateaus are judged on log L)")
    slope_tol = check_real(slope_tol, "slope_tol", low=0.0, strict=False)
    window = check_real(window, "window", low=1.0, strict=True)
    min_span = check_real(min_span, "min_span", low=1.0, strict=False)

    positive = np.flatnonzero(t > 0)
    if len(positive) < 2:
        return []
    logL = np.log(L)
    k = positive[t[positive] * window <= t[-1]]
    if len(k) == 0:
        return []
    last = np.searchsorted(t, t[k] * window, side="left")
    first = k.copy()
    if t[0] == 0 and k[0] == positive[0]:
        first[0] = 0
    flat = _RangeTable(logL).spread(first, last) <= slope_tol * math.log(window)
    first, last = first[flat], last[flat]

    plateaus: list[Plateau] = []
    t_origin = t[positive[0]]
    i = 0
    while i < len(first):
        a, b = first[i], last[i]
        i += 1
        while i < len(first) and first[i] <= b:
            b = max(b, last[i])
            i += 1
        span = t[b] / (t[a] if t[a] > 0 else t_origin)
        if span >= min_span:
            plateaus.append(
                Plateau(
                    start=t[a].item(),
                    end=t[b].item(),
                    span=float(span),
                    level=float(np.median(L[a : b + 1])),
                    rel_change=float((L[b] - L[a]) / L[a]),
                )
            )
    steps_arr = np.asarray(steps)
    if np.issubdtype(steps_arr.dtype, np.integer):  # report integer steps as ints
        plateaus = [
            Plateau(int(p.start), int(p.end), p.span, p.level, p.rel_change) for p in plateaus
        ]
    return plateaus


def final_plateau(steps: ArrayLike, loss: ArrayLike) -> Plateau | None:
    r"""The plateau a loss history ends on (:func:`detect_plateaus`, defaults), or ``None``.

    Windows must lie inside the record, so no plateau reaches past the end of the last window
    the rule can form: the one starting at the last recorded :math:`t_k` with
    :math:`\rho t_k \le t_{\text{last}}`, which ends at the first record at or after
    :math:`\rho t_k` (the last record itself when records are dense). The history ends on a
    plateau when its last plateau reaches that far: over the last ``PLATEAU_WINDOW``-fold
    stretch of time the record resolves, the loss stagnated.

    Parameters
    ----------
    steps, loss : array_like, shape (k,)
        As in :func:`detect_plateaus`.
    """
    plateaus = detect_plateaus(steps, loss)
    if not plateaus:
        return None
    t = np.asarray(steps, dtype=np.float64)
    starts = np.flatnonzero((t > 0) & (t * PLATEAU_WINDOW <= t[-1]))
    reach = t[np.searchsorted(t, t[starts[-1]] * PLATEAU_WINDOW, side="left")]
    return plateaus[-1] if plateaus[-1].end >= reach else None


# --------------------------------------------------------------------------------------
# 4. plateaus against segments
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlateauMatch:
    """How one plateau sits among the constant-pattern segments (:func:`relate`).

    Attributes
    ----------
    plateau : Plateau
    segment : Segment
        The segment overlapping the plateau the most (the earliest on a tie).
    segment_index : int
        Its index in the list of segments.
    coverage : float
        Fraction of the plateau's length ``end - start`` covered by that segment, in [0, 1].
    changes_inside : int
        Segment boundaries (pattern changes) at steps ``start < s <= end`` of the plateau.
    within : bool
        Whether the pattern is constant on the plateau apart from its outer ``edge_tol``
        fraction at each end: no boundary at a step ``s`` with
        ``start + edge_tol * length < s <= end - edge_tol * length``.
    raw_changes_inside : int or None
        Raw pattern changes at steps ``start < s <= end``, if :func:`relate` was given them.
    neurons : tuple of int or None
        The neurons whose pattern columns made the segments, when known
        (:func:`match_plateaus`); ``None`` for all neurons or unknown.
    """

    plateau: Plateau
    segment: Segment
    segment_index: int
    coverage: float
    changes_inside: int
    within: bool
    raw_changes_inside: int | None = None
    neurons: tuple[int, ...] | None = None


def relate(
    plateaus: Sequence[Plateau],
    segments: Sequence[Segment],
    *,
    edge_tol: float = EDGE_TOL,
    raw_changes: ArrayLike | None = None,
) -> list[PlateauMatch]:
    r"""For each plateau, the constant-pattern segment that contains it (claim C2).

    Parameters
    ----------
    plateaus : sequence of Plateau
        From :func:`detect_plateaus`.
    segments : sequence of Segment
        Consecutive segments from :func:`pattern_segments` or :func:`raw_segments`.
    edge_tol : float
        Fraction in ``[0, 0.5)`` of the plateau's length ignored at each end by ``within``.
        Default 0.1. Why a margin at all: the plateau's ends are where the loss comes
        within a factor ``window**slope_tol`` of its level (:func:`detect_plateaus`), so
        the last stretch of the approach to the level, while gradient descent still
        converges towards it (claim C3) and a point may still settle across a breakpoint,
        and the first stretch of the exit, when the pattern starts to move, fall inside
        the detected plateau. The margin is relative, so the verdict is unchanged by
        rescaling time; ``coverage`` and ``changes_inside`` report the strict picture.
    raw_changes : array_like of int, optional
        Raw pattern-change steps (``TrainResult.pattern_changes``) to count inside each
        plateau, for comparison with the filtered picture.

    Returns
    -------
    list of PlateauMatch
        One per plateau, in the given order.

    Notes
    -----
    A change at step ``s`` separates the pattern at ``s - 1`` from that at ``s``; the
    pattern is constant on the closed step interval ``[a, b]`` iff no change falls at
    ``a < s <= b``. Segments are half-open ``[start, end)`` and the plateau is the closed
    ``[start, end]``, both measured as real intervals for ``coverage``.
    """
    if isinstance(plateaus, Plateau) or not all(isinstance(p, Plateau) for p in plateaus):
        raise TypeError("plateaus must be a sequence of Plateau (from detect_plateaus)")
    if isinstance(segments, Segment) or not all(isinstance(s, Segment) for s in segments):
        raise TypeError("segments must be a sequence of Segment (from pattern_segments)")
    segments = list(segments)
    if not segments:
        raise ValueError("segments must not be empty")
    for prev, nxt in zip(segments[:-1], segments[1:], strict=True):
        if nxt.start != prev.end:
            raise ValueError(
                f"segments must be consecutive, got [{prev.start}, {prev.end}) followed by [{nxt.start}, {nxt.end})"
            )
    edge_tol = check_real(edge_tol, "edge_tol", low=0.0, strict=False, high=0.5)
    raw = None
    if raw_changes is not None:
        raw = np.sort(as_float_array(raw_changes, "raw_changes", 1)) if np.size(raw_changes) else np.zeros(0)
    starts = np.array([s.start for s in segments], dtype=np.float64)
    ends = np.array([s.end for s in segments], dtype=np.float64)
    boundaries = starts[1:]

    def count(values: NDArray[np.float64], lo: float, hi: float) -> int:
        return int(np.searchsorted(values, hi, side="right") - np.searchsorted(values, lo, side="right"))

    out = []
    for p in plateaus:
        overlap = np.clip(np.minimum(ends, p.end) - np.maximum(starts, p.start), 0.0, None)
        best = int(np.argmax(overlap))
        if p.length > 0:
            coverage = float(overlap[best] / p.length)
        else:  # a single step: covered by the segment holding it
            best = int(np.searchsorted(starts, p.start, side="right") - 1)
            coverage = 1.0 if starts[best] <= p.start < ends[best] else 0.0
        margin = edge_tol * p.length
        out.append(
            PlateauMatch(
                plateau=p,
                segment=segments[best],
                segment_index=best,
                coverage=min(coverage, 1.0),
                changes_inside=count(boundaries, p.start, p.end),
                within=count(boundaries, p.start + margin, p.end - margin) == 0,
                raw_changes_inside=None if raw is None else count(raw, p.start, p.end),
            )
        )
    return out


def match_plateaus(
    result: TrainResult,
    X: ArrayLike,
    y: ArrayLike,
    *,
    min_dwell: int | None = None,
    rel_tol: float | None = SIGNIFICANCE_RTOL,
    edge_tol: float = EDGE_TOL,
    slope_tol: float = 0.1,
    window: float = 2.0,
    min_span: float = 2.0,
) -> list[PlateauMatch]:
    """Detect the plateaus of a run and relate each to its constant-pattern segments.

    For each plateau of :func:`detect_plateaus` (``slope_tol``, ``window``, ``min_span``)
    on ``result.steps`` and ``result.loss``, take the neurons that carry weight at the
    plateau's middle (:func:`~plateau_lib.theory.significant_neurons` on ``X, y`` with ``rel_tol`` at
    :func:`plateau_index`; ``rel_tol=None`` takes all neurons), build the filtered
    segments of their pattern columns (:func:`pattern_segments` with ``min_dwell``) and
    relate the plateau to them (:func:`relate` with ``edge_tol``, counting
    ``result.pattern_changes`` as the raw changes).

    Restricting to weight-carrying neurons is claim C2's own proviso: a plateau may also
    end "when a neuron that carried no weight starts to grow", and such a neuron's
    breakpoint may wander across data points during the plateau without any effect on
    the loss.

    Returns
    -------
    list of PlateauMatch
        One per plateau, in time order, with ``neurons`` set to the neurons used.
    """
    result = check_result(result)
    check_problem(result.net, X, y)
    if rel_tol is not None:
        rel_tol = check_real(rel_tol, "rel_tol", low=0.0, strict=False)
    out = []
    for plateau in detect_plateaus(result.steps, result.loss, slope_tol=slope_tol, window=window, min_span=min_span):
        if rel_tol is None:
            neurons = np.arange(result.net.n)
        else:
            net = result.net_at(plateau_index(result, plateau))
            neurons = np.asarray(significant_neurons(net, X, y, rel_tol), dtype=np.int64)
        segments = pattern_segments(result, min_dwell=min_dwell, neurons=neurons)
        (match,) = relate([plateau], segments, edge_tol=edge_tol, raw_changes=result.pattern_changes)
        out.append(replace(match, neurons=tuple(int(j) for j in neurons)))
    return out


# --------------------------------------------------------------------------------------
# 5. the network and pattern at a plateau
# --------------------------------------------------------------------------------------


def plateau_index(result: TrainResult, plateau: Plateau) -> int:
    """Index of the recorded step nearest the plateau's middle (ties to the earlier step)."""
    result = check_result(result)
    if not isinstance(plateau, Plateau):
        raise TypeError(f"plateau must be a Plateau, got {type(plateau).__name__}")
    steps = np.asarray(result.steps, dtype=np.float64)
    mid = plateau.middle
    if not steps[0] <= mid <= steps[-1]:
        raise ValueError(f"plateau middle {mid} lies outside the recorded steps [{steps[0]}, {steps[-1]}]")
    return _nearest(steps, mid)


def nearest_record(result: TrainResult, step: float) -> int:
    """Index of the recorded step nearest ``step`` (ties to the earlier step)."""
    result = check_result(result)
    return _nearest(np.asarray(result.steps, dtype=np.float64), check_real(step, "step", low=-np.inf, strict=False))


def _nearest(steps: NDArray[np.float64], t: float) -> int:
    k = int(np.searchsorted(steps, t))
    if k == len(steps) or (k > 0 and t - steps[k - 1] <= steps[k] - t):
        k -= 1
    return k


def plateau_network(result: TrainResult, plateau: Plateau) -> ShallowReLU:
    """The network recorded nearest the plateau's middle step (``result.net_at``)."""
    return result.net_at(plateau_index(result, plateau))


def plateau_pattern(result: TrainResult, plateau: Plateau, X: ArrayLike) -> NDArray[np.bool_]:
    r"""The activation pattern :math:`D` (m, n) of :func:`plateau_network` on data ``X``."""
    return activation_pattern(plateau_network(result, plateau), X)
