"""ResNet-18 in plain torch with torchvision's state-dict keys, and two temporal shifts.

The network maps (N, T, 3, H, W) clips to per-frame logits (N, T, classes).
``shift="vtt"`` is the VTT system's variant: a quarter of the channels take
the previous frame's values (causal, frame 0 keeps its own), applied on the
main path after layer1, layer2 and layer3. ``shift="tsm"`` is the official
TSM: an eighth of the channels from the next frame, an eighth from the
previous one, zero padding, inside each residual branch before its first
convolution. ``shift="none"`` is the static ResNet-18 whose weights initialise
either shift model (the shifts have no parameters).
"""

from __future__ import annotations

import torch
from torch import nn


def vtt_shift(x: torch.Tensor, t: int, fold_div: int = 4) -> torch.Tensor:
    """(N*T, C, H, W): channels [0, C/fold_div) of frame i take frame i-1's; frame 0 keeps its own."""
    nt, c, h, w = x.shape
    x = x.view(nt // t, t, c, h, w)
    fold = c // fold_div
    shifted = torch.cat([x[:, :1, :fold], x[:, :-1, :fold]], dim=1)
    return torch.cat([shifted, x[:, :, fold:]], dim=2).view(nt, c, h, w)


def tsm_shift(x: torch.Tensor, t: int, fold_div: int = 8) -> torch.Tensor:
    """Official TSM: C/8 channels from the next frame, C/8 from the previous, zeros at the ends."""
    nt, c, h, w = x.shape
    x = x.view(nt // t, t, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))
        self.frames = 0  # > 0: shift inside the residual branch (official TSM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        branch = tsm_shift(x, self.frames) if self.frames else x
        out = self.relu(self.bn1(self.conv1(branch)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18TSM(nn.Module):
    """ResNet-18 (BasicBlock [2, 2, 2, 2], 7x7/2 stem, 3x3/2 max pool, fc) over frames of a clip."""

    SHIFTS = ("vtt", "tsm", "none")

    def __init__(self, n_classes: int = 7, shift: str = "vtt", width: int = 64):
        super().__init__()
        if shift not in self.SHIFTS:
            raise ValueError(f"tsm-resnet: shift={shift!r} must be one of {', '.join(self.SHIFTS)}")
        self.shift = shift
        w = width
        self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(w, w), BasicBlock(w, w))
        self.layer2 = nn.Sequential(BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 2 * w))
        self.layer3 = nn.Sequential(BasicBlock(2 * w, 4 * w, 2), BasicBlock(4 * w, 4 * w))
        self.layer4 = nn.Sequential(BasicBlock(4 * w, 8 * w, 2), BasicBlock(8 * w, 8 * w))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * w, n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def set_shift(self, shift: str) -> None:
        """Switch the shift without touching the weights (static -> temporal)."""
        if shift not in self.SHIFTS:
            raise ValueError(f"tsm-resnet: shift={shift!r} must be one of {', '.join(self.SHIFTS)}")
        self.shift = shift

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        n, t = clips.shape[:2]
        x = clips.reshape(n * t, *clips.shape[2:])
        tsm = t if self.shift == "tsm" else 0
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                block.frames = tsm
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for layer in (self.layer1, self.layer2, self.layer3):
            x = layer(x)
            if self.shift == "vtt":
                x = vtt_shift(x, t)
        x = self.layer4(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x).view(n, t, -1)


def vtt_loss(logits: torch.Tensor, target: torch.Tensor, neutral: int | None, lam: float = 0.5
             ) -> torch.Tensor:
    """VTT loss on (M, C) logits and (M,) class indices: (1 - lam) * BCE of the one-hot C-way
    target + lam * BCE of [logit_neutral, max other logit] against [y_neutral, sum other y].
    Without a neutral class only the C-way term is used."""
    bce = nn.functional.binary_cross_entropy_with_logits
    onehot = nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)
    emo = bce(logits, onehot)
    if neutral is None:
        return emo
    others = torch.cat([logits[:, :neutral], logits[:, neutral + 1:]], dim=1)
    pair = torch.stack([logits[:, neutral], others.max(dim=1).values], dim=1)
    y_neu = onehot[:, neutral]
    neu = bce(pair, torch.stack([y_neu, 1 - y_neu], dim=1))
    return (1 - lam) * emo + lam * neu
