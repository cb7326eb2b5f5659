"""FLOPs of a forward pass, every layer counted.

Matrix products and convolutions count 2 FLOP per multiply-add, as
``torch.utils.flop_counter.FlopCounterMode`` counts them (biases included in
those ops are not counted). Every other arithmetic op counts too, which
``FlopCounterMode`` leaves out: a point-wise op 1 FLOP per output element (2 for
a fused product and sum such as ``addcmul``), a reduction 1 per input element, pooling 1 per input element of each window,
normalisation and softmax a few per element. Without them EmoP3D's
weighted-sum pyramid layers (element-wise products and box sums) counted 0
and the network read 0.00073 GFLOP per clip instead of ~0.056.
Views, copies and allocations count nothing.
"""

from __future__ import annotations

import math


def _numel(x) -> int:
    import torch

    if isinstance(x, torch.Tensor):
        return x.numel()
    if isinstance(x, (tuple, list)):
        return sum(_numel(v) for v in x)
    return 0


# FLOP per element of the op's first input, for ops that are neither
# point-wise nor plain reductions (population moments: mean, centre, square,
# mean, scale; softmax: max, subtract, exp, sum, divide).
_PER_INPUT = {"native_layer_norm": 5, "native_group_norm": 5, "native_batch_norm": 5,
              "_native_batch_norm_legit": 5, "_native_batch_norm_legit_no_training": 2,
              "_softmax": 5, "_log_softmax": 5, "var_mean": 3, "var": 3, "std": 3, "std_mean": 3}


# Bumped when the counting rules change: figures cached under the old rules are stale.
COUNT_VERSION = "2"  # 2: fused product-and-sum point-wise ops count 2 per element

# point-wise ops that do two operations per output element (a product and a sum)
_PER_OUTPUT = {"addcmul": 2, "addcmul_": 2, "addcdiv": 2, "addcdiv_": 2, "lerp": 2, "lerp_": 2}


def _pool_flops(name: str, args, out) -> int:
    kernel = args[1] if len(args) > 1 else ()
    window = math.prod(kernel) if isinstance(kernel, (list, tuple)) and kernel else 1
    first = out[0] if isinstance(out, (tuple, list)) else out
    return first.numel() * window


class _CountAll:
    """A dispatch mode adding every non-matmul op's FLOPs to ``self.flops``."""

    def __new__(cls, skip):
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode

        class Mode(TorchDispatchMode):
            def __init__(self):
                super().__init__()
                self.flops = 0

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                if func._overloadpacket in skip:
                    return out
                name = func._overloadpacket.__name__
                tags = getattr(func, "tags", ())
                if name in _PER_INPUT:
                    self.flops += _PER_INPUT[name] * _numel(args[0])
                elif "pool" in name and "backward" not in name:
                    self.flops += _pool_flops(name, args, out)
                elif torch.Tag.reduction in tags:
                    self.flops += _numel(args[0])
                elif torch.Tag.pointwise in tags and name not in ("copy_", "clone", "_to_copy"):
                    self.flops += _PER_OUTPUT.get(name, 1) * _numel(out)
                return out

        return Mode()


def count_flops(module, example) -> int:
    """FLOPs of one forward pass of ``module`` on ``example`` (a tensor or a
    tuple of positional inputs), every layer counted (see the module docstring)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    xs = example if isinstance(example, tuple) else (example,)
    with torch.inference_mode(), counter:
        other = _CountAll(set(counter.flop_registry))
        with other:
            module(*xs)
    return int(counter.get_total_flops()) + int(other.flops)


def matmul_flops(module, example) -> int:
    """Only the matrix products and convolutions (``FlopCounterMode``'s count)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    xs = example if isinstance(example, tuple) else (example,)
    with torch.inference_mode(), counter:
        module(*xs)
    return int(counter.get_total_flops())
