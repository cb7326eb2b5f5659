"""Latency, throughput and cost of a model on this machine.

* :mod:`.latency` - :func:`profile_module`: batch-1 latency percentiles,
  throughput at batch 1 and N, ``source_fps`` (frames of source video per
  second of compute, from ``Model.realtime``), parameters, weights and peak
  memory growth;
* :mod:`.flops` - :func:`count_flops`: FLOPs of every layer (matrix products
  and convolutions at 2 FLOP per multiply-add, and every element-wise op,
  reduction, pooling and normalisation);
* :mod:`.roofline` - the machine: its fp32 matmul rate, timed between the
  model's calls so the roofline fraction compares like with like;
* :mod:`.backends` - eager, channels_last, jit, compile, onnx, bf16, each
  checked against eager PyTorch's outputs (bf16 at a looser tolerance);
  ``auto`` reports the fastest full-precision backend that agrees, with every
  backend's batch-1 time (bf16's too) beside it;
* :mod:`.models` - :func:`profile_model` for any registered model (its
  network, or its ``predict`` on synthetic input when it has none) at a given
  configuration, and :func:`profile_latency` after a run;
* :mod:`.pareto` - score against speed.
"""

from __future__ import annotations

from emobench.profiling import latency as _latency
from emobench.profiling.backends import (AUTO_BACKENDS, BACKENDS, REDUCED_PRECISION, BackendMismatch,
                                         BackendUnavailable, _checked, _prepare, bf16_support, check_equal,
                                         conv_ranks, register_backend)
from emobench.profiling.flops import count_flops, matmul_flops
from emobench.profiling.latency import REFERENCE_FPS, profile_module, source_fps, time_calls
from emobench.profiling.models import (config_hash, fitted_size, profile_latency, profile_model,
                                       profile_predict)
from emobench.profiling.pareto import pareto_front, pareto_plot
from emobench.profiling.roofline import InterleavedRoofline, load_average, machine_info, machine_roofline

__all__ = [
    "BACKENDS", "AUTO_BACKENDS", "REDUCED_PRECISION", "bf16_support", "conv_ranks", "BackendMismatch", "BackendUnavailable", "profile_model",
    "profile_module", "profile_predict", "profile_latency", "machine_roofline", "machine_info",
    "count_flops", "matmul_flops", "source_fps", "time_calls", "check_equal", "pareto_front",
    "pareto_plot", "register_backend", "config_hash", "fitted_size", "load_average",
    "InterleavedRoofline", "REFERENCE_FPS",
]
