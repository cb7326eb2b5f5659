"""Inference backends a network can be profiled (and run) on, and the check
that a backend computes what eager PyTorch computes.

A backend builder takes (module, example, threads) and returns a callable
taking the same positional inputs as the module; builders may raise
:class:`BackendUnavailable`. ``eager``, ``channels_last``, ``jit`` (trace +
freeze + optimize_for_inference), ``compile`` (inductor with freezing; slow to
build, only on request), ``onnx`` (legacy exporter + onnxruntime), ``bf16``
(``torch.autocast("cpu", dtype=torch.bfloat16)`` around the eager forward; only
where the CPU has bf16 instructions, checked against eager at the looser
tolerance of :data:`REDUCED_PRECISION`; ``auto`` times and reports it but never
chooses it, since it does not compute what eager computes).

``channels_last`` is a layout of convolution weights and activations, so it is
decided from the network's convolutions, not the input's rank: 2-d convolutions
get ``torch.channels_last`` weights and 4-d inputs, 3-d ones (``nn.Conv3d`` or a
layer with a 5-d ``weight``, as EmoP3D's pyramidal layers) ``channels_last_3d``
weights and 5-d inputs. A 5-d clip fed to a network of 2-d convolutions (TSM
ResNet, EMERT: frames folded into the batch inside) stays contiguous.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import sys
import tempfile
import warnings
from typing import Callable

import numpy as np

AUTO_BACKENDS = ("eager", "channels_last", "jit", "onnx", "bf16")

# Backends that compute at a lower precision: the tolerance of their equality
# check (times the reference's largest magnitude, at least 1). ``auto`` reports
# their timing but chooses among the full-precision backends only.
REDUCED_PRECISION: dict[str, float] = {"bf16": 5e-2}


class BackendUnavailable(RuntimeError):
    """The backend cannot run this network here (missing package, unsupported layout)."""


class BackendMismatch(RuntimeError):
    """The backend's outputs differ from eager PyTorch beyond the tolerance."""


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


def _eager(module, example, threads):
    return module


def conv_ranks(module) -> set[int]:
    """Spatial ranks (2, 3) of the network's convolutions: ``nn.Conv2d`` /
    ``nn.Conv3d`` (and their transposes), and any other layer whose own
    ``weight`` is 5-d (a 3-d weighted-sum layer such as EmoP3D's WS3D)."""
    import torch

    ranks = set()
    for m in module.modules():
        w = getattr(m, "weight", None)
        if isinstance(m, torch.nn.modules.conv._ConvNd):
            if isinstance(w, torch.Tensor) and w.dim() in (4, 5):
                ranks.add(w.dim() - 2)
        elif isinstance(w, torch.nn.Parameter) and w.dim() == 5:
            ranks.add(3)
    return ranks


def _channels_last(module, example, threads):
    import torch

    ranks = conv_ranks(module)
    if not ranks:
        raise BackendUnavailable("channels_last: the network has no 2-d or 3-d convolutions")
    # the layout each tensor rank gets: 4-d for 2-d convolutions, 5-d for 3-d ones
    fmts = {r + 2: (torch.channels_last if r == 2 else torch.channels_last_3d) for r in ranks}
    if not any(t.dim() in fmts for t in _tensors(example)) and not (2 in ranks):
        # 3-d convolutions but no 5-d input: nothing reaches them in channels_last_3d
        raise BackendUnavailable("channels_last: 3-d convolutions need a 5-d input")
    m = copy.deepcopy(module)
    if set(fmts) == {4}:
        m = m.to(memory_format=torch.channels_last)
    else:  # Module.to converts every 4-d and 5-d tensor to one format; here each gets its rank's
        def convert(t):
            fmt = fmts.get(t.dim())
            return t.contiguous(memory_format=fmt) if fmt is not None else t

        m._apply(convert)

    def run(*xs):
        return m(*(x.contiguous(memory_format=fmts[x.dim()]) if x.dim() in fmts else x for x in xs))

    run.layout = {f"{d}-d": str(f).replace("torch.", "") for d, f in sorted(fmts.items())}
    return run


def bf16_support() -> tuple[bool, str]:
    """Whether this CPU runs bf16 natively (AVX-512 BF16 or AMX): (ok, why)."""
    import torch

    cap = torch.backends.cpu.get_cpu_capability()
    probes = []
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(torch.cpu, name, None)
        if fn is not None:
            with contextlib.suppress(Exception):
                probes.append((name[4:-10], bool(fn())))
    flags: set[str] = set()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    have = sorted({n for n, ok in probes if ok} | (flags & {"avx512_bf16", "amx_bf16"}))
    if have:
        return True, f"bf16 instructions: {', '.join(have)} (capability {cap})"
    return False, (f"the CPU has no bf16 instructions (capability {cap}; no avx512_bf16 or amx_bf16): "
                   f"bf16 autocast would be emulated and slower than fp32")


def _bf16(module, example, threads):
    import torch

    ok, why = bf16_support()
    if not ok:
        raise BackendUnavailable(f"bf16: {why}")

    def run(*xs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return module(*xs)

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
    try:
        # the session holds the graph in memory: the exported file goes once it is loaded
        with tempfile.TemporaryDirectory(prefix="emobench-onnx-") as tmp:
            path = os.path.join(tmp, "model.onnx")
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
    "bf16": _bf16,
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


def _prepare(backend: str, module, example, threads):
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)}, auto)")
    try:
        return BACKENDS[backend](module, example, threads)
    except BackendUnavailable:
        raise
    except Exception as exc:  # e.g. a layout or dtype a layer does not support
        raise BackendUnavailable(f"{backend}: {type(exc).__name__}: {exc}") from exc


def _checked(backend, module, example, reference, threads, rtol):
    import torch

    fn = _prepare(backend, module, example, threads)
    rtol = max(rtol, REDUCED_PRECISION.get(backend, rtol))
    with torch.inference_mode():
        try:
            got = _call(fn, example)
        except Exception as exc:
            raise BackendUnavailable(f"{backend}: fails on the example: {type(exc).__name__}: {exc}") from exc
        check_equal(reference, got, rtol=rtol, name=backend)
    return fn
