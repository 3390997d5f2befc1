r"""The orthogonal greedy algorithm (OGA) for shallow ReLU networks, a peer of ANLS.

Siegel & Xu (*Optimal convergence rates for the orthogonal greedy algorithm*, IEEE Trans. Inf.
Theory 2022) build a shallow network one neuron at a time from a dictionary of single neurons.
Here the dictionary, on data :math:`X`, is

.. math::

    \mathbb D = \Big\{ g = \frac{\varphi}{\|\varphi\|} :\ \varphi = \mathrm{relu}\big(s(w\cdot x - \tau)\big),\
    s = \pm 1,\ w \in \Omega,\ \tau \in \{w\cdot x_i\}_{i=1}^m,\ \varphi \ne 0 \Big\},

with :math:`\Omega = \{1\}` in 1-D (the orientation :math:`s` gives both directions) and, for
:math:`d > 1`, ``n_directions`` unit vectors drawn once (Gaussian, normalised) from ``rng``:
a fixed, finite dictionary, as the algorithm's analysis assumes. Starting from
:math:`u_0 = 0`, step :math:`k` picks the element most correlated with the residual and
projects onto everything chosen so far:

.. math::

    g_k = \arg\max_{g\in\mathbb D} |\langle g, y - u_{k-1}\rangle|, \qquad
    u_k = P_{\mathrm{span}(g_1,\dots,g_k)}\, y .

The correlations of all :math:`2m` thresholds of a direction come at once from sorted
cumulative sums (:func:`~plateau_lib.trainers.anls.threshold_gains` with
``thresholds="data"``; its gain is :math:`\langle g, r\rangle^2`), and the projection is a
linear least-squares solve for the output weights. Because :math:`y - u_{k-1}` is orthogonal to
every chosen element, none is chosen twice.

Differences from ANLS: OGA never moves a neuron once placed (only the output weights are
re-fitted), so a neuron placed early for a coarse residual stays where it is.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_data, check_positive_int, check_rng, check_time_limit, time_limit_message
from ..network import evaluate, split_params
from ..recording import Recorder
from ..result import BUDGET, CONVERGED, INTERRUPTED, TrainResult
from ._gradient_norm import gradient_norm
from ._progress import progress_bar
from .anls import CANCEL_RTOL, balance_neurons


class _Dictionary:
    r"""All elements :math:`\mathrm{relu}(s(p_{:,q} - \tau))`, :math:`\tau` at the data, for fixed projections.

    The sort of every column of the projections :math:`P` (m, q) and the cumulative sums of
    :math:`1, p, p^2` are computed once; each query then needs the cumulative sums of
    :math:`r` and :math:`p\,r` only, for all directions at once (the formulas of
    :func:`~plateau_lib.trainers.anls.threshold_gains`, evaluated at every sorted position, ties
    sending the whole block of equal values to the inactive side).
    """

    def __init__(self, P: np.ndarray) -> None:
        m, q = P.shape
        self.order = np.argsort(P, axis=0, kind="stable")
        self.ps = np.take_along_axis(P, self.order, axis=0)
        cols = np.arange(q)
        # tie blocks: for sorted position k, [lo, hi) is the block of values equal to ps[k]
        self.hi = np.empty((m, q), dtype=np.int64)
        self.lo = np.empty((m, q), dtype=np.int64)
        for j in cols:
            self.hi[:, j] = np.searchsorted(self.ps[:, j], self.ps[:, j], side="right")
            self.lo[:, j] = np.searchsorted(self.ps[:, j], self.ps[:, j], side="left")
        self.C = np.zeros((m + 1, q, 3))
        np.cumsum(np.stack([np.ones((m, q)), self.ps, self.ps**2], axis=2), axis=0, out=self.C[1:])
        self.m, self.cols = m, cols

    def best(self, r: np.ndarray) -> tuple[float, int, float, float] | None:
        """``(gain, direction index, s, tau)`` of the element most correlated with ``r``."""
        m, cols, ps = self.m, self.cols, self.ps
        rs = r[self.order]
        Cr = np.zeros((m + 1, ps.shape[1], 2))
        np.cumsum(np.stack([rs, ps * rs], axis=2), axis=0, out=Cr[1:])
        best = None
        for s, idx, suffix in ((1.0, self.hi, True), (-1.0, self.lo, False)):
            S = self.C[idx, cols] if not suffix else self.C[m][None] - self.C[idx, cols]
            Sr = Cr[idx, cols] if not suffix else Cr[m][None] - Cr[idx, cols]
            N, P, Q = S[..., 0], S[..., 1], S[..., 2]
            T, R = Sr[..., 0], Sr[..., 1]
            num = R - ps * T
            den = Q - 2 * ps * P + ps * ps * N
            ok = den > CANCEL_RTOL * (Q + ps * ps * N)
            gain = np.where(ok, num * num / np.where(ok, den, 1.0), 0.0)
            k = int(np.argmax(gain))
            i, q = np.unravel_index(k, gain.shape)
            if gain[i, q] > 0 and (best is None or gain[i, q] > best[0]):
                best = (float(gain[i, q]), int(q), s, float(ps[i, q]))
        return best


def train_oga(
    X: ArrayLike,
    y: ArrayLike,
    *,
    width: int,
    rng: np.random.Generator | None = None,
    n_directions: int = 64,
    record_every: int = 1,
    progress: bool = False,
    time_limit: float | None = None,
) -> TrainResult:
    r"""Grow a width-``width`` network by the orthogonal greedy algorithm (module docstring).

    Parameters
    ----------
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    width : int
        Number of neurons to add, :math:`n \ge 1`.
    rng : numpy.random.Generator
        Draws the dictionary's directions; required for :math:`d > 1`, unused in 1-D.
    n_directions : int
        Number of directions :math:`|\Omega|` for :math:`d > 1`.
    record_every : int
        Record every this many added neurons (and at every pattern change, i.e. every step).
    progress : bool
        Show a progress bar.
    time_limit : float, optional
        Stop after the first added neuron that ends past this many wall-clock seconds
        (``status="budget"``). ``None``: no limit.

    Returns
    -------
    TrainResult
        ``method="oga"``. The network always has ``width`` neurons; those not yet added are
        zero (:math:`c_j = 0`, :math:`v_j = 0`, never active), so step :math:`k` records the
        network :math:`u_k` with :math:`k` neurons and step 0 the zero network. ``nfev`` counts
        loss evaluations (one per step and one at the start), ``njev`` least-squares solves;
        ``extra["directions"]`` holds :math:`\Omega`. The run ends early if no dictionary
        element correlates with the residual (the data are fitted). Ctrl-C returns the network
        so far (``status="interrupted"``).
    """
    X, y = check_data(X, y)
    width = check_positive_int(width, "width")
    n_directions = check_positive_int(n_directions, "n_directions")
    record_every = check_positive_int(record_every, "record_every")
    time_limit = check_time_limit(time_limit)
    m, d = X.shape
    if d > 1 or rng is not None:
        rng = check_rng(rng)
    directions = _directions(d, rng, n_directions)

    n = width
    theta = np.zeros(n * (d + 2))
    c, W, b = split_params(theta, n, d)
    rec = Recorder(record_every, n, d, time_limit)
    ev = evaluate(c, W, b, X, y)
    nfev, njev = 1, 0
    rec.observe(0, ev.active, ev.loss, theta)
    dictionary = _Dictionary(X @ directions.T)
    message, status, k = f"added width={width} neurons", BUDGET, 0
    bar = progress_bar(width, "oga", progress)
    try:
        while k < width and math.isfinite(ev.loss):
            best = dictionary.best(-ev.r)  # residual y - u_{k-1}
            if best is None or best[0] <= 1e-28 * float(y @ y):
                message = f"stopped after {k} neuron(s): no dictionary element correlates with the residual"
                status = CONVERGED
                break
            _, q, s, tau = best
            _add_neuron(c, W, b, k, s * directions[q], -s * tau, X, y)
            njev += 1
            k += 1
            ev = evaluate(c, W, b, X, y)
            nfev += 1
            rec.observe(k, ev.active, ev.loss, theta)
            bar.update(1)
            if k < width and rec.out_of_time():
                message = time_limit_message(time_limit)
                break
    except KeyboardInterrupt:
        message, status = f"interrupted by the user after {k} neurons", INTERRUPTED
        ev = evaluate(c, W, b, X, y)
    finally:
        bar.close()
    return rec.finish(k, ev.active, ev.loss, theta, method="oga", nfev=nfev, njev=njev, status=status,
                      message=message, extra={"directions": directions}, grad_norm=gradient_norm(ev))


def _directions(d: int, rng: np.random.Generator | None, n_directions: int) -> np.ndarray:
    r"""The directions :math:`\Omega` of the dictionary: :math:`\{1\}` in 1-D, else ``n_directions``
    Gaussian draws normalised (a zero draw dropped)."""
    if d == 1:
        return np.ones((1, 1))
    directions = rng.standard_normal((n_directions, d))
    norms = np.linalg.norm(directions, axis=1)
    return directions[norms > 0] / norms[norms > 0, None]


def _add_neuron(c: np.ndarray, W: np.ndarray, b: np.ndarray, k: int, w: np.ndarray, bias: float,
                X: np.ndarray, y: np.ndarray) -> None:
    """Place neuron ``k`` at ``(w, bias)`` and re-fit the output weights of neurons ``0..k`` by least
    squares (the projection :math:`u_k`), balanced; in place."""
    W1, b1 = W[: k + 1].copy(), b[: k + 1].copy()
    W1[k], b1[k] = w, bias
    c1 = np.linalg.lstsq(np.maximum(X @ W1.T + b1, 0.0), y, rcond=None)[0]
    balance_neurons(c1, W1, b1)
    c[: k + 1], W[: k + 1], b[: k + 1] = c1, W1, b1


__all__ = ["train_oga"]
