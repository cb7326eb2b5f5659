"""EMERT's network: face, eye-movement and fixation streams, modality-adversarial
decoupling and a cross-transformer (Liu et al., EMER).

Three variants share the trunk: ``"va"`` (model.py: 64-d transformer, a 64-32-16-8-C
LeakyReLU head), ``"discrete"`` (model_D.py: two-layer 128-64-32 projections, a
32-d transformer, a Linear(32, C) head, and the fused feature returned too) and
``"intensity"`` (in_model.py: the 64-d trunk with a C-way and a 1-d head).
``keep_unused=True`` adds the original's dead parameters (the ResNet's 1000-way fc
and a Linear(768, 7) classifier) so that parameter counts match the released code.
"""

from __future__ import annotations

import torch
from torch import nn

from emobench_plugins.models.tsm_resnet.net import ResNet18TSM

FACE_FRAMES, EYE_STEPS, EYE_FEATURES, FIX_FEATURES = 8, 32, 39, 2
TOKENS = FACE_FRAMES + 2 * EYE_STEPS  # 72


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient is multiplied by -lambda on the way back."""

    @staticmethod
    def forward(ctx, x, lam: float):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lam * grad, None


def reverse_gradient(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    return GradientReversal.apply(x, lam)


class CrossLayer(nn.Module):
    """Pre-LN cross-attention (query from the target, key/value from the source), then an FFN."""

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 64, mlp: int | None = None,
                 dropout: float = 0.5):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.scale = heads, dim_head ** -0.5
        self.norm_q, self.norm_k, self.norm_v = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))
        mlp = mlp or dim
        self.ffn = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, mlp), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp, dim), nn.Dropout(dropout))

    def forward(self, target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        b, n, _ = target.shape
        q, k, v = (proj(norm(x)).view(b, -1, self.heads, proj.out_features // self.heads).transpose(1, 2)
                   for proj, norm, x in ((self.to_q, self.norm_q, target), (self.to_k, self.norm_k, source),
                                         (self.to_v, self.norm_v, source)))
        attn = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, -1)
        target = target + self.to_out(out)
        return target + self.ffn(target)


class CrossTransformer(nn.Module):
    def __init__(self, dim: int, depth: int = 2, tokens: int = TOKENS, emb_dropout: float = 0.1,
                 pos_std: float = 1.0):
        super().__init__()
        # the released code draws the positional embeddings from N(0, 1) (pos_std 1)
        self.pos_source = nn.Parameter(torch.randn(1, tokens, dim) * pos_std)
        self.pos_target = nn.Parameter(torch.randn(1, tokens, dim) * pos_std)
        self.dropout = nn.Dropout(emb_dropout)
        self.layers = nn.ModuleList(CrossLayer(dim) for _ in range(depth))

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        source = self.dropout(source + self.pos_source)
        target = self.dropout(target + self.pos_target)
        for layer in self.layers:
            target = layer(target, source)
        return target


def _projection(discrete: bool) -> nn.Module:
    if discrete:
        return nn.Sequential(nn.Linear(128, 64), nn.LeakyReLU(0.1), nn.Linear(64, 32))
    return nn.Linear(128, 64)


class EMERTNet(nn.Module):
    VARIANTS = ("va", "discrete", "intensity")

    def __init__(self, n_out: int, variant: str = "discrete", keep_unused: bool = False,
                 dropout: float = 0.5, width: int = 64, pos_std: float = 1.0):
        super().__init__()
        if variant not in self.VARIANTS:
            raise ValueError(f"emert: variant={variant!r} must be one of {', '.join(self.VARIANTS)}")
        self.variant = variant
        discrete = variant == "discrete"
        dim = 32 if discrete else 64
        resnet = ResNet18TSM(1000, shift="none", width=width)  # width 64 is ResNet-18
        if not keep_unused:
            resnet.fc = nn.Identity()
        self.face = resnet
        self.eye = nn.LSTM(EYE_FEATURES, 128, num_layers=3, batch_first=True)
        self.fixation = nn.LSTM(FIX_FEATURES, 128, num_layers=3, batch_first=True)
        self.proj_face = nn.Linear(8 * width, 128)
        self.dropout = nn.Dropout(dropout)
        self.specific = nn.ModuleList(_projection(discrete) for _ in range(3))
        self.shared = _projection(discrete)
        self.discriminator = nn.Linear(dim, 3)
        self.transformer = CrossTransformer(dim, pos_std=pos_std)
        if keep_unused:
            self.unused_classifier = nn.Linear(768, 7)
        if variant == "va":
            self.head = nn.Sequential(nn.Linear(64, 32), nn.LeakyReLU(), nn.Linear(32, 16), nn.LeakyReLU(),
                                      nn.Linear(16, 8), nn.LeakyReLU(), nn.Linear(8, n_out))
        elif discrete:
            self.head = nn.Linear(32, n_out)
        else:
            self.head = nn.Linear(64, n_out)
            self.intensity_head = nn.Linear(64, 1)

    def _face_features(self, faces: torch.Tensor) -> torch.Tensor:
        b, t = faces.shape[:2]
        r = self.face
        x = r.maxpool(r.relu(r.bn1(r.conv1(faces.reshape(b * t, *faces.shape[2:])))))
        x = r.layer4(r.layer3(r.layer2(r.layer1(x))))
        return torch.flatten(r.avgpool(x), 1).view(b, t, -1)  # the fc is never used

    def face_features(self, faces: torch.Tensor) -> torch.Tensor:
        """(B, 8, 8 x width) pooled ResNet features of the face frames (before proj_face)."""
        return self._face_features(faces)

    def forward(self, faces: torch.Tensor | None, eye: torch.Tensor, fixation: torch.Tensor, lam: float = 1.0,
                face_features: torch.Tensor | None = None):
        """faces (B, 8, 3, 112, 112), eye (B, 32, 39), fixation (B, 32, 2) ->
        dict(out, discriminator: six (B, 3) logits [3 specific, 3 invariant], fused, intensity).
        ``face_features`` (from :meth:`face_features`) replaces ``faces`` when the face
        encoder is frozen and its outputs were computed once."""
        if face_features is None:
            face_features = self._face_features(faces)
        streams = [self.proj_face(face_features), self.eye(eye)[0], self.fixation(fixation)[0]]
        streams = [self.dropout(s) for s in streams]
        specific = [proj(s) for proj, s in zip(self.specific, streams)]
        invariant = [self.shared(s) for s in streams]
        disc = [self.discriminator(s.mean(1)) for s in specific]
        disc += [self.discriminator(reverse_gradient(s.mean(1), lam)) for s in invariant]
        fused = self.transformer(torch.cat(specific, 1), torch.cat(invariant, 1)).mean(1)
        result = {"out": self.head(fused), "discriminator": disc, "fused": fused}
        if self.variant == "intensity":
            result["intensity"] = self.intensity_head(fused).squeeze(-1)
        return result


def emert_loss(result: dict, task_loss: torch.Tensor, alpha: float = 0.1, beta: float = 0.1,
               delta: float = 1.0) -> torch.Tensor:
    """alpha * L_inv + beta * L_spec + delta * L_task; modality labels face 0, eye 1, fixation 2."""
    disc = result["discriminator"]
    b = disc[0].shape[0]
    ce = nn.functional.cross_entropy
    labels = [torch.full((b,), m, dtype=torch.long, device=disc[0].device) for m in range(3)]
    spec = sum(ce(d, y) for d, y in zip(disc[:3], labels))
    inv = sum(ce(d, y) for d, y in zip(disc[3:], labels))
    return alpha * inv + beta * spec + delta * task_loss
