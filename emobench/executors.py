"""Executors hand (cell, fold) jobs to workers and yield outcomes as they finish.

* ``inline`` - this process, one job at a time (``--jobs 1``).
* ``processes`` - a local process pool (``--jobs N``).
* ``dask`` - a Dask distributed cluster (``--scheduler ADDRESS``, or
  ``--scheduler local`` to start a LocalCluster with ``--jobs`` workers).

Workers write their own results to the store, so a crash of the driver loses
nothing that finished. Jobs carry names and paths only; every worker loads the
data from the data root or the cache itself.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Iterator

# How often an orphaned worker notices that its parent is gone.
PARENT_POLL_S = 0.5


def exit_with_parent(parent_pid: int, kernel: bool = True) -> None:
    """End this process as soon as ``parent_pid`` is no longer its parent (the
    driver was killed, even with -9): an orphan would go on taking folds.

    A daemon thread polls ``os.getppid()``. With ``kernel`` (call it from the
    process's main thread), Linux also sends SIGKILL at the parent's death
    (PR_SET_PDEATHSIG), which stops a worker even inside native code that holds
    the GIL. PDEATHSIG follows the parent *thread* that spawned the process, so
    a pool must be driven from one thread for its lifetime (the runner's is)."""
    if kernel and sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # died before we could ask to be told
        os._exit(1)

    def watch():
        while os.getppid() == parent_pid:
            threading.Event().wait(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="emobench-parent-watch", daemon=True).start()


def _init_worker(threads: int | None, parent_pid: int | None = None) -> None:
    if parent_pid:
        exit_with_parent(parent_pid)
    if threads:
        import torch

        torch.set_num_threads(threads)


def inline(fn: Callable, jobs: Iterable) -> Iterator:
    for job in jobs:
        yield fn(job)


def processes(fn: Callable, jobs: list, n: int) -> Iterator:
    ctx = mp.get_context("spawn")  # fork after torch/OpenMP initialisation can deadlock
    threads = max(1, (mp.cpu_count() or 1) // n)
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                             initargs=(threads, os.getpid())) as pool:
        futures = [pool.submit(fn, job) for job in jobs]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        except BaseException:  # interrupted (or the caller stopped): start no queued job,
            for fut in futures:  # and let running workers release their folds
                fut.cancel()
            for proc in list(getattr(pool, "_processes", {}).values()):
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except (OSError, AttributeError):
                    pass
            raise


def dask(fn: Callable, jobs: list, scheduler: str, n: int) -> Iterator:
    from dask.distributed import Client, LocalCluster, as_completed as dask_completed

    cluster = None
    if scheduler == "local":
        threads = max(1, (mp.cpu_count() or 1) // n)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        # Dask workers leave with their nanny, which lives in the driver
        client.run(_init_worker, threads)
    else:
        client = Client(scheduler)
    try:
        # pure=False: a job is a side effect (it writes to the store), never deduplicated
        futures = client.map(fn, jobs, pure=False)
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
