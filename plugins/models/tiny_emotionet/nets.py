"""Tiny EmotioNet networks (Pandit et al., IPM 2020) in plain torch.

* :class:`TinyEmotioNetNet`: one Conv1d over the feature channels ('same'
  padding, stride 1), optional BatchNorm, linear or ReLU, then a per-time-step
  Linear(1 -> 1). 37 features and K = 80 give 2,963 parameters.
* :class:`ModelANet`: the 4-layer CNN of Schmitt et al. (Interspeech 2019),
  200x5, 64x20, 32x30, 32x50 with ReLU, then the per-step Linear; 406,001
  parameters for 37 features, receptive field 102 steps.

Inputs are (N, T, F), outputs (N, T). 'same' padding puts (K-1)//2 zeros on
the left like Keras (39 left, 40 right for K = 80).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class SameConv1d(nn.Conv1d):
    """Conv1d with Keras 'same' padding done explicitly: (K-1)//2 zeros on the
    left, the rest on the right (torch's padding='same' pads identically but
    copies the input with a warning for even kernels)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int):
        super().__init__(in_channels, out_channels, kernel)
        k = int(kernel)
        self.pads = ((k - 1) // 2, k - 1 - (k - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xp = F.pad(x, self.pads)
        k, o = self.kernel_size[0], self.out_channels
        if o * k > 512:
            return super().forward(xp)
        # Few output channels: oneDNN's conv is ~15x slower here than one GEMM
        # over the channels, z[k, o, n, s] = sum_f w[o, f, k] x[n, f, s],
        # followed by the diagonal sum y[n, o, t] = sum_k z[k, o, n, t + k].
        n, _, tp = xp.shape
        t = tp - k + 1
        z = torch.einsum("ofk,nfs->kons", self.weight, xp).contiguous()
        y = torch.as_strided(z, (o, n, t, k), (n * tp, tp, 1, o * n * tp + 1)).sum(-1)
        return y.permute(1, 0, 2) + self.bias[None, :, None]


class TinyEmotioNetNet(nn.Module):
    def __init__(self, n_features: int, kernel: int = 80, n_filters: int = 1,
                 activation: str = "linear", td_dense: bool = True, batchnorm: bool = False):
        super().__init__()
        if activation not in ("linear", "relu"):
            raise ValueError(f"tiny-emotionet: activation must be 'linear' or 'relu', got {activation!r}")
        if kernel < 1 or n_features < 1 or n_filters < 1:
            raise ValueError(f"tiny-emotionet: kernel, n_features and n_filters must be >= 1, "
                             f"got {kernel}, {n_features}, {n_filters}")
        if not td_dense and n_filters != 1:
            raise ValueError("tiny-emotionet: without td_dense the conv must have exactly 1 filter")
        self.kernel, self.activation = int(kernel), activation
        self.conv = SameConv1d(n_features, n_filters, int(kernel))
        self.bn = nn.BatchNorm1d(n_filters) if batchnorm else None
        self.dense = nn.Linear(n_filters, 1) if td_dense else None

    @property
    def context(self) -> tuple[int, int]:
        """Steps of (left, right) context one output needs."""
        return (self.kernel - 1) // 2, self.kernel - 1 - (self.kernel - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x.transpose(1, 2))
        if self.bn is not None:
            h = self.bn(h)
        if self.activation == "relu":
            h = torch.relu(h)
        h = h.transpose(1, 2)
        if self.dense is not None:
            h = self.dense(h)
        return h[..., 0]


class ModelANet(nn.Module):
    def __init__(self, n_features: int, filters: Sequence[int] = (200, 64, 32, 32),
                 kernels: Sequence[int] = (5, 20, 30, 50), dropout: float = 0.0):
        super().__init__()
        if len(filters) != len(kernels) or not filters:
            raise ValueError(f"tiny-emotionet-model-a: filters {filters} and kernels {kernels} "
                             "must be non-empty and of equal length")
        layers: list[nn.Module] = []
        width = n_features
        for f, k in zip(filters, kernels):
            layers += [SameConv1d(width, int(f), int(k)), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(f)
        self.convs = nn.Sequential(*layers)
        self.dense = nn.Linear(width, 1)
        self.kernels = tuple(int(k) for k in kernels)

    @property
    def context(self) -> tuple[int, int]:
        left = sum((k - 1) // 2 for k in self.kernels)
        return left, sum(k - 1 for k in self.kernels) - left

    @property
    def conv(self) -> SameConv1d:
        return self.convs[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x.transpose(1, 2)).transpose(1, 2)
        return self.dense(h)[..., 0]


def count_parameters(module: nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))
