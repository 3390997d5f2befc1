r"""Fixed-pattern theory: local least squares, the kernel, conserved quantities, escape rates.

Notation (``DESIGN.md``): data :math:`X \in \mathbb{R}^{m\times d}`, :math:`y \in \mathbb{R}^m`,
:math:`\tilde X = [X, \mathbf 1] \in \mathbb{R}^{m\times(d+1)}`; network
:math:`N(x) = \sum_j c_j\,\mathrm{relu}(v_j\cdot\tilde x)` with :math:`v_j = (w_j, b_j)`; residual
:math:`r = N(X) - y`; loss :math:`L = \frac{1}{2m}\|r\|^2`; activation pattern
:math:`D_{ij} = [v_j\cdot\tilde x_i > 0]` and :math:`D_j = \mathrm{diag}(D_{:,j})`.

While the pattern :math:`D` is frozen, the network is *linear in each neuron's own affine
features*: :math:`N = \sum_j c_j D_j \tilde X v_j \in \mathrm{range}\,\Phi(D)`, with
:math:`\Phi(D, S) = [D_j \tilde X]_{j\in S}`. Everything here follows from that observation:

* :func:`local_ls_level` -- the best loss any network with pattern :math:`D` can reach.
* :func:`kernel` -- :math:`H = \frac1m J J^\top`, so that gradient flow moves the outputs by
  :math:`\dot N = -H r`; :func:`convergence_bound` turns its smallest positive eigenvalue
  into a decay rate of :math:`L - L^*`.
* :func:`conserved_quantities`, :func:`escape_rate`, :func:`stationarity_residuals` -- facts
  2, 3, 4 of the design.
* :func:`cells_1d` -- the 1-D picture of fact 4: per cell between breakpoints, the network
  against the data's own least-squares line.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float_array, check_data, check_positive_float
from .network import ShallowReLU, augment, check_inputs, check_net, check_problem

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Default relative threshold of :func:`significant_neurons` (see its Notes).
SIGNIFICANCE_RTOL = 1e-3
#: Default relative threshold below which an eigenvalue of the kernel counts as zero.
EIGENVALUE_RTOL = 1e-10


# --------------------------------------------------------------------------- validation


def check_pattern(D: ArrayLike, m: int) -> NDArray[np.bool_]:
    """Validate an activation pattern: an (m, n) array of 0/1 (or booleans)."""
    arr = as_float_array(D, "D", 2)
    if arr.shape[0] != m:
        raise ValueError(f"D must have one row per data point (m = {m}), got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError("D must contain only 0/1 (or booleans)")
    return arr.astype(bool)


def check_neuron_set(S: Iterable[int] | None, n: int, name: str = "S") -> list[int]:
    """Validate a set of neuron indices in ``range(n)`` (``None`` means all ``n`` neurons)."""
    if S is None:
        return list(range(n))
    if isinstance(S, (str, bytes)) or not isinstance(S, Iterable):
        raise TypeError(f"{name} must be a sequence of neuron indices or None, got {type(S).__name__}")
    items = list(np.asarray(S).ravel()) if isinstance(S, np.ndarray) else list(S)
    for j in items:
        if isinstance(j, (bool, np.bool_)) or not isinstance(j, numbers.Integral):
            raise TypeError(f"{name} must contain integer neuron indices, got {j!r}")
    out = [int(j) for j in items]
    bad = [j for j in out if not 0 <= j < n]
    if bad:
        raise ValueError(f"{name} must contain indices in [0, {n}), got {bad}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a neuron, got {out}")
    return out


def check_x_1d(x: ArrayLike, name: str = "x") -> FloatArray:
    """Accept 1-D inputs as shape (m,) or (m, 1); return shape (m,)."""
    if np.ndim(x) == 2:
        arr = as_float_array(x, name, 2)
        if arr.shape[1] != 1:
            raise ValueError(f"{name} must be 1-D data, shape (m,) or (m, 1), got {arr.shape}")
        return arr[:, 0]
    return as_float_array(x, name, 1)


# --------------------------------------------------------------------------- local least squares


def feature_matrix(X: ArrayLike, D: ArrayLike, S: Iterable[int] | None = None) -> FloatArray:
    r"""Features of a frozen pattern, :math:`\Phi(D,S) = [D_j \tilde X]_{j\in S}`.

    Parameters
    ----------
    X : array_like, shape (m, d)
        Inputs.
    D : array_like of bool or 0/1, shape (m, n)
        Activation pattern, :math:`D_{ij} = 1` iff point :math:`i` activates neuron :math:`j`.
    S : sequence of int, optional
        Neuron indices (distinct, in ``range(n)``); ``None`` means all neurons.

    Returns
    -------
    ndarray, shape (m, |S|(d+1))
        Column block :math:`k` is :math:`D_{:,S_k} \odot \tilde X`, in the order of ``S``.
        Any network with pattern :math:`D` whose neurons outside :math:`S` carry no weight has
        outputs :math:`N = \sum_{j\in S} c_j D_j\tilde X v_j \in \mathrm{range}\,\Phi(D,S)`.
    """
    X = as_float_array(X, "X", 2)
    D = check_pattern(D, X.shape[0])
    S = check_neuron_set(S, D.shape[1])
    Xt = augment(X)
    return (D[:, S, None] * Xt[:, None, :]).reshape(X.shape[0], -1)


def local_ls_fit(X: ArrayLike, y: ArrayLike, D: ArrayLike, S: Iterable[int] | None = None) -> FloatArray:
    r"""Orthogonal projection :math:`P y` of the targets onto :math:`\mathrm{range}\,\Phi(D,S)`.

    Computed as :math:`\Phi\hat\beta` with :math:`\hat\beta` the minimum-norm least-squares
    solution of :math:`\Phi\beta \approx y` (SVD-based ``numpy.linalg.lstsq``, which handles
    the rank deficiency that is the rule here -- e.g. two neurons with the same pattern --
    and never forms the normal equations).

    Parameters
    ----------
    X, y : array_like, shapes (m, d) and (m,)
        Data.
    D, S
        Pattern and neuron set, as in :func:`feature_matrix`.

    Returns
    -------
    ndarray, shape (m,)
        Fitted values :math:`Py`: the outputs of the best network with pattern :math:`D`
        (neurons outside :math:`S` silent), if the pattern could be kept while fitting.
    """
    X, y = check_data(X, y)
    Phi = feature_matrix(X, D, S)
    if Phi.shape[1] == 0:
        return np.zeros_like(y)
    beta = np.linalg.lstsq(Phi, y, rcond=None)[0]
    return Phi @ beta


def local_ls_level(X: ArrayLike, y: ArrayLike, D: ArrayLike, S: Iterable[int] | None = None) -> float:
    r"""Local least-squares level :math:`L^*(D,S) = \frac{1}{2m}\|(I-P)y\|^2`.

    :math:`P` is the orthogonal projector onto :math:`\mathrm{range}\,\Phi(D,S)`
    (:func:`feature_matrix`). Since every network with pattern :math:`D` and silent neurons
    outside :math:`S` has outputs in that range, :math:`L^*(D,S)` is a lower bound of their
    loss, and it is attained when the pattern survives the fit. It is non-increasing as
    :math:`S` grows (the range grows), and ``S = []`` gives :math:`\frac{1}{2m}\|y\|^2`.

    Parameters are as in :func:`local_ls_fit`.
    """
    X, y = check_data(X, y)
    e = y - local_ls_fit(X, y, D, S)
    return float(e @ e) / (2 * X.shape[0])


def neuron_contributions(net: ShallowReLU, X: ArrayLike) -> FloatArray:
    r"""RMS size of each neuron's output, :math:`|c_j|\,\|\mathrm{relu}(\tilde X v_j)\|_2/\sqrt m`.

    Returns
    -------
    ndarray, shape (n,)
    """
    X = check_inputs(check_net(net), X)
    A = np.maximum(X @ net.W.T + net.b, 0.0)
    return np.abs(net.c) * np.sqrt(np.mean(A * A, axis=0))


def significant_neurons(
    net: ShallowReLU, X: ArrayLike, y: ArrayLike, rel_tol: float = SIGNIFICANCE_RTOL
) -> list[int]:
    r"""Neurons that carry weight: :math:`S = \{j : s_j > 0,\ s_j \ge \text{rel\_tol}\cdot\|y\|_2/\sqrt m\}`.

    Here :math:`s_j = |c_j|\,\|\mathrm{relu}(\tilde X v_j)\|_2/\sqrt m` is the RMS of neuron
    :math:`j`'s contribution to the outputs (:func:`neuron_contributions`), compared with the
    RMS of the targets. The rule is scale-free: multiplying the targets and the output
    weights by the same constant changes no decision.

    Parameters
    ----------
    net : ShallowReLU
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
        Targets; only their RMS :math:`\|y\|_2/\sqrt m` is used, as the yardstick.
    rel_tol : float, default 1e-3
        Relative threshold in :math:`[0, 1]`. ``0`` keeps every neuron with a non-zero
        contribution (the set :math:`\{c_j \ne 0\}` of fact 1, restricted to neurons that fire).

    Returns
    -------
    list of int
        Sorted neuron indices (empty if no neuron contributes at that level).

    Notes
    -----
    Why the targets are the yardstick: with a small initialisation of scale :math:`\alpha` a
    neuron that has not escaped contributes :math:`s_j = O(\alpha^2)` (both :math:`c_j` and
    :math:`v_j` are :math:`O(\alpha)`), one that has grown contributes :math:`O(\|y\|/\sqrt m)`.
    Measured against the targets, *every* neuron is negligible on the initial saddle plateau, so
    :math:`S = \emptyset` and :math:`L^*(D, \emptyset) = \|y\|^2/(2m)`, the loss of the zero
    network, which is exactly that plateau's level (claim C2's "a neuron that carried no weight
    starts to grow"). A rule relative to the largest neuron would instead call the least tiny
    neuron significant there. Why :math:`10^{-3}`: for the design's :math:`\alpha = 10^{-3}` the two
    populations are separated by about six orders of magnitude and :math:`10^{-3}` sits
    geometrically in the middle; a neuron below it changes the outputs by less than 0.1% of
    the targets' size. In the lazy regime every neuron is significant, as it should be.
    """
    net, X, y = check_problem(net, X, y)
    rel_tol = check_positive_float(rel_tol, "rel_tol", allow_zero=True)
    if rel_tol > 1:
        raise ValueError(f"rel_tol must lie in [0, 1], got {rel_tol}")
    s = neuron_contributions(net, X)
    yardstick = np.sqrt(np.mean(y * y))
    return [int(j) for j in np.flatnonzero((s > 0) & (s >= rel_tol * yardstick))]


def lstar_of_network(net: ShallowReLU, X: ArrayLike, y: ArrayLike, rel_tol: float = SIGNIFICANCE_RTOL) -> float:
    r""":math:`L^*(D, S)` for the network's current pattern and :math:`S` = its significant neurons.

    This is the plateau level predicted for the network's current state: the loss gradient
    flow approaches while the pattern stays fixed and the insignificant neurons stay small.
    See :func:`significant_neurons` for ``rel_tol``.
    """
    net, X, y = check_problem(net, X, y)
    S = significant_neurons(net, X, y, rel_tol)
    D = X @ net.W.T + net.b > 0
    return local_ls_level(X, y, D, S)


# --------------------------------------------------------------------------- kernel and bound


def kernel(net: ShallowReLU, X: ArrayLike, S: Iterable[int] | None = None) -> FloatArray:
    r"""Fixed-pattern kernel :math:`H = \frac1m\sum_{j\in S}[g_j g_j^\top + c_j^2 D_j\tilde X\tilde X^\top D_j]`.

    With :math:`g_j = D_j\tilde X v_j = \mathrm{relu}(\tilde X v_j)`. Written with the
    activations :math:`A = [g_j]_j` and :math:`C = D\,\mathrm{diag}(c)` it is

    .. math::

        H = \tfrac1m\big(A A^\top + (C C^\top)\odot(\tilde X\tilde X^\top)\big)
          = \tfrac1m J J^\top,

    where :math:`J = \partial N/\partial\theta` is the output Jacobian restricted to the
    parameters of the neurons in :math:`S`. Gradient flow
    :math:`\dot\theta = -\nabla L = -\frac1m J^\top r` therefore moves the outputs by
    :math:`\dot N = J\dot\theta = -H r` (with all neurons, ``S=None``).

    Parameters
    ----------
    net : ShallowReLU
    X : array_like, shape (m, d)
    S : sequence of int, optional
        Restrict to these neurons (``None``: all).

    Returns
    -------
    ndarray, shape (m, m)
        Symmetric positive semi-definite.
    """
    net = check_net(net)
    X = check_inputs(net, X)
    S = check_neuron_set(S, net.n)
    Z = (X @ net.W.T + net.b)[:, S]
    A = np.maximum(Z, 0.0)
    C = (Z > 0) * net.c[S]
    Xt = augment(X)
    return (A @ A.T + (C @ C.T) * (Xt @ Xt.T)) / X.shape[0]


def _check_rtol(rtol: object) -> float:
    rtol = check_positive_float(rtol, "rtol", allow_zero=True)
    if rtol >= 1:
        raise ValueError(f"rtol must lie in [0, 1), got {rtol}")
    return rtol


def smallest_positive_eigenvalue(H: ArrayLike, rtol: float = EIGENVALUE_RTOL) -> float:
    r"""Smallest eigenvalue of a symmetric PSD matrix that exceeds :math:`\text{rtol}\cdot\lambda_{\max}`.

    Eigenvalues at or below :math:`\text{rtol}\,\lambda_{\max}` are treated as zero (they are
    the kernel's null space, resolved only to roundoff, :math:`\sim 10^{-16}\,m\,\lambda_{\max}`;
    the default :math:`10^{-10}` leaves a wide margin above that).

    Parameters
    ----------
    H : array_like, shape (m, m)
        Symmetric (to :math:`10^{-10}` relative) and finite.
    rtol : float, default 1e-10
        Relative zero threshold, in :math:`[0, 1)`.

    Returns
    -------
    float
        The eigenvalue, or ``0.0`` if :math:`H = 0` (no positive eigenvalue: no decay).
    """
    H = as_float_array(H, "H", 2)
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"H must be square, got shape {H.shape}")
    scale = np.max(np.abs(H))
    if np.max(np.abs(H - H.T)) > 1e-10 * scale:
        raise ValueError("H must be symmetric")
    rtol = _check_rtol(rtol)
    ev = np.linalg.eigvalsh(H)
    positive = ev[ev > rtol * ev[-1]]
    return float(positive[0]) if ev[-1] > 0 and positive.size else 0.0


def kernel_lambda(
    net: ShallowReLU, X: ArrayLike, S: Iterable[int] | None = None, rtol: float = EIGENVALUE_RTOL
) -> float:
    r"""Smallest positive eigenvalue :math:`\lambda` of :func:`kernel` (the rate in :func:`convergence_bound`)."""
    rtol = _check_rtol(rtol)
    return smallest_positive_eigenvalue(kernel(net, X, S), rtol)


def convergence_bound(L0_minus_Lstar: float, lambdas: ArrayLike, times: ArrayLike) -> FloatArray:
    r"""Fixed-pattern bound :math:`(L(t_0)-L^*)\exp\!\big(-2\int_{t_0}^{t}\lambda(s)\,ds\big)`.

    Parameters
    ----------
    L0_minus_Lstar : float
        :math:`L(t_0) - L^* \ge 0` (clip a roundoff-negative difference with ``max(., 0)``).
    lambdas : array_like, shape (k,)
        :math:`\lambda(t_i) \ge 0`, the smallest positive eigenvalue of :math:`H(t_i)`
        (:func:`kernel_lambda`, with the :math:`\frac1m` of :func:`kernel`).
    times : array_like, shape (k,)
        Strictly increasing times :math:`t_0 < t_1 < \dots`.

    Returns
    -------
    ndarray, shape (k,)
        The bound at each time; the integral is the trapezoid rule on the given grid, so the
        grid must resolve :math:`\lambda(t)`.

    Notes
    -----
    Derivation (gradient flow, pattern :math:`D` fixed on :math:`[t_0, t]`). Let :math:`P` be
    the projector onto :math:`V = \mathrm{range}\,\Phi(D,S)` with :math:`N(t) \in V`, and
    :math:`e = Pr = N - Py`. Then :math:`r = e - (I-P)y` with the two parts orthogonal, so

    .. math:: L - L^* = \tfrac{1}{2m}\|e\|^2 .

    The flow :math:`\dot\theta = -\frac1m J^\top r` gives :math:`\dot N = -Hr`,
    :math:`H = \frac1m JJ^\top`. Every column of :math:`J` lies in :math:`V`, so
    :math:`H(I-P) = 0` and :math:`\dot e = P\dot N = -He`. Hence

    .. math::

        \frac{d}{dt}\tfrac{1}{2m}\|e\|^2 = -\tfrac1m e^\top H e
        \le -\tfrac{\lambda}{m}\|e\|^2 = -2\lambda\,(L - L^*),

    provided :math:`e \in \mathrm{range}\,H`, which holds when :math:`\mathrm{range}\,H = V`:
    true e.g. when every neuron of :math:`S` has :math:`c_j \ne 0` (the columns
    :math:`c_j D_j\tilde X` of :math:`J` then span :math:`V`) and the neurons outside
    :math:`S` are exactly zero. Grönwall's lemma gives the bound. The constant is
    :math:`2\lambda`, not :math:`\lambda`: the *error vector* :math:`e` decays at rate
    :math:`\lambda`, the loss is quadratic in it. The bound is sharp when :math:`e` lies along
    the eigenvector of :math:`\lambda` and :math:`H` is constant (lazy regime).
    """
    gap = check_positive_float(L0_minus_Lstar, "L0_minus_Lstar", allow_zero=True)
    lambdas = as_float_array(lambdas, "lambdas", 1)
    times = as_float_array(times, "times", 1)
    if lambdas.shape != times.shape:
        raise ValueError(f"lambdas and times must have the same length, got {lambdas.shape} and {times.shape}")
    if np.any(lambdas < 0):
        raise ValueError("lambdas must be >= 0")
    if np.any(np.diff(times) <= 0):
        raise ValueError("times must be strictly increasing")
    steps = 0.5 * (lambdas[1:] + lambdas[:-1]) * np.diff(times)
    integral = np.concatenate([[0.0], np.cumsum(steps)])
    return gap * np.exp(-2.0 * integral)


# --------------------------------------------------------------------------- facts 2, 3, 4


def conserved_quantities(net: ShallowReLU) -> FloatArray:
    r"""Per-neuron balance :math:`c_j^2 - \|v_j\|^2`, conserved by gradient flow (fact 2).

    With :math:`R_j = \frac1m\tilde X^\top D_j r` (:func:`stationarity_residuals`) the flow is
    :math:`\dot c_j = -v_j\cdot R_j`, :math:`\dot v_j = -c_j R_j`, so
    :math:`\frac{d}{dt}(c_j^2 - \|v_j\|^2) = -2c_j v_j\cdot R_j + 2 c_j v_j\cdot R_j = 0`
    (also across pattern changes, since the identity holds at every instant). A gradient
    descent step of size :math:`\eta` changes it by exactly
    :math:`\eta^2\big((\partial_{c_j}L)^2 - \|\nabla_{v_j}L\|^2\big)`.

    Returns
    -------
    ndarray, shape (n,)
    """
    net = check_net(net)
    return net.c**2 - np.sum(net.v**2, axis=1)


def stationarity_residuals(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> FloatArray:
    r"""Rows :math:`R_j = \frac1m\tilde X^\top D_j r`: the residual's affine moments on each neuron's active set.

    They are the building blocks of the gradient,

    .. math:: \nabla_{v_j} L = c_j R_j, \qquad \partial_{c_j} L = v_j\cdot R_j,

    so a stationary point with :math:`c_j \ne 0` has :math:`R_j = 0` (fact 4): the residual
    is orthogonal to every affine function on neuron :math:`j`'s active data.

    Returns
    -------
    ndarray, shape (n, d+1)
        Columns follow :math:`v_j = (w_j, b_j)`.
    """
    net, X, y = check_problem(net, X, y)
    Z = X @ net.W.T + net.b
    r = np.maximum(Z, 0.0) @ net.c - y
    return ((Z > 0) * r[:, None]).T @ augment(X) / X.shape[0]


def escape_rate(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> FloatArray:
    r"""Growth rate :math:`\|R_j\| = \|\frac1m\tilde X^\top D_j r\|` of each neuron's linearised flow (fact 3).

    For a small neuron :math:`(c_j, v_j)` the residual :math:`r` hardly depends on it and the
    pattern :math:`D_j` depends only on the *direction* of :math:`v_j`. Freezing both, the
    flow :math:`\dot c_j = -\frac1m r^\top D_j\tilde X v_j = -u^\top v_j`,
    :math:`\dot v_j = -\frac{c_j}{m}\tilde X^\top D_j r = -c_j u` with :math:`u = R_j` is
    linear,

    .. math::

        \frac{d}{dt}\begin{pmatrix} c_j\\ v_j\end{pmatrix}
        = -\begin{pmatrix} 0 & u^\top \\ u & 0\end{pmatrix}
          \begin{pmatrix} c_j\\ v_j\end{pmatrix},

    with eigenvalues :math:`\pm\|u\|` (directions :math:`(1, \mp\hat u)`) and :math:`0`
    (directions :math:`(0, v)`, :math:`v \perp u`). So the neuron's parameters grow like
    :math:`e^{\|u\| t}` along :math:`c_j = -\hat u\cdot v_j`, :math:`|c_j| = \|v_j\|`, and its
    output contribution (:math:`\propto c_j\|v_j\|`) like :math:`e^{2\|u\|t}`, as long as the
    pattern of :math:`v_j`'s direction does not change.

    Under :math:`\mathrm{relu}'(0) = 0` a neuron with :math:`v_j = 0` exactly has an empty
    pattern and rate 0: the rate belongs to the direction of :math:`v_j`.

    Returns
    -------
    ndarray, shape (n,)
    """
    return np.linalg.norm(stationarity_residuals(net, X, y), axis=1)


def predicted_escape_time(rate: ArrayLike, scale: float, target: float = 1.0) -> float | FloatArray:
    r"""Escape time :math:`\log(\text{target}/\text{scale})/\text{rate}` of a neuron of size ``scale``.

    The time for a parameter size to grow from ``scale`` to ``target`` under the linearised
    growth :math:`\text{scale}\cdot e^{\text{rate}\,t}` of :func:`escape_rate`. This is why
    the escape time grows linearly in :math:`\log(1/\alpha)` for an initialisation of scale :math:`\alpha`.

    Parameters
    ----------
    rate : float or array_like
        Growth rates :math:`\ge 0`; a zero rate gives ``inf``.
    scale : float
        Initial parameter size, :math:`> 0`.
    target : float, default 1.0
        Parameter size that counts as escaped, :math:`> 0`.

    Returns
    -------
    float or ndarray
        Like ``rate``; ``0`` if ``scale >= target`` (nothing to escape from).
    """
    scalar = np.ndim(rate) == 0
    arr = as_float_array(np.reshape(rate, -1) if scalar else rate, "rate", 1)
    if np.any(arr < 0):
        raise ValueError("rate must be >= 0")
    scale = check_positive_float(scale, "scale")
    target = check_positive_float(target, "target")
    log_gap = max(float(np.log(target / scale)), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = log_gap / arr
    t[arr == 0] = np.inf if log_gap > 0 else 0.0
    return float(t[0]) if scalar else t


# --------------------------------------------------------------------------- 1-D cells


@dataclass(frozen=True, eq=False)
class Cell:
    r"""One cell between consecutive breakpoints of a 1-D network, with the data in it.

    Attributes
    ----------
    lo, hi : float
        The interval. Data points with ``lo < x <= hi`` belong to the cell (the first cell
        also takes ``x == lo``): a point exactly on a breakpoint goes to the left cell.
    indices : ndarray of int
        Indices (into the caller's arrays) of the cell's data points, sorted by ``x``.
    ls_slope, ls_intercept : float or None
        Least-squares regression line of the cell's data; ``None`` with fewer than two
        distinct ``x`` values.
    net_values : ndarray
        :math:`N(x_i)` at the cell's data points.
    net_slope, net_intercept : float
        The network's affine form on the open cell, :math:`\sum_{j\,\mathrm{active}} c_j w_j`
        and :math:`\sum_{j\,\mathrm{active}} c_j b_j` (active at the cell's midpoint).
    affine_error : float
        :math:`\max_i |N(x_i) - (\text{net\_slope}\,x_i + \text{net\_intercept})|` over the
        cell's data: 0 when the cell contains no breakpoint of any neuron (always, if all
        neurons define the cells).
    ls_deviation : float or None
        :math:`\max_i |N(x_i) - (\text{ls\_slope}\,x_i + \text{ls\_intercept})|`: 0 when the
        network *is* the data's regression line on this cell (fact 4 in 1-D).
    """

    lo: float
    hi: float
    indices: IntArray
    ls_slope: float | None
    ls_intercept: float | None
    net_values: FloatArray
    net_slope: float
    net_intercept: float
    affine_error: float
    ls_deviation: float | None

    @property
    def size(self) -> int:
        """Number of data points in the cell."""
        return int(self.indices.size)

    def is_ls_fit(self, atol: float = 1e-8) -> bool:
        """Whether the network coincides with the data's regression line on the cell to ``atol``."""
        return self.ls_deviation is not None and self.ls_deviation <= atol


def _ls_line(x: FloatArray, y: FloatArray) -> tuple[float | None, float | None]:
    """Least-squares line (slope, intercept); ``(None, None)`` with < 2 distinct x."""
    if x.size < 2 or np.all(x == x[0]):
        return None, None
    xm, ym = x.mean(), y.mean()
    slope = float(np.dot(x - xm, y - ym) / np.dot(x - xm, x - xm))
    return slope, float(ym - slope * xm)


def _make_cell(
    net: ShallowReLU, lo: float, hi: float, idx: IntArray, x: FloatArray, y: FloatArray, N: FloatArray
) -> Cell:
    mid = 0.5 * (lo + hi)
    on = net.W[:, 0] * mid + net.b > 0
    slope = float(np.sum(net.c[on] * net.W[on, 0]))
    intercept = float(np.sum(net.c[on] * net.b[on]))
    xs, values = x[idx], N[idx]
    affine_error = float(np.max(np.abs(values - (slope * xs + intercept)), initial=0.0))
    ls_slope, ls_intercept = _ls_line(xs, y[idx])
    deviation = None if ls_slope is None else float(np.max(np.abs(values - (ls_slope * xs + ls_intercept))))
    return Cell(lo, hi, idx, ls_slope, ls_intercept, values, slope, intercept, affine_error, deviation)


def cells_1d(net: ShallowReLU, x: ArrayLike, y: ArrayLike, S: Iterable[int] | None = None) -> list[Cell]:
    r"""Split the data range at the network's breakpoints and compare the network with each cell's regression line.

    Parameters
    ----------
    net : ShallowReLU
        A 1-D network (``d = 1``).
    x : array_like, shape (m,) or (m, 1)
        Inputs.
    y : array_like, shape (m,)
        Targets.
    S : sequence of int, optional
        Only these neurons' breakpoints :math:`t_j = -b_j/w_j` cut cells (``None``: all;
        e.g. :func:`significant_neurons` to ignore dormant ones). Neurons with
        :math:`w_j = 0` have no breakpoint.

    Returns
    -------
    list of Cell
        Cells from left to right covering :math:`[\min x, \max x]`, cut at the distinct
        breakpoints strictly inside that range.

    Notes
    -----
    At a stationary point every neuron with :math:`c_j \ne 0` sees a residual orthogonal to
    affine functions on its active set (fact 4). In 1-D the active sets are half-lines, and
    differences of consecutive ones are cells, so where these constraints reach a cell the
    network restricted to it is the least-squares line of the cell's data
    (``ls_deviation == 0``).
    """
    net = check_net(net)
    if net.d != 1:
        raise ValueError(f"cells_1d needs a 1-D network (d = 1), got d = {net.d}")
    x = check_x_1d(x)
    y = as_float_array(y, "y", 1)
    if y.shape != x.shape:
        raise ValueError(f"x and y must have the same length m, got {x.shape[0]} and {y.shape[0]}")
    S = check_neuron_set(S, net.n)
    w, b = net.W[S, 0], net.b[S]
    t = -b[w != 0] / w[w != 0]
    lo, hi = x.min(), x.max()
    edges = np.concatenate([[lo], np.unique(t[(t > lo) & (t < hi)]), [hi]])
    order = np.argsort(x, kind="stable")
    cell_of = np.clip(np.searchsorted(edges, x[order], side="left") - 1, 0, None)
    N = net(x[:, None])
    return [
        _make_cell(net, float(edges[k]), float(edges[k + 1]), order[cell_of == k], x, y, N)
        for k in range(edges.size - 1)
    ]
