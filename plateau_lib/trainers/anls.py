r"""Active Neuron Least Squares (ANLS): choose each neuron's activation pattern by least squares.

The paper (Ainsworth & Shin) defines ANLS by its principle: every step adjusts the activation
pattern *explicitly*, by least squares on the active neurons. :func:`train_anls` is the
companion's concrete reading of that principle: one sweep visits the neurons in turn, and for
each chooses its direction, threshold and orientation by the least-squares gain
:math:`G(\tau, s)` (:func:`threshold_gains`), re-solves all output weights, and keeps the change
only if the loss drops, so the loss never increases. The step-by-step algorithm, every option,
and what is recorded are in the book's *Design notes* (:doc:`/book/design`, section
"Active Neuron Least Squares").

.. rubric:: Presets

The options that make a reading of the principle come in named sets, :data:`PRESETS`
(:func:`preset_options` resolves one for a dimension :math:`d`); ``train_anls(..., preset=...)``
takes every option not given explicitly from the preset.

``"joint"`` (the default)
    ``criterion="joint"``, ``thresholds="continuous"`` for :math:`d = 1` and ``"data"`` for
    :math:`d > 1`, ``directions="fit"``, ``pattern_solve=True``, ``pattern_steps`` 1 for
    :math:`d = 1` and 4 for :math:`d > 1`, ``pair_moves=10``: the joint gain (all output weights
    re-fitted with the new neuron, exactly the loss reduction of the update), the exact optimum
    over real thresholds in 1-D, least-squares solves of the frozen pattern closing each sweep
    (up to 4 in a row for :math:`d > 1`, each on the pattern the last one left), and up to 10
    pair moves out of fixed points and stalls. The strongest reading
    measured on the six *tuning* problems of the ANLS benchmark
    (:mod:`plateau_lib.chapters.anls_benchmark`): continuous thresholds lowered the median 1-D
    loss by 20-40 %, data thresholds found exact fits of the 2-D pyramid that continuous ones
    missed, pair moves lowered the median 1-D loss by 0-55 %. ``pattern_steps`` was chosen on the
    race's tuning problems: with at most 1, 3, 4, 6, 8, 12 or 50 solves in a row, ANLS fitted
    ``plateau_2d`` exactly (below the round-off floor) within the race's budget on 0, 4, 7, 8, 5, 5
    and 5 of 16 seeds, and 4 had the lowest median best loss (200 times the floor, against
    :math:`4\cdot10^6` with one solve); ``pyramid_2d`` was fitted exactly with each, and the 1-D
    tuning problems were no better with 4 (``multi_plateau_1d`` 1.065 against 1.046 times the
    best-known loss), so 1-D keeps one.
``"design"``
    ``criterion="single"``, ``thresholds="data"``, ``directions="fit"``, ``pattern_solve=False``
    (``pattern_steps=1``, unused), ``pair_moves=0``: the literal reading of the design
    (``DESIGN.md``), the gain of fitting the neuron's target by the new neuron alone, thresholds
    at the data projections, nothing else.

.. rubric:: What a sweep keeps, beyond the design notes

A proposal is kept if its loss, with all output weights re-solved (minimum-norm least squares),
is below the lowest loss reached so far by more than :data:`ACCEPT_RTOL`. The other neurons keep
their inner weights while a sweep runs; when it ends every neuron is balanced
(:math:`|c_l| = |v_l|`, which changes no output) and the network is evaluated once
(:func:`~plateau_lib.network.evaluate`). If that evaluated loss is not below the loss before the
sweep (possible only next to an exact fit, where the loss is at the level of round-off), the
sweep is undone and its updates are marked as not kept, so the recorded loss never increases.

.. rubric:: When a run stops

At a fixed point (a sweep that changes nothing, after the pair moves left), at an exact fit
(:data:`EXACT_RTOL`), and once the run crawls: the last :data:`FTOL_SWEEPS` sweeps together
lowered the loss by at most ``ftol`` (relative; default :data:`FTOL`, chosen on the tuning
problems of the race) and a pair move, where one was left, did not help.

.. rubric:: Cost of a sweep

With :math:`m` data points, width :math:`n` and dimension :math:`d`, a sweep costs
:math:`O(n\,m\log m + m n^2)` (times small factors in :math:`d`); the pattern solve adds one
:math:`m \times n(d+1)` least-squares problem, :math:`O(m n^2 d^2)`, and the evaluation closing
the sweep :math:`O(mnd)`:

* the threshold search of one neuron sorts the projections (:math:`O(m\log m)`) and scores all
  candidates by cumulative sums; the joint gain needs the quadratic forms
  :math:`|Q^\top\varphi|^2` of every candidate against an orthonormal basis :math:`Q` of the
  other neurons' features. They are exact at every :data:`SEARCH_BLOCK`-th sorted position from
  one pass over :math:`Q` (:math:`O(mn)`), and a candidate between two such knots has a
  certified upper bound on its gain (its residual differs from the knot's by at most
  :math:`|\varphi - \psi|`, a sum over the few points in between); only the blocks whose bound
  reaches the best exact gain are evaluated exactly, so the choice is that of the full search.
  With ``thresholds="continuous"`` every position is evaluated (:math:`O(mn)`, computed once per
  change of the features in 1-D, where every neuron sorts the data the same way);
* :math:`Q`, with :math:`S = Q^\top A` and :math:`Q^\top y`, is rebuilt (pivoted QR) at the start
  of each sweep and updated after each kept change by one rank-1 update in place
  (:math:`O(mn)`); the projector onto the other features is :math:`Q(I - zz^\top)Q^\top` with
  :math:`z` from an :math:`n \times n` factorisation of :math:`S`, and the target's coordinates
  :math:`Q^\top t` come from :math:`S` (the private module ``plateau_lib.trainers._anls_linalg``);
* a proposal's loss after the re-solve is :math:`(|P_{-j}^\perp t|^2 - G)/2m` (the joint gain is
  the loss reduction); a proposal that this clearly rejects costs nothing more. Otherwise the
  minimum-norm output weights come from an :math:`(r+1) \times n` least-squares problem in the
  coordinates of :math:`Q` and the new residual from one product with :math:`A` (:math:`O(mn)`);
* pair moves try at most ``PAIR_BUDGET * n`` pairs per scan (:func:`pair_order`), about the
  proposals of ``2 * PAIR_BUDGET`` sweeps.

Rank deficiency (dead neurons, duplicated neurons, several neurons active on all data) is handled
exactly; where a rank decision is not clear-cut (a singular value within a factor 100 of the
``lstsq`` cut-off) the neuron is processed by the straightforward computation instead
(``plateau_lib._linalg.range_basis`` of the other features and ``numpy.linalg.lstsq``).
The fast path makes the same decisions as that computation up to round-off (the unit tests run
both side by side).

.. rubric:: Counts

``nfev`` counts loss evaluations: one at the start, one per proposed update (from the
least-squares identity when the proposal is clearly rejected, from the new residual otherwise),
the evaluation closing each sweep that kept an update, one per polishing step and per
pattern-solve trial, and for pair moves one per pair tried (after silencing it), one per
re-insertion and one for a pair that is kept. ``njev`` counts linear least-squares solves:
direction fits (:math:`d > 1`), output-weight re-solves (one per proposed update, also when the
identity decides), pattern solves and the re-solves of pair-move re-insertions.
``extra["nfev_per_sweep"]`` and ``extra["njev_per_sweep"]`` hold the cumulative counts after each
sweep (index 0: the start).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import (
    check_choice,
    check_positive_float,
    check_positive_int,
    check_rng,
    check_time_limit,
    time_limit_message,
)
from ..network import ShallowReLU, augment, check_problem, evaluate
from ..recording import Recorder
from ..result import BUDGET, CONVERGED, FAILED, INTERRUPTED, TrainResult
from ._gradient_norm import gradient_norm
from ._progress import progress_bar
from .anls_moves import PAIR_BUDGET, _pair_move, _pattern_solve, _polish, pair_order
from .anls_neuron import (
    ACCEPT_RTOL,
    SMALL_WORK,
    _Counter,
    _Options,
    _State,
    _visit,
    balance_neurons,
)
from .anls_threshold import (
    CANCEL_RTOL,
    SEARCH_BLOCK,
    THRESHOLDS,
    ThresholdCandidates,
    threshold_gains,
)

FloatArray = NDArray[np.float64]

ORDERS = ("cyclic", "random", "largest_residual")
CRITERIA = ("single", "joint")
DIRECTIONS = ("fit", "fit+current")
#: The run stops once the loss is below this fraction of the zero network's loss (an exact fit).
EXACT_RTOL = 1e-28
#: The window of ``ftol``: the run stops once the last this many sweeps together lowered the
#: loss by less than ``ftol`` (relative).
FTOL_SWEEPS = 5
#: The default ``ftol`` of :func:`train_anls` (chosen on the tuning problems of the race).
FTOL = 3e-2


class ByDimension(NamedTuple):
    """An option that depends on the input dimension: ``one`` for d = 1, ``more`` for d > 1."""

    one: Any
    more: Any


#: The earlier name of :class:`ByDimension` (kept: it is part of the published interface).
ThresholdsByDimension = ByDimension


#: The named option sets of :func:`train_anls` (see the module docstring).
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "joint": MappingProxyType({
        "criterion": "joint",
        "thresholds": ByDimension(one="continuous", more="data"),
        "directions": "fit",
        "pattern_solve": True,
        "pattern_steps": ByDimension(one=1, more=4),
        "pair_moves": 10,
    }),
    "design": MappingProxyType({
        "criterion": "single",
        "thresholds": "data",
        "directions": "fit",
        "pattern_solve": False,
        "pattern_steps": 1,
        "pair_moves": 0,
    }),
})


def preset_options(preset: str, d: int) -> dict[str, Any]:
    """The options of ``preset`` (a key of :data:`PRESETS`) for input dimension ``d``, resolved.

    >>> preset_options("joint", 1)["thresholds"], preset_options("joint", 2)["thresholds"]
    ('continuous', 'data')
    >>> preset_options("joint", 1)["pattern_steps"], preset_options("joint", 3)["pattern_steps"]
    (1, 4)
    """
    preset = check_choice(preset, "preset", tuple(PRESETS))
    d = check_positive_int(d, "d")
    return {k: ((v.one if d == 1 else v.more) if isinstance(v, ByDimension) else v)
            for k, v in PRESETS[preset].items()}


def train_anls(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    sweeps: int = 50,
    preset: str = "joint",
    criterion: str | None = None,
    thresholds: str | None = None,
    directions: str | None = None,
    pattern_solve: bool | None = None,
    pattern_steps: int | None = None,
    pair_moves: int | None = None,
    bounded_moves: int | None = None,
    polish_steps: int = 0,
    polish_lr: float = 0.1,
    order: str = "cyclic",
    rng: np.random.Generator | None = None,
    record_every: int = 1,
    progress: bool = False,
    time_limit: float | None = None,
    ftol: float = FTOL,
) -> TrainResult:
    r"""Train by Active Neuron Least Squares (the companion's reading; see the module docstring).

    Parameters
    ----------
    net : ShallowReLU
        Initial network (not modified).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    sweeps : int
        Maximal number of sweeps (each visits every neuron once). The run stops earlier at a
        fixed point (a sweep that changes nothing) or at an exact fit.
    preset : {"joint", "design"}
        Where the options ``criterion``, ``thresholds``, ``directions``, ``pattern_solve`` and
        ``pair_moves`` come from when not given explicitly (:data:`PRESETS`,
        :func:`preset_options`). ``"joint"`` (default): the joint gain, continuous thresholds in
        1-D and data thresholds for :math:`d > 1`, the pattern solve and up to 10 pair moves,
        the strongest reading measured on the tuning problems of the ANLS benchmark.
        ``"design"``: the literal reading of the design, single-neuron gain, thresholds at the
        data, nothing else. An explicitly given option overrides the preset's.
    criterion : {"single", "joint"}, optional
        Gain of a candidate: the fit of the target by the new neuron alone, or with all other
        output weights re-fitted too (exactly the loss reduction of the update).
    thresholds : {"data", "continuous"}, optional
        Threshold candidates: the data projections, or the exact optimum over all real
        thresholds (:func:`threshold_gains`).
    directions : {"fit", "fit+current"}, optional
        Candidate directions for ``d > 1``: the least-squares direction, or that and the
        neuron's current direction (the better is used). Ignored in 1-D.
    pattern_solve : bool, optional
        End each sweep with the least-squares solve on the frozen pattern (module docstring).
    pattern_steps : int, optional
        At most this many frozen-pattern solves closing a sweep, each on the pattern the one
        before left, ending at the first that does not lower the loss (a Gauss-Newton iteration
        of the piecewise-linear model). The preset ``"joint"``: 1 in 1-D, 4 for :math:`d > 1`.
    pair_moves : int, optional
        At most this many pair moves, tried when a sweep changes nothing or the run stalls (``ftol``);
        0 disables them. A scan tries at most ``PAIR_BUDGET * n`` pairs (:func:`pair_order`).
        Not combinable with ``bounded_moves``: when ``bounded_moves`` is given and
        ``pair_moves`` is not, the preset's pair moves are off.
    bounded_moves : int, optional
        Largest change of a neuron's active count per update (same orientation only);
        ``None``: global search over all thresholds and both orientations.
    polish_steps : int
        Gradient-descent steps after each sweep (0: none), kept only if they lower the loss.
    polish_lr : float
        Step size of the polishing steps.
    order : {"cyclic", "random", "largest_residual"}
        Order of the neurons within a sweep: ``0..n-1``; a fresh permutation from ``rng`` each
        sweep; or decreasing :math:`\sum_i D_{ij} r_i^2` (the residual a neuron sees) at the
        start of the sweep, ties by index.
    rng : numpy.random.Generator, optional
        Required for ``order="random"`` (and only used there).
    record_every : int
        Record every this many sweeps (and every sweep whose pattern changed).
    progress : bool
        Show a progress bar over the sweeps.
    time_limit : float, optional
        Stop once this many wall-clock seconds have passed: checked before each neuron's update,
        before each pair of a scan of pair moves and after each sweep; a sweep cut short keeps its
        updates if they lowered the loss and counts as a sweep (``status="budget"``), and so does
        a scan of pair moves cut short. ``None``: no limit.
    ftol : float
        Stop (``status="converged"``) once the last :data:`FTOL_SWEEPS` sweeps together lowered
        the loss by less than this fraction, :math:`L_{k-5} - L_k \le \mathrm{ftol}\,L_{k-5}`:
        the run crawls, and a restart is the better use of the time. 0 disables the rule.
        The default :data:`FTOL` was chosen on the tuning problems of the race (module docstring).

    Returns
    -------
    TrainResult
        ``method="anls"``; ``steps`` are sweep indices; the loss is non-increasing; see the
        module docstring for ``pattern_changes``, ``nfev``, ``njev`` and ``extra``. Ctrl-C ends
        the run after the current neuron update and returns the state so far
        (``status="interrupted"``).
    """
    preset = check_choice(preset, "preset", tuple(PRESETS))
    net, X, y = check_problem(net, X, y)
    explicit = {"criterion": criterion, "thresholds": thresholds, "directions": directions,
                "pattern_solve": pattern_solve, "pattern_steps": pattern_steps, "pair_moves": pair_moves}
    chosen = preset_options(preset, net.d)
    if bounded_moves is not None and pair_moves is None:
        chosen["pair_moves"] = 0
    chosen.update({k: v for k, v in explicit.items() if v is not None})
    sweeps = check_positive_int(sweeps, "sweeps")
    if bounded_moves is not None:
        bounded_moves = check_positive_int(bounded_moves, "bounded_moves")
    polish_steps = check_positive_int(polish_steps, "polish_steps", allow_zero=True)
    polish_lr = check_positive_float(polish_lr, "polish_lr")
    order = check_choice(order, "order", ORDERS)
    if order == "random" or rng is not None:
        rng = check_rng(rng)
    thresholds = check_choice(chosen["thresholds"], "thresholds", THRESHOLDS)
    criterion = check_choice(chosen["criterion"], "criterion", CRITERIA)
    directions = check_choice(chosen["directions"], "directions", DIRECTIONS)
    pattern_solve = bool(chosen["pattern_solve"])
    solves = check_positive_int(chosen["pattern_steps"], "pattern_steps") * pattern_solve
    pair_moves = check_positive_int(chosen["pair_moves"], "pair_moves", allow_zero=True)
    if pair_moves and bounded_moves is not None:
        raise ValueError("pair_moves re-insert neurons anywhere: they cannot be combined with bounded_moves")
    record_every = check_positive_int(record_every, "record_every")
    time_limit = check_time_limit(time_limit)
    ftol = check_positive_float(ftol, "ftol", allow_zero=True)
    if ftol >= 1:
        raise ValueError(f"ftol must be below 1 (a relative decrease of the loss), got {ftol!r}")
    opts = _Options(thresholds == "continuous", criterion == "joint", directions == "fit+current",
                    bounded_moves, SEARCH_BLOCK)
    return _run(net, X, y, opts, sweeps=sweeps, polish=(polish_steps, polish_lr), order=order, rng=rng,
                pattern_solve=solves, pair_moves=pair_moves, record_every=record_every, progress=progress,
                time_limit=time_limit, ftol=ftol)


class _Log:
    """What a run keeps besides the recorder: update rows, pair moves, counts per sweep, the sweep's start."""

    def __init__(self, counter: _Counter, theta: FloatArray) -> None:
        self.counter = counter
        self.updates: list[tuple[int, int, bool, bool, float]] = []
        self.pairs: list[tuple[int, int, int, float]] = []
        self.nfev, self.njev = [counter.nfev], [counter.njev]
        self.start, self.first = theta.copy(), 0  # parameters and first update row of the current sweep

    def sweep_done(self) -> None:
        self.nfev.append(self.counter.nfev)
        self.njev.append(self.counter.njev)

    def extra(self) -> dict[str, NDArray]:
        return _extra(self.updates, self.pairs, self.nfev, self.njev)


def _run(net: ShallowReLU, X: FloatArray, y: FloatArray, opts: _Options, *, sweeps: int, polish: tuple[int, float],
         order: str, rng, pattern_solve: int, pair_moves: int, record_every: int, progress: bool,
         time_limit: float | None, ftol: float) -> TrainResult:
    """The sweeps of :func:`train_anls` (inputs validated)."""
    n, d = net.n, net.d
    theta = net.to_vector()
    c, W, b = theta[:n], theta[n : n + n * d].reshape(n, d), theta[n + n * d :]
    counter = _Counter()
    rec = Recorder(record_every, n, d, time_limit)
    ev = evaluate(c, W, b, X, y)
    counter.nfev += 1
    rec.observe(0, ev.active, ev.loss, theta)
    state = _State(c, W, b, X, augment(X), y, counter, opts)
    zero_loss = float(y @ y) / (2 * X.shape[0])
    log = _Log(counter, theta)
    levels = [ev.loss]  # the loss after each sweep (index 0: the start)
    message, status, k = f"reached sweeps={sweeps}", BUDGET, 0
    bar = progress_bar(sweeps, "anls", progress)
    try:
        while k < sweeps and math.isfinite(ev.loss):
            ev, changed, timed_out = _sweep(state, theta, ev, k, order, rng, rec, log)
            if timed_out:
                k += 1
                rec.observe(k, ev.active, ev.loss, theta)
                log.sweep_done()
                message = time_limit_message(time_limit) + f" in sweep {k} (ended after its kept updates)"
                break
            ev, changed = _end_of_sweep(state, ev, changed, pattern_solve, polish)
            stalled, cut = _stalled([*levels, ev.loss], ftol), False
            if (stalled or not changed) and len(log.pairs) < pair_moves:
                ev, pair = _pair_move(state, ev, out_of_time=rec.out_of_time)
                if pair is not None:
                    log.pairs.append((k + 1, *pair, ev.loss))
                    changed, stalled = True, False
                else:
                    cut = rec.out_of_time()  # the clock may have ended the scan: no fixed point known
            k += 1
            rec.observe(k, ev.active, ev.loss, theta)
            log.sweep_done()
            bar.update(1)
            levels.append(ev.loss)
            stop = _stop(changed, stalled, cut, k, ev.loss, zero_loss, rec, time_limit, ftol)
            if stop is not None:
                message, status = stop
                break
    except KeyboardInterrupt:
        message, status = f"interrupted by the user in sweep {k + 1}", INTERRUPTED
        ev, k = _interrupted(state, theta, ev, k, log)
    finally:
        bar.close()
    if not math.isfinite(ev.loss):
        message, status = f"loss became non-finite in sweep {k}", FAILED
    return rec.finish(k, ev.active, ev.loss, theta, method="anls", nfev=counter.nfev, njev=counter.njev,
                      status=status, message=message, extra=log.extra(),
                      grad_norm=gradient_norm(evaluate(c, W, b, X, y)))  # ev predates the balancing


def _sweep(state: _State, theta: FloatArray, ev, k: int, order: str, rng, rec: Recorder, log: _Log):
    """Visit every neuron once (sweep ``k + 1``) and close the sweep: ``(ev, changed, timed_out)``."""
    state.reset(ev)
    log.start, log.first = theta.copy(), len(log.updates)
    level = state.level
    changed = timed_out = False
    for j in _neuron_order(order, ev, state.n, rng):
        if rec.out_of_time():
            timed_out = True
            break
        row = _visit(state, j)
        if row is not None:
            log.updates.append((k + 1, j, *row))
            changed = changed or row[0]
    if changed:
        ev, changed = _close_sweep(state, theta, ev, (log.start, level), log.updates, log.first)
    return ev, changed, timed_out


def _stalled(levels: list[float], ftol: float) -> bool:
    """Whether the last :data:`FTOL_SWEEPS` sweeps lowered the loss by at most ``ftol`` relative.

    ``levels`` holds the loss after each sweep (index 0: the start); 0 disables the rule.
    """
    if ftol == 0 or len(levels) <= FTOL_SWEEPS:
        return False
    before = levels[-1 - FTOL_SWEEPS]
    return before - levels[-1] <= ftol * before


def _stop(changed: bool, stalled: bool, cut: bool, k: int, loss: float, zero_loss: float, rec: Recorder,
          time_limit: float | None, ftol: float) -> tuple[str, str] | None:
    """Why the run ends after sweep ``k`` (message, status), or None to go on.

    ``stalled``: the rule of ``ftol`` holds; ``cut``: the run's clock ended a scan of pair moves.
    """
    if cut:
        return time_limit_message(time_limit) + f" in the scan of pair moves after sweep {k}", BUDGET
    if not changed:
        return f"converged: sweep {k} changed nothing (a fixed point of the update)", CONVERGED
    if loss <= EXACT_RTOL * zero_loss:
        return f"fitted the data to round-off after sweep {k}", CONVERGED
    if stalled:
        return (f"converged: sweeps {k - FTOL_SWEEPS + 1}-{k} lowered the loss by less than ftol={ftol:g} "
                "(relative), and a pair move, where one was left, did not help"), CONVERGED
    if rec.out_of_time():
        return time_limit_message(time_limit), BUDGET
    return None


def _interrupted(state: _State, theta: FloatArray, ev, k: int, log: _Log):
    """The state to return after Ctrl-C in sweep ``k + 1``: ``(ev, step)``.

    The interrupted sweep's updates are kept if the evaluated loss did not rise (then, if they
    changed the parameters, the sweep counts and its end is recorded as step ``k + 1``), else the
    parameters go back to the sweep's start and its updates are marked as not kept.
    """
    ev_now = evaluate(state.c, state.W, state.b, state.X, state.y)
    if ev_now.loss <= ev.loss:
        return ev_now, (k + 1 if not np.array_equal(theta, log.start) else k)
    theta[:] = log.start
    _unkeep(log.updates, log.first)
    return ev, k


def _close_sweep(state: _State, theta: FloatArray, ev, start: tuple[FloatArray, float], updates: list, first: int):
    r"""Balance the neurons and evaluate; undo the sweep if the evaluated loss did not drop.

    The kept updates lowered the loss as computed during the sweep (from the features of the
    changed columns); balancing and the full evaluation can differ from that by round-off, which
    matters only next to an exact fit. A sweep whose evaluated loss is not below the loss before
    it is undone (its updates are marked as not kept), so the recorded loss never increases.
    """
    c, W, b = state.c, state.W, state.b
    balance_neurons(c, W, b)
    ev_new = evaluate(c, W, b, state.X, state.y)
    state.counter.nfev += 1
    if ev_new.loss < ev.loss:
        return ev_new, True
    theta[:] = start[0]
    state.level = start[1]
    _unkeep(updates, first)
    return ev, False


def _unkeep(updates: list, first: int) -> None:
    """Mark the update rows from ``first`` on as not kept."""
    updates[first:] = [(s, j, False, False, loss) for s, j, _, _, loss in updates[first:]]


def _end_of_sweep(state: _State, ev, changed: bool, pattern_solve: int, polish: tuple[int, float]):
    """The pattern solves (at most ``pattern_solve``, up to the first not kept) and polishing closing a sweep."""
    c, W, b, X, y = state.c, state.W, state.b, state.X, state.y
    counter = state.counter
    for _ in range(pattern_solve):
        ev, solved = _pattern_solve(c, W, b, X, state.Xt, y, ev, counter)
        changed = changed or solved
        if not solved:
            break
    if polish[0]:
        ev, polished = _polish(c, W, b, X, y, ev, polish[0], polish[1], counter)
        changed = changed or polished
    return ev, changed


def _extra(updates, pairs, nfev_sweep, njev_sweep) -> dict[str, NDArray]:
    rows = np.array(updates, dtype=np.float64).reshape(-1, 5)
    return {
        "update_sweep": rows[:, 0].astype(np.int64),
        "update_neuron": rows[:, 1].astype(np.int64),
        "update_accepted": rows[:, 2].astype(bool),
        "update_pattern_changed": rows[:, 3].astype(bool),
        "update_loss": rows[:, 4],
        "pair_moves": np.array(pairs, dtype=np.float64).reshape(-1, 4),
        "nfev_per_sweep": np.asarray(nfev_sweep, dtype=np.int64),
        "njev_per_sweep": np.asarray(njev_sweep, dtype=np.int64),
    }


def _neuron_order(order: str, ev, n: int, rng: np.random.Generator | None) -> list[int]:
    if order == "cyclic":
        return list(range(n))
    if order == "random":
        return [int(j) for j in rng.permutation(n)]
    seen = (ev.r * ev.r) @ ev.active  # sum_i D_ij r_i^2
    return [int(j) for j in np.lexsort((np.arange(n), -seen))]


__all__ = [
    "ACCEPT_RTOL", "CANCEL_RTOL", "CRITERIA", "DIRECTIONS", "EXACT_RTOL", "FTOL", "FTOL_SWEEPS", "ORDERS",
    "PAIR_BUDGET", "PRESETS", "SEARCH_BLOCK", "SMALL_WORK", "THRESHOLDS", "ByDimension", "ThresholdCandidates",
    "ThresholdsByDimension", "balance_neurons", "pair_order", "preset_options", "threshold_gains", "train_anls",
]
