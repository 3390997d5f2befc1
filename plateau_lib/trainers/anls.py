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
    :math:`d > 1`, ``directions="fit"``, ``pattern_solve=True``, ``pair_moves=10``: the joint gain
    (all output weights re-fitted with the new neuron, exactly the loss reduction of the update),
    the exact optimum over real thresholds in 1-D, a least-squares solve of the frozen pattern
    closing each sweep, and up to 10 pair moves out of fixed points. The strongest reading
    measured on the six *tuning* problems of the ANLS benchmark
    (:mod:`plateau_lib.chapters.anls_benchmark`): continuous thresholds lowered the median 1-D
    loss by 20-40 %, data thresholds found exact fits of the 2-D pyramid that continuous ones
    missed, pair moves lowered the median 1-D loss by 0-55 %.
``"design"``
    ``criterion="single"``, ``thresholds="data"``, ``directions="fit"``, ``pattern_solve=False``,
    ``pair_moves=0``: the literal reading of the design (``DESIGN.md``), the gain of fitting the
    neuron's target by the new neuron alone, thresholds at the data projections, nothing else.

.. rubric:: What a sweep keeps, beyond the design notes

A proposal is kept if its loss, with all output weights re-solved (minimum-norm least squares),
is below the lowest loss reached so far by more than :data:`ACCEPT_RTOL`. The other neurons keep
their inner weights while a sweep runs; when it ends every neuron is balanced
(:math:`|c_l| = |v_l|`, which changes no output) and the network is evaluated once
(:func:`~plateau_lib.network.evaluate`). If that evaluated loss is not below the loss before the
sweep (possible only next to an exact fit, where the loss is at the level of round-off), the
sweep is undone and its updates are marked as not kept, so the recorded loss never increases.

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
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._linalg import range_basis
from .._validation import (
    as_float_array,
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
from . import _anls_linalg as la
from ._progress import progress_bar

FloatArray = NDArray[np.float64]

ORDERS = ("cyclic", "random", "largest_residual")
THRESHOLDS = ("data", "continuous")
CRITERIA = ("single", "joint")
DIRECTIONS = ("fit", "fit+current")

#: A kept update must lower the loss by more than this relative amount.
ACCEPT_RTOL = 1e-12
#: The run stops once the loss is below this fraction of the zero network's loss (an exact fit).
EXACT_RTOL = 1e-28
#: Candidates whose :math:`\varphi\cdot P^\perp\varphi` is below this fraction of the size of the
#: terms it is computed from (cancellation in the cumulative sums) score zero.
CANCEL_RTOL = 1e-11
#: Sorted positions per block of the pruned threshold search (knots every ``SEARCH_BLOCK``).
SEARCH_BLOCK = 16
#: Problems with :math:`mn^2` below this are swept by the straightforward computation (the SVD
#: basis of the other features, ``numpy.linalg.lstsq``): at that size it is the faster one.
SMALL_WORK = 500_000
#: At most ``PAIR_BUDGET * n`` pairs are tried per scan of pair moves (each pair costs two
#: re-insertions, so a scan costs about as much as ``2 * PAIR_BUDGET`` sweeps' proposals).
PAIR_BUDGET = 5


class ThresholdsByDimension(NamedTuple):
    """A ``thresholds`` option that depends on the input dimension: ``one`` for d = 1, ``more`` for d > 1."""

    one: str
    more: str


#: The named option sets of :func:`train_anls` (see the module docstring).
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "joint": MappingProxyType({
        "criterion": "joint",
        "thresholds": ThresholdsByDimension(one="continuous", more="data"),
        "directions": "fit",
        "pattern_solve": True,
        "pair_moves": 10,
    }),
    "design": MappingProxyType({
        "criterion": "single",
        "thresholds": "data",
        "directions": "fit",
        "pattern_solve": False,
        "pair_moves": 0,
    }),
})


def preset_options(preset: str, d: int) -> dict[str, Any]:
    """The options of ``preset`` (a key of :data:`PRESETS`) for input dimension ``d``, resolved.

    >>> preset_options("joint", 1)["thresholds"], preset_options("joint", 2)["thresholds"]
    ('continuous', 'data')
    """
    preset = check_choice(preset, "preset", tuple(PRESETS))
    d = check_positive_int(d, "d")
    out = dict(PRESETS[preset])
    if isinstance(out["thresholds"], ThresholdsByDimension):
        out["thresholds"] = out["thresholds"].one if d == 1 else out["thresholds"].more
    return out


class ThresholdCandidates(NamedTuple):
    r"""All scored candidates of one threshold search (one row per candidate).

    ``tau`` thresholds, ``s`` orientations (:math:`\pm1`), ``gain`` the gains :math:`G(\tau, s)`,
    ``count`` the number of data points the candidate activates
    (:math:`\#\{i: s(p_i - \tau) > 0\}`).
    """

    tau: FloatArray
    s: NDArray[np.int64]
    gain: FloatArray
    count: NDArray[np.int64]


# ------------------------------------------------------------------------- threshold search


def threshold_gains(
    p: ArrayLike,
    t: ArrayLike,
    *,
    thresholds: str = "data",
    basis: ArrayLike | None = None,
) -> ThresholdCandidates:
    r"""Score every threshold of a single ReLU :math:`\varphi = \mathrm{relu}(s(p - \tau))` against ``t``.

    The gain of a candidate is the loss reduction (times :math:`2m`) of fitting ``t`` by a
    multiple of :math:`\varphi`, after projecting out ``basis`` (orthonormal columns :math:`B`,
    :math:`P^\perp = I - BB^\top`; no basis: :math:`P^\perp = I`):

    .. math::

        G(\tau, s) = \frac{(\varphi\cdot P^\perp t)^2}{\varphi\cdot P^\perp\varphi}
        = \max_{\gamma,\ \beta}\ \big(\|P^\perp t\|^2 - \|P^\perp(t - \gamma\varphi - B\beta)\|^2\big) .

    Derivation of the vectorised formulas. Sort :math:`p` increasingly. For :math:`s=+1` the
    active points (:math:`p_i > \tau`, strictly: :math:`\mathrm{relu}'(0) = 0`, and a point at
    :math:`\tau` has :math:`\varphi_i = 0` anyway) form a *suffix* of the sorted data, for
    :math:`s=-1` (:math:`p_i < \tau`) a *prefix*. On an active set :math:`S` with sums
    :math:`N = |S|`, :math:`P = \sum_S p_i`, :math:`Q = \sum_S p_i^2`,
    :math:`T = \sum_S t^\perp_i`, :math:`R = \sum_S p_i t^\perp_i`, and the basis sums
    :math:`b_1 = \sum_S B_{i,:}`, :math:`b_p = \sum_S p_i B_{i,:}`:

    .. math::

        \varphi\cdot t^\perp = \pm(R - \tau T), \qquad
        \varphi\cdot P^\perp\varphi = (Q - 2\tau P + \tau^2 N)
        - (|b_p|^2 - 2\tau\, b_p\cdot b_1 + \tau^2 |b_1|^2) ,

    so the cumulative sums of :math:`(1, p, p^2, t^\perp, p\,t^\perp)` and the three quadratic
    forms :math:`|b_1|^2, b_1\cdot b_p, |b_p|^2` of every prefix and suffix
    (``plateau_lib.trainers._anls_linalg.full_forms``) give all candidates at once. Ties in
    :math:`p` are handled by evaluating each distinct value once, with the whole block of equal
    values on the inactive side.

    ``thresholds="data"``: :math:`\tau` at every distinct data value (both orientations).
    ``thresholds="continuous"``: the exact maximum over all real :math:`\tau`. Between two
    consecutive distinct values the active set is fixed and :math:`G` is a ratio
    :math:`(R - \tau T)^2 / (Q' - 2\tau P' + \tau^2 N')` whose only interior critical points are
    its zero and its maximiser

    .. math::

        \tau^* = \frac{T Q' - R P'}{T P' - R N'}
        \qquad (Q' = Q - |b_p|^2,\ P' = P - b_p\cdot b_1,\ N' = N - |b_1|^2),

    the threshold of the least-squares fit :math:`t^\perp \approx \alpha P^\perp p + \beta P^\perp 1`
    on :math:`S` (:math:`\tau^* = -\beta/\alpha`). So the maximum on the closed interval is at
    :math:`\tau^*` clipped into it or at an end point; the candidates are the data values plus
    the clipped :math:`\tau^*` of every interval, including the two outer intervals (all data
    active), which are cut at one data span beyond the extreme values (their far ends are
    candidates too).

    Parameters
    ----------
    p : array_like, shape (m,)
        Projections :math:`p_i = w\cdot x_i`.
    t : array_like, shape (m,)
        Target to fit.
    thresholds : {"data", "continuous"}
        Candidate set (see above).
    basis : array_like, shape (m, k), optional
        Orthonormal columns to project out (``criterion="joint"`` of :func:`train_anls`).

    Returns
    -------
    ThresholdCandidates
        Every candidate with its gain. Candidates whose denominator vanishes to round-off (no
        active point, or :math:`\varphi` in the span of ``basis``) have gain 0.

    Notes
    -----
    Accuracy. The sums are taken in coordinates centred at the midrange of :math:`p`, prefix
    sums accumulated from the left and suffix sums from the right, so the relative error of a
    gain is about :math:`\varepsilon\,(\sum_S p_i^2 + N\tau^2)/\varphi\cdot P^\perp\varphi`
    (centred :math:`p, \tau`): round-off level unless all active points sit very close to
    :math:`\tau`. Candidates for which that ratio exceeds :math:`10^{11}` score 0 (a steep
    neuron fitting a point next to its threshold; :func:`train_anls` re-evaluates the loss of
    the chosen candidate exactly in any case).
    """
    p = as_float_array(p, "p", 1)
    t = as_float_array(t, "t", 1)
    if p.shape != t.shape:
        raise ValueError(f"p and t must have the same length m, got {p.shape[0]} and {t.shape[0]}")
    thresholds = check_choice(thresholds, "thresholds", THRESHOLDS)
    B = None
    if basis is not None:
        B = as_float_array(basis, "basis", 2)
        if B.shape[0] != p.shape[0]:
            raise ValueError(f"basis must have m = {p.shape[0]} rows, got shape {B.shape}")
    return _threshold_gains(p, t, B, thresholds == "continuous")


def _threshold_gains(p: FloatArray, t: FloatArray, B: FloatArray | None, continuous: bool) -> ThresholdCandidates:
    """All candidates of :func:`threshold_gains`, with the basis forms of every prefix and suffix."""
    if B is not None and B.shape[1] > 0:
        t = t - B @ (B.T @ t)
    else:
        B = None
    search = _Sorted(p, t)
    forms = None
    if B is not None:
        forms = _FullForms(*la.full_forms(np.ascontiguousarray(B), search.order, search.pc))
    groups = search.groups(continuous, forms)
    scored = [search.score(g, forms) for g in groups]
    return ThresholdCandidates(np.concatenate([g.tau for g in groups]), np.concatenate([g.s for g in groups]),
                               np.concatenate([s[0] for s in scored]), np.concatenate([s[1] for s in scored]))


class _Group(NamedTuple):
    """Candidates sharing an orientation and a kind of active set (prefix or suffix of the sorted data)."""

    pos: NDArray[np.int64]  # sums over sorted positions [pos, m) (suffix) or [0, pos) (prefix)
    suffix: bool
    tau_c: FloatArray  # thresholds, centred
    tau: FloatArray  # thresholds, uncentred (exactly the data values where they are data values)
    s: NDArray[np.int64]


class _FullForms:
    """Basis forms at every prefix and suffix (given as (m+1, 3); served as (3, len) rows)."""

    def __init__(self, F_pre: FloatArray, F_suf: FloatArray) -> None:
        self.F_pre, self.F_suf = np.ascontiguousarray(F_pre.T), np.ascontiguousarray(F_suf.T)

    def __call__(self, pos: NDArray[np.int64], suffix: bool) -> FloatArray:
        return np.take(self.F_suf if suffix else self.F_pre, pos, axis=1)


class _Sorted:
    r"""One threshold search: the data sorted by :math:`p`, centred, and their cumulative sums.

    Columns of the sums: :math:`(1, p^c, (p^c)^2, t, p^c t)` and, with a vector ``q`` whose
    direction is added back to the projection (:math:`P^\perp = I - QQ^\top + qq^\top`),
    :math:`(q, p^c q)`, one row each. ``C[:, k]`` sums the first ``k`` sorted points,
    ``R[:, k]`` the points from position ``k`` on, each accumulated from its own end.
    """

    def __init__(self, p: FloatArray, t: FloatArray, q: FloatArray | None = None) -> None:
        m = p.shape[0]
        self.m = m
        self.order = order = np.argsort(p, kind="stable")
        ps = p[order]
        self.centre = centre = 0.5 * (ps[0] + ps[-1])
        self.pc = pc = ps - centre
        k = 5 if q is None else 7
        rows = np.empty((k, m))
        rows[0], rows[1] = 1.0, pc
        np.multiply(pc, pc, out=rows[2])
        rows[3] = t[order]
        np.multiply(pc, rows[3], out=rows[4])
        if q is not None:
            rows[5] = q[order]
            np.multiply(pc, rows[5], out=rows[6])
        self.C = np.zeros((k, m + 1))
        np.cumsum(rows, axis=1, out=self.C[:, 1:])
        self.R = np.zeros((k, m + 1))
        np.cumsum(rows[:, ::-1], axis=1, out=self.R[:, m - 1 :: -1])
        self.has_q = q is not None
        first = np.ones(m, dtype=bool)
        first[1:] = ps[1:] > ps[:-1]
        self.start = np.flatnonzero(first)  # first sorted position of each distinct value
        self.end = np.append(self.start[1:], m)  # one past its last position
        self.u = ps[self.start]  # distinct values, increasing
        self.uc = self.u - centre

    def sums(self, pos: NDArray[np.int64], suffix: bool) -> FloatArray:
        """The sums (rows) over the suffixes from, or prefixes up to, sorted positions ``pos``."""
        return np.take(self.R if suffix else self.C, pos, axis=1)

    def effective_forms(self, S: FloatArray, F: FloatArray | None) -> FloatArray | None:
        r"""Forms of :math:`P = QQ^\top - qq^\top`: the basis forms minus those of :math:`q` (columns 5, 6 of ``S``)."""
        if F is None or not self.has_q:
            return F
        return _minus_q(F, S[5], S[6])

    def data_groups(self) -> list[_Group]:
        """Thresholds at the distinct data values: s = +1 (suffix after the block), s = -1 (prefix before it)."""
        k = self.u.shape[0]
        return [_Group(self.end, True, self.uc, self.u, np.ones(k, dtype=np.int64)),
                _Group(self.start, False, self.uc, self.u, -np.ones(k, dtype=np.int64))]

    def groups(self, continuous: bool, forms: Callable | None) -> list[_Group]:
        groups = self.data_groups()
        if not continuous:
            return groups
        uc = self.uc
        span = uc[-1] - uc[0] if uc[-1] > uc[0] else 1.0
        below = np.append(uc[0] - span, uc[:-1])  # interval k = [below_k, u_k], active: p >= u_k
        above = np.append(uc[1:], uc[-1] + span)  # interval k = [u_k, above_k], active: p <= u_k
        k = uc.shape[0]
        for pos, suffix, lo, hi, s in ((self.start, True, below, uc, 1), (self.end, False, uc, above, -1)):
            S = self.sums(pos, suffix)
            E = self.effective_forms(S, forms(pos, suffix) if forms is not None else None)
            tau_c = _interior(S, E, lo, hi)
            groups.append(_Group(pos, suffix, tau_c, tau_c + self.centre, np.full(k, s, dtype=np.int64)))
        zero = np.zeros(1, dtype=np.int64)  # the far ends of the two outer intervals (all data active)
        for tau_c, s in ((below[:1], 1), (above[-1:], -1)):
            groups.append(_Group(zero, True, tau_c, tau_c + self.centre, np.array([s], dtype=np.int64)))
        return groups

    def score(self, g: _Group, forms: Callable | None) -> tuple[FloatArray, NDArray[np.int64]]:
        """Gains and active counts of a group."""
        S = self.sums(g.pos, g.suffix)
        E = self.effective_forms(S, forms(g.pos, g.suffix) if forms is not None else None)
        return _gain(S, E, g.tau_c), np.rint(S[0]).astype(np.int64)


def _minus_q(F: FloatArray, q1: FloatArray, qp: FloatArray) -> FloatArray:
    """Forms (rows) minus those of :math:`q` with sums ``q1``, ``qp``."""
    return F - np.stack([q1 * q1, q1 * qp, qp * qp])


def _gain(S: FloatArray, E: FloatArray | None, tau: FloatArray) -> FloatArray:
    """Gains from the sums ``S`` (N, P, Q, T, R, ...) and the projected-out forms ``E``, guarded."""
    N, P, Q, T, R = S[:5]
    num = R - tau * T
    den = Q - 2 * tau * P + tau * tau * N
    scale = Q + tau * tau * N
    if E is not None:
        den = den - (E[2] - 2 * tau * E[1] + tau * tau * E[0])
    ok = den > CANCEL_RTOL * scale
    return np.where(ok, num * num / np.where(ok, den, 1.0), 0.0)


def _interior(S: FloatArray, E: FloatArray | None, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Clipped maximiser tau* of the gain on each interval [lo, hi] (centred)."""
    N, P, Q, T, R = S[:5]
    if E is not None:
        N, P, Q = N - E[0], P - E[1], Q - E[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = (T * Q - R * P) / (T * P - R * N)
    tau = np.where(np.isfinite(tau), tau, lo)
    return np.clip(tau, lo, hi)


# ------------------------------------------------------------------ the trainer's searches


class _Choice(NamedTuple):
    """The best allowed candidate of a search (its group's kind of active set and sorted position too)."""

    s: int
    tau: float
    gain: float
    count: int
    tau_c: float
    pos: int
    suffix: bool


def _allowed(s: NDArray[np.int64], count: NDArray[np.int64], rule: tuple[int, int, int] | None) -> NDArray[np.bool_]:
    """Candidates a bounded move may take: rule = (current orientation or 0, current count, bound)."""
    if rule is None:
        return np.ones(s.shape, dtype=bool)
    s_cur, n_cur, bound = rule
    ok = np.abs(count - n_cur) <= bound
    if s_cur != 0:
        ok &= s == s_cur
    return ok


def _pick(groups: list[_Group], gains: list[FloatArray], counts: list[NDArray[np.int64]], rule) -> _Choice | None:
    """First candidate of maximal gain among the allowed ones with positive gain (as ``np.argmax``)."""
    s = np.concatenate([g.s for g in groups])
    gain = np.concatenate(gains)
    count = np.concatenate(counts)
    allowed = (gain > 0) & _allowed(s, count, rule)
    if not allowed.any():
        return None
    k = int(np.argmax(np.where(allowed, gain, -np.inf)))
    offsets = np.cumsum([0] + [g.s.shape[0] for g in groups])
    gi = int(np.searchsorted(offsets, k, side="right")) - 1
    g, i = groups[gi], k - int(offsets[gi])
    return _Choice(int(s[k]), float(g.tau[i]), float(gain[k]), int(count[k]), float(g.tau_c[i]),
                   int(g.pos[i]) if g.pos.size else -1, g.suffix)


def _search_full(search: _Sorted, continuous: bool, forms: Callable | None, rule) -> _Choice | None:
    """Every candidate scored (the single criterion, continuous thresholds, small problems)."""
    groups = search.groups(continuous, forms)
    scored = [search.score(g, forms) for g in groups]
    return _pick(groups, [x[0] for x in scored], [x[1] for x in scored], rule)


def _search_pruned(search: _Sorted, Q: FloatArray, z: FloatArray | None, rule, block: int
                   ) -> tuple[_Choice, FloatArray] | None:
    r"""The best data threshold of the joint criterion, with the basis forms evaluated only where needed.

    The projector is :math:`P = Q(I - zz^\top)Q^\top` (no ``z``: :math:`QQ^\top`). The forms are
    exact at the knots :math:`\kappa_\beta = \min(\beta b, m)`
    (:func:`~plateau_lib.trainers._anls_linalg.knot_forms`). A candidate :math:`\varphi` with
    threshold :math:`\tau` and active set between two knots is compared with the truncated linear
    functions :math:`\psi = s(p - \tau)` on the knots' prefix (suffix): the projection being a
    contraction, :math:`|P^\perp\varphi| \ge |P^\perp\psi| - |\varphi - \psi|`, where
    :math:`|P^\perp\psi|^2` is exact from the knot's forms and :math:`|\varphi-\psi|^2` is a sum
    over the points between. So :math:`G \le (\varphi\cdot t^\perp)^2 / (|P^\perp\psi| -
    |\varphi-\psi|)^2`. Blocks holding an allowed candidate whose bound reaches the best exact
    gain at a knot are evaluated exactly (:func:`~plateau_lib.trainers._anls_linalg.block_forms`);
    every other candidate is certified to be worse, so the choice is that of the full search.
    Returns the choice and :math:`Q^\top\varphi` of the chosen candidate.
    """
    m, order, pc = search.m, search.order, search.pc
    F_kpre, F_ksuf, pre, suf = la.knot_forms(Q, order, pc, block)
    F_kpre, F_ksuf = F_kpre.T, F_ksuf.T  # rows
    if z is not None:  # forms of Q(I - zz^T)Q^T at the knots
        F_kpre = _minus_q(F_kpre, pre[:, 0] @ z, pre[:, 1] @ z)
        F_ksuf = _minus_q(F_ksuf, suf[:, 0] @ z, suf[:, 1] @ z)
    knots = np.minimum(np.arange(pre.shape[0]) * block, m)
    best = 0.0
    info = []
    for g in search.data_groups():
        S = search.sums(g.pos, g.suffix)
        count = np.rint(S[0]).astype(np.int64)
        allowed = _allowed(g.s, count, rule)
        at_knot = (g.pos % block == 0) | (g.pos == m)
        beta = g.pos // block
        gain = np.full(g.pos.shape, -np.inf)
        if at_knot.any():
            F = np.take(F_ksuf if g.suffix else F_kpre, beta[at_knot], axis=1)
            gain[at_knot] = _gain(S[:, at_knot], F, g.tau_c[at_knot])
            ok = allowed[at_knot] & (gain[at_knot] > 0)
            if ok.any():
                best = max(best, float(gain[at_knot][ok].max()))
        info.append((g, S, count, allowed, at_knot, beta, gain))
    survivors = [np.zeros(0, dtype=np.int64)]
    for g, S, _, allowed, at_knot, beta, _ in info:
        inside = allowed & ~at_knot
        if inside.any():
            table = _knot_table(search, knots, F_ksuf if g.suffix else F_kpre, g.suffix)
            ub = _gain_bound(search, g.tau_c[inside], g.pos[inside], beta[inside], S[:, inside], table, knots)
            survivors.append(beta[inside][ub >= best * (1 - 1e-6)])
    blocks = np.unique(np.concatenate(survivors))
    if blocks.size:
        _exact_in_blocks(search, Q, z, block, blocks, pre, suf, info)
    choice = _pick([x[0] for x in info], [x[6] for x in info], [x[2] for x in info], rule)
    if choice is None:
        return None
    V = la.sums_at(Q, order, pc, block, pre, suf, choice.pos, choice.suffix)
    return choice, choice.s * (V[1] - choice.tau_c * V[0])


def _exact_in_blocks(search: _Sorted, Q, z, block: int, blocks, pre, suf, info) -> None:
    """Exact gains of every candidate in the given blocks (written into the groups' gain arrays)."""
    Fb_pre, Fb_suf, zb_pre, zb_suf = la.block_forms(Q, search.order, search.pc, block, blocks, pre, suf, z)
    where = np.full(pre.shape[0], -1)
    where[blocks] = np.arange(blocks.size)
    for g, S, _, _, at_knot, beta, gain in info:
        sel = ~at_knot & (where[beta] >= 0)
        if sel.any():
            b_idx = where[beta[sel]]
            iota = g.pos[sel] - beta[sel] * block - (0 if g.suffix else 1)
            F = (Fb_suf if g.suffix else Fb_pre)[b_idx, iota].T
            if z is not None:
                zq = (zb_suf if g.suffix else zb_pre)[b_idx, iota]
                F = _minus_q(F, zq[:, 0], zq[:, 1])
            gain[sel] = _gain(S[:, sel], F, g.tau_c[sel])


def _knot_table(search: _Sorted, knots, F: FloatArray, suffix: bool) -> FloatArray:
    r"""Per knot (rows), :math:`|P^\perp\psi|^2 = a_0 - 2a_1\tau + a_2\tau^2` and its scale.

    Columns :math:`(a_0, a_1, a_2, Q, N)`; the scale of the terms is :math:`Q + N\tau^2`.
    """
    N, P, Q2 = search.sums(knots, suffix)[:3]
    return np.stack([Q2 - F[2], P - F[1], N - F[0], Q2, N])


def _gain_bound(search: _Sorted, tau, pos, beta, S, table, knots) -> FloatArray:
    """Upper bounds of the gains of candidates (centred ``tau``, positions ``pos``) from the two knots around each."""
    num = S[4] - tau * S[3]
    tau2 = tau * tau
    C3 = search.C[:3]
    whole = C3[:, search.m]
    slack = 1e-12 * (whole[2] + tau2 * whole[0])
    Cpos = np.take(C3, pos, axis=1)
    lower = np.zeros(pos.shape)
    for kb in (beta, beta + 1):
        a = np.take(table, kb, axis=1)
        den = a[0] - 2 * tau * a[1] + tau2 * a[2] - 1e-10 * (a[3] + tau2 * a[4])
        D = np.take(C3, knots[kb], axis=1) - Cpos  # sums over the points between knot and candidate, up to sign
        delta2 = np.abs(D[2] - 2 * tau * D[1] + tau2 * D[0]) * (1 + 1e-8) + slack
        np.maximum(lower, np.sqrt(np.maximum(den, 0.0)) - np.sqrt(delta2), out=lower)
    with np.errstate(divide="ignore"):
        return np.where(lower > 0, num * num / np.where(lower > 0, lower * lower, 1.0), np.inf)


# ------------------------------------------------------------------------------ the trainer


def balance_neurons(c: FloatArray, W: FloatArray, b: FloatArray) -> None:
    r"""Rescale in place so that :math:`|c_l| = |v_l|` wherever :math:`c_l \ne 0` and :math:`v_l \ne 0`."""
    norm_v = np.sqrt(np.einsum("ij,ij->i", W, W) + b * b)
    ok = (c != 0) & (norm_v > 0)
    kappa = np.ones_like(c)
    kappa[ok] = np.sqrt(np.abs(c[ok]) / norm_v[ok])
    W *= kappa[:, None]
    b *= kappa
    c /= kappa


class _Counter:
    def __init__(self) -> None:
        self.nfev = 0
        self.njev = 0


class _Options(NamedTuple):
    continuous: bool
    joint: bool
    keep_current: bool
    bounded_moves: int | None
    block: int


class _State:
    r"""The network being trained and what a sweep keeps about it.

    ``A`` (features, m x n), ``r`` (residual) and ``loss`` belong to the current ``c, W, b``: at
    the start of a sweep they are those of :func:`~plateau_lib.network.evaluate`; a kept update
    of neuron :math:`j` replaces column :math:`j` and all of ``c`` (the other neurons keep their
    inner weights until the sweep ends and balances them). ``basis`` is a
    :class:`~plateau_lib.trainers._anls_linalg.FeatureBasis` of ``A``, built when first needed.
    """

    def __init__(self, c, W, b, X, Xt, y, counter: _Counter, opts: _Options, A=None, r=None, loss=None,
                 level=math.inf) -> None:
        self.c, self.W, self.b, self.X, self.Xt, self.y = c, W, b, X, Xt, y
        self.m, self.d = X.shape
        self.n = c.shape[0]
        self.counter, self.opts = counter, opts
        self.basis: la.FeatureBasis | None = None
        self.version = 0  # changes whenever A does (keys the 1-D cache of basis forms)
        self._forms_cache: tuple[int, _FullForms] | None = None
        self.A, self.r, self.loss = A, r, loss
        self.level = level  # a kept update must lower the loss below this (the lowest loss reached so far)

    def reset(self, ev) -> None:
        """Take the features, residual and loss of an evaluation of the current parameters."""
        if self.A is None or self.A.shape != ev.Z.shape:
            self.A = np.empty_like(ev.Z)
        np.fmax(ev.Z, 0.0, out=self.A)
        self.r, self.loss = ev.r.copy(), ev.loss
        self.level = min(self.level, ev.loss)
        self.basis = None
        self.version += 1

    def get_basis(self) -> la.FeatureBasis:
        if self.basis is None:
            self.basis = la.FeatureBasis(self.A, self.y)
        return self.basis

    def residual_with(self, j: int, a: FloatArray, c_new: FloatArray) -> tuple[FloatArray, float]:
        """Residual and loss when column j becomes ``a`` and the output weights ``c_new`` (one pass over A)."""
        self.counter.nfev += 1
        r = self.A @ c_new
        r += c_new[j] * (a - self.A[:, j])
        r -= self.y
        return r, float(r @ r) / (2 * self.m)

    def commit(self, j: int, v: FloatArray, a: FloatArray, c_new: FloatArray, r: FloatArray, loss: float) -> None:
        """Neuron j becomes ``v`` (feature ``a``), the output weights ``c_new``."""
        self.W[j], self.b[j] = v[: self.d], v[self.d]
        self.c[:] = c_new
        self.A[:, j] = a
        self.r, self.loss = r, loss
        self.level = min(self.level, loss)
        self.version += 1

    def forms_1d(self, search: _Sorted) -> _FullForms:
        """Basis forms for the 1-D search, whose sorted order is the same for every neuron."""
        if self._forms_cache is None or self._forms_cache[0] != self.version:
            Q = self.get_basis().Q
            self._forms_cache = (self.version, _FullForms(*la.full_forms(Q, search.order, search.pc)))
        return self._forms_cache[1]


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
    pair_moves: int | None = None,
    bounded_moves: int | None = None,
    polish_steps: int = 0,
    polish_lr: float = 0.1,
    order: str = "cyclic",
    rng: np.random.Generator | None = None,
    record_every: int = 1,
    progress: bool = False,
    time_limit: float | None = None,
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
    pair_moves : int, optional
        At most this many pair moves, tried when a sweep changes nothing (module docstring);
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
        Stop once this many wall-clock seconds have passed: checked before each neuron's update
        and after each sweep; a sweep cut short keeps its updates if they lowered the loss and
        counts as a sweep (``status="budget"``). ``None``: no limit.

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
                "pattern_solve": pattern_solve, "pair_moves": pair_moves}
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
    pair_moves = check_positive_int(chosen["pair_moves"], "pair_moves", allow_zero=True)
    if pair_moves and bounded_moves is not None:
        raise ValueError("pair_moves re-insert neurons anywhere: they cannot be combined with bounded_moves")
    record_every = check_positive_int(record_every, "record_every")
    time_limit = check_time_limit(time_limit)
    opts = _Options(thresholds == "continuous", criterion == "joint", directions == "fit+current",
                    bounded_moves, SEARCH_BLOCK)
    return _run(net, X, y, opts, sweeps=sweeps, polish=(polish_steps, polish_lr), order=order, rng=rng,
                pattern_solve=pattern_solve, pair_moves=pair_moves, record_every=record_every, progress=progress,
                time_limit=time_limit)


def _run(net: ShallowReLU, X: FloatArray, y: FloatArray, opts: _Options, *, sweeps: int, polish: tuple[int, float],
         order: str, rng, pattern_solve: bool, pair_moves: int, record_every: int, progress: bool,
         time_limit: float | None) -> TrainResult:
    """The sweeps of :func:`train_anls` (inputs validated)."""
    n, d = net.n, net.d
    m = X.shape[0]
    theta = net.to_vector()
    c, W, b = theta[:n], theta[n : n + n * d].reshape(n, d), theta[n + n * d :]
    counter = _Counter()
    rec = Recorder(record_every, n, d, time_limit)
    ev = evaluate(c, W, b, X, y)
    counter.nfev += 1
    rec.observe(0, ev.active, ev.loss, theta)
    state = _State(c, W, b, X, augment(X), y, counter, opts)
    zero_loss = float(y @ y) / (2 * m)
    updates: list[tuple[int, int, bool, bool, float]] = []
    pairs: list[tuple[int, int, int, float]] = []
    nfev_sweep, njev_sweep = [counter.nfev], [counter.njev]
    message, status, k = f"reached sweeps={sweeps}", BUDGET, 0
    bar = progress_bar(sweeps, "anls", progress)
    start, first = theta.copy(), 0
    try:
        while k < sweeps and math.isfinite(ev.loss):
            state.reset(ev)
            start, level, first = theta.copy(), state.level, len(updates)
            changed = timed_out = False
            for j in _neuron_order(order, ev, n, rng):
                if rec.out_of_time():
                    timed_out = True
                    break
                row = _visit(state, j)
                if row is not None:
                    updates.append((k + 1, j, *row))
                    changed = changed or row[0]
            if changed:
                ev, changed = _close_sweep(state, theta, ev, (start, level), updates, first)
            if timed_out:
                k += 1
                rec.observe(k, ev.active, ev.loss, theta)
                nfev_sweep.append(counter.nfev)
                njev_sweep.append(counter.njev)
                message = time_limit_message(time_limit) + f" in sweep {k} (ended after its kept updates)"
                break
            ev, changed = _end_of_sweep(state, ev, changed, pattern_solve, polish)
            if not changed and len(pairs) < pair_moves:
                ev, pair = _pair_move(state, ev)
                if pair is not None:
                    pairs.append((k + 1, *pair, ev.loss))
                    changed = True
            k += 1
            rec.observe(k, ev.active, ev.loss, theta)
            nfev_sweep.append(counter.nfev)
            njev_sweep.append(counter.njev)
            bar.update(1)
            if not changed:
                message, status = f"converged: sweep {k} changed nothing (a fixed point of the update)", CONVERGED
                break
            if ev.loss <= EXACT_RTOL * zero_loss:
                message, status = f"fitted the data to round-off after sweep {k}", CONVERGED
                break
            if rec.out_of_time():
                message = time_limit_message(time_limit)
                break
    except KeyboardInterrupt:
        message, status = f"interrupted by the user in sweep {k + 1}", INTERRUPTED
        ev_now = evaluate(c, W, b, X, y)
        if ev_now.loss <= ev.loss:
            ev = ev_now
        else:  # the updates of the interrupted sweep did not lower the loss beyond round-off
            theta[:] = start
            _unkeep(updates, first)
    finally:
        bar.close()
    if not math.isfinite(ev.loss):
        message, status = f"loss became non-finite in sweep {k}", FAILED
    return rec.finish(k, ev.active, ev.loss, theta, method="anls", nfev=counter.nfev, njev=counter.njev,
                      status=status, message=message, extra=_extra(updates, pairs, nfev_sweep, njev_sweep))


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


def _end_of_sweep(state: _State, ev, changed: bool, pattern_solve: bool, polish: tuple[int, float]):
    """The optional pattern solve and polishing closing a sweep (each kept only if it lowers the loss)."""
    c, W, b, X, y = state.c, state.W, state.b, state.X, state.y
    counter = state.counter
    if pattern_solve:
        ev, solved = _pattern_solve(c, W, b, X, state.Xt, y, ev, counter)
        changed = changed or solved
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


# ------------------------------------------------------------------------------ one neuron


def _directions(state: _State, j: int, t: FloatArray, active: NDArray[np.bool_]) -> list[FloatArray]:
    """Candidate unit directions of neuron j: the least-squares fit of t on its active data (and its own)."""
    m, d = state.m, state.d
    if d == 1:
        return [np.ones(1)]
    wj = state.W[j]
    norm_wj = float(np.linalg.norm(wj))
    rows = active if active.sum() >= d + 1 else np.ones(m, dtype=bool)
    u = np.linalg.lstsq(state.Xt[rows], t[rows], rcond=None)[0][:d]
    state.counter.njev += 1
    norm_u = float(np.linalg.norm(u))
    out = []
    if norm_u > 0 and np.isfinite(norm_u):
        out.append(u / norm_u)
    if (state.opts.keep_current or not out) and norm_wj > 0:
        out.append(wj / norm_wj)
    if not out:
        out.append(np.eye(d)[0])
    return out


def _move_rule(state: _State, j: int, w: FloatArray, active: NDArray[np.bool_]) -> tuple[int, int, int] | None:
    bound = state.opts.bounded_moves
    if bound is None:
        return None
    wj = state.W[j]
    s_cur = int(np.sign(wj @ w)) if float(np.linalg.norm(wj)) > 0 else 0
    return (s_cur, int(active.sum()), bound)


class _Proposal(NamedTuple):
    """A proposed neuron: ``v = (s w, -s tau)``, its gain, its feature and (fast joint search) ``Q^T phi``."""

    v: FloatArray
    gain: float
    phi: FloatArray
    coef: FloatArray | None


def _propose(state: _State, j: int, t: FloatArray, t_search: FloatArray, active: NDArray[np.bool_],
             loo: la.LeaveOneOut | None, B: FloatArray | None) -> _Proposal | None:
    """Best new neuron j over the candidate directions, or None if there is no candidate.

    ``loo`` set: the fast joint search (``state.basis`` and the leave-one-out direction); ``B``
    set: the straightforward joint search against the orthonormal basis ``B`` of the other
    features; neither (or the single criterion): no basis.
    """
    best: _Proposal | None = None
    for w in _directions(state, j, t, active):
        p = state.X @ w
        rule = _move_rule(state, j, w, active)
        found = _search_one(state, p, t_search, loo, B, rule)
        if found is None:
            continue
        choice, coef = found
        if best is None or choice.gain > best.gain:
            s, tau = float(choice.s), choice.tau
            best = _Proposal(np.append(s * w, -s * tau), choice.gain, np.maximum(s * (p - tau), 0.0), coef)
    return best


def _search_one(state: _State, p: FloatArray, t: FloatArray, loo, B, rule) -> tuple[_Choice, FloatArray | None] | None:
    opts = state.opts
    if not opts.joint:
        choice = _search_full(_Sorted(p, t), opts.continuous, None, rule)
        return None if choice is None else (choice, None)
    if loo is None:  # the straightforward search
        search = _Sorted(p, t - B @ (B.T @ t) if B.shape[1] else t)
        forms = _FullForms(*la.full_forms(np.ascontiguousarray(B), search.order, search.pc)) if B.shape[1] else None
        choice = _search_full(search, opts.continuous, forms, rule)
        return None if choice is None else (choice, None)
    basis = state.basis
    Q = basis.Q
    if Q.shape[1] == 0:
        choice = _search_full(_Sorted(p, t), opts.continuous, None, rule)
        return None if choice is None else (choice, None)
    if opts.continuous or state.m < 4 * opts.block:
        search = _Sorted(p, t, basis.q(loo))
        if opts.continuous and state.d == 1:
            forms = state.forms_1d(search)
        else:
            forms = _FullForms(*la.full_forms(Q, search.order, search.pc))
        choice = _search_full(search, opts.continuous, forms, rule)
        return None if choice is None else (choice, None)
    return _search_pruned(_Sorted(p, t), Q, loo.z, rule, opts.block)


def _visit(state: _State, j: int) -> tuple[bool, bool, float] | None:
    """Propose a new neuron j and keep it if it lowers the loss: ``(kept, column changed, loss)``, or None."""
    A = state.A
    t = state.c[j] * A[:, j] - state.r  # y - sum_{l != j} c_l A_l
    active = A[:, j] > 0
    if state.m * state.n * state.n < SMALL_WORK:
        return _visit_exact(state, j, t, active)
    basis = state.get_basis()
    loo = basis.leave_one_out(j) if basis.reliable else la.UNCLEAR
    if loo.kind == "unclear":
        return _visit_exact(state, j, t, active)
    g = basis.drop(basis.target_coords(j, state.c), loo)  # coordinates of P_{-j} t
    t_perp = t - basis.Q @ g
    joint = state.opts.joint
    proposal = _propose(state, j, t, t_perp if joint else t, active, loo, None)
    if proposal is None:
        return None
    counter = state.counter
    counter.njev += 1
    phi = proposal.phi
    coef = proposal.coef if proposal.coef is not None else basis.Q.T @ phi
    gain = proposal.gain
    if not joint:  # the joint gain of the chosen candidate
        kept = basis.drop(coef, loo)
        den = float(phi @ phi) - float(kept @ kept)
        num = float(phi @ t_perp)
        gain = num * num / den if den > CANCEL_RTOL * float(phi @ phi) else 0.0
    t2 = float(t_perp @ t_perp)
    estimate = max(t2 - gain, 0.0) / (2 * state.m)
    threshold = state.level * (1 - ACCEPT_RTOL)
    if estimate >= threshold + 1e-8 * max(state.loss, t2 / (2 * state.m)):
        counter.nfev += 1
        return False, False, estimate  # clearly no better: rejected without forming the new network
    ext = basis.extension(phi, coef)
    c_new = basis.solve_replacing(j, ext)
    r_new, loss_new = state.residual_with(j, phi, c_new)
    if not loss_new < threshold:
        return False, False, loss_new
    col_changed = not np.array_equal(phi > 0, active)
    state.commit(j, proposal.v, phi, c_new, r_new, loss_new)
    basis.replace(j, loo, ext, phi)
    if not basis.reliable:
        state.basis = None
    return True, col_changed, loss_new


def _visit_exact(state: _State, j: int, t: FloatArray, active) -> tuple[bool, bool, float] | None:
    """The straightforward update (range basis of the other features, full ``lstsq``), for unclear ranks."""
    A = state.A
    B = range_basis(np.delete(A, j, axis=1)) if state.opts.joint else None
    proposal = _propose(state, j, t, t, active, None, B)
    if proposal is None:
        return None
    state.counter.njev += 1
    A_new = A.copy()
    A_new[:, j] = proposal.phi
    c_new = np.linalg.lstsq(A_new, state.y, rcond=None)[0]
    r_new, loss_new = state.residual_with(j, proposal.phi, c_new)
    if not loss_new < state.level * (1 - ACCEPT_RTOL):
        return False, False, loss_new
    col_changed = not np.array_equal(proposal.phi > 0, active)
    state.commit(j, proposal.v, proposal.phi, c_new, r_new, loss_new)
    state.basis = None
    return True, col_changed, loss_new


def _neuron_order(order: str, ev, n: int, rng: np.random.Generator | None) -> list[int]:
    if order == "cyclic":
        return list(range(n))
    if order == "random":
        return [int(j) for j in rng.permutation(n)]
    seen = (ev.r * ev.r) @ ev.active  # sum_i D_ij r_i^2
    return [int(j) for j in np.lexsort((np.arange(n), -seen))]


# ------------------------------------------------------------------------------ pair moves


def pair_order(A: FloatArray, y: FloatArray, budget: int) -> list[tuple[int, int]]:
    r"""The pairs a scan of pair moves tries, in order: at most ``budget`` of them.

    Two orders of the pairs :math:`(j, l)`, :math:`j < l`, taken alternately (each pair once):
    decreasing :math:`|\cos(A_j, A_l)|` (features that largely duplicate each other), and
    increasing least-squares cost of removing both, :math:`c_J^\top (\Sigma_{JJ})^+ c_J` with
    :math:`\Sigma = (A^\top A)^+`, :math:`c = A^+y`, :math:`J = \{j, l\}` (the least useful
    pairs). Ties by :math:`(j, l)`.
    """
    m, n = A.shape
    first, second = np.triu_indices(n, k=1)
    if first.size == 0:
        return []
    norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    safe = np.where(norms > 0, norms, 1.0)
    cos = np.abs(A.T @ A) / np.outer(safe, safe)
    U, sv, Vt = np.linalg.svd(A, full_matrices=False)
    keep = sv > la.lstsq_cutoff(m, n) * sv[0] if sv[0] > 0 else np.zeros(sv.shape, dtype=bool)
    V = Vt[keep].T / sv[keep]
    sigma = V @ V.T  # (A^T A)^+
    cstar = V @ (U[:, keep].T @ y)
    M = np.stack([np.stack([sigma[first, first], sigma[first, second]], -1),
                  np.stack([sigma[first, second], sigma[second, second]], -1)], -2)
    cJ = np.stack([cstar[first], cstar[second]], -1)
    cost = np.einsum("pi,pij,pj->p", cJ, np.linalg.pinv(M), cJ)
    orders = [np.lexsort((second, first, -cos[first, second])), np.lexsort((second, first, cost))]
    out, seen = [], set()
    for i in np.stack(orders, axis=1).ravel():
        if int(i) not in seen:
            seen.add(int(i))
            out.append((int(first[i]), int(second[i])))
            if len(out) == budget:
                break
    return out


def _pair_move(state: _State, ev):
    """First pair (j, l) whose removal and greedy re-insertion lowers the loss; applied in place.

    Both neurons are silenced (:math:`c = 0`, :math:`v = 0`), then re-inserted one after the
    other by the same proposal as a neuron update, each followed by the output-weight re-solve.
    The pairs are tried in the order of :func:`pair_order`, at most ``PAIR_BUDGET * n`` of them.
    Returns the new evaluation and ``(j, l)``, or the old evaluation and ``None`` if no pair
    lowers the loss.
    """
    state.reset(ev)
    for j, k in pair_order(state.A, state.y, PAIR_BUDGET * state.n):
        c1, W1, b1 = state.c.copy(), state.W.copy(), state.b.copy()
        c1[[j, k]], W1[[j, k]], b1[[j, k]] = 0.0, 0.0, 0.0
        A1 = state.A.copy()
        A1[:, [j, k]] = 0.0
        r1 = A1 @ c1 - state.y
        state.counter.nfev += 1
        trial = _State(c1, W1, b1, state.X, state.Xt, state.y, state.counter, state.opts,
                       A1, r1, float(r1 @ r1) / (2 * state.m), math.inf)
        if _reinsert(trial, j) and _reinsert(trial, k) and trial.loss < state.level * (1 - ACCEPT_RTOL):
            balance_neurons(trial.c, trial.W, trial.b)
            ev_new = evaluate(trial.c, trial.W, trial.b, state.X, state.y)
            state.counter.nfev += 1
            if ev_new.loss < ev.loss:
                state.c[:], state.W[:], state.b[:] = trial.c, trial.W, trial.b
                return ev_new, (j, k)
    return ev, None


def _reinsert(trial: _State, q: int) -> bool:
    """Insert neuron q of a trial state by the proposal and the re-solve, without the acceptance test."""
    A = trial.A
    t = trial.c[q] * A[:, q] - trial.r
    active = A[:, q] > 0
    exact = trial.m * trial.n * trial.n < SMALL_WORK
    if not exact:
        basis = trial.get_basis()
        loo = basis.leave_one_out(q) if basis.reliable else la.UNCLEAR
        exact = loo.kind == "unclear"
    if exact:
        B = range_basis(np.delete(A, q, axis=1)) if trial.opts.joint else None
        proposal = _propose(trial, q, t, t, active, None, B)
    else:
        t_search = t - basis.Q @ basis.drop(basis.target_coords(q, trial.c), loo) if trial.opts.joint else t
        proposal = _propose(trial, q, t, t_search, active, loo, None)
    if proposal is None:
        return False
    trial.counter.njev += 1
    phi = proposal.phi
    if exact:
        A_new = A.copy()
        A_new[:, q] = phi
        c_new = np.linalg.lstsq(A_new, trial.y, rcond=None)[0]
    else:
        ext = basis.extension(phi, proposal.coef)
        c_new = basis.solve_replacing(q, ext)
    r_new, loss_new = trial.residual_with(q, phi, c_new)
    trial.commit(q, proposal.v, phi, c_new, r_new, loss_new)
    if exact:
        trial.basis = None
    else:
        basis.replace(q, loo, ext, phi)
        if not basis.reliable:
            trial.basis = None
    return True


# ----------------------------------------------------------------- pattern solve, polishing


def _pattern_solve(c, W, b, X, Xt, y, ev, counter: _Counter, halvings: int = 6):
    r"""Least squares on the active neurons with the pattern frozen (in place if it lowers the loss).

    With :math:`D` fixed the outputs are linear in :math:`u_j = c_j v_j`:
    :math:`N = \sum_j D_j\tilde X u_j`; solve for all :math:`u` by linear least squares
    (:func:`~plateau_lib.trainers._anls_linalg.frozen_pattern_lstsq`), map back with
    :math:`c_j = \pm\sqrt{|u_j|}`, :math:`v_j = u_j/c_j` (sign of :math:`c_j` kept, so :math:`v_j`
    keeps its side), and step from the old :math:`u` towards the new one, halving the step until
    the true loss (with the pattern the new parameters really have) decreases.
    """
    d = X.shape[1]
    u_new = la.frozen_pattern_lstsq(ev.active, Xt, y)
    counter.njev += 1
    v_old = np.column_stack([W, b])
    u_old = c[:, None] * v_old
    sign = np.sign(c)
    silent = sign == 0
    if silent.any():  # choose the side on which the neuron's active data stay active
        side = np.einsum("ij,ij->j", ev.active.astype(float), Xt @ u_new.T)
        sign[silent] = np.where(side[silent] < 0, -1.0, 1.0)
    beta = 1.0
    for _ in range(halvings):
        u = u_old + beta * (u_new - u_old)
        norm = np.sqrt(np.einsum("ij,ij->i", u, u))
        ok = norm > 0
        c1 = np.where(ok, sign * np.sqrt(norm), 0.0)
        v1 = np.where(ok[:, None], u / np.where(ok, c1, 1.0)[:, None], v_old)
        W1, b1 = v1[:, :d].copy(), v1[:, d].copy()
        e = evaluate(c1, W1, b1, X, y)
        counter.nfev += 1
        if e.loss < ev.loss * (1 - ACCEPT_RTOL):
            c[:], W[:], b[:] = c1, W1, b1
            return e, True
        beta /= 2
    return ev, False


def _polish(c, W, b, X, y, ev, steps: int, lr: float, counter: _Counter):
    """``steps`` GD steps from (c, W, b); kept (in place) only if they lower the loss."""
    c1, W1, b1 = c.copy(), W.copy(), b.copy()
    e = ev
    for _ in range(steps):
        c1 -= lr * e.gc
        W1 -= lr * e.gW
        b1 -= lr * e.gb
        e = evaluate(c1, W1, b1, X, y)
        counter.nfev += 1
        if not math.isfinite(e.loss):
            return ev, False
    if e.loss < ev.loss:
        c[:], W[:], b[:] = c1, W1, b1
        return e, True
    return ev, False
