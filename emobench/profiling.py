"""Latency, throughput and cost of a model's network on this machine.

:func:`profile_model` takes the network a model exposes through
``Model.torch_module(modalities, task)`` (its paper configuration when no
inputs are given), prepares it with an inference backend, checks that the
backend computes the same outputs as eager PyTorch, and measures:

* latency percentiles at batch 1 (``p50_ms``, ``p95_ms``, ``p99_ms``) after a
  warm-up, over at least ``min_iters`` calls and ``min_time`` seconds;
* throughput in items per second at batch 1 and at batch N;
* ``source_fps``: frames of source video processed per second of compute,
  from ``Model.realtime`` (see :func:`source_fps` and docs/performance.md);
* parameters, FLOPs per item (``FlopCounterMode``, 2 FLOP per multiply-add),
  achieved GFLOP/s and its fraction of the machine's measured fp32 matmul
  rate (:func:`machine_roofline`);
* ``peak_mem_mb``: growth of the process's peak resident set while the
  backend was built and run (``ru_maxrss``; see :func:`profile_module`).

Backends: ``eager``, ``channels_last``, ``jit`` (trace + freeze +
optimize_for_inference), ``compile`` (inductor with freezing; slow to build,
only on request), ``onnx`` (legacy exporter + onnxruntime, when installed).
``auto`` tries the cheap ones, drops any whose outputs differ from eager, and
reports the fastest, naming it in ``backend``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import os
import platform
import resource
import sys
import tempfile
import time
import warnings
from typing import Any, Callable

import numpy as np

__all__ = [
    "BACKENDS", "AUTO_BACKENDS", "BackendMismatch", "BackendUnavailable", "profile_model",
    "profile_module", "machine_roofline", "machine_info", "count_flops", "source_fps",
    "time_calls", "check_equal", "pareto_front", "pareto_plot", "register_backend",
]

AUTO_BACKENDS = ("eager", "channels_last", "jit", "onnx")
REFERENCE_FPS = 30.0  # video rate assumed when a model's input runs at its own rate


class BackendUnavailable(RuntimeError):
    """The backend cannot run this network here (missing package, unsupported layout)."""


class BackendMismatch(RuntimeError):
    """The backend's outputs differ from eager PyTorch beyond the tolerance."""


# ------------------------------------------------------------------ machine


@functools.lru_cache(maxsize=None)
def machine_roofline(threads: int | None = None, n: int = 2048, repeats: int = 7) -> float:
    """Measured fp32 matmul GFLOP/s (median of ``repeats`` n x n products) with
    ``threads`` torch threads; measured once per process and thread count."""
    import torch

    with _threads(threads):
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
        for _ in range(2):
            a @ b
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / float(np.median(times)) / 1e9


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(threads: int | None = None) -> dict:
    import torch

    info = {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "threads": threads or torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "cuda": torch.cuda.is_available(),
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info


@contextlib.contextmanager
def _threads(n: int | None):
    import torch

    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


# ------------------------------------------------------------------ inputs


def _tensors(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _batched(example, batch: int):
    """Repeat the batch-1 example along dim 0."""
    xs = tuple(t.repeat(batch, *([1] * (t.dim() - 1))) for t in _tensors(example))
    return xs if isinstance(example, (tuple, list)) else xs[0]


def _call(fn, x):
    return fn(*x) if isinstance(x, tuple) else fn(x)


def _first_output(y):
    import torch

    if isinstance(y, torch.Tensor):
        return y
    if isinstance(y, np.ndarray):
        return torch.from_numpy(y)
    if isinstance(y, (tuple, list)) and y:
        return _first_output(y[0])
    if isinstance(y, dict) and y:
        return _first_output(next(iter(y.values())))
    raise TypeError(f"cannot compare network output of type {type(y).__name__}")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


# ------------------------------------------------------------------ backends
#
# A backend builder takes (module, example, threads) and returns a callable
# taking the same positional inputs as the module. Builders may raise
# BackendUnavailable.


def _eager(module, example, threads):
    return module


def _channels_last(module, example, threads):
    import torch

    dims = {t.dim() for t in _tensors(example)}
    if dims & {4}:
        fmt = torch.channels_last
    elif dims & {5}:
        fmt = torch.channels_last_3d
    else:
        raise BackendUnavailable("channels_last needs a 4-D or 5-D input")
    m = copy.deepcopy(module).to(memory_format=fmt)

    def run(*xs):
        return m(*(x.contiguous(memory_format=fmt) if x.dim() in (4, 5) else x for x in xs))

    return run


def _jit(module, example, threads):
    import torch

    with warnings.catch_warnings():  # the jit API is deprecated in 2.13 but still the fastest here
        warnings.simplefilter("ignore")
        try:
            traced = torch.jit.trace(copy.deepcopy(module), _tensors(example), check_trace=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        except Exception as exc:
            raise BackendUnavailable(f"jit trace failed: {type(exc).__name__}: {exc}") from exc


def _compile(module, example, threads):
    import torch

    try:
        import torch._inductor.config as inductor_config
    except ImportError as exc:
        raise BackendUnavailable("torch.compile (inductor) is not available") from exc
    # Freezing constant-folds the weights: without it compile gains nothing at batch 1.
    inductor_config.freezing = True
    return torch.compile(copy.deepcopy(module))


@contextlib.contextmanager
def _quiet_fds():
    """Silence stdout/stderr at the file-descriptor level (the ONNX exporter
    prints from C++, which contextlib.redirect_* cannot catch)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _onnx(module, example, threads):
    import torch

    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise BackendUnavailable("onnxruntime is not installed (pip install emobench[realtime])") from exc
    xs = _tensors(example)
    names = [f"input{i}" for i in range(len(xs))]
    path = os.path.join(tempfile.mkdtemp(prefix="emobench-onnx-"), "model.onnx")
    try:
        # The exporter prints progress and, on failure, whole graphs: keep them out of reports.
        with warnings.catch_warnings(), _quiet_fds():
            warnings.simplefilter("ignore")
            # The legacy exporter takes well under a second; dynamo takes several.
            torch.onnx.export(copy.deepcopy(module), xs, path, input_names=names, output_names=["output"],
                              dynamic_axes={n: {0: "batch"} for n in names}, dynamo=False)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or torch.get_num_threads())
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise BackendUnavailable(f"ONNX export or load failed: {type(exc).__name__}: {first}") from exc

    def run(*inputs):
        feed = {n: np.ascontiguousarray(x.detach().cpu().numpy()) for n, x in zip(names, inputs)}
        return session.run(None, feed)[0]

    return run


BACKENDS: dict[str, Callable] = {
    "eager": _eager, "channels_last": _channels_last, "jit": _jit, "compile": _compile, "onnx": _onnx,
}


def register_backend(name: str, builder: Callable) -> None:
    """Add a backend ``builder(module, example, threads) -> callable``."""
    BACKENDS[name] = builder


def check_equal(reference, candidate, *, rtol: float = 1e-4, name: str = "backend") -> float:
    """Max abs difference between two outputs; raises :class:`BackendMismatch`
    when it exceeds ``rtol`` times the reference's largest magnitude (at least 1)."""
    ref = _first_output(reference).detach().float().cpu()
    got = _first_output(candidate).detach().float().cpu()
    if tuple(ref.shape) != tuple(got.shape):
        raise BackendMismatch(f"{name}: output shape {tuple(got.shape)} != eager {tuple(ref.shape)}")
    diff = float((ref - got).abs().max()) if ref.numel() else 0.0
    scale = max(1.0, float(ref.abs().max()) if ref.numel() else 1.0)
    if not diff <= rtol * scale:  # also catches NaN
        raise BackendMismatch(f"{name}: outputs differ from eager by {diff:.3g} "
                              f"(allowed {rtol * scale:.3g})")
    return diff


# ------------------------------------------------------------------ timing


def time_calls(fn: Callable, x, *, warmup: int = 5, iters: int | None = None, min_iters: int = 30,
               min_time: float = 1.0, max_time: float = 20.0, device: str = "cpu") -> np.ndarray:
    """Milliseconds of each call ``fn(x)`` after ``warmup`` calls.

    With ``iters`` exactly that many calls; otherwise calls continue until at
    least ``min_iters`` calls and ``min_time`` seconds, stopping at ``max_time``
    seconds (but never before 3 calls).
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
            n, elapsed = len(times), t1 - start
            if iters is not None:
                if n >= iters:
                    break
            elif (n >= min_iters and elapsed >= min_time) or (n >= 3 and elapsed >= max_time):
                break
    return np.asarray(times)


def count_flops(module, example) -> int:
    """FLOPs of one forward pass (``FlopCounterMode``: 2 FLOP per multiply-add;
    element-wise operations and pooling are not counted)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        _call(module, example)
    return int(counter.get_total_flops())


def _maxrss_mb() -> float:
    # Linux reports kilobytes, macOS bytes.
    scale = 1.0 / 1024 if sys.platform != "darwin" else 1.0 / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


# ------------------------------------------------------------------ realtime


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


# ------------------------------------------------------------------ profile


def _prepare(backend: str, module, example, threads):
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)}, auto)")
    try:
        return BACKENDS[backend](module, example, threads)
    except BackendUnavailable:
        raise
    except Exception as exc:  # e.g. channels_last_3d on a model with rank-3 weights
        raise BackendUnavailable(f"{backend}: {type(exc).__name__}: {exc}") from exc


def _checked(backend, module, example, reference, threads, rtol):
    import torch

    fn = _prepare(backend, module, example, threads)
    with torch.inference_mode():
        try:
            got = _call(fn, example)
        except Exception as exc:
            raise BackendUnavailable(f"{backend}: fails on the example: {type(exc).__name__}: {exc}") from exc
        check_equal(reference, got, rtol=rtol, name=backend)
    return fn


def profile_module(module, example, *, batch: int = 8, threads: int | None = None,
                   backend: str = "auto", iters: int | None = None, warmup: int = 5,
                   min_time: float = 1.0, rtol: float = 1e-4, realtime: dict | None = None,
                   device: str = "cpu", candidates: tuple[str, ...] = AUTO_BACKENDS) -> dict:
    """Profile ``module`` on ``example`` (batch-1 input, or a tuple of them).

    Returns the figures dict (see the module docstring). ``peak_mem_mb`` is
    the growth of the process's peak RSS during this call: exact for the
    first profile in a fresh process (as ``emobench profile`` and
    scripts/performance.py run it), an under-estimate (possibly 0) when the
    process already reached a higher peak. ``weights_mb`` is exact.
    """
    import torch

    rss0 = _maxrss_mb()
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
            for name in candidates:
                try:
                    fn = _checked(name, module, x1, reference, threads, rtol)
                except (BackendUnavailable, BackendMismatch) as exc:
                    rejected[name] = str(exc)
                    continue
                race[name] = (float(np.median(time_calls(fn, x1, warmup=3, min_iters=10, min_time=0.3,
                                                         max_time=3.0, device=device))), fn)
            chosen = min(race, key=lambda k: race[k][0])
            fn = race[chosen][1]
            out["auto"] = {"batch1_p50_ms": {k: round(v[0], 4) for k, v in race.items()},
                           "rejected": rejected}
        else:
            chosen = backend
            fn = _checked(backend, module, x1, reference, threads, rtol)
        t1 = time_calls(fn, x1, warmup=warmup, iters=iters, min_time=min_time, device=device)
        if backend == "auto" and chosen != "eager" and "eager" in race:
            # A short race can be fooled (a busy neighbour, jit re-optimising
            # after its first calls): confirm against a full eager timing.
            t_eager = time_calls(module, x1, warmup=warmup, iters=iters, min_time=min_time, device=device)
            out["auto"]["confirm_p50_ms"] = {chosen: float(np.median(t1)), "eager": float(np.median(t_eager))}
            if np.median(t_eager) < np.median(t1):
                chosen, fn, t1 = "eager", module, t_eager
        if chosen in ("jit",):  # traced at batch 1: trace again for batch N
            with torch.inference_mode():
                ref_n = _call(module, xn)
            fn_n = _checked(chosen, module, xn, ref_n, threads, rtol)
        else:
            fn_n = fn
        tn = time_calls(fn_n, xn, warmup=max(2, warmup // 2), iters=None if iters is None else max(3, iters // 2),
                        min_iters=10, min_time=min_time / 2, device=device)
        flops = count_flops(module, x1)
    roof = machine_roofline(threads)
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
        "roofline_gflops": roof, "roofline_fraction": gflops * fpsn / roof,
        "roofline_fraction_batch1": gflops * fps1 / roof,
        "peak_mem_mb": max(0.0, _maxrss_mb() - rss0),
        "backend": chosen, "threads": int(used_threads), "device": device,
        "input_shape": [list(t.shape) for t in _tensors(x1)],
    })
    return out


def _resolve_model(model):
    from emobench.model import Model

    if isinstance(model, str):
        from emobench.plugins import registry

        return registry().model(model)()
    if isinstance(model, type) and issubclass(model, Model):
        return model()
    if isinstance(model, Model):
        return model
    raise TypeError(f"profile_model: expected a model name, Model class or instance, got {model!r}")


def profile_model(model, *, modalities=None, task=None, batch: int = 8, threads: int | None = None,
                  backend: str = "auto", iters: int | None = None, warmup: int = 5,
                  min_time: float = 1.0, rtol: float = 1e-4, store=None, input_name: str | None = None,
                  device: str = "cpu") -> dict:
    """Profile a registered model (name, class or instance) through its
    ``torch_module(modalities, task)``; record it in ``store`` when given.

    Returns the figures of :func:`profile_module` plus ``model``, ``input``
    and ``machine``.
    """
    m = _resolve_model(model)
    got = m.torch_module(modalities, task)
    if got is None:
        raise ValueError(f"model {m.name!r} exposes no torch network (torch_module returned None)")
    module, example = got
    figures = profile_module(module, example, batch=batch, threads=threads, backend=backend, iters=iters,
                             warmup=warmup, min_time=min_time, rtol=rtol, realtime=m.realtime, device=device)
    shape = "x".join(str(d) for d in figures["input_shape"][0])
    name = input_name or (",".join(f"{k}:{v.kind}" for k, v in modalities.items()) if modalities else "paper")
    figures["input"] = f"{name}[{shape}]"
    figures["model"] = m.name
    figures["task"] = getattr(task, "name", None)
    machine = machine_info(figures["threads"])
    if store is not None:
        store.add_profile(model=m.name, input=figures["input"], backend=figures["backend"],
                          threads=figures["threads"], batch=figures["batch"], figures=_jsonable(figures),
                          machine=machine)
    figures["machine"] = machine
    return figures


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


# ------------------------------------------------------------------ pareto


def pareto_front(points: list[dict]) -> list[dict]:
    """Points not dominated in (score, fps), both higher-is-better, sorted by fps."""
    pts = [p for p in points if np.isfinite(p.get("score", np.nan)) and p.get("fps", 0) > 0]
    front = [p for p in pts if not any(
        q["score"] >= p["score"] and q["fps"] >= p["fps"] and (q["score"] > p["score"] or q["fps"] > p["fps"])
        for q in pts)]
    return sorted(front, key=lambda p: p["fps"])


def pareto_plot(points: list[dict], out_png, title: str = "", *, metric: str = "score") -> list[dict]:
    """Scatter of score against FPS (log x) with the Pareto front drawn and
    every point labelled with its ``model``; writes ``out_png`` and returns the front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    front = pareto_front(points)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    try:
        usable = [p for p in points if np.isfinite(p.get("score", np.nan)) and p.get("fps", 0) > 0]
        ax.scatter([p["fps"] for p in usable], [p["score"] for p in usable], color="tab:blue", zorder=3)
        for p in usable:
            ax.annotate(str(p.get("model", "?")), (p["fps"], p["score"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        if front:
            ax.plot([p["fps"] for p in front], [p["score"] for p in front], "--",
                    color="tab:red", label="Pareto front", zorder=2)
            ax.legend(loc="best", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("frames per second (batch 1, this machine)")
        ax.set_ylabel(metric)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_png)
    finally:
        plt.close(fig)
    return front
