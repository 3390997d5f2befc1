"""Cheap, complete bookkeeping of a training trajectory.

The recorder sees the activation pattern at *every* step (trainers already
compute the pre-activations for the gradient, so this costs one comparison of
two byte strings) and stores the loss and parameters only every ``record_every``
steps and at every step where the pattern changes. So the history is sparse
where nothing happens and never misses a pattern change.

What a pattern change costs is deferred: the recorder keeps each new pattern's
bytes and, once per :data:`CHUNK` changes, computes the flipped entries and the
activation counts of all of them in a few array operations (on small networks a
pattern may change at almost every step, and per-change array calls would then
cost as much as the gradient itself).
"""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import NDArray

from .network import ShallowReLU
from .result import TrainResult

#: Pattern changes whose flips and counts are computed together (bounds the bytes kept waiting).
CHUNK = 256


class Recorder:
    r"""Accumulates a :class:`~plateau_lib.result.TrainResult` step by step.

    Parameters
    ----------
    record_every : int
        Record every ``record_every`` steps (and at every pattern change).
    n, d : int
        Network shape, to rebuild the final network.
    time_limit : float, optional
        Wall-clock seconds from the recorder's creation after which :meth:`out_of_time` is
        true (``None``: never).

    Notes
    -----
    The patterns seen are numbered :math:`P_0, P_1, \dots` (:math:`P_{q+1}` first seen at
    ``changes[q]``). A record stores the number of the pattern current at its step; at the end,
    ``counts`` of a record are the column sums of its pattern and ``flips`` hold, for each
    change, the entries where :math:`P_{q+1}` and :math:`P_q` differ, in row-major order.
    """

    def __init__(self, record_every: int, n: int, d: int, time_limit: float | None = None) -> None:
        self.record_every = record_every
        self.n, self.d = n, d
        self._steps: list[int] = []
        self._loss: list[float] = []
        self._params: list[NDArray[np.float64]] = []
        self._times: list[float] = []
        self._record_pattern: list[int] = []  # per record: the number of its pattern
        self._changes: list[int] = []
        self._shape: tuple[int, ...] | None = None
        self._current = b""  # bytes of the current pattern
        self._pending: list[bytes] = []  # patterns whose flips and counts are not computed yet
        self._flips: list[NDArray[np.int64]] = []
        self._counts: list[NDArray[np.int64]] = []  # column sums of P_0, P_1, ... in blocks
        self._done = 0  # patterns whose counts are computed
        self._last_step = -1
        self._start = time.perf_counter()
        self._deadline = math.inf if time_limit is None else self._start + time_limit

    def out_of_time(self) -> bool:
        """Whether the wall-clock time limit has passed (checked by trainers between iterations)."""
        return time.perf_counter() > self._deadline

    def observe(self, step: int, active: NDArray[np.bool_], loss: float, theta: NDArray[np.float64]) -> None:
        """Register the state at ``step`` (pattern ``active``, ``loss``, parameters ``theta``).

        Raises
        ------
        ValueError
            If ``active`` is not a boolean array of the shape of the first pattern observed.
        """
        snapshot = active.tobytes()
        if snapshot == self._current and active.shape == self._shape and active.dtype == np.bool_:
            if step % self.record_every == 0:
                self._record(step, loss, theta)
            return
        if self._shape is None:
            self._shape = self._check_pattern(active, None)
        else:
            self._check_pattern(active, self._shape)
            self._changes.append(step)
        self._current = snapshot
        self._pending.append(snapshot)
        if len(self._pending) > CHUNK:
            self._settle()
        self._record(step, loss, theta)

    @staticmethod
    def _check_pattern(active: NDArray[np.bool_], shape: tuple[int, ...] | None) -> tuple[int, ...]:
        if active.dtype != np.bool_ or active.ndim != 2 or (shape is not None and active.shape != shape):
            expected = "a 2-D boolean array" if shape is None else f"a boolean array of shape {shape}"
            raise ValueError(f"active must be {expected} (the first pattern's), got {active.dtype} {active.shape}")
        return active.shape

    def _settle(self, keep_last: bool = True) -> None:
        """Compute the counts of the pending patterns and the flips of their changes.

        The first pending pattern is either :math:`P_0` or the last one of the previous block,
        already counted; with ``keep_last`` the last pending pattern stays pending, so that the
        next block has the pattern its first change flips from.
        """
        if not self._pending:
            return
        stack = np.frombuffer(b"".join(self._pending), dtype=np.bool_).reshape(-1, *self._shape)
        first = self._done  # number of stack[0]
        fresh = stack if first == 0 else stack[1:]
        self._counts.append(fresh.sum(axis=1, dtype=np.int64))
        self._done += len(fresh)
        q, i, j = np.nonzero(stack[1:] != stack[:-1])
        if q.size:
            offset = max(first - 1, 0)  # changes[q + offset] made stack[q + 1]
            flips = np.empty((q.size, 3), dtype=np.int64)  # rows (step, i, j)
            flips[:, 0] = np.asarray(self._changes[offset:offset + len(stack) - 1], dtype=np.int64)[q]
            flips[:, 1] = i
            flips[:, 2] = j
            self._flips.append(flips)
        self._pending = self._pending[-1:] if keep_last else []

    def _record(self, step: int, loss: float, theta: NDArray[np.float64]) -> None:
        if step == self._last_step:
            return
        self._last_step = step
        self._steps.append(step)
        self._loss.append(loss)
        self._record_pattern.append(len(self._changes))
        self._params.append(np.array(theta, dtype=np.float64))
        self._times.append(time.perf_counter() - self._start)

    def finish(
        self,
        step: int,
        active: NDArray[np.bool_],
        loss: float,
        theta: NDArray[np.float64],
        *,
        method: str,
        nfev: int,
        njev: int,
        status: str,
        message: str,
        extra: dict | None = None,
        grad_norm: float = math.nan,
    ) -> TrainResult:
        """Record the final state (always) and build the result (``grad_norm``: at the final state)."""
        if step != self._last_step:
            self.observe(step, active, loss, theta)
            self._record(step, loss, theta)
        self._settle(keep_last=False)
        flips = np.concatenate(self._flips) if self._flips else np.zeros((0, 3), dtype=np.int64)
        counts = np.concatenate(self._counts)[np.asarray(self._record_pattern, dtype=np.intp)]
        return TrainResult(
            net=ShallowReLU.from_vector(theta, self.n, self.d),
            method=method,
            steps=np.asarray(self._steps, dtype=np.int64),
            loss=np.asarray(self._loss, dtype=np.float64),
            counts=counts,
            params=np.asarray(self._params, dtype=np.float64),
            pattern_changes=np.asarray(self._changes, dtype=np.int64),
            flips=flips,
            times=np.asarray(self._times, dtype=np.float64),
            wall_time=time.perf_counter() - self._start,
            nfev=nfev,
            njev=njev,
            nit=step,
            status=status,
            message=message,
            extra=extra or {},
            grad_norm=float(grad_norm),
        )
