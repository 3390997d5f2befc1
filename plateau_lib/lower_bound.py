r"""A lower bound on the loss of any width-:math:`n` ReLU network on 1-D data (fact 5).

A 1-D network :math:`N(x) = \sum_{j=1}^n c_j\,\mathrm{relu}(w_j x + b_j)` is continuous and
piecewise affine, with a kink only at the breakpoints :math:`t_j = -b_j/w_j` of neurons with
:math:`w_j \ne 0`: at most :math:`n` of them, so at most :math:`n+1` closed intervals on each
of which :math:`N` is affine. Sort the data; the points in each interval form a contiguous
group, and points with equal :math:`x` can all be put in the same group (at a breakpoint
both neighbouring affine pieces agree with :math:`N`). On each group :math:`N` is *some*
affine function, so its squared error there is at least that of the group's own
least-squares line. Summing,

.. math::

    L(N) \;\ge\; \min_{\text{splits into} \le n+1 \text{ groups}}
    \frac{1}{2m}\sum_{\text{groups } G}\ \min_{\alpha,\beta}\sum_{i\in G}(\alpha x_i + \beta - y_i)^2 .

The right side drops the continuity of :math:`N` across breakpoints (and the sign and
magnitude constraints the finitely many neurons impose), so it is a lower bound, generally
not attained. It is computed exactly by dynamic programming over split points.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float_array, check_positive_int

FloatArray = NDArray[np.float64]


class SegmentationFit(NamedTuple):
    """Result of :func:`segmentation_fit`.

    ``loss`` is the optimal value; ``boundaries`` are the split points in :math:`x`
    (midpoints between the last point of a group and the first of the next), increasing.
    Group :math:`k` is the data with ``boundaries[k-1] < x < boundaries[k]``.
    """

    loss: float
    boundaries: FloatArray


def _check_inputs(x: ArrayLike, y: ArrayLike, pieces: object) -> tuple[FloatArray, FloatArray, int]:
    if np.ndim(x) == 2:
        x2 = as_float_array(x, "x", 2)
        if x2.shape[1] != 1:
            raise ValueError(f"x must be 1-D data, shape (m,) or (m, 1), got {x2.shape}")
        x = x2[:, 0]
    else:
        x = as_float_array(x, "x", 1)
    y = as_float_array(y, "y", 1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length m, got {x.shape[0]} and {y.shape[0]}")
    return x, y, check_positive_int(pieces, "pieces")


def _segment_costs(state: dict[str, FloatArray], x: float, y: float, j: int) -> FloatArray:
    r"""Add point ``j`` to every segment ``[i, j]`` (``i <= j``) and return their SSEs.

    Welford-style updates of the counts, means and centred co-moments
    :math:`C_{xx}, C_{xy}, C_{yy}` of all segments ending at ``j``, vectorised over the start
    ``i``: :math:`O(1)` per segment and free of the cancellation of raw prefix sums.
    The SSE of the least-squares line is :math:`C_{yy} - C_{xy}^2/C_{xx}` (:math:`C_{yy}` if all
    :math:`x` coincide, the best constant).
    """
    s = slice(0, j + 1)
    cnt, mx, my = state["n"][s], state["mx"][s], state["my"][s]
    cnt += 1
    dx, dy = x - mx, y - my
    mx += dx / cnt
    my += dy / cnt
    state["cxx"][s] += dx * (x - mx)
    state["cxy"][s] += dx * (y - my)
    state["cyy"][s] += dy * (y - my)
    cxx, cxy, cyy = state["cxx"][s], state["cxy"][s], state["cyy"][s]
    with np.errstate(divide="ignore", invalid="ignore"):
        sse = np.where(cxx > 0, cyy - cxy**2 / np.where(cxx > 0, cxx, 1.0), cyy)
    return np.maximum(sse, 0.0)


def _solve(x: FloatArray, y: FloatArray, pieces: int) -> tuple[float, list[int]]:
    r"""Dynamic programme on sorted data; returns (SSE, split positions in sorted order).

    ``F[p, j]`` is the least SSE of the first ``j`` sorted points in at most ``p`` groups;
    ``F[p, j] = min(F[p-1, j], min_i F[p-1, i] + cost(i, j))`` over allowed ``i < j``, where a
    split before sorted position ``k`` is allowed only between distinct ``x`` values.
    """
    m = x.size
    allowed = np.ones(m + 1, dtype=bool)
    allowed[1:m] = x[1:] > x[:-1]
    F = np.full((pieces + 1, m + 1), np.inf)
    F[:, 0] = 0.0
    start = np.full((pieces + 1, m + 1), -1, dtype=np.int64)  # -1: inherited from p-1
    state = {k: np.zeros(m) for k in ("n", "mx", "my", "cxx", "cxy", "cyy")}
    for j in range(1, m + 1):
        cost = _segment_costs(state, x[j - 1], y[j - 1], j - 1)  # cost[i] = SSE of points i..j-1
        if not allowed[j]:
            continue
        total = F[:-1, :j] + cost  # candidate with a last group starting at i, per p-1
        best = np.argmin(total, axis=1)
        cand = total[np.arange(pieces), best]
        for p in range(1, pieces + 1):
            if cand[p - 1] < F[p - 1, j]:
                F[p, j], start[p, j] = cand[p - 1], best[p - 1]
            else:
                F[p, j] = F[p - 1, j]
    return float(F[pieces, m]), _backtrack(start, pieces, m)


def _backtrack(start: NDArray[np.int64], p: int, j: int) -> list[int]:
    splits: list[int] = []
    while j > 0 and p > 0:
        i = int(start[p, j])
        if i >= 0:
            if i > 0:
                splits.append(i)
            j = i
        p -= 1
    return splits[::-1]


def segmentation_fit(x: ArrayLike, y: ArrayLike, pieces: int) -> SegmentationFit:
    r"""Optimal split of sorted 1-D data into at most ``pieces`` groups, each fitted by its own line.

    Minimises :math:`\frac{1}{2m}\sum_G \mathrm{SSE}_G` over splits of the data, sorted by
    :math:`x`, into at most ``pieces`` contiguous groups; :math:`\mathrm{SSE}_G` is the sum of
    squared residuals of group :math:`G`'s least-squares regression line (0 for a group of at
    most two points; a group whose points all share one :math:`x` is fitted by its mean).
    Points with equal :math:`x` are never separated: a network takes one value at one point,
    and both affine pieces meeting at a breakpoint agree with it there, so keeping ties
    together loses nothing and gives a tighter bound.

    Parameters
    ----------
    x : array_like, shape (m,) or (m, 1)
        Inputs (any order).
    y : array_like, shape (m,)
        Targets.
    pieces : int
        Maximal number of groups, :math:`\ge 1`; use :math:`n+1` to bound a width-:math:`n`
        network (see the module docstring).

    Returns
    -------
    SegmentationFit
        ``(loss, boundaries)``.

    Notes
    -----
    Dynamic programming, :math:`O(\text{pieces}\cdot m^2)` time and
    :math:`O(\text{pieces}\cdot m)` memory: a Python loop over the end point only, everything
    over the start point vectorised, and each segment's cost updated in :math:`O(1)` from the
    one before it (running means and centred co-moments rather than raw prefix sums of
    :math:`x^2, xy, y^2`, which lose all accuracy to cancellation for short segments of
    nearby points).
    """
    x, y, pieces = _check_inputs(x, y, pieces)
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    sse, splits = _solve(xs, ys, pieces)
    k = np.asarray(splits, dtype=np.int64)
    return SegmentationFit(sse / (2 * x.size), 0.5 * (xs[k - 1] + xs[k]))


def segmentation_lower_bound(x: ArrayLike, y: ArrayLike, pieces: int) -> float:
    r"""Lower bound on the loss of every 1-D ReLU network of width ``pieces - 1`` (fact 5).

    The value of :func:`segmentation_fit`: the least
    :math:`\frac{1}{2m}\sum_G \mathrm{SSE}_G` over splits of the sorted data into at most
    ``pieces`` contiguous groups (equal :math:`x` never separated), each group fitted by its
    own least-squares line.

    Why it bounds a width-:math:`n` network with ``pieces = n + 1``: the network is affine
    between its at most :math:`n` breakpoints, so its own pieces induce such a split, and on
    each group an affine function cannot beat the group's least-squares line. Continuity
    across groups is ignored, so the bound is generally not attained. It is non-increasing
    in ``pieces``, and zero for data with distinct :math:`x` once ``2 * pieces >= m``
    (groups of at most two points).

    Parameters are as in :func:`segmentation_fit`.
    """
    return segmentation_fit(x, y, pieces).loss
