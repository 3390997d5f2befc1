r"""Fixed-pattern dynamics (facts 1-3): convergence on a frozen pattern, conservation, escape, sliding.

Notation as in :mod:`plateau_lib.theory`: data :math:`X \in \mathbb{R}^{m\times d}`,
:math:`y\in\mathbb{R}^m`, :math:`\tilde X = [X, \mathbf 1]`, network
:math:`N(x) = \sum_j c_j\,\mathrm{relu}(v_j\cdot\tilde x)`, residual :math:`r = N(X) - y`, loss
:math:`L = \frac{1}{2m}\|r\|^2`, pattern :math:`D`, neuron set :math:`S`, projector :math:`P` onto
:math:`V = \mathrm{range}\,\Phi(D,S)`, level :math:`L^*(D,S)`, kernel :math:`H = \frac1m JJ^\top`
(:func:`~plateau_lib.theory.kernel`) and its smallest positive eigenvalue :math:`\lambda`.

1. **Fixed-pattern convergence (fact 1).** :func:`fixed_pattern_flow` integrates the gradient
   flow with a frozen pattern (``scipy.integrate.solve_ivp``) up to the first pattern change;
   :func:`gd_within_pattern` does the same for gradient descent; :func:`convergence_history`
   measures :math:`L - L^*`, :math:`\|Pr\|^2/(2m)` and :math:`\lambda` along either, with the
   round-off floor of :func:`excess_floor`; :func:`check_bound` compares with the bound and
   :func:`euler_bound` is the bound gradient descent obeys exactly.
2. **Conservation (fact 2).** :func:`balance_drift`: how gradient descent breaks the flow's
   conservation of :math:`c_j^2 - |v_j|^2`, with the exact per-step identity.
3. **Escape (fact 3).** :func:`max_escape_rate_1d`, the largest growth rate of a small neuron in
   1-D; :func:`predicted_exit_slope`, the slope of the exit time against :math:`\log(1/\alpha)`.
4. **Sliding.** :func:`sliding_phases` finds where gradient descent flickers a data point across a
   breakpoint; :func:`pinned_ls_level` is the level such a phase converges to.

Chapter 2's studies built on these live in ``plateau_lib.chapters.quantification_*``, a module per
fact and one for sliding.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._linalg import range_basis
from ._validation import as_float_array, check_data, check_positive_float, check_positive_int
from .network import ShallowReLU, check_problem
from .result import TrainResult
from .theory import (
    EIGENVALUE_RTOL,
    SIGNIFICANCE_RTOL,
    check_neuron_set,
    check_pattern,
    check_x_1d,
    feature_matrix,
    local_ls_level,
    significant_neurons,
)
from .trainers.first_order import train_gd

FloatArray = NDArray[np.float64]


IntArray = NDArray[np.int64]


#: Default largest gap (in steps) between two toggles of one pattern entry inside a sliding
#: phase (see :func:`sliding_phases`).
SLIDING_MAX_GAP = 20


#: Default least number of toggles of one entry that make a sliding phase.
SLIDING_MIN_TOGGLES = 20


#: Tolerances of the resolved fixed-pattern flow (:func:`fixed_pattern_flow`: DOP853 relative and
#: absolute) and of its sampling grid (:func:`resolved_history`: trapezoid error of
#: :math:`\int\lambda`, most grid points).
FLOW_RTOL, FLOW_ATOL = 1e-12, 1e-14


QUAD_TOL, MAX_POINTS = 1e-8, 3201


_CHUNK = 1000


# =========================================================================== validation


def check_params(params: ArrayLike, n: int, d: int) -> FloatArray:
    params = as_float_array(params, "params", 2)
    if params.shape[1] != n * (d + 2):
        raise ValueError(f"params must have n*(d+2) = {n * (d + 2)} columns, got shape {params.shape}")
    return params


# =========================================================================== fact 1


@dataclass(frozen=True, eq=False)
class FixedPatternRun:
    """A trajectory on which the activation pattern stayed fixed.

    Attributes
    ----------
    t : ndarray, shape (k,)
        Times (gradient descent: ``step * lr``).
    params : ndarray, shape (k, n*(d+2))
        Parameter vectors (:meth:`~plateau_lib.network.ShallowReLU.to_vector`) at ``t``.
    D : ndarray of bool, shape (m, n)
        The pattern, fixed along the trajectory.
    n, d : int
        Network shape.
    changed_at : float or None
        Time at which the pattern would change (the trajectory stops there), or ``None``
        if it stayed fixed until the end.
    method : str
        ``"flow"`` (solve_ivp) or ``"gd"``.
    lr : float or None
        Step size for ``"gd"``.
    solution : callable or None
        The flow's continuous solution ``theta(t)`` (``scipy.integrate.OdeSolution``) when
        requested, valid on ``[0, t[-1]]``.
    """

    t: FloatArray
    params: FloatArray
    D: NDArray[np.bool_]
    n: int
    d: int
    changed_at: float | None
    method: str
    lr: float | None = None
    solution: object = None

    def net_at(self, k: int) -> ShallowReLU:
        """The network at ``t[k]``."""
        return ShallowReLU.from_vector(self.params[k], self.n, self.d)


def _frozen_field(X: FloatArray, y: FloatArray, D: NDArray[np.bool_], n: int, d: int):
    m = X.shape[0]
    Xt = np.column_stack([X, np.ones(m)])
    Df = D.astype(np.float64)

    def rhs(t: float, theta: FloatArray) -> FloatArray:
        c, W, b = theta[:n], theta[n : n + n * d].reshape(n, d), theta[n + n * d :]
        Z = X @ W.T + b
        A = Df * Z
        r = A @ c - y
        gV = ((Df * r[:, None]).T @ Xt) * (c / m)[:, None]
        return -np.concatenate([A.T @ r / m, gV[:, :d].ravel(), gV[:, d]])

    return rhs


def fixed_pattern_flow(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    t_end: float,
    t_eval: ArrayLike | None = None,
    rtol: float = FLOW_RTOL,
    atol: float = FLOW_ATOL,
    method: str = "DOP853",
    dense_output: bool = False,
) -> FixedPatternRun:
    r"""Gradient flow with the pattern of ``net`` frozen, up to the first pattern change.

    Integrates :math:`\dot\theta = -\nabla L(\theta)` with the right-hand side of the frozen
    pattern :math:`D = [\tilde X v_j > 0]` of the initial network (a polynomial field) by
    ``scipy.integrate.solve_ivp``, with the terminal event
    :math:`\min_{(i,j)} s_{ij} z_{ij}(\theta) = 0` (:math:`s_{ij} = \pm1` the side of pair
    :math:`(i,j)` at the start): the first time a breakpoint reaches a data point. Up to that
    time the frozen field *is* the gradient field, so the trajectory is the gradient flow.
    Neurons with :math:`v_j = 0` (every :math:`z_{ij} = 0`) are not watched: with
    :math:`c_j = 0` too they stay at zero for ever.

    Parameters
    ----------
    net : ShallowReLU
        Initial network; no data point may sit exactly on the breakpoint of a neuron with
        :math:`v_j \ne 0`.
    X, y : array_like
        Data, shapes (m, d) and (m,).
    t_end : float
        Final time :math:`> 0`.
    t_eval : array_like, optional
        Increasing times in :math:`[0, t_{end}]` at which to record (default: the solver's
        steps). Times after a pattern change are dropped; the change time is appended.
    rtol, atol : float
        Tolerances of the integrator (tight by default: the book compares with bounds).
    method : str
        A ``scipy.integrate.solve_ivp`` method.
    dense_output : bool
        Keep the solver's continuous interpolant in ``FixedPatternRun.solution``.

    Returns
    -------
    FixedPatternRun
        ``method="flow"``; ``changed_at`` is the event time or ``None``.
    """
    from scipy.integrate import solve_ivp

    net, X, y = check_problem(net, X, y)
    t_end = check_positive_float(t_end, "t_end")
    rtol = check_positive_float(rtol, "rtol")
    atol = check_positive_float(atol, "atol")
    if t_eval is not None:
        t_eval = as_float_array(t_eval, "t_eval", 1)
        if np.any(np.diff(t_eval) <= 0) or t_eval[0] < 0 or t_eval[-1] > t_end:
            raise ValueError(f"t_eval must be strictly increasing within [0, t_end] = [0, {t_end:g}]")
    if not isinstance(method, str):
        raise TypeError(f"method must be a solve_ivp method name, got {type(method).__name__}")
    Z0 = net.preactivations(X)
    live = np.linalg.norm(net.v, axis=1) > 0
    if np.any((Z0 == 0) & live[None, :]):
        raise ValueError("net has a data point exactly on a breakpoint of a live neuron (pattern undefined there)")
    D = Z0 > 0
    sign = np.where(D, 1.0, -1.0)[:, live]
    n, d = net.n, net.d

    def crossing(t: float, theta: FloatArray) -> float:
        if not live.any():
            return 1.0
        W, b = theta[n : n + n * d].reshape(n, d), theta[n + n * d :]
        return float(np.min(sign * (X @ W[live].T + b[live])))

    crossing.terminal = True
    crossing.direction = -1
    sol = solve_ivp(_frozen_field(X, y, D, n, d), (0.0, t_end), net.to_vector(), method=method, t_eval=t_eval,
                    events=crossing, rtol=rtol, atol=atol, dense_output=bool(dense_output))
    if sol.status == -1:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    t, params = sol.t, sol.y.T
    changed_at = None
    if sol.status == 1:
        changed_at = float(sol.t_events[0][0])
        keep = t < changed_at
        t = np.concatenate([t[keep], [changed_at]])
        params = np.vstack([params[keep], sol.y_events[0][0]])
    return FixedPatternRun(t, params, D, n, d, changed_at, "flow", solution=sol.sol if dense_output else None)


def gd_within_pattern(
    net: ShallowReLU, X: ArrayLike, y: ArrayLike, *, lr: float, max_steps: int
) -> FixedPatternRun:
    r"""Gradient descent from ``net`` up to (not including) its first pattern change.

    Runs :func:`~plateau_lib.trainers.first_order.train_gd` with step ``lr`` for at most
    ``max_steps`` steps, recording every step, and keeps the steps before the first step
    whose pattern differs from the initial one. Times are ``step * lr``.

    Returns
    -------
    FixedPatternRun
        ``method="gd"``; ``changed_at`` is the time of the first step with a new pattern.
    """
    net, X, y = check_problem(net, X, y)
    lr = check_positive_float(lr, "lr")
    max_steps = check_positive_int(max_steps, "max_steps")
    result = train_gd(net, X, y, lr=lr, steps=max_steps, record_every=1)
    changes = result.pattern_changes
    last = int(changes[0]) - 1 if len(changes) else int(result.steps[-1])
    keep = result.steps <= last
    changed_at = float(changes[0]) * lr if len(changes) else None
    D = net.preactivations(X) > 0
    return FixedPatternRun(result.steps[keep] * lr, result.params[keep], D, net.n, net.d, changed_at, "gd", lr)


@dataclass(frozen=True, eq=False)
class ConvergenceHistory:
    r"""Fixed-pattern quantities along a trajectory (:func:`convergence_history`).

    Attributes
    ----------
    t : ndarray, shape (k,)
        Times.
    loss : ndarray
        :math:`L(t)`.
    lstar : float
        :math:`L^*(D,S)` of the fixed pattern.
    excess : ndarray
        :math:`L(t) - L^*(D,S)`.
    projected : ndarray
        :math:`\|P r(t)\|^2/(2m)`; equal to ``excess`` when the neurons outside :math:`S`
        are exactly zero (then :math:`(I-P)r = -(I-P)y` for all :math:`t`).
    lam : ndarray
        :math:`\lambda(t) = \min_{e\in V,\,|e|=1} e^\top H_S(t)\,e`, the smallest eigenvalue on
        :math:`V = \mathrm{range}\,\Phi(D,S)` of the kernel :math:`H_S` of the neurons in :math:`S`
        (with its :math:`1/m`). When every neuron of :math:`S` has :math:`c_j \ne 0`,
        :math:`\mathrm{range}\,H_S = V` and this is the smallest positive eigenvalue of
        :math:`H_S` (:func:`~plateau_lib.theory.kernel_lambda`); unlike that one it is continuous
        in time when some :math:`c_j` passes through 0 (it then goes to 0, and so does the rate).
    lam_max : ndarray
        Largest eigenvalue of :math:`H_S(t)`.
    remainder : ndarray or None
        For gradient descent: :math:`\|P q_k\|` of the second-order term of the step
        (:func:`euler_bound`); ``None`` for the flow.
    S : tuple of int
        The neuron set.
    m : int
        Number of data points.
    floor : ndarray or None
        Round-off floor of ``excess`` (:func:`excess_floor`): how far the computed
        :math:`L - L^*` may lie from its exact value, at each time.
    """

    t: FloatArray
    loss: FloatArray
    lstar: float
    excess: FloatArray
    projected: FloatArray
    lam: FloatArray
    lam_max: FloatArray
    remainder: FloatArray | None
    S: tuple[int, ...]
    m: int
    floor: FloatArray | None = None

    def flow_bound(self) -> FloatArray:
        r"""Fact 1's bound :math:`\|Pr(t_0)\|^2/(2m)\,\exp(-2\int_{t_0}^t\lambda)` (trapezoid rule)."""
        steps = 0.5 * (self.lam[1:] + self.lam[:-1]) * np.diff(self.t)
        return self.projected[0] * np.exp(-2.0 * np.concatenate([[0.0], np.cumsum(steps)]))

    def quadrature_error(self) -> float:
        r"""Estimated largest relative error of :meth:`flow_bound` from the trapezoid rule.

        Richardson's estimate: the trapezoid rule's error is :math:`O(h^2)`, so the error of
        :math:`2\int\lambda` on the grid is about a third of its change when every second grid
        point is dropped. Returned: :math:`\max_t |e^{\delta(t)} - 1|` with that estimate
        :math:`\delta`, over the times of the coarse grid (0 with fewer than 3 times).
        """
        if len(self.t) < 3:
            return 0.0
        t, lam = self.t, self.lam
        fine = np.concatenate([[0.0], np.cumsum(0.5 * (lam[1:] + lam[:-1]) * np.diff(t))])
        tc, lc = t[::2], lam[::2]
        coarse = np.concatenate([[0.0], np.cumsum(0.5 * (lc[1:] + lc[:-1]) * np.diff(tc))])
        delta = 2.0 * (coarse - fine[::2]) / 3.0
        return float(np.max(np.abs(np.expm1(delta))))


def convergence_history(
    run: FixedPatternRun, X: ArrayLike, y: ArrayLike, S: Iterable[int] | None = None
) -> ConvergenceHistory:
    r"""Measure :math:`L - L^*`, :math:`\|Pr\|^2/(2m)` and :math:`\lambda` along a fixed-pattern run.

    Parameters
    ----------
    run : FixedPatternRun
        From :func:`fixed_pattern_flow` or :func:`gd_within_pattern`.
    X, y : array_like
        The run's data.
    S : sequence of int, optional
        Neuron set of :math:`L^*(D,S)` and of the kernel (default: all neurons).

    Returns
    -------
    ConvergenceHistory
        For gradient descent also the norms :math:`\|Pq_k\|` of the Euler remainder
        :math:`q_k = \sum_{j} (\partial_{c_j}L)\,D_j\tilde X\,\nabla_{v_j}L` at each step.
    """
    if not isinstance(run, FixedPatternRun):
        raise TypeError(f"run must be a FixedPatternRun, got {type(run).__name__}")
    X, y = check_data(X, y)
    if X.shape != (run.D.shape[0], run.d):
        raise ValueError(f"X must have shape ({run.D.shape[0]}, {run.d}) to match the run, got {X.shape}")
    S = check_neuron_set(S, run.n)
    m = X.shape[0]
    Phi = feature_matrix(X, run.D, S)
    U = range_basis(Phi, rtol=1e-12)
    lstar = local_ls_level(X, y, run.D, S)
    Xt = np.column_stack([X, np.ones(m)])
    n, d = run.n, run.d
    XX = Xt @ Xt.T
    Dk = run.D.astype(np.float64)[None, :, :]
    k = len(run.t)
    loss, projected, size = np.empty(k), np.empty(k), np.empty(k)
    lam, lam_max = np.empty(k), np.empty(k)
    remainder = np.empty(k) if run.method == "gd" else None
    for lo in range(0, k, _CHUNK):  # batched: (chunk, m, n) pre-activations, (chunk, m, m) kernels
        P = run.params[lo : lo + _CHUNK]
        c, W, b = P[:, :n], P[:, n : n + n * d].reshape(-1, n, d), P[:, n + n * d :]
        Z = np.einsum("md,knd->kmn", X, W) + b[:, None, :]
        # the run's pattern D, not [Z > 0]: at a located change the crossing pair has z = 0 (to
        # roundoff), and the kernel there is still the segment's
        A = Dk * Z
        r = np.einsum("kmn,kn->km", A, c) - y
        loss[lo : lo + len(P)] = np.sum(r * r, axis=1) / (2 * m)
        projected[lo : lo + len(P)] = np.sum((r @ U) ** 2, axis=1) / (2 * m)
        # magnitudes summed into r_i (for the round-off floor): sum_j |c_j| D_ij (|x_i||w_j| + |b_j|) + |y_i|
        Zabs = np.einsum("md,knd->kmn", np.abs(X), np.abs(W)) + np.abs(b)[:, None, :]
        mag = np.einsum("kmn,kn->km", Dk * Zabs, np.abs(c)) + np.abs(y)
        size[lo : lo + len(P)] = np.linalg.norm(r, axis=1) * np.linalg.norm(mag, axis=1)
        AS = A[:, :, S]
        CS = Dk[:, :, S] * c[:, None, S]
        H = (AS @ AS.transpose(0, 2, 1) + (CS @ CS.transpose(0, 2, 1)) * XX) / m
        lam_max[lo : lo + len(P)] = np.linalg.eigvalsh(H)[:, -1]
        # smallest eigenvalue of H on V: e = P r lies in V, so e'He >= lam |e|^2 with this lam
        lam[lo : lo + len(P)] = np.linalg.eigvalsh(U.T @ H @ U)[:, 0] if U.shape[1] else 0.0
        if remainder is not None:
            gc = np.einsum("kmn,km->kn", A, r) / m
            gV = np.einsum("mn,km,me->kne", run.D.astype(np.float64), r, Xt) * (c / m)[:, :, None]
            # q = sum_j gc_j D_j Xt gv_j, with the run's fixed pattern D
            q = np.einsum("mn,kn,me,kne->km", run.D.astype(np.float64), gc, Xt, gV)
            remainder[lo : lo + len(P)] = np.linalg.norm(q @ U, axis=1)
    floor = excess_floor(loss, size, lstar, lstar_rounding(Phi, y), m=m, n=n, d=d)
    return ConvergenceHistory(run.t.copy(), loss, lstar, loss - lstar, projected, lam, lam_max, remainder,
                              tuple(S), m, floor)


def _gamma(k: int) -> float:
    r"""Higham's :math:`\gamma_k = ku/(1 - ku)`, :math:`u` the unit roundoff of float64."""
    u = np.finfo(np.float64).eps / 2
    return k * u / (1 - k * u)


def lstar_rounding(Phi: FloatArray, y: FloatArray) -> float:
    r"""First-order bound on the round-off error of the computed :math:`L^*`.

    As computed by :func:`~plateau_lib.theory.local_ls_level`.

    :math:`L^*` is computed as :math:`\frac1{2m}|e|^2`, :math:`e = y - \Phi\hat\beta`, with
    :math:`\hat\beta` from ``numpy.linalg.lstsq``. An error :math:`\delta\beta` of the solver changes
    :math:`|y - \Phi\beta|^2` only at second order (the exact residual is orthogonal to
    :math:`\mathrm{range}\,\Phi`), so the first-order error comes from evaluating :math:`e` and its
    squared norm: :math:`|\delta e_i| \le \gamma_{p+1}\sigma_i`,
    :math:`\sigma = |\Phi||\hat\beta| + |y|` (:math:`p` columns), and the sum of :math:`m` squares
    adds :math:`\gamma_m|e|^2`. Returned:
    :math:`\big(|e|\,\gamma_{p+1}|\sigma| + \gamma_m|e|^2/2\big)/m`.

    Parameters
    ----------
    Phi : ndarray, shape (m, p)
        :func:`~plateau_lib.theory.feature_matrix` of the pattern and neuron set.
    y : ndarray, shape (m,)
        Targets.
    """
    m, p = Phi.shape
    if p == 0:
        return _gamma(m) * float(y @ y) / (2 * m)
    beta = np.linalg.lstsq(Phi, y, rcond=None)[0]
    e = y - Phi @ beta
    sigma = np.abs(Phi) @ np.abs(beta) + np.abs(y)
    norm_e = float(np.linalg.norm(e))
    return (norm_e * _gamma(p + 1) * float(np.linalg.norm(sigma)) + _gamma(m) * norm_e**2 / 2) / m


def excess_floor(
    loss: ArrayLike, size: ArrayLike, lstar: float, lstar_error: float, *, m: int, n: int, d: int
) -> FloatArray:
    r"""Round-off floor of the computed :math:`L - L^*` (first order in the unit roundoff :math:`u`).

    :math:`L - L^*` is a difference of two numbers of order :math:`L^*`; near the level it
    cancels, and its computed value carries the rounding errors of both terms, which do not
    cancel. The residual :math:`r_i = \sum_j c_j D_{ij}(w_j\cdot x_i + b_j) - y_i` sums terms of
    total magnitude :math:`\mu_i = \sum_j |c_j|D_{ij}(|w_j|\cdot|x_i| + |b_j|) + |y_i|` through at
    most :math:`n + d + 2` roundings each, so :math:`|\delta r_i| \le \gamma_{n+d+2}\,\mu_i`
    (Higham, *Accuracy and Stability of Numerical Algorithms*, sec. 3.1); then
    :math:`\delta L \le |r|\,\gamma_{n+d+2}|\mu|/m + \gamma_m L` (the sum of :math:`m`
    squares), to first order. Returned:
    :math:`\delta L + \delta L^* + u(L + L^*)` (the last term: the subtraction itself).
    Where :math:`r` is large compared with :math:`|\mu|` this is a few ulps of :math:`L`; near
    the level, where :math:`|r| \ll |y|`, it is about :math:`\sqrt{L\,L_0}\,u` times a small
    count, well above :math:`u L^*`.

    Parameters
    ----------
    loss : array_like, shape (k,)
        Computed :math:`L`.
    size : array_like, shape (k,)
        :math:`|r|\,|\mu|` at the same times.
    lstar, lstar_error : float
        :math:`L^*` and the bound on its error (:func:`lstar_rounding`).
    m, n, d : int
        Data points, width, input dimension.

    Returns
    -------
    ndarray, shape (k,)
    """
    loss = as_float_array(loss, "loss", 1)
    size = as_float_array(size, "size", 1)
    if loss.shape != size.shape:
        raise ValueError(f"loss and size must have the same length, got {loss.size} and {size.size}")
    u = np.finfo(np.float64).eps / 2
    delta_loss = size * _gamma(n + d + 2) / m + _gamma(m) * loss
    return delta_loss + float(lstar_error) + u * (loss + abs(float(lstar)))


def resolved_history(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    S: Iterable[int] | None,
    *,
    t_end: float,
    quad_tol: float = QUAD_TOL,
    min_points: int = 201,
    max_points: int = MAX_POINTS,
) -> tuple[FixedPatternRun, ConvergenceHistory]:
    r""":func:`fixed_pattern_flow` and :func:`convergence_history` on a grid fine enough for the bound.

    Integrates once (with the solver's dense output, accurate to the integration tolerance), up
    to :math:`t_{end}` or the first pattern change, then samples ``min_points`` equispaced times
    on that interval and doubles the number of intervals until
    :meth:`ConvergenceHistory.quadrature_error` is at most ``quad_tol`` (or the grid would exceed
    ``max_points``), so that the trapezoid rule in :meth:`ConvergenceHistory.flow_bound` does
    not blur the comparison with fact 1.

    Returns
    -------
    (FixedPatternRun, ConvergenceHistory)
        Of the finest grid used.
    """
    quad_tol = check_positive_float(quad_tol, "quad_tol")
    min_points = check_positive_int(min_points, "min_points")
    max_points = check_positive_int(max_points, "max_points")
    if min_points < 3 or max_points < min_points:
        raise ValueError(f"need 3 <= min_points <= max_points, got {min_points} and {max_points}")
    full = fixed_pattern_flow(net, X, y, t_end=t_end, dense_output=True)
    t_stop = full.t[-1]
    points = min_points
    while True:
        grid = np.linspace(0.0, t_stop, points)
        params = full.solution(grid).T
        params[-1] = full.params[-1]
        run = FixedPatternRun(grid, params, full.D, full.n, full.d, full.changed_at, "flow")
        history = convergence_history(run, X, y, S)
        if history.quadrature_error() <= quad_tol or 2 * points - 1 > max_points:
            return run, history
        points = 2 * points - 1


@dataclass(frozen=True)
class BoundCheck:
    r"""Fact 1's bound on one history, with the round-off floor (:func:`check_bound`).

    Attributes
    ----------
    ratio : float
        :math:`\max_{t > t_0} (L - L^*)/\text{bound}` as computed (round-off included).
    floored_ratio : float
        :math:`\max_{t > t_0} (L - L^* - \text{floor})/\text{bound}`: must be at most
        :math:`1 + \epsilon`.
    projected_ratio : float
        :math:`\max \frac{1}{2m}\|Pr\|^2/\text{bound}` over the times after :math:`t_0` where the
        bound is above the floor (``nan`` if none): the same comparison on a quantity computed
        without cancellation (equal to :math:`L - L^*` in exact arithmetic when the neurons
        outside :math:`S` are silent). Below the floor it is limited by the integration's own
        accuracy, not by round-off, and is not compared.
    rtol : float
        The relative tolerance :math:`\epsilon`.
    floor : float
        Largest round-off floor along the history.
    decades : float
        :math:`\log_{10}((L(t_0) - L^*)/\text{floor})`: how many decades of decay the check
        resolves above the floor (0 if none).
    holds : bool
        ``floored_ratio <= 1 + rtol``.
    """

    ratio: float
    floored_ratio: float
    projected_ratio: float
    rtol: float
    floor: float
    decades: float
    holds: bool


def check_bound(history: ConvergenceHistory, bound: ArrayLike, rtol: float) -> BoundCheck:
    r"""Compare :math:`L - L^*` with ``bound``: :math:`L - L^* \le (1 + \epsilon)\,\text{bound} + \text{floor}`.

    The floor is ``history.floor`` (:func:`excess_floor`), the round-off error of the computed
    :math:`L - L^*`; below it the computed gap says nothing about the exact one. ``bound`` is
    :meth:`ConvergenceHistory.flow_bound` or :func:`euler_bound` of the same history.

    Parameters
    ----------
    history : ConvergenceHistory
        With its ``floor``.
    bound : array_like, shape (k,)
        The bound at the history's times.
    rtol : float
        :math:`\epsilon \ge 0`, the relative tolerance of the bound's own computation.
    """
    if not isinstance(history, ConvergenceHistory) or history.floor is None:
        raise TypeError("history must be a ConvergenceHistory with a round-off floor (convergence_history)")
    bound = as_float_array(bound, "bound", 1)
    if bound.shape != history.excess.shape:
        raise ValueError(f"bound must have shape {history.excess.shape}, got {bound.shape}")
    rtol = check_positive_float(rtol, "rtol", allow_zero=True)
    if len(bound) < 2:
        raise ValueError("the history must hold at least two times")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = history.excess[1:] / bound[1:]
        floored = (history.excess[1:] - history.floor[1:]) / bound[1:]
        projected = history.projected[1:] / bound[1:]
    resolved = bound[1:] > history.floor[1:]
    floor = float(history.floor.max())
    decades = max(0.0, math.log10(history.excess[0] / floor)) if history.excess[0] > floor else 0.0
    worst = float(np.max(floored))
    projected_ratio = float(np.max(projected[resolved])) if resolved.any() else math.nan
    return BoundCheck(float(np.max(ratio)), worst, projected_ratio, float(rtol), floor, decades,
                      bool(worst <= 1 + rtol))


#: Relative accuracy of the bound's exponent from the re-integration (tolerance ``FLOW_RTOL``).
INTEGRATION_RTOL = 1e-9


def euler_bound(history: ConvergenceHistory, lr: float) -> FloatArray:
    r"""The bound gradient descent obeys within a fixed pattern: fact 1 plus the Euler remainder.

    With the neurons outside :math:`S` exactly zero, one step
    :math:`\theta_{k+1} = \theta_k - \eta\nabla L` keeps the pattern and moves the outputs
    *exactly* by

    .. math::

        N_{k+1} = N_k - \eta H_k r_k + \eta^2 q_k,\qquad
        q_k = \sum_{j\in S} (\partial_{c_j}L)\, D_j\tilde X\,\nabla_{v_j}L ,

    because :math:`N` is bilinear in :math:`(c_j, v_j)` (the :math:`\eta^2` term is the
    product of the two increments). With :math:`e = Pr` and :math:`H_k(I-P) = 0`,
    :math:`e_{k+1} = (I - \eta H_k)e_k + \eta^2 Pq_k`, so with
    :math:`\rho_k = \max(1 - \eta\lambda_k,\ \eta\lambda_{\max,k} - 1)` (the norm of
    :math:`I-\eta H_k` on :math:`\mathrm{range}\,H_k \ni e_k`)

    .. math::

        \|e_{k+1}\| \le \rho_k\|e_k\| + \eta^2\|Pq_k\| .

    The returned :math:`B_k = s_k^2/(2m)` with :math:`s_0 = \|e_0\|`,
    :math:`s_{k+1} = \rho_k s_k + \eta^2\|Pq_k\|` bounds :math:`\|Pr_k\|^2/(2m) = L_k - L^*`.
    When :math:`\eta\lambda_{\max} \le 1`, :math:`\rho_k = 1-\eta\lambda_k \le e^{-\eta\lambda_k}`,
    so without the remainder this is at most the flow's bound
    :math:`e^{-2\eta\sum_k\lambda_k}`: the remainder is the whole discretisation slack.

    Parameters
    ----------
    history : ConvergenceHistory
        Of a gradient-descent run (:func:`gd_within_pattern`), with ``remainder``.
    lr : float
        Its step size.

    Returns
    -------
    ndarray, shape (k,)
    """
    if not isinstance(history, ConvergenceHistory):
        raise TypeError(f"history must be a ConvergenceHistory, got {type(history).__name__}")
    lr = check_positive_float(lr, "lr")
    if history.remainder is None:
        raise ValueError("history must come from gradient descent (it has no Euler remainder)")
    k = len(history.t)
    rho = np.maximum(1.0 - lr * history.lam, lr * history.lam_max - 1.0)
    s = np.empty(k)  # s_k / sqrt(2m), so that s_k**2 is on the scale of the loss
    s[0] = math.sqrt(history.projected[0])
    step_remainder = lr**2 * history.remainder / math.sqrt(2.0 * history.m)
    for i in range(k - 1):
        s[i + 1] = rho[i] * s[i] + step_remainder[i]
    return s**2


def fixed_pattern_segments(result: TrainResult, *, min_duration: float = 0.0) -> list[tuple[int, int]]:
    r"""Record ranges of a gradient-flow run between consecutive located events, without sliding.

    A flow run (``plateau_lib.trainers.flow.train_flow``) records every located event
    (a crossing, the start or end of a sliding motion, a neuron's death). Between two
    consecutive events the field is the frozen-pattern field of fact 1, unless a pair slides
    on a breakpoint (then the pattern is not the only constraint: the sliding pair adds a
    fraction of its residual). Such segments are excluded here.

    Parameters
    ----------
    result : TrainResult
        A ``method="flow"`` result.
    min_duration : float
        Keep segments lasting at least this long (in flow time).

    Returns
    -------
    list of (int, int)
        ``(a, b)``: the records ``a..b`` (inclusive) span one segment, from the event at
        ``t[a]`` (or the start) to the next event or the end at ``t[b]``.
    """
    if not isinstance(result, TrainResult) or result.method != "flow":
        raise TypeError("result must be a TrainResult of train_flow (method 'flow')")
    min_duration = check_positive_float(min_duration, "min_duration", allow_zero=True)
    t = np.asarray(result.extra["t"])
    sliding = np.asarray(result.extra["n_sliding"])
    events = np.asarray(result.extra["event_times"])
    # records at an event time: the segment starting there starts at the last such record
    cuts = sorted({int(np.flatnonzero(t == te)[-1]) for te in events if np.any(t == te)})
    bounds = [0, *[c for c in cuts if c > 0], len(t) - 1]
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b > a and sliding[a] == 0 and t[b] - t[a] >= min_duration:
            out.append((a, b))
    return out


# =========================================================================== fact 2


@dataclass(frozen=True)
class DriftRow:
    r"""How gradient descent with one step size breaks the flow's conservation (:func:`balance_drift`).

    Attributes
    ----------
    lr : float
        Step size :math:`\eta`.
    steps : int
        Number of steps :math:`K` (the same flow time :math:`K\eta` for every row).
    drift : float
        :math:`\max_j |Q_j(K) - Q_j(0)|`, :math:`Q_j = c_j^2 - |v_j|^2`.
    per_step : float
        ``drift / steps``.
    identity_error : float
        :math:`\max_j |Q_j(K) - Q_j(0) - \eta^2\sum_{k<K}((\partial_{c_j}L)^2 - |\nabla_{v_j}L|^2)_k|`:
        zero up to roundoff (the per-step identity of
        :func:`~plateau_lib.theory.conserved_quantities`).
    identity_tol : float
        What round-off can put into ``identity_error``:
        :math:`4u\,(K + 1)\max_k|\theta_k|^2` with :math:`u = 2^{-53}`. Each stored update
        :math:`\theta_{k+1} = \mathrm{fl}(\theta_k - \eta g_k)` is rounded to :math:`u|\theta|`
        per entry, which moves :math:`c_j^2 - |v_j|^2` by at most :math:`2u|\theta|^2`; so does
        evaluating :math:`Q_j` and each increment; the errors may add up coherently over the
        :math:`K` steps.
    """

    lr: float
    steps: int
    drift: float
    per_step: float
    identity_error: float
    identity_tol: float


def _gradients(params: FloatArray, n: int, d: int, X: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Gradients ``(gc, gV)`` at many parameter vectors at once, shapes (k, n), (k, n, d+1)."""
    m = X.shape[0]
    Xt = np.column_stack([X, np.ones(m)])
    c, W, b = params[:, :n], params[:, n : n + n * d].reshape(-1, n, d), params[:, n + n * d :]
    Z = np.einsum("md,knd->kmn", X, W) + b[:, None, :]
    A = np.maximum(Z, 0.0)
    r = np.einsum("kmn,kn->km", A, c) - y
    gc = np.einsum("kmn,km->kn", A, r) / m
    gV = np.einsum("kmn,km,me->kne", (Z > 0).astype(np.float64), r, Xt) * (c / m)[:, :, None]
    return gc, gV


def balance_drift(
    net: ShallowReLU, X: ArrayLike, y: ArrayLike, *, lrs: Sequence[float], duration: float
) -> list[DriftRow]:
    r"""Drift of :math:`Q_j = c_j^2 - |v_j|^2` under gradient descent over a fixed flow time.

    For each step size :math:`\eta` in ``lrs``, runs :func:`~plateau_lib.trainers.first_order.train_gd`
    for :math:`K = \mathrm{round}(\text{duration}/\eta)` steps from ``net`` and measures the
    largest change of :math:`Q_j`. One step changes :math:`Q_j` by exactly
    :math:`\eta^2((\partial_{c_j}L)^2 - |\nabla_{v_j}L|^2)` (the first-order terms cancel, as
    in the flow), so the change per step is :math:`O(\eta^2)` and over a fixed time
    :math:`O(\eta)`; ``identity_error`` checks the exact identity along the run.

    Returns
    -------
    list of DriftRow
        One per step size, in the given order.
    """
    net, X, y = check_problem(net, X, y)
    duration = check_positive_float(duration, "duration")
    lrs = [check_positive_float(lr, "lrs") for lr in lrs]
    if not lrs:
        raise ValueError("lrs must hold at least one step size")
    n, d = net.n, net.d
    rows = []
    for lr in lrs:
        steps = max(1, round(duration / lr))
        result = train_gd(net, X, y, lr=lr, steps=steps, record_every=1)
        P = result.params
        Q = P[:, :n] ** 2 - P[:, n : n + n * d].reshape(-1, n, d).__pow__(2).sum(axis=2) - P[:, n + n * d :] ** 2
        delta = Q[-1] - Q[0]
        predicted = np.zeros(n)
        for lo in range(0, steps, 4000):
            gc, gV = _gradients(P[lo : min(lo + 4000, steps)], n, d, X, y)
            predicted += lr**2 * np.sum(gc**2 - np.sum(gV**2, axis=2), axis=0)
        drift = float(np.max(np.abs(delta)))
        tol = 4 * (np.finfo(np.float64).eps / 2) * (steps + 1) * float(np.max(np.sum(P**2, axis=1)))
        rows.append(DriftRow(float(lr), int(steps), drift, drift / steps, float(np.max(np.abs(delta - predicted))),
                             tol))
    return rows


def loglog_slope(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    r"""Least-squares line :math:`\log y = a\log x + b`; returns ``(a, b)``.

    Parameters
    ----------
    x, y : array_like, shape (k,)
        Positive values, ``k >= 2`` distinct ``x``.
    """
    x = as_float_array(x, "x", 1)
    y = as_float_array(y, "y", 1)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must have the same length >= 2, got {x.size} and {y.size}")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be positive")
    a, b = np.polyfit(np.log(x), np.log(y), 1)
    return float(a), float(b)


# =========================================================================== fact 3


@dataclass(frozen=True)
class EscapeDirection:
    r"""The fastest-growing direction of a small 1-D neuron (:func:`max_escape_rate_1d`).

    Attributes
    ----------
    rate : float
        :math:`\rho^* = \max_{|v|=1}\frac1m|r^\top\mathrm{relu}(\tilde X v)|`.
    w, b : float
        The unit direction :math:`v^* = (w, b)`.
    breakpoint : float
        :math:`-b/w` (``inf`` if :math:`w = 0`).
    sign : int
        Sign of :math:`r^\top\mathrm{relu}(\tilde X v^*)`; the growing mode has
        :math:`\mathrm{sign}(c_j) = -\text{sign}`.
    """

    rate: float
    w: float
    b: float
    breakpoint: float
    sign: int


def max_escape_rate_1d(x: ArrayLike, r: ArrayLike) -> EscapeDirection:
    r"""Largest growth rate of a small neuron, maximised over its direction (1-D, exact).

    For a neuron much smaller than the residual :math:`r`, freezing :math:`r` and the
    pattern of the direction :math:`\hat v` gives the linear flow of
    :func:`~plateau_lib.theory.escape_rate` with rate :math:`\|R(\hat v)\|`,
    :math:`R(\hat v) = \frac1m\tilde X^\top D(\hat v) r`. Along the growing mode :math:`v_j`
    turns towards :math:`\mp R`, so the rate that persists is the one of a direction that
    its own growth does not turn: :math:`R(\hat v)\parallel\hat v`. These are the critical
    points on the unit circle of

    .. math:: G(\hat v) = \tfrac1m\, r^\top\mathrm{relu}(\tilde X\hat v), \qquad \nabla G = R(\hat v),

    where :math:`|G| = \|R\|`, and the largest of them is :math:`\rho^* = \max_{|\hat v|=1}|G(\hat v)|`.
    In 1-D, :math:`\hat v = (\cos\varphi, \sin\varphi)`; between consecutive angles where a
    data point lies on the breakpoint (:math:`\tilde x_i\cdot\hat v = 0`) the pattern is fixed
    and :math:`G = u\cdot\hat v` with a constant :math:`u`, maximised in closed form. The
    maximum over the :math:`2m` arcs is exact.

    It may sit at an arc's end, a kink of :math:`G` where a data point lies on the breakpoint
    (it does for ``plateau_1d``). There :math:`R` jumps and neither one-sided :math:`\|R\|`
    (:func:`~plateau_lib.theory.escape_rate`) is the rate: the direction is held on the kink (both
    sides turn it back, as in a sliding motion) while the balanced magnitude
    :math:`|c_j| = |v_j|` grows at :math:`|\hat v\cdot R| = |G(\hat v)|`, continuous across the kink
    because the point on the breakpoint contributes :math:`\mathrm{relu}(0) = 0`.

    Parameters
    ----------
    x : array_like, shape (m,) or (m, 1)
        Inputs.
    r : array_like, shape (m,)
        Residual; :math:`r = -y` at the zero network (the first plateau).

    Returns
    -------
    EscapeDirection
    """
    x = check_x_1d(x)
    r = as_float_array(r, "r", 1)
    if r.shape != x.shape:
        raise ValueError(f"x and r must have the same length m, got {x.shape[0]} and {r.shape[0]}")
    m = x.size
    Xt = np.column_stack([x, np.ones(m)])
    crit = np.arctan2(-x, np.ones(m))  # x_i cos(phi) + sin(phi) = 0
    angles = np.unique(np.mod(np.concatenate([crit, crit + np.pi]) + np.pi, 2 * np.pi) - np.pi)
    ends = np.concatenate([angles, [angles[0] + 2 * np.pi]])
    best = (-1.0, 0.0, 1)
    for lo, hi in zip(ends[:-1], ends[1:], strict=True):
        mid = 0.5 * (lo + hi)
        active = Xt @ np.array([np.cos(mid), np.sin(mid)]) > 0
        u = Xt[active].T @ r[active] / m
        cands = [lo, hi]
        for phi in (np.arctan2(u[1], u[0]), np.arctan2(-u[1], -u[0])):
            phi = lo + np.mod(phi - lo, 2 * np.pi)
            if lo < phi < hi:
                cands.append(phi)
        for phi in cands:
            g = u[0] * np.cos(phi) + u[1] * np.sin(phi)
            if abs(g) > best[0]:
                best = (abs(g), phi, 1 if g > 0 else -1)
    rate, phi, sign = best
    w, b = float(np.cos(phi)), float(np.sin(phi))
    return EscapeDirection(float(rate), w, b, -b / w if w != 0 else math.inf, sign)


def predicted_exit_slope(rate: float, lr: float | None = None) -> float:
    r"""Slope of the exit time against :math:`\log(1/\alpha)` predicted by the escape rate.

    A neuron initialised at scale :math:`\alpha` grows like :math:`\alpha e^{\rho t}` (its
    parameters) and its output like :math:`\alpha^2 e^{2\rho t}`, so it reaches any fixed
    output size :math:`K` at :math:`t = \log(1/\alpha)/\rho + \log K/(2\rho)`: slope
    :math:`1/\rho` in :math:`\log(1/\alpha)`. Gradient descent with step :math:`\eta`
    multiplies the growing mode by :math:`1 + \eta\rho` per step (the linearised step matrix
    has eigenvalues :math:`1\pm\eta\rho`), so its slope in time :math:`t = k\eta` is
    :math:`\eta/\log(1+\eta\rho)`.

    Parameters
    ----------
    rate : float
        :math:`\rho > 0` (:func:`max_escape_rate_1d`).
    lr : float, optional
        Step size of gradient descent; ``None`` for the flow.
    """
    rate = check_positive_float(rate, "rate")
    if rate == 0:
        raise ValueError("rate must be > 0")
    if lr is None:
        return 1.0 / rate
    lr = check_positive_float(lr, "lr")
    return lr / math.log1p(lr * rate)


def exit_time(t: ArrayLike, loss: ArrayLike, level: float) -> float:
    """First time at which ``loss <= level`` (``nan`` if never).

    Parameters
    ----------
    t, loss : array_like, shape (k,)
        Times (increasing) and losses.
    level : float
        Threshold.
    """
    t = as_float_array(t, "t", 1)
    loss = as_float_array(loss, "loss", 1)
    if t.shape != loss.shape:
        raise ValueError(f"t and loss must have the same length, got {t.size} and {loss.size}")
    level = float(check_positive_float(level, "level", allow_zero=True))
    hit = np.flatnonzero(loss <= level)
    return float(t[hit[0]]) if hit.size else math.nan


# =========================================================================== sliding


@dataclass(frozen=True)
class SlidingPhase:
    """A stretch of steps in which entry ``(i, j)`` of the pattern flickers (:func:`sliding_phases`).

    Attributes
    ----------
    i, j : int
        Data point and neuron: point ``i`` sits on neuron ``j``'s breakpoint.
    start, end : int
        First and last toggle of the phase (steps).
    toggles : int
        Number of toggles of the entry in ``[start, end]``.
    """

    i: int
    j: int
    start: int
    end: int
    toggles: int

    @property
    def length(self) -> int:
        """``end - start`` (steps)."""
        return self.end - self.start


def sliding_phases(
    result: TrainResult, *, max_gap: int = SLIDING_MAX_GAP, min_toggles: int = SLIDING_MIN_TOGGLES
) -> list[SlidingPhase]:
    r"""Phases in which gradient descent flickers one pattern entry across a breakpoint.

    When a data point :math:`x_i` sits on the breakpoint of neuron :math:`j` and both
    one-sided gradient fields push the breakpoint back onto it (a Filippov sliding motion of
    the flow, see ``plateau_lib.trainers.flow``), gradient descent steps the breakpoint
    across :math:`x_i` and back every few steps: :math:`D_{ij}` toggles at a steady rate for
    as long as the flow slides. The rule, per entry: split its toggle steps wherever two
    consecutive toggles are more than ``max_gap`` steps apart; a run of at least
    ``min_toggles`` toggles is a sliding phase from its first to its last toggle.

    Parameters
    ----------
    result : TrainResult
        A run of an iterative trainer (its ``flips``).
    max_gap : int
        Largest gap (steps) between toggles inside a phase; default 20. Flicker is a
        property of the discrete iteration counted in steps: while sliding, the entry is
        active a fraction :math:`\alpha\in(0,1)` of the steps (the Filippov weight), so the
        gaps are about :math:`1/\min(\alpha, 1-\alpha)` steps; 20 admits weights down to 5%.
        In 20 seeds of ``plateau_1d`` the gaps between toggles of one entry fall off from
        ~10^5 at 1 step to single counts beyond 20 steps.
    min_toggles : int
        Least number of toggles (default 20, i.e. ten round trips): a point that a
        breakpoint crosses once, or a few times while passing, is not sliding.

    Returns
    -------
    list of SlidingPhase
        Sorted by start, then ``i``, then ``j``.
    """
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    max_gap = check_positive_int(max_gap, "max_gap")
    min_toggles = check_positive_int(min_toggles, "min_toggles")
    F = np.asarray(result.flips, dtype=np.int64)
    if F.size == 0:
        return []
    order = np.lexsort((F[:, 0], F[:, 2], F[:, 1]))
    F = F[order]
    new_entry = np.ones(len(F), dtype=bool)
    new_entry[1:] = (F[1:, 1] != F[:-1, 1]) | (F[1:, 2] != F[:-1, 2])
    gap_break = np.ones(len(F), dtype=bool)
    gap_break[1:] = new_entry[1:] | (np.diff(F[:, 0]) > max_gap)
    starts = np.flatnonzero(gap_break)
    ends = np.concatenate([starts[1:], [len(F)]]) - 1
    out = [SlidingPhase(int(F[a, 1]), int(F[a, 2]), int(F[a, 0]), int(F[b, 0]), int(b - a + 1))
           for a, b in zip(starts, ends, strict=True) if b - a + 1 >= min_toggles]
    return sorted(out, key=lambda p: (p.start, p.i, p.j))


def _record_index(result: TrainResult, step: float) -> int:
    steps = np.asarray(result.steps, dtype=np.float64)
    k = int(np.searchsorted(steps, step))
    if k == len(steps) or (k > 0 and step - steps[k - 1] <= steps[k] - step):
        k -= 1
    return k


def weighted_phases(
    result: TrainResult, X: ArrayLike, y: ArrayLike, phases: Sequence[SlidingPhase],
    rel_tol: float = SIGNIFICANCE_RTOL,
) -> list[SlidingPhase]:
    """The phases whose neuron carries weight at the phase's middle step.

    A neuron is weighted when :func:`~plateau_lib.theory.significant_neurons` (with
    ``rel_tol``) counts it at the recorded step nearest the middle of the phase: only then
    does its pinned kink shape the network (tiny neurons also slide, while they align).
    """
    net0, X, y = check_problem(result.net, X, y)
    out = []
    for p in phases:
        if not isinstance(p, SlidingPhase):
            raise TypeError(f"phases must hold SlidingPhase, got {type(p).__name__}")
        net = result.net_at(_record_index(result, 0.5 * (p.start + p.end)))
        if p.j in significant_neurons(net, X, y, rel_tol):
            out.append(p)
    return out


def covered_steps(phases: Sequence[SlidingPhase]) -> int:
    """Number of steps covered by the union of the phases' intervals ``[start, end]``."""
    spans = sorted((p.start, p.end) for p in phases)
    total, cur_lo, cur_hi = 0, None, None
    for lo, hi in spans:
        if cur_hi is None or lo > cur_hi + 1:
            if cur_hi is not None:
                total += cur_hi - cur_lo + 1
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None:
        total += cur_hi - cur_lo + 1
    return int(total)


def _check_pins(pins: Iterable[tuple[int, int]], m: int, S: list[int]) -> list[tuple[int, int]]:
    if isinstance(pins, (str, bytes)) or not isinstance(pins, Iterable):
        raise TypeError(f"pins must be a sequence of (i, j) pairs, got {type(pins).__name__}")
    out = []
    for pin in pins:
        if np.ndim(pin) != 1 or len(pin) != 2:
            raise ValueError(f"pins must hold (i, j) pairs, got {pin!r}")
        i, j = pin
        for v, nm in ((i, "i"), (j, "j")):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
                raise TypeError(f"pins must hold integer pairs (i, j); {nm} = {v!r}")
        if not 0 <= i < m:
            raise ValueError(f"pins: data index i must lie in [0, {m}), got {i}")
        if int(j) not in S:
            raise ValueError(f"pins: neuron {j} must belong to S = {S}")
        out.append((int(i), int(j)))
    return out


def pinned_feature_matrix(
    X: ArrayLike, D: ArrayLike, S: Iterable[int] | None, pins: Iterable[tuple[int, int]]
) -> FloatArray:
    r"""Features of a pattern with some neurons' breakpoints pinned at data points.

    A pin :math:`(i, j)` requires neuron :math:`j`'s breakpoint to pass through
    :math:`x_i`: :math:`v_j\cdot\tilde x_i = 0`. With :math:`I_j` the points pinned to
    neuron :math:`j` and :math:`B_j` an orthonormal basis of
    :math:`\{v : v\cdot\tilde x_i = 0,\ i\in I_j\}`, the outputs such a neuron can produce
    with pattern :math:`D` are :math:`D_j\tilde X B_j\beta`: the block of neuron :math:`j`
    is :math:`D_j\tilde X B_j` instead of :math:`D_j\tilde X` (:func:`~plateau_lib.theory.feature_matrix`).
    The pinned points contribute zero to it whatever :math:`D_{ij}` says
    (:math:`\tilde x_i\cdot B_j = 0`), so both neighbouring patterns give the same matrix.
    In 1-D one pin leaves one column, :math:`D_j\odot(x - x_i)` up to scale: the neuron is
    :math:`\mathrm{relu}(\pm(x - x_i))` times a weight.

    Parameters
    ----------
    X : array_like, shape (m, d)
    D : array_like of bool, shape (m, n)
    S : sequence of int or None
        Neurons (``None``: all).
    pins : sequence of (int, int)
        Pairs ``(i, j)`` with ``j`` in ``S``.

    Returns
    -------
    ndarray, shape (m, k)
    """
    X = as_float_array(X, "X", 2)
    D = check_pattern(D, X.shape[0])
    S = check_neuron_set(S, D.shape[1])
    pins = _check_pins(pins, X.shape[0], S)
    Xt = np.column_stack([X, np.ones(X.shape[0])])
    blocks = []
    for j in S:
        rows = [i for i, jj in pins if jj == j]
        if rows:
            _, sv, Vt = np.linalg.svd(Xt[rows], full_matrices=True)
            rank = int(np.sum(sv > 1e-12 * max(sv[0], 1.0)))
            B = Vt[rank:].T
        else:
            B = np.eye(Xt.shape[1])
        blocks.append(D[:, j, None] * (Xt @ B))
    return np.hstack(blocks) if blocks else np.zeros((X.shape[0], 0))


def pinned_ls_level(
    X: ArrayLike, y: ArrayLike, D: ArrayLike, S: Iterable[int] | None, pins: Iterable[tuple[int, int]]
) -> float:
    r"""Least-squares level with pinned breakpoints, :math:`L^*_{\mathrm{pin}} = \frac1{2m}\|(I-P_{\mathrm{pin}})y\|^2`.

    :math:`P_{\mathrm{pin}}` projects onto the range of :func:`pinned_feature_matrix`. This is
    the level of a *sliding* phase: while point :math:`x_i` stays on neuron :math:`j`'s
    breakpoint (and the other pairs keep the pattern :math:`D`), the outputs lie in that range,
    so :math:`L \ge L^*_{\mathrm{pin}}`; and a stationary point of the sliding motion (the
    gradient projected onto the constraint :math:`v_j\cdot\tilde x_i = 0`) has a residual
    orthogonal to every column, so :math:`L = L^*_{\mathrm{pin}}` there. It lies above
    :math:`L^*` of both neighbouring patterns (the range is a subspace of each of theirs).

    Parameters are as in :func:`pinned_feature_matrix`, plus the targets ``y``.
    """
    X, y = check_data(X, y)
    Phi = pinned_feature_matrix(X, D, S, pins)
    if Phi.shape[1] == 0:
        return float(y @ y) / (2 * X.shape[0])
    e = y - Phi @ np.linalg.lstsq(Phi, y, rcond=None)[0]
    return float(e @ e) / (2 * X.shape[0])


def rate_history(result: TrainResult, X: ArrayLike, y: ArrayLike, rel_tol: float = SIGNIFICANCE_RTOL) -> FloatArray:
    r""":math:`\lambda(t)` at every record of a run: the smallest positive eigenvalue of the kernel of the
    neurons that carry weight there (:func:`~plateau_lib.theory.significant_neurons`; 0 when none does).

    Batched version of :func:`~plateau_lib.theory.kernel_lambda` with
    :math:`S` = the weighted neurons of each record, with the same zero threshold.

    Returns
    -------
    ndarray, shape (k,)
    """
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    net, X, y = check_problem(result.net, X, y)
    rel_tol = check_positive_float(rel_tol, "rel_tol", allow_zero=True)
    n, d, m = net.n, net.d, X.shape[0]
    Xt = np.column_stack([X, np.ones(m)])
    XX = Xt @ Xt.T
    yardstick = rel_tol * np.sqrt(np.mean(y * y))
    out = np.empty(len(result.params))
    for lo in range(0, len(out), _CHUNK):
        P = result.params[lo : lo + _CHUNK]
        c, W, b = P[:, :n], P[:, n : n + n * d].reshape(-1, n, d), P[:, n + n * d :]
        Z = np.einsum("md,knd->kmn", X, W) + b[:, None, :]
        A = np.maximum(Z, 0.0)
        s = np.abs(c) * np.sqrt(np.mean(A * A, axis=1))  # neuron_contributions, batched
        weighted = (s > 0) & (s >= yardstick)
        A = A * weighted[:, None, :]
        C = (Z > 0) * (c * weighted)[:, None, :]
        ev = np.linalg.eigvalsh((A @ A.transpose(0, 2, 1) + (C @ C.transpose(0, 2, 1)) * XX) / m)
        top = ev[:, -1]
        positive = np.where(ev > EIGENVALUE_RTOL * top[:, None], ev, np.inf)
        out[lo : lo + len(P)] = np.where(weighted.any(axis=1) & (top > 0), np.min(positive, axis=1), 0.0)
    return out


def breakpoint_history(result: TrainResult, neurons: Sequence[int]) -> FloatArray:
    r"""Breakpoints :math:`-b_j/w_j` of 1-D neurons at every recorded step, shape (k, len(neurons))."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    n, d = result.net.n, result.net.d
    if d != 1:
        raise ValueError(f"breakpoint_history needs a 1-D network, got d = {d}")
    js = check_neuron_set(neurons, n, "neurons")
    w = result.params[:, n : 2 * n][:, js]
    b = result.params[:, 2 * n :][:, js]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w != 0, -b / w, np.nan)


__all__ = [
    "FLOW_ATOL",
    "FLOW_RTOL",
    "INTEGRATION_RTOL",
    "MAX_POINTS",
    "QUAD_TOL",
    "SLIDING_MAX_GAP",
    "SLIDING_MIN_TOGGLES",
    "balance_drift",
    "BoundCheck",
    "breakpoint_history",
    "check_bound",
    "convergence_history",
    "ConvergenceHistory",
    "covered_steps",
    "DriftRow",
    "EscapeDirection",
    "euler_bound",
    "excess_floor",
    "exit_time",
    "fixed_pattern_flow",
    "fixed_pattern_segments",
    "FixedPatternRun",
    "gd_within_pattern",
    "loglog_slope",
    "lstar_rounding",
    "max_escape_rate_1d",
    "pinned_feature_matrix",
    "pinned_ls_level",
    "predicted_exit_slope",
    "rate_history",
    "resolved_history",
    "sliding_phases",
    "SlidingPhase",
    "weighted_phases",
]
