"""The sweep helper: order, executors, errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from plateau_lib.sweeps import sweep


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise RuntimeError("three")
    return x


def test_sweep_serial_and_process_pool_agree():
    items = list(range(7))
    assert sweep(square, items, max_workers=1, progress=False) == [x * x for x in items]
    assert sweep(square, items, max_workers=2, progress=False) == [x * x for x in items]


def test_sweep_accepts_any_executor_and_leaves_it_open():
    with ThreadPoolExecutor(3) as pool:
        assert sweep(square, [3, 1, 2], executor=pool, progress=False) == [9, 1, 4]
        assert pool.submit(square, 5).result() == 25


def test_sweep_propagates_errors():
    with pytest.raises(RuntimeError, match="three"):
        sweep(fail_on_three, range(5), max_workers=2, progress=False)


def test_sweep_rejects_non_callable():
    with pytest.raises(TypeError, match="fn must be callable"):
        sweep(3, [1], progress=False)
