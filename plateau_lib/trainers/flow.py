r"""Gradient flow :math:`\dot\theta = -\nabla L(\theta)`, integrated piece by piece.

Gradient descent with step :math:`\eta` is the explicit Euler method for the gradient flow,
and the paper's analysis (facts 1-3 of the design) is about the flow. :func:`train_flow`
integrates it segment by segment of constant activation pattern with an explicit Runge-Kutta
method, locates every pattern change as an event, and follows the Filippov sliding motion
where gradient descent would flicker across a breakpoint. Why it is built this way, what it
does at a breakpoint, and how it was checked against gradient descent are in the book's
*Design notes* (:doc:`/book/design`, section "Gradient flow").
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
from numpy.typing import ArrayLike

from .._validation import (
    as_float_array,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_time_limit,
    time_limit_message,
)
from ..network import ShallowReLU, augment, check_problem, evaluate, split_params
from ..recording import Recorder
from ..result import BUDGET, FAILED, INTERRUPTED, TrainResult
from ._gradient_norm import gradient_norm
from ._progress import progress_bar

INTEGRATORS = ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")
#: Default end time of :func:`train_flow`: where gradient descent's default 10 000 steps at the
#: book's step 0.1 arrive.
T_END = 1000.0
#: pairs with :math:`|z_{ij}| \le` ``BOUNDARY_TOL`` :math:`|\tilde x_i|\,|v_j|` sit on their breakpoint
BOUNDARY_TOL = 1e-10
#: pairs on a breakpoint are moved to :math:`z_{ij} = \pm` ``NUDGE`` :math:`|\tilde x_i|\,|v_j|` on their side
NUDGE = 1e-12
#: a neuron with :math:`|v_j| \le` ``COLLAPSE_FACTOR * atol`` has collapsed to :math:`v_j = 0` and dies
COLLAPSE_FACTOR = 1e4
#: stop when this many consecutive events make no progress in time
STALL_EVENTS = 100
#: a pair whose sliding fraction is within SLIDE_MARGIN of 0 or 1 leaves the breakpoint (hysteresis)
SLIDE_MARGIN = 1e-9
_EPS = float(np.finfo(float).eps)

INACTIVE, ACTIVE, SLIDING = 0, 1, 2


class _Group:
    """Pairs ``rows`` of neuron ``j`` sliding on its breakpoint, with the fractions
    ``center`` chosen at the start of the segment (see :func:`_track_alpha`)."""

    __slots__ = ("j", "rows", "center")

    def __init__(self, j: int, rows: np.ndarray, center: np.ndarray) -> None:
        self.j, self.rows, self.center = j, rows, center


class _Field:
    """Gradient-flow field for one segment: frozen pattern plus sliding pairs."""

    def __init__(self, X: np.ndarray, y: np.ndarray, n: int, d: int, v_tol: float = 0.0) -> None:
        self.X, self.y = X, y
        self.v_tol = v_tol
        self.m, self.n, self.d = X.shape[0], n, d
        self.Xt = augment(X)
        self.xnorm = np.linalg.norm(self.Xt, axis=1)
        self.nfev = 0
        self.set_segment(np.zeros((self.m, n), dtype=bool), [], np.zeros(n, dtype=bool))

    # -- parameters -------------------------------------------------------------------
    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, d = self.n, self.d
        return split_params(theta, n, d)

    def preactivations(self, theta: np.ndarray) -> np.ndarray:
        _, W, b = self.split(theta)
        return self.X @ W.T + b

    def pair_scale(self, theta: np.ndarray) -> np.ndarray:
        r""":math:`|\tilde x_i|\,|v_j|`, the natural size of :math:`z_{ij}`, shape (m, n)."""
        _, W, b = self.split(theta)
        vnorm = np.sqrt(np.sum(W * W, axis=1) + b * b)
        return self.xnorm[:, None] * vnorm[None, :]

    # -- segment ----------------------------------------------------------------------
    def set_segment(
        self, D: np.ndarray, groups: list[_Group], frozen: np.ndarray, offset: np.ndarray | float = 0.0
    ) -> None:
        """Fix the pattern ``D`` (regular pairs), the sliding ``groups``, the ``frozen``
        neurons (``v_j = 0``: every pair sits at ``z = 0`` for ever) and the ``offset`` added
        to :math:`s_{ij} z_{ij}` in the crossing event."""
        self.D = D
        self.offset = offset
        self.Df = D.astype(np.float64)
        self.groups = groups
        self.sign = np.where(D, 1.0, -1.0)
        watch = np.ones_like(D)
        watch[:, frozen] = False
        for g in groups:
            watch[g.rows, g.j] = False
        self.watch = watch
        self.any_watch = bool(watch.any())
        self.live = np.zeros(self.n, dtype=bool)

    def vnorm(self, theta: np.ndarray) -> np.ndarray:
        _, W, b = self.split(theta)
        return np.sqrt(np.sum(W * W, axis=1) + b * b)

    def alphas(self, r: np.ndarray) -> list[np.ndarray]:
        r"""Sliding fractions :math:`\alpha` keeping :math:`\dot z_{ij} = 0`, one array per group."""
        return [
            _track_alpha(self.Xt[g.rows], r[g.rows], self.Xt.T @ (self.Df[:, g.j] * r), g.center)
            for g in self.groups
        ]

    def __call__(self, t: float, theta: np.ndarray) -> np.ndarray:
        r"""Right-hand side :math:`-\nabla L` with the segment's pattern."""
        self.nfev += 1
        c, W, b = self.split(theta)
        Z = self.X @ W.T + b
        A = np.where(self.D, Z, 0.0)
        r = A @ c - self.y
        Dw = self.Df
        if self.groups:
            Dw = Dw.copy()
            for g, alpha in zip(self.groups, self.alphas(r), strict=True):
                Dw[g.rows, g.j] = alpha
        G = Dw * r[:, None]
        gc = (A.T @ r) / self.m
        gV = (G.T @ self.Xt) * (c / self.m)[:, None]
        return -np.concatenate([gc, gV[:, : self.d].ravel(), gV[:, self.d]])

    # -- events -----------------------------------------------------------------------
    def crossing(self, t: float, theta: np.ndarray) -> float:
        r""":math:`\min s_{ij} z_{ij}` over the watched pairs (zero at a breakpoint)."""
        if not self.any_watch:
            return 1.0
        return float(np.min((self.sign * self.preactivations(theta) + self.offset)[self.watch]))

    def sliding_exit(self, t: float, theta: np.ndarray) -> float:
        r""":math:`\min(\alpha, 1-\alpha, c_j r_i)` over sliding pairs (zero when one leaves).

        Sliding ends when a fraction leaves :math:`(0,1)`, or when :math:`c_j r_i` changes
        sign: then both one-sided fields point away from the breakpoint (they are
        proportional to :math:`c_j`) and the pair leaves it.
        """
        c, W, b = self.split(theta)
        r = np.where(self.D, self.X @ W.T + b, 0.0) @ c - self.y
        return float(
            min(min(np.min(np.minimum(a, 1.0 - a)), np.min(c[g.j] * r[g.rows]))
                for g, a in zip(self.groups, self.alphas(r), strict=True))
        )

    def collapse(self, t: float, theta: np.ndarray) -> float:
        r""":math:`\min_j |v_j| - v_{tol}` over live neurons (zero when a neuron collapses)."""
        return float(np.min(self.vnorm(theta)[self.live])) - self.v_tol

    def resolve_collapses(self, theta: np.ndarray) -> tuple[np.ndarray, list[str]]:
        r"""Resolve every neuron with :math:`0 < |v_j| \le v_{tol}` (see :meth:`resolve_collapse`)."""
        kinds = []
        while True:
            vn = self.vnorm(theta)
            small = np.nonzero((vn > 0) & (vn <= self.v_tol * (1 + 1e-9)))[0]
            if small.size == 0 or len(kinds) > self.n:
                return theta, kinds
            theta, kind = self.resolve_collapse(theta, int(small[0]))
            kinds.append(kind)

    def resolve_collapse(self, theta: np.ndarray, j: int) -> tuple[np.ndarray, str]:
        r"""Neuron ``j`` reached :math:`|v_j| = v_{tol}`: it dies, :math:`v_j := 0`.

        Near :math:`v_j = 0` the field of :math:`v_j` depends only on the direction
        :math:`\hat v_j` (it is :math:`-\tfrac{c_j}{m}\sum_{i:\,\tilde x_i\cdot\hat v_j>0}
        r_i\tilde x_i`), so a neuron reaches the origin in finite time, typically while
        sliding along a breakpoint. At :math:`v_j = 0` no point is active
        (:math:`\mathrm{relu}'(0) = 0`), the gradient of :math:`(c_j, v_j)` vanishes and the
        neuron is frozen for ever; gradient descent does the same up to :math:`O(\eta)`
        (its last step lands in the cone where every point is inactive). Below
        :math:`v_{tol}` the integrator, which controls :math:`v_j` only to ``atol``, could not
        resolve the direction anyway.
        """
        theta = theta.copy()
        _, W, b = self.split(theta)
        W[j], b[j] = 0.0, 0.0
        return theta, "neuron_dies"

    # -- classification at a segment start --------------------------------------------
    def start_segment(self, theta: np.ndarray) -> tuple[np.ndarray, int]:
        """Classify the pairs on breakpoints, nudge them to their side, fix the segment.

        Returns the (nudged) state and the number of sliding pairs.
        """
        theta = theta.copy()
        c, W, b = self.split(theta)
        Z = self.X @ W.T + b
        scale = self.pair_scale(theta)
        frozen = ~np.any(scale > 0, axis=0)
        B = (np.abs(Z) <= BOUNDARY_TOL * scale) & (scale > 0)
        D = (Z > 0) & ~B
        r = np.where(D, Z, 0.0) @ c - self.y  # independent of how pairs on B are assigned
        groups: list[_Group] = []
        for j in np.nonzero(B.any(axis=0))[0]:
            rows = np.nonzero(B[:, j])[0]
            status, alpha = self._classify(rows, D[:, j], r, c[j])
            D[rows[status == ACTIVE], j] = True
            sl = status == SLIDING
            if sl.any():
                groups.append(_Group(int(j), rows[sl], alpha[sl]))
            # nudge the pairs to their side: minimal change of v_j with Xt[rows] dv = target - z
            target = np.where(status == ACTIVE, NUDGE, -NUDGE) * np.max(scale[rows, j])
            dv = np.linalg.lstsq(self.Xt[rows], target - Z[rows, j], rcond=None)[0]
            W[j] += dv[: self.d]
            b[j] += dv[self.d]
        # A pair that started on a breakpoint is watched through its displacement from the
        # start: its event function starts at NUDGE * scale even if the nudge could not put it
        # strictly on its side (several pairs of one neuron on one line, with mixed sides).
        sZ = np.where(D, 1.0, -1.0) * (self.X @ W.T + b)
        offset = np.where(B, NUDGE * scale - sZ, 0.0)
        self.set_segment(D, groups, frozen, offset)
        self.live = self.vnorm(theta) > self.v_tol
        return theta, sum(len(g.rows) for g in groups)

    def _classify(self, rows: np.ndarray, Dj: np.ndarray, r: np.ndarray, cj: float) -> tuple[np.ndarray, np.ndarray]:
        r"""Sides of the pairs ``rows`` of neuron :math:`j` sitting on its breakpoint.

        With fractions :math:`\alpha_k \in [0,1]` (0 inactive, 1 active) the breakpoint
        velocities are :math:`u_k = -\tfrac{c_j}{m}\tilde x_k\cdot p`,
        :math:`p = q + \sum_k \alpha_k r_k \tilde x_k`, :math:`q = \sum_{i\ \mathrm{active}}
        r_i\tilde x_i`. Filippov's conditions: :math:`u_k \le 0` where :math:`\alpha_k = 0`,
        :math:`u_k \ge 0` where :math:`\alpha_k = 1`, :math:`u_k = 0` in between. Only pairs
        with :math:`c_j r_k > 0` can be attracted (slide); for them these are exactly the
        optimality conditions of the bounded least-squares problem
        :math:`\min_{\alpha\in[0,1]}\|p\|^2`, solved by BVLS. The other pairs take the side
        their velocity points to (inactive on a tie: :math:`\mathrm{relu}'(0)=0`), which is
        iterated to a fixed point.

        Returns the status of each pair and the fractions (meaningful for sliding pairs).
        """
        from scipy.optimize import lsq_linear

        k = len(rows)
        XS, rS = self.Xt[rows], r[rows]
        q_reg = self.Xt.T @ (Dj * r)
        if abs(cj) <= self.v_tol:
            # c_j ~ 0 (typically passing through zero, which ends a sliding motion): the
            # breakpoint does not move to first order; inactive, as relu'(0) = 0 says.
            return np.full(k, INACTIVE), np.zeros(k)
        if k == 1:
            u_in = -(cj / self.m) * (XS[0] @ q_reg)
            u_act = u_in - (cj * rS[0] / self.m) * (XS[0] @ XS[0])
            if u_in <= 0:  # the inactive field keeps it inactive (relu'(0) = 0 decides ties)
                return np.array([INACTIVE]), np.zeros(1)
            if u_act >= 0:
                return np.array([ACTIVE]), np.ones(1)
            alpha = u_in / (u_in - u_act)  # attracted from both sides: slide, unless at an edge
            status = INACTIVE if alpha < SLIDE_MARGIN else ACTIVE if alpha > 1 - SLIDE_MARGIN else SLIDING
            return np.array([status]), np.array([alpha])
        attract = cj * rS > 0
        repel_active = np.zeros(k, dtype=bool)
        C = (XS * rS[:, None]).T  # columns r_k x~_k
        # a velocity within roundoff of its scale counts as zero: its pair keeps its side (on
        # affinely dependent points, u_k is a sum of terms that cancel exactly in exact arithmetic)
        u_scale = (abs(cj) / self.m) * np.linalg.norm(XS, axis=1) * (np.linalg.norm(q_reg) + np.abs(C).sum())
        u_tie = 1e-8 * u_scale
        alpha = np.zeros(k)
        for _ in range(2 * k + 2):
            q = q_reg + C[:, repel_active].sum(axis=1)
            alpha = repel_active.astype(float)
            if attract.any():
                alpha[attract] = lsq_linear(C[:, attract], -q, bounds=(0.0, 1.0), method="bvls").x
            u = -(cj / self.m) * (XS @ (q + C[:, attract] @ alpha[attract]))
            wrong = ~attract & ((~repel_active & (u > u_tie)) | (repel_active & (u < -u_tie)))
            if not wrong.any():
                break
            repel_active ^= wrong
        status = np.where(repel_active, ACTIVE, INACTIVE)
        status[attract & (alpha >= 1 - SLIDE_MARGIN)] = ACTIVE
        interior = attract & (alpha > SLIDE_MARGIN) & (alpha < 1 - SLIDE_MARGIN)
        status[interior] = SLIDING
        # BVLS returns one solution; when the points are affinely dependent (several grid
        # points on the neuron's line) others exist. Pairs at a bound whose breakpoint does
        # not move (u_k = 0: in the span of the sliding points) may slide too; we take the
        # largest sliding set that admits fractions strictly inside (0, 1) (gradient descent
        # flickers on all of them) and centre the fractions (max-margin LP).
        weak = attract & ~interior & (np.abs(u) <= u_tie)
        for sl in ((interior | weak) if weak.any() else None, interior):
            if sl is None or sl.sum() < 2:
                continue
            fixed_active = ~sl & (status == ACTIVE)
            a_sl, margin = _max_margin(XS[sl], rS[sl], q_reg + C[:, fixed_active].sum(axis=1), alpha[sl])
            if margin > SLIDE_MARGIN:
                status[sl] = SLIDING
                alpha[sl] = a_sl
                break
        alpha = np.where(status == ACTIVE, 1.0, np.where(status == INACTIVE, 0.0, alpha))
        return status, alpha


def _constraint(XS: np.ndarray, rS: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The sliding condition as :math:`A\alpha = b`: :math:`X_S(q + X_S^\top(\alpha\circ r_S)) = 0`."""
    return (XS @ XS.T) * rS[None, :], -(XS @ q)


def _track_alpha(XS: np.ndarray, rS: np.ndarray, q: np.ndarray, center: np.ndarray) -> np.ndarray:
    r"""Sliding fractions of the pairs ``S`` of one neuron.

    They solve :math:`X_S\,(q + X_S^\top(\alpha\circ r_S)) = 0`: no pair of ``S`` moves
    off the breakpoint. For affinely independent points the solution is unique. When the
    points of ``S`` are affinely dependent (e.g. a row of a grid lying on the neuron's
    line) the solutions form an affine family, all giving the same velocity; we follow
    the one nearest to ``center`` (fixed at the start of the segment), and the sliding
    ends when it leaves :math:`(0,1)`.
    """
    if len(rS) == 1:
        x = XS[0]
        num, den = -(x @ q), rS[0] * (x @ x)
        if den != 0:
            return np.array([num / den])
        return np.array([np.inf if num > 0 else -np.inf if num < 0 else center[0]])
    A, b = _constraint(XS, rS, q)
    return center + np.linalg.lstsq(A, b - A @ center, rcond=None)[0]


def _max_margin(XS: np.ndarray, rS: np.ndarray, q: np.ndarray, alpha0: np.ndarray) -> tuple[np.ndarray, float]:
    r"""Among the fractions with :math:`A\alpha = b` (see :func:`_constraint`), the one
    farthest from the faces of :math:`[0,1]^S` (a small linear programme over the null
    space of :math:`A`, starting from ``alpha0``), and its distance to them."""
    from scipy.optimize import linprog

    A, _ = _constraint(XS, rS, q)
    _, sv, Vt = np.linalg.svd(A)
    rank = int(np.sum(sv > sv[0] * len(rS) * _EPS)) if sv.size and sv[0] > 0 else 0
    N = Vt[rank:].T  # null-space basis, shape (K, K - rank)
    if N.shape[1] == 0:
        return alpha0, float(np.min(np.minimum(alpha0, 1 - alpha0)))
    K, p = N.shape
    # variables (z, s): maximise s subject to s <= alpha0 + N z <= 1 - s
    ones = np.ones((K, 1))
    A_ub = np.block([[-N, ones], [N, ones]])
    b_ub = np.concatenate([alpha0, 1.0 - alpha0])
    cost = np.zeros(p + 1)
    cost[-1] = -1.0
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=[(None, None)] * p + [(None, 0.5)], method="highs")
    if res.status != 0:
        return alpha0, float(np.min(np.minimum(alpha0, 1 - alpha0)))
    return alpha0 + N @ res.x[:p], float(res.x[-1])


def _check_t_eval(t_eval: ArrayLike | None, t_end: float) -> np.ndarray | None:
    if t_eval is None:
        return None
    t_eval = as_float_array(t_eval, "t_eval", 1)
    if np.any(np.diff(t_eval) <= 0):
        raise ValueError("t_eval must be strictly increasing")
    if t_eval[0] < 0 or t_eval[-1] > t_end:
        raise ValueError(f"t_eval must lie in [0, t_end] = [0, {t_end:g}], got [{t_eval[0]:g}, {t_eval[-1]:g}]")
    return t_eval


def train_flow(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    t_end: float = T_END,
    t_eval: ArrayLike | None = None,
    rtol: float = 1e-9,
    atol: float | None = None,
    integrator: str = "DOP853",
    max_step: float = np.inf,
    max_pattern_changes: int = 10_000,
    progress: bool = False,
    time_limit: float | None = None,
) -> TrainResult:
    r"""Integrate the gradient flow :math:`\dot\theta = -\nabla L(\theta)` on :math:`[0, t_{end}]`.

    Pattern changes are located as events, breakpoints that trap a data point are
    followed as Filippov sliding motions (see the module docstring).

    Parameters
    ----------
    net : ShallowReLU
        Initial network (not modified).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    t_end : float
        Final time :math:`t_{end} > 0` (gradient descent with step :math:`\eta` reaches
        time :math:`k\eta` after :math:`k` steps). Default :data:`T_END`.
    t_eval : array_like, optional
        Strictly increasing times in :math:`[0, t_{end}]` at which to record. Default:
        record at the end of every integrator step. Either way the start, every located
        event and :math:`t_{end}` are recorded too.
    rtol, atol : float
        Relative and absolute tolerances of the integrator (per step, on the parameters).
        The default ``atol`` is :math:`10^{-3}` ``rtol`` times the root-mean-square of the
        initial parameters, so that small initialisations are resolved as well as large ones.
    integrator : {"DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA"}
        :mod:`scipy.integrate` method.
    max_step : float
        Largest integrator step (default unbounded).
    max_pattern_changes : int
        Stop after this many located events (crossings, starts and ends of sliding):
        a guard against Zeno-like behaviour. The message says so and ``status="failed"``.
    progress : bool
        Show a progress bar over :math:`[0, t_{end}]`.
    time_limit : float, optional
        Stop after the first integrator step that ends past this many wall-clock seconds
        (``status="budget"``; the result ends at the time reached). ``None``: no limit.

    Returns
    -------
    TrainResult
        ``method="flow"``. ``steps`` are the record indices ``0..k-1`` (the flow has no
        iterations); ``extra["t"]`` holds the time of each record, ``extra["event_times"]``
        every located event, ``extra["change_times"]`` the times of the records whose
        pattern differs from the previous record's (``extra["t"][pattern_changes]``),
        ``extra["event_kinds"]`` their kinds (``"cross"``, ``"slide_exit"``,
        ``"neuron_dies"``), ``extra["n_sliding"]`` the number of pairs sliding on a
        breakpoint at each record.
        ``nfev`` counts right-hand-side evaluations, ``njev`` Jacobian evaluations of the
        implicit integrators and ``nit`` integrator steps. Ctrl-C returns everything
        integrated so far with ``status="interrupted"``.
    """
    net, X, y = check_problem(net, X, y)
    options = _check_options(net, t_end=t_end, t_eval=t_eval, rtol=rtol, atol=atol, integrator=integrator,
                             max_step=max_step, max_pattern_changes=max_pattern_changes, time_limit=time_limit)
    run = _FlowRun(net, X, y, options)
    run.integrate(progress)
    return run.result()


@dataclasses.dataclass(frozen=True)
class _Options:
    """The checked options of one :func:`train_flow` run (see there)."""

    t_end: float
    t_eval: np.ndarray | None
    rtol: float
    atol: float
    integrator: str
    max_step: float
    max_pattern_changes: int
    time_limit: float | None


def _check_options(net: ShallowReLU, *, t_end, t_eval, rtol, atol, integrator, max_step, max_pattern_changes,
                   time_limit) -> _Options:
    """Validate :func:`train_flow`'s options, each error naming its argument; fill in the default ``atol``."""
    t_end = check_positive_float(t_end, "t_end")
    t_eval = _check_t_eval(t_eval, t_end)
    rtol = check_positive_float(rtol, "rtol")
    if not 100 * _EPS <= rtol < 1:
        raise ValueError(f"rtol must lie in [{100 * _EPS:.3g}, 1), got {rtol}")
    if atol is None:
        rms = float(np.sqrt(np.mean(net.to_vector() ** 2)))
        atol = 1e-3 * rtol * rms if rms > 0 else 1e-3 * rtol
    atol = check_positive_float(atol, "atol")
    integrator = check_choice(integrator, "integrator", INTEGRATORS)
    if isinstance(max_step, bool) or not isinstance(max_step, numbers.Real):
        raise TypeError(f"max_step must be a real number, got {type(max_step).__name__}")
    if not max_step > 0:
        raise ValueError(f"max_step must be > 0 (np.inf for unbounded), got {max_step!r}")
    max_pattern_changes = check_positive_int(max_pattern_changes, "max_pattern_changes", allow_zero=True)
    return _Options(t_end, t_eval, rtol, atol, integrator, max_step, max_pattern_changes,
                    check_time_limit(time_limit))


def _solver_class(integrator: str) -> type:
    from scipy.integrate import BDF, DOP853, LSODA, RK23, RK45, Radau

    return {"DOP853": DOP853, "RK45": RK45, "RK23": RK23, "Radau": Radau, "BDF": BDF, "LSODA": LSODA}[integrator]


def _first_root(events: list, fired: list[int], sol, t_old: float, t_new: float) -> tuple[float, str]:
    """The earliest zero in ``[t_old, t_new]`` of the ``fired`` event functions along the dense
    output ``sol``, and its kind: an end of the interval if the function is already there (no
    sign change inside), else Brent's root to a few ulps."""
    from scipy.optimize import brentq

    roots = []
    for k in fired:
        f = (lambda s, ev=events[k][0], sol=sol: ev(s, sol(s)))  # noqa: E731
        fa, fb = f(t_old), f(t_new)
        if fa <= 0:
            roots.append(t_old)
        elif fb > 0:
            roots.append(t_new)
        else:
            roots.append(brentq(f, t_old, t_new, xtol=4 * _EPS, rtol=4 * _EPS))
    k_first = int(np.argmin(roots))
    return roots[k_first], events[fired[k_first]][1]


class _FlowRun:
    """The state of one :func:`train_flow` run: the field, the records and the events so far.

    :meth:`integrate` runs segment by segment (:meth:`_segment` integrates up to the next event,
    :meth:`_after_event` handles it and starts the next segment); :meth:`result` builds the
    :class:`~plateau_lib.result.TrainResult`.
    """

    def __init__(self, net: ShallowReLU, X: np.ndarray, y: np.ndarray, options: _Options) -> None:
        self.X, self.y, self.options = X, y, options
        self.field = _Field(X, y, net.n, net.d, v_tol=COLLAPSE_FACTOR * options.atol)
        self.rec = Recorder(1, net.n, net.d, options.time_limit)
        self.solver_cls = _solver_class(options.integrator)
        self.times: list[float] = []
        self.n_sliding_at: list[int] = []
        self.event_times: list[float] = []
        self.event_kinds: list[str] = []
        self.n_sliding = 0
        self.nit, self.njev, self.h, self.stalled = 0, 0, None, 0
        self.status, self.message = BUDGET, f"reached t_end={options.t_end:g}"
        self.t, self.theta = 0.0, net.to_vector()
        t_eval = options.t_eval
        self.eval_pos = 0 if t_eval is None else int(np.searchsorted(t_eval, 0.0, side="right"))
        self.bar = None

    # -- records ----------------------------------------------------------------------
    def observables(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        """The pattern read from the network (relu'(0) = 0) and the loss."""
        c, W, b = self.field.split(theta)
        Z = self.X @ W.T + b
        r = np.where(Z > 0, Z, 0.0) @ c - self.y
        return Z > 0, float(r @ r) / (2 * self.X.shape[0])

    def record(self, t: float, theta: np.ndarray) -> None:
        self.rec.observe(len(self.times), *self.observables(theta), theta)
        self.times.append(t)
        self.n_sliding_at.append(self.n_sliding)

    # -- the run ----------------------------------------------------------------------
    def integrate(self, progress: bool) -> None:
        """Integrate from 0 to ``t_end``, segment by segment; Ctrl-C keeps what was integrated."""
        field = self.field
        self.record(0.0, self.theta)
        self.theta, _ = field.resolve_collapses(self.theta)
        self.theta, self.n_sliding = field.start_segment(self.theta)
        self.bar = progress_bar(1000, "flow", progress)
        try:
            while self.t < self.options.t_end:
                solver, hit = self._segment()
                self.njev += int(getattr(solver, "njev", 0) or 0)
                if solver.status == "failed":
                    self.status, self.message = FAILED, f"integrator failed at t={self.t:.6g}: {solver.message}"
                    break
                if hit is None or not self._after_event(hit):
                    break  # reached t_end, the time limit, or the guard against endless events
        except KeyboardInterrupt:
            self.status, self.message = INTERRUPTED, f"interrupted by the user at t={self.t:.6g}"
        finally:
            self.bar.close()

    def _events(self) -> list:
        """The event functions of the current segment with their kinds."""
        field = self.field
        events = [(field.crossing, "cross")]
        if field.groups:
            events.append((field.sliding_exit, "slide_exit"))
        if field.live.any():
            events.append((field.collapse, "collapse"))
        return events

    def _segment(self) -> tuple:
        """Integrate the current segment up to its first event (located), ``t_end``, a failure or the
        time limit; returns the solver and the event ``(time, kind)`` (``None`` if none)."""
        opts, t_end = self.options, self.options.t_end
        events = self._events()
        solver = self.solver_cls(self.field, self.t, self.theta, t_end, rtol=opts.rtol, atol=opts.atol,
                                 max_step=opts.max_step,
                                 first_step=None if self.h is None else min(self.h, t_end - self.t))
        g_old = [ev(self.t, self.theta) for ev, _ in events]
        hit = None
        while solver.status == "running":
            solver.step()
            if solver.status == "failed":
                break
            t_old, t_new = solver.t_old, solver.t
            self.h = t_new - t_old
            self.nit += 1
            g_new = [ev(t_new, solver.y) for ev, _ in events]
            fired = [k for k in range(len(events)) if g_old[k] >= 0 and g_new[k] <= 0]
            sol = solver.dense_output() if fired or opts.t_eval is not None else None
            if fired:
                hit = _first_root(events, fired, sol, t_old, t_new)
                t_new = hit[0]
            self._record_step(solver, sol, t_new, hit)
            self.bar.update(max(0, int(1000 * t_new / t_end) - self.bar.n))
            if hit is not None:
                self.t, self.theta = hit[0], (sol(hit[0]) if hit[0] != solver.t else solver.y.copy())
                break
            g_old = g_new
            self.t, self.theta = solver.t, solver.y.copy()
            if self.rec.out_of_time():
                self.status, self.message = BUDGET, time_limit_message(opts.time_limit)
                break
        return solver, hit

    def _record_step(self, solver, sol, t_new: float, hit: tuple | None) -> None:
        """Record the step ending at ``t_new``: its end (no ``t_eval``; an event is recorded when
        handled), or the ``t_eval`` times it covers, read from the dense output ``sol``."""
        t_eval = self.options.t_eval
        if t_eval is None:
            if hit is None:
                self.record(t_new, solver.y.copy())
            return
        while self.eval_pos < len(t_eval) and t_eval[self.eval_pos] <= t_new:
            te = t_eval[self.eval_pos]
            if not (hit is not None and te == t_new):
                self.record(float(te), sol(te) if te != solver.t else solver.y.copy())
            self.eval_pos += 1

    def _after_event(self, hit: tuple[float, str]) -> bool:
        """Handle the event at ``self.t`` (collapses, the guards against endless events), start the
        next segment and record it; ``False`` when a guard stops the run."""
        t = self.t
        self.theta, collapses = self.field.resolve_collapses(self.theta)
        kind = collapses[0] if collapses else hit[1]
        self.stalled = self.stalled + 1 if self.event_times and t <= self.event_times[-1] * (1 + 1e-12) else 0
        self.event_times.append(t)
        self.event_kinds.append(kind)
        limit = self.options.max_pattern_changes
        if len(self.event_times) > limit or self.stalled >= STALL_EVENTS:
            self.status = FAILED
            why = (f"after max_pattern_changes={limit} events" if self.stalled < STALL_EVENTS
                   else f"after {STALL_EVENTS} events without progress in time")
            self.message = f"stopped at t={t:.6g} {why} (Zeno-like flicker at a breakpoint?)"
            return False
        self.theta, self.n_sliding = self.field.start_segment(self.theta)
        self.record(t, self.theta)
        return True

    def result(self) -> TrainResult:
        """The :class:`~plateau_lib.result.TrainResult` of the run (the end recorded if it was not)."""
        t, theta = self.t, self.theta
        if not self.times or self.times[-1] != t:
            self.record(t, theta)
        c, W, b = self.field.split(theta)
        result = self.rec.finish(len(self.times) - 1, *self.observables(theta), theta, method="flow",
                                 nfev=self.field.nfev, njev=self.njev, status=self.status, message=self.message,
                                 grad_norm=gradient_norm(evaluate(c, W, b, self.X, self.y)))
        t_rec = np.asarray(self.times)
        extra = {
            "t": t_rec,
            "event_times": np.asarray(self.event_times, dtype=np.float64),
            "event_kinds": np.asarray(self.event_kinds, dtype=str),
            "change_times": t_rec[result.pattern_changes],
            "n_sliding": np.asarray(self.n_sliding_at, dtype=np.int64),
            "t_end": t,
            "integrator": self.options.integrator,
            "rtol": self.options.rtol,
            "atol": self.options.atol,
        }
        return dataclasses.replace(result, nit=self.nit, extra=extra)
