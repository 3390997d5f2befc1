r"""Shallow ReLU networks: parameters, evaluation, loss, gradient, Jacobian, patterns.

The network is

.. math::

    N(x) = \sum_{j=1}^{n} c_j \,\mathrm{relu}(w_j \cdot x + b_j),

with output weights :math:`c \in \mathbb{R}^n`, inner weights
:math:`W \in \mathbb{R}^{n \times d}` and biases :math:`b \in \mathbb{R}^n`
(no output bias, as in Ainsworth & Shin). On data :math:`X \in \mathbb{R}^{m\times d}`,
:math:`y \in \mathbb{R}^m` the loss is :math:`L = \frac{1}{2m}\sum_i r_i^2` with
residual :math:`r = N(X) - y`. We take :math:`\mathrm{relu}'(0) = 0`, so point
:math:`i` activates neuron :math:`j` iff :math:`w_j \cdot x_i + b_j > 0` (strictly).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import (
    as_float_array,
    check_choice,
    check_data,
    check_positive_float,
    check_positive_int,
    check_rng,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

INIT_SCHEMES = ("normal", "lazy", "uniform_breakpoints")


@dataclass(frozen=True, eq=False)
class ShallowReLU:
    r"""A shallow ReLU network :math:`N(x) = \sum_j c_j\,\mathrm{relu}(w_j\cdot x + b_j)`.

    Parameters
    ----------
    c : array_like, shape (n,)
        Output weights :math:`c_j`.
    W : array_like, shape (n, d)
        Inner weights; row :math:`j` is :math:`w_j`.
    b : array_like, shape (n,)
        Biases :math:`b_j`.

    Notes
    -----
    The arrays are copied and made read-only, so a network is an immutable value:
    trainers return new networks and never modify the one they are given.
    """

    c: FloatArray
    W: FloatArray
    b: FloatArray

    def __post_init__(self) -> None:
        c = as_float_array(self.c, "c", 1).copy()
        W = as_float_array(self.W, "W", 2).copy()
        b = as_float_array(self.b, "b", 1).copy()
        if not (c.shape[0] == W.shape[0] == b.shape[0]):
            raise ValueError(
                f"c, W and b must agree on the width n, got c {c.shape}, W {W.shape}, b {b.shape}"
            )
        for name, arr in (("c", c), ("W", W), ("b", b)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    @property
    def n(self) -> int:
        """Width (number of neurons)."""
        return self.c.shape[0]

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.W.shape[1]

    @property
    def v(self) -> FloatArray:
        r"""Inner parameters :math:`v_j = (w_j, b_j)`, shape (n, d+1)."""
        return np.column_stack([self.W, self.b])

    @property
    def size(self) -> int:
        """Number of scalar parameters, :math:`n(d+2)`."""
        return self.n * (self.d + 2)

    def preactivations(self, X: ArrayLike) -> FloatArray:
        r"""Pre-activations :math:`Z_{ij} = w_j\cdot x_i + b_j`, shape (m, n)."""
        X = check_inputs(self, X)
        return X @ self.W.T + self.b

    def __call__(self, X: ArrayLike) -> FloatArray:
        """Network outputs :math:`N(x_i)`, shape (m,)."""
        return np.maximum(self.preactivations(X), 0.0) @ self.c

    def to_vector(self) -> FloatArray:
        """Flatten the parameters as ``[c, W.ravel(), b]`` (length ``n*(d+2)``)."""
        return np.concatenate([self.c, self.W.ravel(), self.b])

    @classmethod
    def from_vector(cls, theta: ArrayLike, n: int, d: int) -> ShallowReLU:
        """Inverse of :meth:`to_vector` for a network of width ``n`` and dimension ``d``."""
        theta = as_float_array(theta, "theta", 1)
        if theta.shape[0] != n * (d + 2):
            raise ValueError(f"theta must have length n*(d+2) = {n * (d + 2)}, got {theta.shape[0]}")
        return cls(*split_params(theta, n, d))

    def with_params(self, **changes: ArrayLike) -> ShallowReLU:
        """Return a copy with some of ``c``, ``W``, ``b`` replaced."""
        params = {"c": self.c, "W": self.W, "b": self.b}
        unknown = set(changes) - set(params)
        if unknown:
            raise TypeError(f"with_params accepts c, W, b; got {sorted(unknown)}")
        params.update(changes)
        return ShallowReLU(**params)


def split_params(theta: FloatArray, n: int, d: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Views ``(c, W, b)`` into a parameter vector ``[c, W.ravel(), b]`` of :meth:`ShallowReLU.to_vector`.

    ``theta`` may also be a stack of such vectors, shape ``(k, n*(d+2))``; then the views have
    shapes ``(k, n)``, ``(k, n, d)`` and ``(k, n)``. Writing into a view writes into ``theta``.
    """
    lead = theta.shape[:-1]
    return theta[..., :n], theta[..., n : n + n * d].reshape(*lead, n, d), theta[..., n + n * d :]


def augment(X: FloatArray) -> FloatArray:
    r"""The data with a column of ones, :math:`\tilde X = [X, \mathbf 1]`, shape (m, d+1)."""
    return np.column_stack([X, np.ones(X.shape[0])])


def check_inputs(net: ShallowReLU, X: ArrayLike) -> FloatArray:
    X = as_float_array(X, "X", 2)
    if X.shape[1] != net.d:
        raise ValueError(f"X must have d = {net.d} columns to match the network, got {X.shape}")
    return X


def check_net(net: object) -> ShallowReLU:
    if not isinstance(net, ShallowReLU):
        raise TypeError(f"net must be a ShallowReLU, got {type(net).__name__}")
    return net


def check_problem(net: object, X: ArrayLike, y: ArrayLike) -> tuple[ShallowReLU, FloatArray, FloatArray]:
    """Validate a (network, data) pair: shapes agree and everything is finite."""
    net = check_net(net)
    X, y = check_data(X, y)
    if X.shape[1] != net.d:
        raise ValueError(f"X must have d = {net.d} columns to match the network, got {X.shape}")
    return net, X, y


class Evaluation(NamedTuple):
    """Everything one forward/backward pass produces (arrays, not networks).

    ``Z`` are the pre-activations (m, n), ``active`` the pattern ``Z > 0``,
    ``r`` the residual, ``loss`` the loss and ``gc, gW, gb`` the gradient.
    """

    Z: FloatArray
    active: BoolArray
    r: FloatArray
    loss: float
    gc: FloatArray
    gW: FloatArray
    gb: FloatArray


_scratch = threading.local()


def _scratch_buffer(slot: str, shape: tuple[int, int], dtype: np.dtype) -> FloatArray:
    """A per-thread work array of :func:`evaluate`, one per ``slot``, reused while its shape is unchanged.

    Reusing them saves allocating (and page-faulting in) fresh temporaries at every call;
    they never escape: everything :func:`evaluate` returns is a fresh array.
    """
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    buf = buffers.get(slot)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = buffers[slot] = np.empty(shape, dtype)
    return buf


def evaluate(c: FloatArray, W: FloatArray, b: FloatArray, X: FloatArray, y: FloatArray) -> Evaluation:
    r"""One forward and backward pass on raw arrays (the trainers' hot path).

    With :math:`A = \mathrm{relu}(Z)`, :math:`D = [Z > 0]` and :math:`r = Ac - y`:

    .. math::

        \partial_{c_j} L = \tfrac1m (A^\top r)_j,\qquad
        \partial_{w_j} L = \tfrac{c_j}{m} \sum_i D_{ij} r_i x_i,\qquad
        \partial_{b_j} L = \tfrac{c_j}{m} \sum_i D_{ij} r_i .

    No validation: callers validate once, before their loop.
    """
    m, d = X.shape
    Z = X * W.T if d == 1 else X @ W.T  # for d = 1 the same products, without BLAS's overhead
    Z += b
    active = Z > 0
    # A and then D live in one reused work array; np.fmax (not np.maximum) maps NaN to 0
    # like np.where(active, Z, 0.0) did.
    A = np.fmax(Z, 0.0, out=_scratch_buffer("A", Z.shape, Z.dtype))
    r = A @ c
    r -= y
    gc = A.T @ r
    gc /= m
    # sum_i D_ij r_i (x_i, 1) = ([r*X, r]^T D)_j: one BLAS product with the (d+1, m) matrix
    # [r*X, r]^T instead of forming G = D * r (m, n) and reducing it twice.
    D = A
    np.copyto(D, active.view(np.uint8))  # uint8 -> float64 casts a little faster than bool
    RT = _scratch_buffer("RT", (d + 1, m), r.dtype)
    np.multiply(X.T, r, out=RT[:d])
    RT[d] = r
    S = RT @ D
    S *= c / m
    return Evaluation(Z, active, r, float(r @ r) / (2 * m), gc, S[:d].T.copy(), S[d])


def loss(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> float:
    r"""Mean-square loss :math:`L = \frac{1}{2m}\sum_i (N(x_i) - y_i)^2`."""
    net, X, y = check_problem(net, X, y)
    r = net(X) - y
    return float(r @ r) / (2 * X.shape[0])


def residual(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> FloatArray:
    """Residual :math:`r = N(X) - y`, shape (m,)."""
    net, X, y = check_problem(net, X, y)
    return net(X) - y


def gradient(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> ShallowReLU:
    r"""Gradient of the loss, returned as a network with the parameters' shapes.

    .. math::

        \nabla_{c_j} L = \tfrac1m\sum_i r_i\,\mathrm{relu}(w_j\cdot x_i+b_j),\quad
        \nabla_{v_j} L = \tfrac{c_j}{m}\sum_i r_i D_{ij}\,(x_i, 1),

    with :math:`\mathrm{relu}'(0) = 0`.
    """
    net, X, y = check_problem(net, X, y)
    ev = evaluate(net.c, net.W, net.b, X, y)
    return ShallowReLU(ev.gc, ev.gW, ev.gb)


def jacobian(net: ShallowReLU, X: ArrayLike) -> FloatArray:
    r"""Jacobian of the outputs :math:`\partial N(x_i)/\partial\theta`, shape (m, n(d+2)).

    Columns follow :meth:`ShallowReLU.to_vector`: :math:`\partial N_i/\partial c_j =
    \mathrm{relu}(z_{ij})`, :math:`\partial N_i/\partial w_j = c_j D_{ij} x_i`,
    :math:`\partial N_i/\partial b_j = c_j D_{ij}`.
    """
    X = check_inputs(check_net(net), X)
    Z = X @ net.W.T + net.b
    return jacobian_from_preactivations(Z, net.c, X)


def jacobian_from_preactivations(Z: FloatArray, c: FloatArray, X: FloatArray) -> FloatArray:
    """Jacobian of the outputs given pre-activations ``Z`` (no validation)."""
    m, n = Z.shape
    DC = (Z > 0) * c
    JW = (DC[:, :, None] * X[:, None, :]).reshape(m, -1)
    return np.hstack([np.maximum(Z, 0.0), JW, DC])


def activation_pattern(net: ShallowReLU, X: ArrayLike) -> BoolArray:
    r"""Activation pattern :math:`D_{ij} = [w_j\cdot x_i + b_j > 0]`, shape (m, n)."""
    return check_net(net).preactivations(X) > 0


def activation_counts(net: ShallowReLU, X: ArrayLike) -> NDArray[np.int64]:
    r"""Counts :math:`a_j = \sum_i D_{ij}` of data points activating each neuron, shape (n,)."""
    return activation_pattern(net, X).sum(axis=0)


def breakpoints_1d(net: ShallowReLU) -> FloatArray:
    r"""Breakpoints :math:`-b_j / w_j` of a 1-D network (``nan`` where :math:`w_j = 0`)."""
    net = check_net(net)
    if net.d != 1:
        raise ValueError(f"breakpoints_1d needs a 1-D network (d = 1), got d = {net.d}")
    w = net.W[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w != 0, -net.b / w, np.nan)


def init_network(
    n: int,
    d: int,
    *,
    scale: float,
    rng: np.random.Generator,
    scheme: str = "normal",
    x_range: tuple[float, float] = (-1.0, 1.0),
) -> ShallowReLU:
    r"""Draw a random network of width ``n`` on inputs of dimension ``d``.

    Parameters
    ----------
    n, d : int
        Width and input dimension, both >= 1.
    scale : float
        Initialisation scale :math:`\alpha > 0` (meaning depends on ``scheme``).
    rng : numpy.random.Generator
        The only source of randomness.
    scheme : {"normal", "lazy", "uniform_breakpoints"}
        ``"normal"``: every parameter i.i.d. :math:`\mathcal N(0, \alpha^2)` (the paper's
        small-initialisation setting when :math:`\alpha \ll 1`).
        ``"lazy"``: inner parameters :math:`v_j \sim \mathcal N(0, I)` and output weights
        :math:`c_j \sim \mathcal N(0, \alpha^2)` with :math:`\alpha` large: the lazy regime,
        where the outputs move while the pattern barely does.
        ``"uniform_breakpoints"`` (d = 1 only): breakpoints :math:`t_j` drawn uniformly in
        ``x_range``, orientations :math:`w_j = \pm\alpha` with random signs,
        :math:`b_j = -w_j t_j` and :math:`c_j \sim \mathcal N(0, \alpha^2)`.
    x_range : (float, float)
        Data range for ``"uniform_breakpoints"``.
    """
    n = check_positive_int(n, "n")
    d = check_positive_int(d, "d")
    scale = check_positive_float(scale, "scale")
    rng = check_rng(rng)
    scheme = check_choice(scheme, "scheme", INIT_SCHEMES)
    if scheme == "normal":
        return ShallowReLU(
            scale * rng.standard_normal(n), scale * rng.standard_normal((n, d)), scale * rng.standard_normal(n)
        )
    if scheme == "lazy":
        return ShallowReLU(scale * rng.standard_normal(n), rng.standard_normal((n, d)), rng.standard_normal(n))
    if d != 1:
        raise ValueError(f"scheme 'uniform_breakpoints' needs d = 1, got d = {d}")
    lo, hi = (float(v) for v in x_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"x_range must be finite (lo, hi) with lo < hi, got {x_range}")
    t = np.sort(rng.uniform(lo, hi, n))
    w = scale * rng.choice([-1.0, 1.0], n)
    return ShallowReLU(scale * rng.standard_normal(n), w[:, None], -w * t)
