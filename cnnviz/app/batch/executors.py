"""Where batch tasks (and ``run -j``'s images) run: a local process pool, or a dask.distributed cluster.

Both are a :class:`concurrent.futures.Executor`.  Stopping is part of the
job: when the main process is interrupted (Ctrl-C, SIGTERM, SIGHUP) the
queued tasks are dropped and every local worker is terminated and waited
for before the exception goes on, so no worker outlives the command, keeps
writing files or holds its caller's pipes open.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from concurrent.futures import Executor
from typing import Any

from ...errors import CnnvizError
from ...io.pngio import remove_pending_temporaries

__all__ = ["cpu_count", "open_executor", "stop_pool", "import_distributed"]

_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?(?:\[[0-9a-fA-F:.]+\]|[^\s/:\[\]]+):\d{1,5}")


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def stop_pool(pool: Any) -> None:
    """Drop a process pool's queued tasks, terminate its workers and wait until they are gone."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_BLAS_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads64_",
                 "scipy_openblas_set_num_threads", "MKL_Set_Num_Threads")


def _limit_blas_threads(threads: int) -> None:
    """Let each worker's BLAS (conv stages are matrix products) use ``threads`` threads.

    N workers that each start one BLAS thread per core fight over the cores
    (about 15% slower with 2 workers on 2 cores).  Nothing is changed when
    the user set one of the usual variables (``OPENBLAS_NUM_THREADS``, ...);
    otherwise the variables are set for libraries loaded later, and a BLAS
    that is already loaded (a forked worker inherits NumPy's) is told
    directly, best effort: an unknown BLAS is left alone.
    """
    if any(v in os.environ for v in _BLAS_VARS):
        return
    for v in _BLAS_VARS:
        os.environ[v] = str(threads)
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and ".so" in line}
    except OSError:
        return
    import ctypes

    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _BLAS_SETTERS:
            fn = getattr(lib, name, None)
            if fn is not None:
                with contextlib.suppress(Exception):
                    fn(ctypes.c_int(threads))
                break


def _worker_init(blas_threads: int) -> None:
    """Set up a local worker: signals are the main process's business; BLAS threads limited.

    Ctrl-C is ignored (the main process stops the workers); SIGTERM and
    SIGHUP (the main process's ``terminate()``) remove the temporary file the
    worker is writing and end it at once, so every file left behind is whole
    (a forked worker would otherwise inherit the command line's handlers).
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _stop_now)
    _limit_blas_threads(blas_threads)


def _stop_now(signum: int, frame: Any) -> None:
    """A worker told to stop: remove the file it is half-way through writing, and exit at once."""
    remove_pending_temporaries()
    os._exit(128 + signum)


def import_distributed(scheduler: str) -> Any:
    """dask.distributed, after checking that it is installed and that ``scheduler`` looks like an address."""
    try:
        import distributed
    except ImportError:
        raise CnnvizError(
            "--scheduler needs dask.distributed, which is not installed; install it with: pip install 'cnnviz[dask]'"
        ) from None
    if not _ADDRESS.fullmatch(scheduler):
        raise CnnvizError(f"--scheduler: expected the scheduler's address as tcp://HOST:PORT, not {scheduler!r}")
    return distributed


@contextlib.contextmanager
def open_executor(jobs: int | None, scheduler: str | None, tasks: int) -> Iterator[tuple[Executor, int]]:
    """An executor for ``tasks`` tasks, and how many tasks to keep in flight.

    Without ``scheduler``: a local process pool of ``jobs`` workers (default
    the machine's cores; never more than ``tasks``).  With ``scheduler``
    (``tcp://HOST:PORT``): the executor of a dask.distributed client of that
    scheduler, after waiting (up to 30 s) for at least one worker; ``jobs``
    then only limits the tasks in flight.
    """
    if scheduler is None:
        from concurrent.futures import ProcessPoolExecutor

        n = max(1, min(jobs or cpu_count(), tasks))
        pool = ProcessPoolExecutor(max_workers=n, initializer=_worker_init, initargs=(max(1, cpu_count() // n),))
        try:
            yield pool, 2 * n
        except BaseException:
            # Ctrl-C (or a bug): drop the queued tasks and stop the running ones; an
            # interrupted render has no stamp, so the next run renders it again
            stop_pool(pool)
            raise
        else:
            pool.shutdown(wait=True)
        return

    distributed = import_distributed(scheduler)
    try:
        client = distributed.Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CnnvizError(f"--scheduler {scheduler}: cannot connect to a dask scheduler there ({exc})") from None
    try:
        try:
            client.wait_for_workers(1, timeout=30)
        except (TimeoutError, OSError):
            raise CnnvizError(f"--scheduler {scheduler}: no dask worker is connected to that scheduler") from None
        executor = client.get_executor(pure=False)
        try:
            yield executor, (jobs or 1 << 30)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        else:
            executor.shutdown(wait=True)
    finally:
        client.close()
