"""Latency and throughput of a network: :func:`profile_module`.

Batch-1 latency percentiles after a warm-up, over at least ``min_iters``
calls and ``min_time`` seconds; throughput at batch 1 and N; FLOPs per item
(every layer, :mod:`.flops`); achieved GFLOP/s against a matmul roofline
timed between the batch-N calls (:class:`.roofline.InterleavedRoofline`);
parameters, weights and peak memory growth.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any, Callable

import numpy as np

from emobench.profiling.backends import (AUTO_BACKENDS, REDUCED_PRECISION, _batched, _call, _checked, _sync,
                                         _tensors)
from emobench.profiling.flops import count_flops
from emobench.profiling.roofline import InterleavedRoofline, load_average, using_threads as _threads

REFERENCE_FPS = 30.0  # video rate assumed when a model's input runs at its own rate


def enough_calls(n: int, elapsed: float, *, iters: int | None = None, min_iters: int = 30,
                 min_time: float = 1.0, max_time: float = 20.0) -> bool:
    """Whether a timing loop has ``n`` calls after ``elapsed`` seconds is done:
    exactly ``iters`` calls when given, else at least ``min_iters`` calls and
    ``min_time`` seconds, stopping at ``max_time`` seconds (never before 3 calls)."""
    if iters is not None:
        return n >= iters
    return (n >= min_iters and elapsed >= min_time) or (n >= 3 and elapsed >= max_time)


def time_calls(fn: Callable, x, *, warmup: int = 5, iters: int | None = None, min_iters: int = 30,
               min_time: float = 1.0, max_time: float = 20.0, device: str = "cpu",
               after: Callable[[], None] | None = None) -> np.ndarray:
    """Milliseconds of each call ``fn(x)`` after ``warmup`` calls.

    With ``iters`` exactly that many calls; otherwise calls continue until at
    least ``min_iters`` calls and ``min_time`` seconds, stopping at ``max_time``
    seconds (but never before 3 calls). ``after()`` runs after each timed call,
    outside its timing (the interleaved roofline).
    """
    import torch

    with torch.inference_mode():
        for _ in range(warmup):
            _call(fn, x)
        _sync(device)
        times: list[float] = []
        start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            _call(fn, x)
            _sync(device)
            t1 = time.perf_counter()
            times.append((t1 - t0) * 1e3)
            if after is not None:
                after()
            if enough_calls(len(times), time.perf_counter() - start, iters=iters, min_iters=min_iters,
                            min_time=min_time, max_time=max_time):
                break
    return np.asarray(times)


def _maxrss_mb() -> float:
    # Linux reports kilobytes, macOS bytes.
    scale = 1.0 / 1024 if sys.platform != "darwin" else 1.0 / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def source_fps(inferences_per_s: float, realtime: dict | None, reference_fps: float = REFERENCE_FPS) -> float:
    """Source video frames processed per second of compute.

    One inference consumes ``window`` input steps and the next one comes
    ``hop`` steps later. When the input is the video itself (``rate`` None)
    each inference advances ``hop`` source frames. When the input runs at its
    own rate (e.g. action units at 10 Hz), each inference advances ``hop /
    rate`` seconds of video, i.e. ``hop / rate * reference_fps`` frames of a
    ``reference_fps`` video. Preprocessing (face detection, AU extraction) is
    not included: ``emobench annotate`` reports the end-to-end figure.
    """
    rt = realtime or {}
    hop = float(rt.get("hop") or 1)
    rate = rt.get("rate")
    frames_per_inference = hop if not rate else hop / float(rate) * reference_fps
    return inferences_per_s * frames_per_inference


def profile_module(module, example, *, batch: int = 8, threads: int | None = None,
                   backend: str = "auto", iters: int | None = None, warmup: int = 5,
                   min_time: float = 1.0, rtol: float = 1e-4, realtime: dict | None = None,
                   device: str = "cpu", candidates: tuple[str, ...] = AUTO_BACKENDS,
                   max_time: float = 20.0) -> dict:
    """Profile ``module`` on ``example`` (batch-1 input, or a tuple of them).

    ``peak_mem_mb`` is the growth of the process's peak RSS during this call:
    exact for the first profile in a fresh process (as ``emobench profile`` and
    scripts/performance.py run it), an under-estimate (possibly 0) when the
    process already reached a higher peak. ``weights_mb`` is exact.
    ``roofline_fraction`` is achieved GFLOP/s at batch N (median call) over the
    fastest matmul timed between those same calls (``roofline_fraction_best``:
    the fastest call's rate over it). ``max_time`` caps each timing loop (at
    least 3 calls), so a 300 ms network costs seconds, not 30 + 10 calls.
    """
    import torch

    rss0 = _maxrss_mb()
    load0 = load_average()
    module = module.eval().to(device)
    x1 = tuple(t.to(device) for t in _tensors(example))
    x1 = x1 if isinstance(example, (tuple, list)) else x1[0]
    xn = _batched(x1, batch)
    out: dict[str, Any] = {}
    with _threads(threads):
        used_threads = torch.get_num_threads()
        with torch.inference_mode():
            reference = _call(module, x1)
        if backend == "auto":
            # Quick batch-1 race among the cheap backends that pass the equality check.
            race, rejected = {}, {}
            from emobench.profiling.backends import BackendMismatch, BackendUnavailable

            for name in candidates:
                try:
                    fn = _checked(name, module, x1, reference, threads, rtol)
                except (BackendUnavailable, BackendMismatch) as exc:
                    rejected[name] = str(exc)
                    continue
                race[name] = (float(np.median(time_calls(fn, x1, warmup=3, min_iters=10, min_time=min(0.3, min_time),
                                                         max_time=min(3.0, max_time), device=device))), fn)
            # reduced-precision backends are timed and reported, never chosen
            exact = [k for k in race if k not in REDUCED_PRECISION]
            if not exact:
                raise RuntimeError(f"no full-precision backend ran this network: {rejected}")
            chosen = min(exact, key=lambda k: race[k][0])
            fn = race[chosen][1]
            out["auto"] = {"batch1_p50_ms": {k: round(v[0], 4) for k, v in race.items()},
                           "rejected": rejected}
            if "eager" in race:
                out["auto"]["x_eager"] = {k: round(v[0] / race["eager"][0], 3) for k, v in race.items()}
            reported = [k for k in race if k in REDUCED_PRECISION]
            if reported:
                out["auto"]["not_chosen"] = {k: "reduced precision: reported beside the others, never "
                                                "chosen by auto" for k in reported}
        else:
            chosen = backend
            fn = _checked(backend, module, x1, reference, threads, rtol)
        t1 = time_calls(fn, x1, warmup=warmup, iters=iters, min_time=min_time, max_time=max_time,
                        device=device)
        if backend == "auto" and chosen != "eager" and "eager" in race:
            # A short race can be fooled (a busy neighbour, jit re-optimising
            # after its first calls): confirm against a full eager timing.
            t_eager = time_calls(module, x1, warmup=warmup, iters=iters, min_time=min_time,
                                 max_time=max_time, device=device)
            out["auto"]["confirm_p50_ms"] = {chosen: float(np.median(t1)), "eager": float(np.median(t_eager))}
            if np.median(t_eager) < np.median(t1):
                chosen, fn, t1 = "eager", module, t_eager
        if chosen in ("jit",):  # traced at batch 1: trace again for batch N
            with torch.inference_mode():
                ref_n = _call(module, xn)
            fn_n = _checked(chosen, module, xn, ref_n, threads, rtol)
        else:
            fn_n = fn
        roof = InterleavedRoofline()
        tn = time_calls(fn_n, xn, warmup=max(2, warmup // 2), iters=None if iters is None else max(3, iters // 2),
                        min_iters=10, min_time=min_time / 2, max_time=max_time, device=device,
                        after=roof.tick)
        flops = count_flops(module, x1)
        roof_gflops = roof.gflops
        roof_median = getattr(roof, "median_gflops", roof_gflops)
    p50, p95, p99 = (float(np.percentile(t1, q)) for q in (50, 95, 99))
    fps1 = 1e3 / float(np.median(t1))
    fpsn = batch * 1e3 / float(np.median(tn))
    gflops = flops / 1e9
    params = sum(p.numel() for p in module.parameters())
    weights_mb = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()]) / 2 ** 20
    out.update({
        "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "mean_ms": float(t1.mean()),
        "iters": int(len(t1)), "batchN_p50_ms": float(np.median(tn)), "batchN_iters": int(len(tn)),
        "fps_batch1": fps1, "fps_batchN": fpsn, "batch": int(batch),
        "source_fps": source_fps(fps1, realtime), "source_fps_batchN": source_fps(fpsn, realtime),
        "realtime": dict(realtime or {}),
        "params": int(params), "weights_mb": weights_mb, "gflops_per_item": gflops,
        "achieved_gflops": gflops * fpsn, "achieved_gflops_batch1": gflops * fps1,
        "roofline_gflops": roof_gflops, "roofline_fraction": gflops * fpsn / roof_gflops,
        "roofline_fraction_batch1": gflops * fps1 / roof_gflops,
        "roofline_fraction_best": gflops * batch * 1e3 / float(np.min(tn)) / roof_gflops,
        "roofline_median_gflops": roof_median, "roofline_timing": "interleaved",
        "roofline_ceiling": "fastest interleaved matmul",
        "peak_mem_mb": max(0.0, _maxrss_mb() - rss0),
        "backend": chosen, "threads": int(used_threads), "device": device,
        "input_shape": [list(t.shape) for t in _tensors(x1)],
        "load": [load0, load_average()],
    })
    return out
