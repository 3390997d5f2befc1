r"""Gradient descent of many networks at once: one array pass per step for the whole stack.

The studies of the book train tens of small networks of one shape on one data set (seeds,
initial scales). One step of one such network costs a few dozen microseconds, almost all of it
the fixed cost of a dozen numpy calls; :func:`train_gd_stack` makes those calls once per step for
all of them, on arrays with a leading stack axis.

Each run's result is the one :func:`~plateau_lib.trainers.first_order.train_gd` gives, bit for
bit: the stacked pass :func:`evaluate_stack` makes the same floating-point operations in the same
order as :func:`~plateau_lib.network.evaluate` (the products go to the same BLAS routine per
network, through :func:`numpy.matmul` over the stack), and each run keeps its own
:class:`~plateau_lib.recording.Recorder` and stops on its own (gradient tolerance, non-finite
loss). Only the wall-clock ``times`` and ``wall_time`` differ: those of the stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_positive_float, check_positive_int
from ..network import ShallowReLU, check_problem
from ..recording import Recorder
from ..result import BUDGET, CONVERGED, FAILED, INTERRUPTED, TrainResult
from ._progress import progress_bar
from .first_order import DEFAULT_STEPS, check_gd_step_size

FloatArray = NDArray[np.float64]


class StackEvaluation(NamedTuple):
    """:class:`~plateau_lib.network.Evaluation` of each network of a stack (leading axis: the network)."""

    active: NDArray[np.bool_]
    loss: FloatArray
    gc: FloatArray
    gW: FloatArray
    gb: FloatArray


def evaluate_stack(c: FloatArray, W: FloatArray, b: FloatArray, X: FloatArray, y: FloatArray) -> StackEvaluation:
    r"""Loss, pattern and gradient of networks :math:`k = 1..S` on one data set, in one pass.

    ``c`` (S, n), ``W`` (S, n, d), ``b`` (S, n). Network :math:`k` gets exactly what
    :func:`~plateau_lib.network.evaluate` gives for it:

    .. math::

        r_k = \mathrm{relu}(X W_k^\top + b_k)\,c_k - y,\quad
        \nabla_{c} L_k = \tfrac1m A_k^\top r_k,\quad
        \nabla_{(w_j, b_j)} L_k = \tfrac{c_{kj}}{m}\,([r_k \odot X, r_k]^\top D_k)_j .

    The matrix products are :func:`numpy.matmul` over the stack, which calls the BLAS routine
    of the single product (``gemv``, ``gemm``, ``dot``) once per network with the same shapes
    and strides, so the sums are formed in the same order. No validation.
    """
    m, d = X.shape
    Z = X[None] * W.transpose(0, 2, 1) if d == 1 else X @ W.transpose(0, 2, 1)
    Z += b[:, None, :]
    active = Z > 0
    A = np.fmax(Z, 0.0)
    r = (A @ c[:, :, None])[:, :, 0]
    r -= y
    gc = (A.transpose(0, 2, 1) @ r[:, :, None])[:, :, 0]
    gc /= m
    D = A
    np.copyto(D, active.view(np.uint8))
    RT = np.empty((len(c), d + 1, m))
    np.multiply(X.T[None], r[:, None, :], out=RT[:, :d])
    RT[:, d] = r
    S = RT @ D
    S *= (c / m)[:, None, :]
    loss = (r[:, None, :] @ r[:, :, None])[:, 0, 0] / (2 * m)
    return StackEvaluation(active, loss, gc, S[:, :d].transpose(0, 2, 1).copy(), S[:, d])


def _dots(a: FloatArray) -> FloatArray:
    """Row-wise ``a[k] @ a[k]`` through the same BLAS ``dot`` as the 1-D product."""
    return (a[:, None, :] @ a[:, :, None])[:, 0, 0]


def grad_norms(ev: StackEvaluation) -> FloatArray:
    r""":math:`\|\nabla L_k\|_2` of each network, as ``_gradient_norm.gradient_norm`` forms it."""
    squares = (ev.gW**2).reshape(len(ev.gW), -1)
    return np.sqrt(_dots(ev.gc) + np.add.reduce(squares, axis=1) + _dots(ev.gb))


def _check_stack(nets: object, X: ArrayLike, y: ArrayLike) -> tuple[list[ShallowReLU], FloatArray, FloatArray]:
    if isinstance(nets, ShallowReLU) or not isinstance(nets, Sequence) or not nets:
        raise TypeError(f"nets must be a non-empty sequence of ShallowReLU, got {type(nets).__name__}")
    checked = [check_problem(net, X, y) for net in nets]
    shape = (checked[0][0].n, checked[0][0].d)
    for k, (net, _, _) in enumerate(checked):
        if (net.n, net.d) != shape:
            raise ValueError(f"nets must share one shape (n, d) = {shape}, got {(net.n, net.d)} at index {k}")
    return [net for net, _, _ in checked], checked[0][1], checked[0][2]


def train_gd_stack(
    nets: Sequence[ShallowReLU],
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float | None = None,
    steps: int = DEFAULT_STEPS,
    record_every: int = 1,
    gtol: float = 0.0,
    progress: bool = False,
) -> list[TrainResult]:
    r"""Full-batch gradient descent :math:`\theta_{k+1} = \theta_k - \eta\nabla L(\theta_k)` of each network.

    Parameters
    ----------
    nets : sequence of ShallowReLU
        Initial networks, all of one width :math:`n` and input dimension :math:`d` (not modified).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    lr, steps, record_every, gtol, progress
        As in :func:`~plateau_lib.trainers.first_order.train_gd` (``lr`` required, ``steps``
        10 000 by default), for every network; the progress bar counts the steps of the longest
        run.

    Returns
    -------
    list of TrainResult
        Result ``k`` is ``train_gd(nets[k], X, y, ...)``'s, bit for bit except the wall-clock
        ``times`` and ``wall_time``. Ctrl-C stops every run at the current step
        (``status="interrupted"``).
    """
    nets, X, y = _check_stack(nets, X, y)
    lr = check_gd_step_size(lr)
    steps = check_positive_int(steps, "steps")
    record_every = check_positive_int(record_every, "record_every")
    gtol = check_positive_float(gtol, "gtol", allow_zero=True)
    n, d = nets[0].n, nets[0].d
    theta = np.stack([net.to_vector() for net in nets])
    runs = list(range(len(nets)))  # the runs still going, in the order of the rows of theta
    recorders = [Recorder(record_every, n, d) for _ in nets]
    results: list[TrainResult | None] = [None] * len(nets)
    bar = progress_bar(steps, "gd", progress)

    def finish(rows: NDArray[np.intp], ev: StackEvaluation, k: int, status: str, message: str) -> None:
        norms = grad_norms(ev) if len(rows) else None
        for row in rows:
            results[runs[row]] = recorders[runs[row]].finish(
                k, ev.active[row], float(ev.loss[row]), theta[row],
                method="gd", nfev=k + 1, njev=k + 1, status=status, message=message, grad_norm=norms[row],
            )

    k, previous = 0, None
    try:
        while runs:
            ev = evaluate_stack(*_split_stack(theta, n, d), X, y)
            failed = ~np.isfinite(ev.loss)
            finish(np.flatnonzero(failed), ev, k, FAILED, _failed_message(k))
            if k == steps:
                finish(np.flatnonzero(~failed), ev, k, BUDGET, f"reached steps={steps}")
                break
            _observe(recorders, runs, k, ev, theta, previous, skip=failed)
            stop = failed.copy()
            if gtol > 0:
                converged = ~failed & (grad_norms(ev) <= gtol)
                finish(np.flatnonzero(converged), ev, k, CONVERGED, f"gradient norm <= gtol={gtol:g}")
                stop |= converged
            if stop.any():
                runs, theta, ev = _drop_stopped(runs, theta, ev, stop)
                if not runs:
                    break
            theta[:, :n] -= lr * ev.gc
            theta[:, n:n + n * d] -= (lr * ev.gW).reshape(len(runs), -1)
            theta[:, n + n * d:] -= lr * ev.gb
            previous = ev.active
            k += 1
            if k % record_every == 0:
                bar.update(record_every)
    except KeyboardInterrupt:
        ev = evaluate_stack(*_split_stack(theta, n, d), X, y)
        failed = ~np.isfinite(ev.loss)
        finish(np.flatnonzero(failed), ev, k, FAILED, _failed_message(k))
        finish(np.flatnonzero(~failed), ev, k, INTERRUPTED, f"interrupted by the user at step {k}")
    finally:
        bar.close()
    return results


def _split_stack(theta: FloatArray, n: int, d: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Views ``c`` (S, n), ``W`` (S, n, d), ``b`` (S, n) of the stacked parameter vectors."""
    return theta[:, :n], theta[:, n:n + n * d].reshape(-1, n, d), theta[:, n + n * d:]


def _drop_stopped(
    runs: list[int], theta: FloatArray, ev: StackEvaluation, stop: NDArray[np.bool_]
) -> tuple[list[int], FloatArray, StackEvaluation]:
    """The runs still going, their parameter rows and their evaluation, without the rows ``stop``."""
    keep = ~stop
    kept = [run for run, going in zip(runs, keep, strict=True) if going]
    return kept, theta[keep], StackEvaluation(*(part[keep] for part in ev))


def _failed_message(k: int) -> str:
    return f"loss became non-finite at step {k} (step size too large?)"


def _observe(
    recorders: list[Recorder], runs: list[int], k: int, ev: StackEvaluation, theta: FloatArray,
    previous: NDArray[np.bool_] | None, *, skip: NDArray[np.bool_],
) -> None:
    """Show each running recorder its state at step ``k`` where it needs it.

    A recorder acts only on a pattern change or a recorded step (``k % record_every == 0``), so
    only those calls are made; the changes are found for the whole stack in one comparison.
    """
    if previous is None or k % recorders[0].record_every == 0:
        rows = np.arange(len(runs))
    else:
        rows = np.flatnonzero(np.any(ev.active != previous, axis=(1, 2)))
    for row in rows:
        if not skip[row]:
            recorders[runs[row]].observe(k, ev.active[row], float(ev.loss[row]), theta[row])
