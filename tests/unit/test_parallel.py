"""Where many tasks run (plateau_lib.parallel): one parameter, an int or an Executor, and OpenBLAS on
one thread in every task, in this process as in the workers."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from plateau_lib import parallel
from plateau_lib.parallel import (
    SerialExecutor,
    check_executor,
    limit_blas_threads,
    opened,
    process_pool,
    single_threaded_blas,
    worker_count,
)
from plateau_lib.sweeps import sweep


def blas_threads(_: object = None) -> int | None:
    """OpenBLAS's thread count where this runs (module level: picklable)."""
    return parallel._blas_threads()


@pytest.fixture
def two_blas_threads():
    """This process with OpenBLAS on two threads (the tests' environment sets one), restored after."""
    before = blas_threads()
    if before is None:
        pytest.skip("OpenBLAS's thread count cannot be read here")
    limit_blas_threads(2)
    yield
    limit_blas_threads(before)


def test_single_threaded_blas_limits_this_process_and_restores_it(two_blas_threads):
    assert blas_threads() == 2
    with single_threaded_blas():
        assert blas_threads() == 1
    assert blas_threads() == 2


def test_every_task_runs_on_one_blas_thread_in_this_process_and_in_workers(two_blas_threads):
    assert sweep(blas_threads, range(3), executor=1, progress=False) == [1, 1, 1]
    assert SerialExecutor().submit(blas_threads).result() == 1
    assert sweep(blas_threads, range(4), executor=2, progress=False) == [1, 1, 1, 1]
    with process_pool(2) as pool:
        assert pool.submit(blas_threads).result() == 1
    assert blas_threads() == 2  # running tasks here left this process as it was


def test_opened_turns_a_count_into_an_executor_and_leaves_a_given_one_open():
    with opened(1) as executor:
        assert isinstance(executor, SerialExecutor) and worker_count(executor) == 1
    with opened(2) as executor:
        assert isinstance(executor, ProcessPoolExecutor) and worker_count(executor) == 2
        assert executor.submit(abs, -3).result() == 3
    with ThreadPoolExecutor(2) as pool:
        with opened(pool) as executor:
            assert executor is pool
        assert pool.submit(abs, -4).result() == 4  # still open
        assert worker_count(pool) is None  # it cannot tell


def test_worker_count_of_a_count_is_the_count():
    assert worker_count(3) == 3 and worker_count(np.int64(2)) == 2


@pytest.mark.parametrize(("bad", "error", "match"), [
    (0, ValueError, "positive number of processes, got 0"),
    (-2, ValueError, "positive number of processes"),
    (True, TypeError, "got bool"),
    (1.5, TypeError, "got float"),
    (None, TypeError, "got NoneType"),
    ("dask", TypeError, "got str"),
])
def test_check_executor_names_the_argument(bad, error, match):
    with pytest.raises(error, match=match):
        check_executor(bad)
    with pytest.raises(error, match="executor"):
        sweep(abs, [1], executor=bad, progress=False)


def test_serial_executor_keeps_errors_in_the_future_and_stops_on_ctrl_c():
    assert isinstance(SerialExecutor().submit(int, "x").exception(), ValueError)

    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        SerialExecutor().submit(interrupt)


def test_process_pool_refuses_a_bad_size():
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            process_pool(bad)
