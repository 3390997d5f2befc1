r"""Stationary points are local least-squares fits (fact 4, claim C4): the exact polish and the cells.

Notation as in :mod:`plateau_lib.theory`: :math:`\tilde X = [X, \mathbf 1]`, residual
:math:`r = N(X) - y`, pattern :math:`D_{ij} = [v_j\cdot\tilde x_i > 0]`, and the affine
moments of the residual on neuron :math:`j`'s active set

.. math:: R_j = \tfrac1m \tilde X^\top D_j r \in \mathbb R^{d+1},
   \qquad \nabla_{v_j} L = c_j R_j,\qquad \partial_{c_j} L = v_j\cdot R_j .

**Fact 4.** At a stationary point every neuron with :math:`c_j \ne 0` has :math:`R_j = 0`:
the residual is orthogonal to every affine function on the neuron's active data. With
:math:`S = \{j : c_j \ne 0\}` and the pattern :math:`D` this is
:math:`\Phi(D,S)^\top r = 0`; since :math:`N \in \mathrm{range}\,\Phi(D,S)`, it says
:math:`N = Py`, the orthogonal projection of the targets onto the pattern's span, and
:math:`L = L^*(D,S)`.

This module turns that into two tools:

* :func:`polish_to_stationarity` -- from a network near a stationary point (the end of a
  gradient-descent run), the *exact* stationary point with the same pattern, by one linear
  least-squares solve in the products :math:`\beta_j = c_j v_j`;
* :func:`pattern_cells` -- the data grouped by activation pattern (the cells), and on each
  cell whether the network is the least-squares affine fit of the cell's data, and whether
  fact 4 *implies* that it is (the cell's affine functions lie in the pattern's span).

Chapter 3's catalogues of runs live in :mod:`plateau_lib.chapters.stationary_catalogue`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._linalg import range_basis
from ._validation import as_float_array, check_positive_float, check_positive_int
from .network import ShallowReLU, check_problem, evaluate
from .theory import SIGNIFICANCE_RTOL, check_neuron_set, feature_matrix, local_ls_level, significant_neurons

FloatArray = NDArray[np.float64]


IntArray = NDArray[np.int64]


#: Default tolerance on the relative stationarity residual (:func:`stationarity_scores`) for a
#: point to count as exactly stationary: six orders of magnitude above double-precision
#: round-off (:math:`\approx 10^{-16}`), yet far below anything gradient descent reaches.
STATIONARITY_RTOL = 1e-10


#: Relative tolerance of the span test in :func:`pattern_cells`: a cell's affine functions lie in
#: the pattern's span when the part of them outside it has relative size at most this. The
#: part is exactly zero in real arithmetic when contained, and (for the data of this book)
#: of order one otherwise; round-off puts it near :math:`10^{-15}`.
SPAN_RTOL = 1e-8


#: Tolerance, relative to :math:`\max_i|y_i|`, within which the network counts as equal to a
#: cell's least-squares fit. At an exact stationary point the difference on a determined cell
#: is round-off (:math:`\sim 10^{-15}`); gradient descent alone stops orders of magnitude above it.
AGREEMENT_RTOL = 1e-9


def _augment(X: FloatArray) -> FloatArray:
    return np.column_stack([X, np.ones(X.shape[0])])


def check_rel_tol(rel_tol: object) -> float:
    rel_tol = check_positive_float(rel_tol, "rel_tol", allow_zero=True)
    if rel_tol > 1:
        raise ValueError(f"rel_tol must lie in [0, 1], got {rel_tol}")
    return rel_tol


def check_fraction(value: object, name: str) -> float:
    value = check_positive_float(value, name)
    if value >= 1:
        raise ValueError(f"{name} must lie in (0, 1), got {value}")
    return value


# --------------------------------------------------------------------------- stationarity


def stationarity_scores(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> FloatArray:
    r"""Relative stationarity residuals :math:`\|R_j\|_2 / (\mathrm{rms}(y)\,\mathrm{rms}_i\|\tilde x_i\|_2)`.

    :math:`R_j = \frac1m\tilde X^\top D_j r` (:func:`~plateau_lib.theory.stationarity_residuals`).
    By Cauchy-Schwarz :math:`\|R_j\| \le \mathrm{rms}(r)\,\mathrm{rms}_i\|\tilde x_i\|`, so the
    score is at most :math:`\mathrm{rms}(r)/\mathrm{rms}(y)` (at most 1 for any network no
    worse than zero), it is invariant under rescaling the targets and output weights
    together, and round-off puts it near :math:`10^{-16}` at an exact stationary point.

    Parameters
    ----------
    net : ShallowReLU
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
        Targets, not all zero.

    Returns
    -------
    ndarray, shape (n,)
        Fact 4 says the entries of neurons with :math:`c_j \ne 0` vanish at a stationary point.
    """
    net, X, y = check_problem(net, X, y)
    y_rms = float(np.sqrt(np.mean(y * y)))
    if y_rms == 0:
        raise ValueError("y must not be all zero (its RMS is the yardstick)")
    ev = evaluate(net.c, net.W, net.b, X, y)
    Xt = _augment(X)
    R = (ev.active * ev.r[:, None]).T @ Xt / X.shape[0]
    x_rms = float(np.sqrt(np.mean(np.sum(Xt * Xt, axis=1))))
    return np.linalg.norm(R, axis=1) / (y_rms * x_rms)


def max_stationarity(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> float:
    r"""Largest :func:`stationarity_scores` entry over the neurons with :math:`c_j \ne 0` (0 if none)."""
    net, X, y = check_problem(net, X, y)
    scores = stationarity_scores(net, X, y)
    return float(np.max(scores[net.c != 0], initial=0.0))


def gradient_norm(net: ShallowReLU, X: FloatArray, y: FloatArray) -> float:
    r"""Euclidean norm of the loss gradient :math:`\|\nabla_\theta L\|` (all of :math:`c, W, b`)."""
    ev = evaluate(net.c, net.W, net.b, X, y)
    return float(np.sqrt(ev.gc @ ev.gc + np.sum(ev.gW**2) + ev.gb @ ev.gb))


#: Imaginary step of :func:`complex_step_stationarity`: tiny enough that its square vanishes next
#: to every real part (so the derivative carries no truncation error), large enough not to underflow.
COMPLEX_STEP = 1e-30


def complex_step_stationarity(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> float:
    r""":func:`max_stationarity` recomputed by the complex-step derivative of the loss: an independent check.

    For a real-analytic :math:`f`, :math:`f'(x) = \mathrm{Im}\, f(x + ih)/h + O(h^2)` with no
    subtraction, hence no cancellation (Squire & Trapp, SIAM Rev. 40, 1998). With the pattern
    read from the real part, :math:`\mathrm{relu}(z) = z\,[\mathrm{Re}\,z > 0]`, the loss is a
    polynomial in each coordinate of :math:`v_j = (w_j, b_j)`, so

    .. math:: \partial_{v_{jk}} L = \mathrm{Im}\,L(\theta + ih\,e_{jk}) / h = c_j (R_j)_k

    to round-off: a few units of :math:`u = 2^{-53}` times :math:`(m + n + d)` relative to the
    terms summed, i.e. at most about :math:`10^{-13}` on the scale below. Only forward passes
    :math:`\tfrac1{2m}\sum_i(\mathrm{relu}(Z)c - y)_i^2` in complex arithmetic are used: none of
    :func:`~plateau_lib.network.evaluate` or :func:`stationarity_scores`' code.

    Returns
    -------
    float
        :math:`\max_j \|\partial_{v_j} L\| / (|c_j|\,\mathrm{rms}(y)\,\mathrm{rms}_i\|\tilde x_i\|)`
        over the neurons with :math:`c_j \ne 0` (0 if none): :func:`max_stationarity`'s yardstick.
    """
    net, X, y = check_problem(net, X, y)
    y_rms = float(np.sqrt(np.mean(y * y)))
    if y_rms == 0:
        raise ValueError("y must not be all zero (its RMS is the yardstick)")
    m, d = X.shape
    Xt = _augment(X)
    x_rms = float(np.sqrt(np.mean(np.sum(Xt * Xt, axis=1))))
    V = np.hstack([net.W, net.b[:, None]])
    worst = 0.0
    for j in np.flatnonzero(net.c != 0):
        grad = np.empty(d + 1)
        for k in range(d + 1):
            Vc = V.astype(np.complex128)
            Vc[j, k] += 1j * COMPLEX_STEP
            Z = Xt @ Vc.T
            r = np.where(Z.real > 0, Z, 0.0) @ net.c - y
            grad[k] = float(np.sum(r * r).imag) / (2 * m) / COMPLEX_STEP
        worst = max(worst, float(np.linalg.norm(grad)) / (abs(net.c[j]) * y_rms * x_rms))
    return worst


@dataclass(frozen=True, eq=False)
class PolishResult:
    r"""Outcome of :func:`polish_to_stationarity`.

    Attributes
    ----------
    net : ShallowReLU
        The polished network if ``accepted``, else the input network unchanged.
    candidate : ShallowReLU
        The least-squares candidate (returned even when rejected, for inspection).
    accepted : bool
        ``pattern_preserved`` and ``stationarity_after <= gtol``.
    message : str
        Why it was accepted or rejected.
    neurons : tuple of int
        :math:`S`, the weight-carrying neurons that were fitted.
    zeroed : tuple of int
        Neurons outside :math:`S` with a non-empty active set, set to exactly zero.
    pattern_preserved : bool
        The candidate's pattern equals the input's on the columns of :math:`S`.
    pattern_flips : int
        Number of entries :math:`D_{ij}`, :math:`j \in S`, that the candidate changes.
    loss_before, loss_after : float
        Loss of the input network and of the candidate.
    lstar : float
        :math:`L^*(D,S)` of the input's pattern (the candidate's loss, up to round-off).
    grad_norm_before, grad_norm_after : float
        :math:`\|\nabla L\|_2` of the input and of the candidate.
    stationarity_before, stationarity_after : float
        :func:`max_stationarity` of the input and of the candidate.
    move : float
        :math:`\|\theta_{\rm candidate} - \theta\|_2 / \|\theta\|_2`, the relative distance moved.
    """

    net: ShallowReLU
    candidate: ShallowReLU
    accepted: bool
    message: str
    neurons: tuple[int, ...]
    zeroed: tuple[int, ...]
    pattern_preserved: bool
    pattern_flips: int
    loss_before: float
    loss_after: float
    lstar: float
    grad_norm_before: float
    grad_norm_after: float
    stationarity_before: float
    stationarity_after: float
    move: float


def polish_to_stationarity(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    rel_tol: float = SIGNIFICANCE_RTOL,
    gtol: float = STATIONARITY_RTOL,
    neurons: Iterable[int] | None = None,
) -> PolishResult:
    r"""The exact stationary point with the network's activation pattern, if one is nearby.

    With the pattern :math:`D` frozen the network is linear in the products
    :math:`\beta_j = c_j v_j`: :math:`N = \Phi(D,S)\,\beta`. So the stationary point of the
    pattern needs no iteration. Let :math:`S` be the weight-carrying neurons and
    :math:`\beta^0_j = c_j v_j` the current products.

    1. Neurons outside :math:`S` whose active set is not empty are set to exactly zero,
       :math:`c_j = 0`, :math:`v_j = 0` (both their gradients, :math:`c_j R_j` and
       :math:`v_j\cdot R_j`, then vanish: a zero neuron is stationary under
       :math:`\mathrm{relu}'(0) = 0`). Neurons with an empty active set are left as they
       are: they are already stationary (:math:`R_j = 0`, :math:`\mathrm{relu}(\tilde X v_j) = 0`).
    2. :math:`\beta = \beta^0 + \delta` with :math:`\delta` the minimum-norm least-squares
       solution of :math:`\Phi\,\delta \approx y - \Phi\beta^0` (SVD-based
       ``numpy.linalg.lstsq``). Then :math:`\Phi\beta = Py` and, among all products with these
       outputs, :math:`\beta` is the one closest to :math:`\beta^0`: the best chance that the
       pattern survives when :math:`\Phi` is rank-deficient.
    3. Balanced rescaling: :math:`c_j = \mathrm{sign}(c^0_j)\sqrt{\|\beta_j\|}`,
       :math:`v_j = \beta_j / c_j`, so :math:`|c_j| = \|v_j\|` (the balance gradient flow
       preserves from a small initialisation; any other positive rescaling
       :math:`(c_j/s, s v_j)` is stationary too, since :math:`R_j = 0` and
       :math:`v_j\cdot R_j = 0` are scale-free). Keeping the sign of :math:`c_j` keeps the
       orientation of :math:`v_j`.
    4. The candidate is a network with outputs :math:`Py` *only if* its pattern is still
       :math:`D` on the columns of :math:`S` (:math:`\tilde X\beta_j` fixes the neuron's
       values on its active set, not the sign of :math:`\tilde x_i\cdot v_j` elsewhere). It is
       accepted only then, and only if its :func:`max_stationarity` is at most ``gtol``.

    This is one Gauss-Newton step in the product coordinates, where it is exact (the model
    is linear in :math:`\beta` while :math:`D` is fixed); in the coordinates
    :math:`(c, v)` Gauss-Newton or Levenberg-Marquardt
    (``plateau_lib.trainers.train_lm``) would need many iterations on a
    problem made singular by the rescaling symmetry.

    Parameters
    ----------
    net : ShallowReLU
        A network near a stationary point (e.g. the end of a gradient-descent run).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    rel_tol : float, default 1e-3
        Significance threshold of :func:`~plateau_lib.theory.significant_neurons`, used
        when ``neurons`` is not given.
    gtol : float, default 1e-10
        Largest accepted relative stationarity residual after polishing, in (0, 1).
    neurons : sequence of int, optional
        :math:`S` given explicitly (each with :math:`c_j \ne 0`).

    Returns
    -------
    PolishResult
    """
    net, X, y = check_problem(net, X, y)
    gtol = check_fraction(gtol, "gtol")
    rel_tol = check_rel_tol(rel_tol)
    if neurons is None:
        S = significant_neurons(net, X, y, rel_tol)
    else:
        S = sorted(check_neuron_set(neurons, net.n, "neurons"))
        zero_c = [j for j in S if net.c[j] == 0]
        if zero_c:
            raise ValueError(f"neurons must have c_j != 0 (their sign orients v_j), got c_j = 0 for {zero_c}")
    d, n = net.d, net.n
    D = net.preactivations(X) > 0
    c, V = net.c.copy(), net.v.copy()
    in_S = np.zeros(n, dtype=bool)
    in_S[S] = True
    zeroed = tuple(int(j) for j in np.flatnonzero(~in_S & D.any(axis=0)))
    c[list(zeroed)] = 0.0
    V[list(zeroed)] = 0.0
    lstar = local_ls_level(X, y, D, S)
    degenerate: list[int] = []
    if S:
        Phi = feature_matrix(X, D, S)
        beta0 = (c[S, None] * V[S]).ravel()
        delta = np.linalg.lstsq(Phi, y - Phi @ beta0, rcond=None)[0]
        beta = (beta0 + delta).reshape(len(S), d + 1)
        size = np.linalg.norm(beta, axis=1)
        degenerate = [S[k] for k in np.flatnonzero(size == 0)]
        size[size == 0] = 1.0  # placeholder; the candidate is rejected below
        cS = np.sign(net.c[S]) * np.sqrt(size)
        c[S] = cS
        V[S] = beta / cS[:, None]
    candidate = ShallowReLU(c, V[:, :d], V[:, d])
    D_new = candidate.preactivations(X) > 0
    flips = int(np.sum(D_new[:, S] != D[:, S]))
    preserved = flips == 0 and not degenerate
    after = max_stationarity(candidate, X, y)
    theta0, theta1 = net.to_vector(), candidate.to_vector()
    move = float(np.linalg.norm(theta1 - theta0) / max(np.linalg.norm(theta0), np.finfo(float).tiny))
    if degenerate:
        message = f"rejected: the least-squares products of neurons {degenerate} vanish"
    elif not preserved:
        message = f"rejected: the least-squares fit would change {flips} pattern entries of the fitted neurons"
    elif after > gtol:
        message = f"rejected: relative stationarity residual {after:.2e} > gtol={gtol:g}"
    else:
        message = f"accepted: pattern kept, relative stationarity residual {after:.2e} <= gtol={gtol:g}"
    accepted = preserved and after <= gtol
    ev0 = evaluate(net.c, net.W, net.b, X, y)
    ev1 = evaluate(candidate.c, candidate.W, candidate.b, X, y)
    return PolishResult(
        net=candidate if accepted else net, candidate=candidate, accepted=accepted, message=message,
        neurons=tuple(S), zeroed=zeroed, pattern_preserved=preserved, pattern_flips=flips,
        loss_before=ev0.loss, loss_after=ev1.loss, lstar=lstar,
        grad_norm_before=gradient_norm(net, X, y), grad_norm_after=gradient_norm(candidate, X, y),
        stationarity_before=max_stationarity(net, X, y), stationarity_after=after, move=move,
    )


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True, eq=False)
class PatternCell:
    r"""One cell: the data points that share an activation-pattern row (restricted to :math:`S`).

    Attributes
    ----------
    indices : ndarray of int
        Indices of the cell's data points (increasing).
    active : tuple of int
        Neurons of :math:`S` active on the cell. On the cell the network is the affine
        function :math:`\tilde x \mapsto \tilde x\cdot\sum_{j\in\text{active}} c_j v_j`.
    rank : int
        Rank of :math:`\tilde X` restricted to the cell (``d + 1`` when the cell has
        ``d + 1`` affinely independent points: then its least-squares fit is unique).
    determined : bool
        Fact 4 *implies* that the network is the least-squares affine fit of the cell's data:
        the cell's affine functions lie in the pattern's span,
        :math:`\mathrm{range}\,\Phi_C \subseteq \mathrm{range}\,\Phi(D,S)` with
        :math:`\Phi_C = \mathrm{diag}(\mathbb 1_C)\tilde X` (see :func:`pattern_cells`).
    span_error : float
        :math:`\|(I-P)\Phi_C\|_F/\|\Phi_C\|_F`; ``determined`` is ``span_error <= span_rtol``.
    covered : bool
        The cell's indicator is a linear combination of the active sets' indicators
        (:math:`e_C \in \mathrm{range}\,M`): the combinatorial form of ``determined``,
        equivalent to it when every cell has full rank.
    ls_coef : ndarray, shape (d+1,)
        Minimum-norm least-squares affine coefficients :math:`(a, a_0)` of the cell's data.
    ls_values : ndarray
        Fitted values :math:`P_C y` on the cell (unique even when ``ls_coef`` is not).
    net_coef : ndarray, shape (d+1,)
        :math:`\sum_{j\in\text{active}} c_j v_j`.
    net_values : ndarray
        :math:`N(x_i)` on the cell.
    deviation : float
        :math:`\max_{i\in C}|N(x_i) - (P_C y)_i|`: zero when the network is the cell's fit.
    moment : ndarray, shape (d+1,)
        :math:`\rho_C = \frac1m\sum_{i\in C} r_i\,\tilde x_i`; ``deviation`` is zero iff
        :math:`\rho_C = 0`, and :math:`R_j = \sum_{C\subseteq A_j}\rho_C`.
    """

    indices: IntArray
    active: tuple[int, ...]
    rank: int
    determined: bool
    span_error: float
    covered: bool
    ls_coef: FloatArray
    ls_values: FloatArray
    net_coef: FloatArray
    net_values: FloatArray
    deviation: float
    moment: FloatArray

    @property
    def size(self) -> int:
        """Number of data points in the cell."""
        return int(self.indices.size)


def _cell_groups(DS: NDArray[np.bool_]) -> list[IntArray]:
    """Index sets of the distinct rows of ``DS`` (m, |S|), ordered by their smallest index."""
    if DS.shape[1] == 0:
        return [np.arange(DS.shape[0])]
    _, first, inverse = np.unique(DS, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    return [np.flatnonzero(inverse == k) for k in np.argsort(first)]


def pattern_cells(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    S: Iterable[int] | None = None,
    *,
    span_rtol: float = SPAN_RTOL,
) -> list[PatternCell]:
    r"""Group the data into cells by activation pattern and test fact 4 cell by cell.

    A *cell* is a maximal set :math:`C` of data points with the same pattern row
    :math:`(D_{ij})_{j\in S}`. On a cell the network is affine, and every active set
    :math:`A_j` is a union of cells. Write :math:`\rho_C = \frac1m\sum_{i\in C} r_i\tilde x_i`
    for the residual's affine moments on :math:`C` and :math:`M_{Cj} = [C\subseteq A_j]`.

    *What fact 4 says.* :math:`R_j = \sum_C M_{Cj}\,\rho_C = 0` for every :math:`j\in S`: the
    moments vanish summed over each neuron's active set, not cell by cell.

    *When it pins down a cell.* The network is the least-squares affine fit of the cell's
    data iff :math:`\rho_C = 0` (the network is affine on :math:`C`, and an affine function is
    the cell's least-squares fit iff the residual is orthogonal to affine functions on
    :math:`C`). Fact 4 is :math:`\Phi^\top r = 0` with :math:`\Phi = \Phi(D,S)`, and
    :math:`\rho_C = \frac1m\Phi_C^\top r` with :math:`\Phi_C = \mathrm{diag}(\mathbb 1_C)\tilde X`.
    So fact 4 implies :math:`\rho_C = 0` for every possible residual iff
    :math:`\mathrm{null}\,\Phi^\top \subseteq \mathrm{null}\,\Phi_C^\top`, i.e.

    .. math:: \mathrm{range}\,\Phi_C \subseteq \mathrm{range}\,\Phi(D,S)

    (the pattern's span contains the cell's affine functions: ``determined``). When every cell
    has :math:`d+1` affinely independent points this is :math:`e_C \in \mathrm{range}\,M`
    (``covered``): the cell's indicator is a linear combination of the active sets'
    indicators. A cell outside every active set is never determined (the network is zero
    there); nor, in general, is a cell that several neurons share. Where a cell is not
    determined the network may still coincide with the fit, by accident of the data.

    Parameters
    ----------
    net : ShallowReLU
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    S : sequence of int, optional
        Neurons that define the cells and the span (``None``: those with :math:`c_j \ne 0`).
        Neurons outside ``S`` should contribute nothing (as after
        :func:`polish_to_stationarity`); their outputs still count in :math:`N`.
    span_rtol : float, default 1e-8
        Tolerance of the span test, in (0, 1).

    Returns
    -------
    list of PatternCell
        Ordered by their smallest data index.
    """
    net, X, y = check_problem(net, X, y)
    S = sorted(check_neuron_set(S, net.n)) if S is not None else [int(j) for j in np.flatnonzero(net.c != 0)]
    span_rtol = check_fraction(span_rtol, "span_rtol")
    m, d = X.shape
    Xt = _augment(X)
    D = net.preactivations(X) > 0
    N = net(X)
    r = N - y
    groups = _cell_groups(D[:, S])
    Q = range_basis(feature_matrix(X, D, S))
    M = np.array([D[idx[0], S] for idx in groups], dtype=float).reshape(len(groups), len(S))  # cells x |S|
    QM = range_basis(M)
    cells = []
    for pos, idx in enumerate(groups):
        active = tuple(S[j] for j in np.flatnonzero(M[pos]))
        Phi_C = np.zeros((m, d + 1))
        Phi_C[idx] = Xt[idx]
        span_error = float(np.linalg.norm(Phi_C - Q @ (Q.T @ Phi_C)) / np.linalg.norm(Phi_C))
        e = np.zeros(M.shape[0])
        e[pos] = 1.0
        covered = bool(np.linalg.norm(e - QM @ (QM.T @ e)) <= span_rtol)
        coef, _, rank, _ = np.linalg.lstsq(Xt[idx], y[idx], rcond=None)
        fit = Xt[idx] @ coef
        net_coef = np.sum(net.c[list(active), None] * net.v[list(active)], axis=0) if active else np.zeros(d + 1)
        cells.append(PatternCell(
            indices=idx, active=active, rank=int(rank), determined=span_error <= span_rtol,
            span_error=span_error, covered=covered, ls_coef=coef, ls_values=fit, net_coef=net_coef,
            net_values=N[idx], deviation=float(np.max(np.abs(N[idx] - fit))),
            moment=r[idx] @ Xt[idx] / m,
        ))
    return cells


def cell_labels(cells: Sequence[PatternCell], m: int) -> IntArray:
    """Cell index of every data point (``-1`` for a point in no cell), shape (m,)."""
    m = check_positive_int(m, "m")
    labels = np.full(m, -1, dtype=np.int64)
    for k, cell in enumerate(cells):
        if cell.indices.size and cell.indices.max() >= m:
            raise ValueError(f"m = {m} is smaller than a cell's data index {cell.indices.max()}")
        labels[cell.indices] = k
    return labels


def undetermined_cells_1d(orientations: Sequence[int]) -> list[int]:
    r"""Which cells of a 1-D pattern fact 4 leaves undetermined, from the neurons' orientations alone.

    Consider 1-D data cut into cells :math:`0,\dots,K` (left to right) by :math:`K` gaps, each
    holding the breakpoints of one or more neurons of :math:`S`. A right-facing neuron
    (:math:`w_j > 0`) at gap :math:`k` is active on the cells after it (indicator :math:`u_k`), a
    left-facing one (:math:`w_j < 0`) on the cells before it (indicator :math:`\mathbb 1 - u_k`).
    By :func:`pattern_cells`, with every cell of full rank, a cell is determined iff its
    indicator :math:`e_k` lies in the span of the active sets' indicators.

    *Both orientations at one gap* (``0`` below): :math:`u_k + (\mathbb 1 - u_k) = \mathbb 1` is in
    the span, hence :math:`u_l` for every gap :math:`l`, hence every :math:`e_k`: all cells are
    determined. (So are they when a neuron of :math:`S` is active on all data.)

    *One orientation per gap.* The :math:`K` indicators are independent and do not span
    :math:`\mathbb 1` (that would make :math:`K+1` independent vectors of the span), so their
    span is the orthogonal complement of one vector :math:`z \in \mathbb R^{K+1}`, and
    :math:`e_k` lies in it iff :math:`z_k = 0`. With tail sums :math:`Z_k = \sum_{l\ge k} z_l`
    (:math:`z_k = Z_k - Z_{k+1}`), orthogonality to :math:`u_k` is :math:`Z_k = 0` and to
    :math:`\mathbb 1 - u_k` is :math:`Z_k = Z_0`; normalise :math:`Z_0 = 1`, and :math:`Z_{K+1} = 0`. So

    .. math::

        z_k \ne 0 \iff \text{the two ends of cell } k \text{ are of different types,}

    where a left-facing gap and the left end of the data are of one type, a right-facing gap
    and the right end of the data of the other. Cell :math:`k` is undetermined iff it lies
    between a left-facing edge and a right-facing edge (the neurons of its edges are active
    away from it: e.g. a cell outside every active set), or between a right-facing edge on
    its left and a left-facing edge on its right (the neurons of both edges are active on it:
    a shared cell). The number of undetermined cells is then odd, so at least one.

    Parameters
    ----------
    orientations : sequence of {+1, -1, 0}
        Per gap, left to right: ``+1`` if its neurons are right-facing, ``-1`` if left-facing,
        ``0`` if both orientations occur.

    Returns
    -------
    list of int
        Indices of the undetermined cells, in :math:`0..K`.
    """
    if isinstance(orientations, (str, bytes)) or not isinstance(orientations, Iterable):
        raise TypeError(f"orientations must be a sequence of +1, -1 and 0, got {type(orientations).__name__}")
    s = list(orientations)
    if any(isinstance(o, (bool, np.bool_)) or o not in (1, -1, 0) for o in s):
        raise ValueError(f"orientations must be a sequence of +1, -1 and 0, got {orientations!r}")
    if 0 in s:
        return []
    Z = [1] + [0 if o == 1 else 1 for o in s] + [0]
    return [k for k in range(len(s) + 1) if Z[k] != Z[k + 1]]


def predicted_undetermined_1d(net: ShallowReLU, X: ArrayLike, S: Iterable[int] | None = None) -> list[int]:
    r"""The undetermined cells of a 1-D network by the orientation rule of :func:`undetermined_cells_1d`.

    The cells are those of :func:`pattern_cells` (same ``S`` convention, same order). Walking
    the cells from left to right, each gap's orientation is read off the neurons whose
    pattern switches there (on: right-facing, off: left-facing). A neuron of :math:`S` active
    on every data point spans :math:`\mathbb 1`, so then no cell is undetermined.

    Returns
    -------
    list of int
        Indices into :func:`pattern_cells` ``(net, X, y, S)``, increasing.
    """
    net = check_net_1d(net)
    X = as_float_array(X, "X", 2)
    if X.shape[1] != 1:
        raise ValueError(f"X must have one column (1-D data), got shape {X.shape}")
    S = sorted(check_neuron_set(S, net.n)) if S is not None else [int(j) for j in np.flatnonzero(net.c != 0)]
    DS = (net.preactivations(X) > 0)[:, S]
    groups = _cell_groups(DS)
    if DS.shape[1] and DS.all(axis=0).any():
        return []
    by_x = np.argsort([X[idx, 0].min() for idx in groups], kind="stable")
    orientations = []
    for a, b in zip(by_x[:-1], by_x[1:], strict=True):
        left, right = DS[groups[a][0]], DS[groups[b][0]]
        on, off = np.any(~left & right), np.any(left & ~right)
        orientations.append(0 if on and off else (1 if on else -1))
    return sorted(int(by_x[k]) for k in undetermined_cells_1d(orientations))


def check_net_1d(net: object) -> ShallowReLU:
    if not isinstance(net, ShallowReLU):
        raise TypeError(f"net must be a ShallowReLU, got {type(net).__name__}")
    if net.d != 1:
        raise ValueError(f"net must be a 1-D network (d = 1), got d = {net.d}")
    return net


__all__ = [
    "AGREEMENT_RTOL",
    "SPAN_RTOL",
    "STATIONARITY_RTOL",
    "cell_labels",
    "check_fraction",
    "check_net_1d",
    "check_rel_tol",
    "COMPLEX_STEP",
    "complex_step_stationarity",
    "gradient_norm",
    "max_stationarity",
    "pattern_cells",
    "PatternCell",
    "polish_to_stationarity",
    "PolishResult",
    "predicted_undetermined_1d",
    "stationarity_scores",
    "undetermined_cells_1d",
]
