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
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Iterator


def _init_worker(threads: int | None) -> None:
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
                             initargs=(threads,)) as pool:
        futures = [pool.submit(fn, job) for job in jobs]
        for fut in as_completed(futures):
            yield fut.result()


def dask(fn: Callable, jobs: list, scheduler: str, n: int) -> Iterator:
    from dask.distributed import Client, LocalCluster, as_completed as dask_completed

    cluster = None
    if scheduler == "local":
        threads = max(1, (mp.cpu_count() or 1) // n)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
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
