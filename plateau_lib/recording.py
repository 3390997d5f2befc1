"""Cheap, complete bookkeeping of a training trajectory.

The recorder sees the activation pattern at *every* step (trainers already
compute the pre-activations for the gradient, so this costs one comparison of
two boolean arrays) and stores the loss, counts and parameters only every
``record_every`` steps and at every step where the pattern changes. So the
history is sparse where nothing happens and never misses a pattern change.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import NDArray

from .network import ShallowReLU
from .result import TrainResult


class Recorder:
    """Accumulates a :class:`~plateau_lib.result.TrainResult` step by step.

    Parameters
    ----------
    record_every : int
        Record every ``record_every`` steps (and at every pattern change).
    n, d : int
        Network shape, to rebuild the final network.
    time_limit : float, optional
        Wall-clock seconds from the recorder's creation after which :meth:`out_of_time` is
        true (``None``: never).
    """

    def __init__(self, record_every: int, n: int, d: int, time_limit: float | None = None) -> None:
        self.record_every = record_every
        self.n, self.d = n, d
        self._steps: list[int] = []
        self._loss: list[float] = []
        self._counts: list[NDArray[np.int64]] = []
        self._params: list[NDArray[np.float64]] = []
        self._times: list[float] = []
        self._changes: list[int] = []
        self._flips: list[NDArray[np.int64]] = []
        self._previous: NDArray[np.bool_] | None = None
        self._previous_bytes = b""
        self._previous_counts: NDArray[np.int64] | None = None
        self._last_step = -1
        self._start = time.perf_counter()
        self._deadline = math.inf if time_limit is None else self._start + time_limit

    def out_of_time(self) -> bool:
        """Whether the wall-clock time limit has passed (checked by trainers between iterations)."""
        return time.perf_counter() > self._deadline

    def observe(self, step: int, active: NDArray[np.bool_], loss: float, theta: NDArray[np.float64]) -> None:
        """Register the state at ``step`` (pattern ``active``, ``loss``, parameters ``theta``)."""
        previous = self._previous
        first, changed = previous is None, False
        # The bytes are both the copy kept for the next step and a cheap equality test: boolean
        # arrays of one shape with equal bytes are equal; anything else is compared elementwise.
        snapshot = active.tobytes()
        if not first and not (
            snapshot == self._previous_bytes
            and active.shape == previous.shape
            and active.dtype == previous.dtype == np.bool_
        ):
            diff = active != previous
            changed = active.shape != previous.shape or bool(diff.any())  # = not np.array_equal
            if changed:
                self._changes.append(step)
                i, j = np.unravel_index(np.flatnonzero(diff), diff.shape)  # = np.nonzero(diff), faster
                flips = np.empty((i.size, 3), dtype=np.int64)  # rows (step, i, j)
                flips[:, 0] = step
                flips[:, 1] = i
                flips[:, 2] = j
                self._flips.append(flips)
        if first or changed:  # else the kept copy equals the new pattern already
            self._previous = np.frombuffer(snapshot, dtype=active.dtype).reshape(active.shape)
            self._previous_bytes = snapshot
            self._previous_counts = None  # the counts are a function of the pattern alone
        if first or changed or step % self.record_every == 0:
            self._record(step, active, loss, theta)

    def _record(self, step: int, active: NDArray[np.bool_], loss: float, theta: NDArray[np.float64]) -> None:
        if step == self._last_step:
            return
        self._last_step = step
        self._steps.append(step)
        self._loss.append(loss)
        if self._previous_counts is None:  # observe() reset it at a pattern change
            self._previous_counts = active.sum(axis=0)
        self._counts.append(self._previous_counts)
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
    ) -> TrainResult:
        """Record the final state (always) and build the result."""
        if step != self._last_step:
            self.observe(step, active, loss, theta)
            self._record(step, active, loss, theta)
        flips = np.concatenate(self._flips) if self._flips else np.zeros((0, 3), dtype=np.int64)
        return TrainResult(
            net=ShallowReLU.from_vector(theta, self.n, self.d),
            method=method,
            steps=np.asarray(self._steps, dtype=np.int64),
            loss=np.asarray(self._loss, dtype=np.float64),
            counts=np.asarray(self._counts, dtype=np.int64),
            params=np.asarray(self._params, dtype=np.float64),
            pattern_changes=np.asarray(self._changes, dtype=np.int64),
            flips=flips.astype(np.int64),
            times=np.asarray(self._times, dtype=np.float64),
            wall_time=time.perf_counter() - self._start,
            nfev=nfev,
            njev=njev,
            nit=step,
            status=status,
            message=message,
            extra=extra or {},
        )
