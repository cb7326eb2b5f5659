"""The machine: its fp32 matmul rate, described once per process, and a
roofline timed *between* a model's calls so both see the same machine.

A roofline measured at another moment than the model (a neighbour's job
starting in between) can make a model read above 100 % of it: 132 % was seen
when the two were timed minutes apart. :class:`InterleavedRoofline` times one
matmul right after each timed model call instead, and its rate is the
*fastest* of those rounds: a ceiling is the best the machine did. The median
was not enough on a loaded machine: a 768 x 768 product (~10 ms) is cut by the
scheduler far more often than a 0.2 ms model call, so median against median
read 100-280 % for small networks at load 20 on 2 cores; the fastest tick
against the model's median is a fraction that a model can exceed only by
really beating the matmul (the median rate is kept as ``median_gflops``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import time

import numpy as np

from emobench.provenance import cpu_model


@contextlib.contextmanager
def using_threads(n: int | None):
    import torch

    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _matmul_pair(n: int):
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)


@functools.lru_cache(maxsize=None)
def machine_roofline(threads: int | None = None, n: int = 2048, repeats: int = 7) -> float:
    """Measured fp32 matmul GFLOP/s (median of ``repeats`` n x n products) with
    ``threads`` torch threads; measured once per process and thread count."""
    with using_threads(threads):
        a, b = _matmul_pair(n)
        for _ in range(2):
            a @ b
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / float(np.median(times)) / 1e9


class InterleavedRoofline:
    """Call :meth:`tick` after each timed model call: one ``n x n`` matmul is
    timed then. :attr:`gflops` is the fastest tick's rate (the ceiling),
    :attr:`median_gflops` the median's."""

    def __init__(self, n: int = 768, clock=time):
        self.n, self.clock = n, clock
        self.a, self.b = _matmul_pair(n)
        self.a @ self.b  # warm
        self.seconds: list[float] = []

    def tick(self) -> None:
        t0 = self.clock.perf_counter()
        self.a @ self.b
        self.seconds.append(self.clock.perf_counter() - t0)

    @property
    def gflops(self) -> float:
        return 2.0 * self.n ** 3 / float(np.min(self.seconds)) / 1e9 if self.seconds else float("nan")

    @property
    def median_gflops(self) -> float:
        return 2.0 * self.n ** 3 / float(np.median(self.seconds)) / 1e9 if self.seconds else float("nan")


def load_average() -> float | None:
    """1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def machine_info(threads: int | None = None) -> dict:
    import torch

    info = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "threads": threads or torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "cuda": torch.cuda.is_available(), "load": load_average(),
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info
