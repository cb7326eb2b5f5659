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
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
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


class Queue:
    """Jobs in plan order, handed out one at a time when a worker is about to be
    free, so ``admit`` (the budget's clock, emobench.deadline) decides with what is
    known then; a clock with ``come_back`` is asked again, once every job was
    offered, for the jobs it held back for later ones (cells that gave way to the
    home-corpus cells).

    A job that reuses another's tuning (``Job.tuned_by``: a later training seed
    of a fold) waits while that job is still to finish in this run: started
    beside it, it would have to tune again itself. A job that needs work it
    shares with others (``Job.shared_work``, e.g. a pretraining stage) waits
    while a job handed out before it computes that work: started beside it, it
    would only wait on the cache's lock, and its worker would sit idle (the
    default run lost about a minute of worker time so)."""

    def __init__(self, jobs: Iterable, admit: Callable | None = None):
        self.todo = list(jobs)
        self.admit = admit
        self.again = getattr(admit, "come_back", None)
        self.unfinished = {k for k in (getattr(j, "key", None) for j in self.todo) if k is not None}
        self.later: list = []
        self.waiting: list = []
        self.offered = 0
        self.computing: dict = {}  # shared work -> the key of the handed-out job doing it
        self.ready: set = set()    # shared work a finished job has done

    def done(self, job) -> None:
        key = getattr(job, "key", None)
        self.unfinished.discard(key)
        for work in [w for w, k in self.computing.items() if k == key]:
            del self.computing[work]
            self.ready.add(work)

    def _blocked(self, job) -> bool:
        dep = getattr(job, "tuned_by", "") or ""
        if dep and dep in self.unfinished:
            return True
        return any(w in self.computing for w in getattr(job, "shared_work", ()) or ())

    def _hand_out(self, job):
        for w in getattr(job, "shared_work", ()) or ():
            if w not in self.ready:
                self.computing.setdefault(w, getattr(job, "key", None))
        return job

    def take(self, force: bool = False):
        """The next job to start, or None when none may start now (``force``:
        nothing is running, so a waiting job starts rather than none)."""
        for j in self.waiting:
            if not self._blocked(j):
                self.waiting.remove(j)
                return self._hand_out(j)
        while self.offered < len(self.todo):
            j = self.todo[self.offered]
            self.offered += 1
            if self.admit is not None and not self.admit(j):
                if self.again is not None:
                    self.later.append(j)
                continue
            if self._blocked(j):
                self.waiting.append(j)
                continue
            return self._hand_out(j)
        while self.later:
            j = self.later.pop(0)
            if self.again(j):
                if self._blocked(j):
                    self.waiting.append(j)
                    continue
                return self._hand_out(j)
        if force and self.waiting:
            return self._hand_out(self.waiting.pop(0))
        return None


def inline(fn: Callable, jobs: Iterable, admit: Callable | None = None) -> Iterator:
    queue = Queue(jobs, admit)
    while (job := queue.take(force=True)) is not None:
        out = fn(job)
        queue.done(job)
        yield out


def processes(fn: Callable, jobs: list, n: int, admit: Callable | None = None) -> Iterator:
    ctx = mp.get_context("spawn")  # fork after torch/OpenMP initialisation can deadlock
    threads = max(1, (mp.cpu_count() or 1) // n)
    queue = Queue(jobs, admit)
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                             initargs=(threads, os.getpid())) as pool:
        running: dict = {}

        def fill():  # one job queued behind each worker keeps them busy
            while len(running) < 2 * n:
                job = queue.take(force=not running)
                if job is None:
                    break
                running[pool.submit(fn, job)] = job

        try:
            fill()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    queue.done(running.pop(fut))
                    yield fut.result()
                fill()
        except BaseException:  # interrupted (or the caller stopped): start no queued job,
            for fut in running:  # and let running workers release their folds
                fut.cancel()
            for proc in list(getattr(pool, "_processes", {}).values()):
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except (OSError, AttributeError):
                    pass
            raise


def dask(fn: Callable, jobs: list, scheduler: str, n: int, admit: Callable | None = None) -> Iterator:
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
        queue = Queue(jobs, admit)
        try:  # a remote cluster's own workers, else the local ones
            size = len(client.scheduler_info().get("workers", {})) or n
        except Exception:
            size = n
        window = len(jobs) if admit is None else 2 * max(1, n, size)
        running: dict = {}
        futures = dask_completed()

        def fill():
            while len(running) < window:
                job = queue.take(force=not running)
                if job is None:
                    break
                fut = client.submit(fn, job, pure=False)
                running[fut.key] = job
                futures.add(fut)

        fill()
        for fut in futures:
            queue.done(running.pop(fut.key))
            yield fut.result()
            fill()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
