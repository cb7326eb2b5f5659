"""Training plumbing shared by the built-in torch models.

Seeding, CCC / MSE losses with masks, batching of variable-length series,
per-sample input selection, and the epoch loop that keeps the weights of the
best validation epoch (scored with ``ctx.score`` on the validation samples
only) and reports each epoch to the tuner for pruning.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from emobench.data import Sample
from emobench.model import FitContext


def conv_layout(net: nn.Module, device) -> nn.Module:
    """``net`` in channels-last memory layout on a CPU (its 2-d convolutions, pooling and
    batch norm then run oneDNN's blocked kernels; the NCHW max-pool kernel alone was
    slower than the convolutions): measured 1.1-1.7x faster training and 1.2-2.4x faster
    prediction for the built-in 2-d conv networks on the AMX Xeon (docs/models.md,
    tests/bench/bench_layouts.py).
    The values are the same up to float rounding; other devices keep their layout."""
    if torch.device(device).type == "cpu":
        return net.to(memory_format=torch.channels_last)
    return net


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch from ``seed`` and return a numpy Generator derived from it."""
    torch.manual_seed(int(seed))
    return np.random.default_rng(int(seed))


def input_kind(model_name: str, consumes: Sequence[str], sample: Sample) -> str:
    """The consumed kind this sample provides (the first of ``consumes`` in its inputs)."""
    for kind in consumes:
        if kind in sample.inputs:
            return kind
    raise ValueError(f"model {model_name!r}: sample {sample.id!r} provides none of "
                     f"{', '.join(consumes)} (inputs: {', '.join(sample.inputs) or 'none'})")


def series(sample: Sample, kind: str, model_name: str) -> np.ndarray:
    """A (T, D) float32 copy of the sample's series, non-finite values set to 0."""
    x = np.asarray(sample.x(kind), dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"model {model_name!r}: {kind!r} of sample {sample.id!r} must be "
                         f"(T, D), got shape {x.shape}")
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).copy()


def channel_names(ctx: FitContext | None, sample: Sample, kind: str, n: int) -> list[str]:
    """Column names of the consumed modality, or f0..f{n-1} when the corpus gives none."""
    name = sample.inputs.get(kind, kind)
    mod = (ctx.modalities.get(name) if ctx is not None else None)
    if mod is not None and len(mod.channels) == n:
        return list(mod.channels)
    return [f"f{i}" for i in range(n)]


def pad_sequences(seqs: Sequence[np.ndarray], mode: str, length: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Stack 2-D or 1-D sequences to a common length.

    ``tile``: shorter sequences continue by repeating themselves (Tiny
    EmotioNet's SEWA "continuation"), every step counts in the loss;
    ``zero``: zero padding that counts in the loss (its UNBC / BioVid scripts);
    ``mask``: zero padding excluded from the loss. Returns (array, mask).
    """
    if mode not in ("tile", "zero", "mask"):
        raise ValueError(f"pad mode must be 'tile', 'zero' or 'mask', got {mode!r}")
    length = length or max(len(s) for s in seqs)
    shape = (len(seqs), length) + tuple(np.asarray(seqs[0]).shape[1:])
    out = np.zeros(shape, dtype=np.float32)
    mask = np.zeros((len(seqs), length), dtype=np.float32)
    for i, s in enumerate(seqs):
        s = np.asarray(s, dtype=np.float32)[:length]
        n = len(s)
        if mode == "tile" and n > 0:
            reps = int(math.ceil(length / n))
            out[i] = np.concatenate([s] * reps)[:length]
            mask[i] = 1.0
        else:
            out[i, :n] = s
            if mode == "zero":
                mask[i] = 1.0
            else:
                mask[i, :n] = 1.0
    return out, mask


def ccc_per_sequence(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                     eps: float = 1e-7) -> torch.Tensor:
    """Concordance correlation of each row (population moments over the masked steps)."""
    n = mask.sum(dim=1).clamp_min(1.0)
    mp = (pred * mask).sum(1) / n
    mt = (target * mask).sum(1) / n
    dp, dt = (pred - mp[:, None]) * mask, (target - mt[:, None]) * mask
    cov = (dp * dt).sum(1) / n
    vp, vt = (dp ** 2).sum(1) / n, (dt ** 2).sum(1) / n
    return 2 * cov / (vp + vt + (mp - mt) ** 2 + eps)


def ccc_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - CCC per sequence, averaged over the batch (Tiny EmotioNet's ``ccc_2``)."""
    return 1.0 - ccc_per_sequence(pred, target, mask).mean()


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (((pred - target) ** 2) * mask).sum() / mask.sum().clamp_min(1.0)


class Standardizer:
    """Per-column z-score fitted on the training rows (constant columns keep scale 1)."""

    def __init__(self, rows: np.ndarray | None = None, enabled: bool = True):
        self.mean = self.std = None
        if enabled and rows is not None and len(rows):
            self.mean = rows.mean(0).astype(np.float32)
            std = rows.std(0).astype(np.float32)
            self.std = np.where(std > 1e-8, std, 1.0).astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None:
            return x
        return ((x - self.mean) / self.std).astype(np.float32)


def train_epochs(module: nn.Module, n_epochs: int, step: Callable[[int], None],
                 evaluate: Callable[[], float] | None, ctx: FitContext,
                 eval_every: int = 1) -> dict:
    """Run ``step(epoch)`` n_epochs times; after every ``eval_every`` epochs score
    the validation samples, report it (the tuner may raise optuna.TrialPruned,
    which propagates) and keep the best weights, restored at the end.

    Returns a history dict (best epoch, best score, scores per evaluated epoch).
    Without validation samples the last epoch is kept.
    """
    best_score, best_epoch, best_state = -math.inf, -1, None
    scores: list[tuple[int, float]] = []
    for epoch in range(n_epochs):
        module.train()
        step(epoch)
        last = epoch == n_epochs - 1
        if evaluate is None or not ((epoch + 1) % eval_every == 0 or last):
            continue
        module.eval()
        score = float(evaluate())
        scores.append((epoch, score))
        ctx.report(epoch, score if math.isfinite(score) else -1e9)
        if best_state is None or (math.isfinite(score) and score > best_score):
            best_score, best_epoch = score, epoch
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        best_epoch = n_epochs - 1
    module.eval()
    return {"best_epoch": best_epoch, "best_score": best_score, "scores": scores,
            "epochs": n_epochs}


def resolve_epochs(params: dict, ctx: FitContext, smoke: int, default: int, paper: int) -> int:
    """``params['epochs']`` when set (an explicit budget), else the profile's."""
    if params.get("epochs"):
        return int(params["epochs"])
    return int(ctx.epochs(smoke, default, paper))
