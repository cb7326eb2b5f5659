"""Networks of the active audio-visual agent (Kansizoglou, Bampis, Gasteratos, IEEE TAC 2022).

VisualNet: MobileNetV2 features (torchvision's layout, written in plain torch: no
torchvision here) + Linear(1280 -> C). AudioNet: VGGish on (1, 96, 64) log-mel
patches, the (512, 6, 4) map flattened in NHWC order (as the TensorFlow original),
+ Linear(128 -> C). FusionHead: BN1d(1408) -> 512 -> 512 -> C over the frozen
branches' embeddings. OnlineAgent: the emobench reconstruction of the unreleased
stage, a GRU over fused per-window embeddings with a class head and a wait/classify
policy head. ``width`` knobs shrink the branches for the CPU profiles.
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, channels c, repeats n, first stride s): torchvision's MobileNetV2 table
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _divisible(v: float, d: int = 8) -> int:
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU6(inplace=True)) if act else nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else [_conv_bn(cin, hidden, 1)]
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden), _conv_bn(hidden, cout, 1, act=False)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2Features(nn.Module):
    """torchvision ``mobilenet_v2().features`` (2,223,872 parameters at width 1) + global mean."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        cin = _divisible(32 * width)
        self.out_dim = _divisible(1280 * max(1.0, width))
        layers = [_conv_bn(3, cin, 3, 2)]
        for t, c, n, s in MOBILENET_V2:
            cout = _divisible(c * width)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers.append(_conv_bn(cin, self.out_dim, 1))
        self.features = nn.Sequential(*layers)

    def forward(self, x):  # (B, 3, H, W) in [-1, 1] -> (B, out_dim)
        return self.features(x).mean((2, 3))


def init_for_relu(module: nn.Module, linear_std: float | None = None) -> None:
    """He-normal convolutions (fan-out, torchvision's MobileNetV2 init) and linear
    layers (fan-in; N(0, ``linear_std``) when given), zero biases, BN at (1, 0).
    PyTorch's default init (kaiming-uniform, a = sqrt(5): a third of He's variance)
    shrinks the signal ~2.5x per ReLU layer: at init a from-scratch VGGish's logits
    were the same for every input (std across a batch 1e-4) and a short budget ended
    at the majority class."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            if linear_std is None:
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, 0.0, linear_std)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
        else:
            continue
        if getattr(m, "bias", None) is not None:
            nn.init.zeros_(m.bias)


class VisualNet(nn.Module):
    def __init__(self, n_classes: int = 6, width: float = 1.0, dropout: float = 0.2):
        super().__init__()
        self.backbone = MobileNetV2Features(width)
        self.embed_dim = self.backbone.out_dim
        self.drop = nn.Dropout(dropout)  # torchvision's classifier minus its Linear
        self.fc = nn.Linear(self.embed_dim, n_classes)
        init_for_relu(self, linear_std=0.01)  # torchvision's MobileNetV2 init

    def embed(self, x):
        return self.backbone(x)

    def forward(self, x):
        return self.fc(self.drop(self.embed(x)))


VGGISH_CONV = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")


class VGGish(nn.Module):
    """VGGish: 3x3 convolutions 64-128-256-256-512-512 with four max-pools, then
    FC 4096-4096-128 with ReLU. ``width`` scales the channels, ``fc`` the hidden FC size."""

    def __init__(self, width: float = 1.0, fc: int = 4096, embed: int = 128):
        super().__init__()
        layers, cin = [], 1
        for v in VGGISH_CONV:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                cout = max(4, int(round(v * width)))
                layers += [nn.Conv2d(cin, cout, 3, 1, 1), nn.ReLU(inplace=True)]
                cin = cout
        self.features = nn.Sequential(*layers)
        self.channels = cin
        self.embeddings = nn.Sequential(nn.Linear(cin * 6 * 4, fc), nn.ReLU(inplace=True),
                                        nn.Linear(fc, fc), nn.ReLU(inplace=True),
                                        nn.Linear(fc, embed), nn.ReLU(inplace=True))

    def feature_map(self, x):  # (B, 1, 96, 64) -> (B, C, 6, 4)
        return self.features(x)

    def forward(self, x):
        # NHWC flatten: the TensorFlow VGGish's FC weights index (h, w, c), channels fastest
        return self.embeddings(self.feature_map(x).permute(0, 2, 3, 1).reshape(len(x), -1))


class AudioNet(nn.Module):
    """VGGish + Linear(128 -> C). The log-mel input is standardised per mel band by
    buffers (not parameters) set from the training patches (:meth:`set_input_stats`;
    identity until then): the original fed AudioSet-pretrained VGGish raw log-mel,
    a from-scratch VGGish without batch norm learns far faster on standardised bands."""

    def __init__(self, n_classes: int = 6, width: float = 1.0, fc: int = 4096):
        super().__init__()
        self.vggish = VGGish(width, fc)
        self.embed_dim = 128
        self.fc = nn.Linear(128, n_classes)
        self.register_buffer("band_mean", torch.zeros(64))
        self.register_buffer("band_std", torch.ones(64))
        init_for_relu(self)

    def set_input_stats(self, patches) -> None:
        """Per-band mean and std of (N, 1, 96, 64) training patches."""
        x = torch.as_tensor(patches, dtype=torch.float32).reshape(-1, 64)
        self.band_mean.copy_(x.mean(0))
        self.band_std.copy_(x.std(0).clamp_min(1e-3))

    def embed(self, x):
        return self.vggish((x - self.band_mean) / self.band_std)

    def forward(self, x):
        return self.fc(self.embed(x))


class FusionHead(nn.Module):
    """concat(visual, audio) -> BN1d -> Linear 512 -> BN -> ReLU -> Linear 512 -> BN -> ReLU -> Linear C."""

    def __init__(self, in_dim: int = 1408, n_classes: int = 6, hidden: int = 512):
        super().__init__()
        self.net = nn.Sequential(nn.BatchNorm1d(in_dim), nn.Linear(in_dim, hidden),
                                 nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden),
                                 nn.ReLU(inplace=True), nn.Linear(hidden, n_classes))

    def hidden(self, z):  # the 512-d fused embedding the online stage reads
        return self.net[:-1](z)

    def forward(self, z):
        return self.net(z)


class OnlineAgent(nn.Module):
    """emobench reconstruction: GRU over per-window fused embeddings; at each window a
    class head (logits) and a policy head (logits of wait = 0 / classify = 1)."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 64):
        super().__init__()
        self.gru = nn.GRU(in_dim, hidden, batch_first=True)
        self.classify = nn.Linear(hidden, n_classes)
        # the policy sees the state and the class head's confidence (max probability)
        self.policy = nn.Linear(hidden + 1, 2)

    def step(self, x, h=None):
        """x (B, T, D) -> class logits (B, T, C), policy logits (B, T, 2), last state."""
        out, h = self.gru(x, h)
        logits = self.classify(out)
        conf = logits.softmax(-1).max(-1, keepdim=True).values.detach()
        return logits, self.policy(torch.cat([out.detach(), conf], -1)), h

    def forward(self, x):
        logits, policy, _ = self.step(x)
        return logits, policy
