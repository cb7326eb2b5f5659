"""3DPyraNet layers (Ullah & Petrosino, ACIVS 2016) as used by EmoP3D, in plain torch.

Layout is NCDHW. The original TensorFlow code builds one conv op per output
map and output depth in Python loops; here each layer is a handful of
vectorised ops:

* :class:`WS3D` - the weighted-sum pyramidal layer. Weights are attached to
  absolute input positions (row, column, channel) and the relative temporal
  offset tau, shared by every overlapping window and every output depth; the
  bias is per output neuron. For each tau, ``S_tau = sum_c W[tau] * X[t+tau]``
  (an elementwise product and channel sum), the three are summed and a
  VALID r_h x r_w box sum (shifted-slice adds) gathers each window.
* :class:`PyraPool3D` - spatial 2x2/2 max, sliding temporal max over 3
  (stride 1), as one ``F.max_pool3d``, then a learnable weight per (row,
  column, map) and bias per (depth, map).
* :func:`standardize` - per-sample, per-frame z-score over H and W, as
  ``F.layer_norm`` without affine parameters.

The two fused kernels replace reshape/stack maxima and a var_mean z-score
with the same results (tests/test_emop3d_kernels.py compares them with the
reference formulas): measured 2.8x (pooling) and 5x (normalisation) faster
forward + backward on this 2-core AVX2 machine (docs/performance.md).

Initialisation follows the TF code: Glorot-uniform (variance scaling 1.0,
fan_avg) for every weight and bias, with the fans computed as TensorFlow does
from the TF-layout shape.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LEAK = 0.01


def glorot_(tensor: torch.Tensor, tf_shape: tuple[int, ...]) -> torch.Tensor:
    """Fill ``tensor`` with U(-l, l), l = sqrt(6 / (fan_in + fan_out)), fans as TF computes
    them for ``tf_shape`` (the variable's shape in the original NDHWC code)."""
    if len(tf_shape) == 1:
        fan_in = fan_out = tf_shape[0]
    elif len(tf_shape) == 2:
        fan_in, fan_out = tf_shape
    else:
        rf = math.prod(tf_shape[:-2])
        fan_in, fan_out = tf_shape[-2] * rf, tf_shape[-1] * rf
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.uniform_(-limit, limit)


def standardize(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Z-score each (sample, channel, frame) over H and W (population variance).

    ``F.layer_norm`` over the last two dimensions is exactly this; a constant
    frame maps to 0. Non-finite inputs are zeroed by the caller once, at the
    network input: inside the network every value is finite, and a
    ``nan_to_num`` after every layer doubled the backward pass."""
    return F.layer_norm(x, x.shape[-2:], eps=eps)


def standardize_reference(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The formula :func:`standardize` computes, spelled out (kept for the
    equality test and for reading)."""
    var, mean = torch.var_mean(x, dim=(-2, -1), keepdim=True, correction=0)
    return torch.nan_to_num((x - mean) * torch.rsqrt(var + eps), nan=0.0, posinf=0.0, neginf=0.0)


def _window_sum(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """VALID sliding sum of ``size`` along ``dim`` as ``size`` shifted slices
    (several times faster on CPU than avg-pool or a ones-kernel conv), added in
    place into one buffer: a new tensor per slice made the layer memory-bound
    (docs/models.md, EmoP3D's speed)."""
    n = x.shape[dim] - size + 1
    if size == 1:
        return x.narrow(dim, 0, n)
    out = x.narrow(dim, 0, n) + x.narrow(dim, 1, n)
    for k in range(2, size):
        out.add_(x.narrow(dim, k, n))  # add's backward needs neither operand: autograd allows it
    return out


def _box_sum(x: torch.Tensor, rh: int, rw: int) -> torch.Tensor:
    return _window_sum(_window_sum(x, rw, -1), rh, -2)


class WS3D(nn.Module):
    """Weighted-sum 3D layer on (N, C, D, H, W) -> (N, F, D', H', W'), VALID, stride 1.

    Y[n,f,t,y,x] = sum_{tau,i,j,c} W[f,c,tau,y+i,x+j] X[n,c,t+tau,y+i,x+j] + B[f,t,y,x]
    """

    def __init__(self, in_shape: tuple[int, int, int, int], out_maps: int = 3,
                 rf: tuple[int, int, int] = (3, 4, 4), activation: bool = True):
        super().__init__()
        d, h, w, c = in_shape
        rt, rh, rw = rf
        if d < rt or h < rh or w < rw:
            raise ValueError(f"WS3D: input {in_shape} (D, H, W, C) smaller than the receptive "
                             f"field {rf}")
        self.in_shape, self.rf, self.out_maps = (d, h, w, c), (rt, rh, rw), out_maps
        self.out_shape = (d - rt + 1, h - rh + 1, w - rw + 1)
        self.weight = nn.Parameter(torch.empty(out_maps, c, rt, h, w))
        self.bias = nn.Parameter(torch.empty(out_maps, *self.out_shape))
        self.activation = activation
        glorot_(self.weight, (rt, h, w, c, out_maps))
        glorot_(self.bias, (*self.out_shape, out_maps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rt, rh, rw = self.rf
        dout = self.out_shape[0]
        # s[n, f, t, y, x] = sum_tau sum_c W[f, c, tau, y, x] X[n, c, t + tau, y, x]
        f, c, _, h, w = self.weight.shape
        s = None
        for tau in range(rt):  # rt (= 3) tensor ops, not a loop over neurons
            xs = x[:, :, tau:tau + dout]
            wt = self.weight[:, :, tau]
            # Broadcast multiply-sum: einsum lowers this to thousands of tiny bmm calls.
            # The terms accumulate in place (addcmul_): one buffer instead of one per tau.
            if c == 1:
                if s is None:
                    s = xs * wt.reshape(1, f, 1, h, w)
                else:
                    s.addcmul_(xs, wt.reshape(1, f, 1, h, w))
            else:
                term = (xs.unsqueeze(1) * wt.reshape(1, f, c, 1, h, w)).sum(2)
                s = term if s is None else s.add_(term)
        y = _box_sum(s, rh, rw).add_(self.bias)
        return F.leaky_relu(y, LEAK, inplace=True) if self.activation else y


def _pool_forward(x: torch.Tensor, temporal: int) -> torch.Tensor:
    """``max_pool3d(x, (temporal, 2, 2), (1, 2, 2))`` as elementwise maxima of strided
    views: the same values, 8x faster than the CPU kernel on 3 maps (0.39 against 3.2 ms
    a clip), but its backward is 2.4x slower, so it serves inference (no grad) alone."""
    h2, w2 = x.shape[-2] // 2, x.shape[-1] // 2
    x = x[..., :h2 * 2, :w2 * 2]
    rows = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
    y = torch.maximum(rows[..., 0::2], rows[..., 1::2])
    d = y.shape[2] - temporal + 1
    out = y.narrow(2, 0, d)
    for k in range(1, temporal):
        out = torch.maximum(out, y.narrow(2, k, d))
    return out


class PyraPool3D(nn.Module):
    """3DPyraNet weighted max pooling on (N, F, D, H, W) -> (N, F, D - rt + 1, H // 2, W // 2)."""

    def __init__(self, in_shape: tuple[int, int, int, int], pool: tuple[int, int] = (2, 2),
                 temporal: int = 3, activation: bool = True):
        super().__init__()
        d, h, w, f = in_shape
        self.pool, self.temporal = pool, temporal
        self.out_shape = (d - temporal + 1, h // pool[0], w // pool[1])
        self.weight = nn.Parameter(torch.empty(f, 1, *self.out_shape[1:]))
        self.bias = nn.Parameter(torch.empty(f, self.out_shape[0], 1, 1))
        self.activation = activation
        glorot_(self.weight, (1, *self.out_shape[1:], f))
        glorot_(self.bias, (self.out_shape[0], 1, 1, f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # max over (3 frames, 2 rows, 2 columns) = temporal max of the spatial maxima
        if torch.is_grad_enabled() or self.pool != (2, 2):
            y = F.max_pool3d(x, (self.temporal, *self.pool), (1, *self.pool))
        else:
            y = _pool_forward(x, self.temporal)
        y = y * self.weight + self.bias
        return F.leaky_relu(y, LEAK) if self.activation else y


class EmoP3DNet(nn.Module):
    """strict_norm_net: WS3D -> norm -> pool -> norm -> WS3D -> norm -> flatten -> Linear.

    Input (N, 1, 16, 100, 100) raw grey levels (standardised per frame inside);
    output logits (N, n_classes). 979,590 parameters for 6 classes.
    """

    def __init__(self, n_classes: int = 6, clip: tuple[int, int, int] = (16, 100, 100),
                 maps: int = 3, rf: tuple[int, int, int] = (3, 4, 4)):
        super().__init__()
        d, h, w = clip
        self.clip = clip
        self.l1 = WS3D((d, h, w, 1), maps, rf)
        self.l3 = PyraPool3D((*self.l1.out_shape, maps))
        self.l5 = WS3D((*self.l3.out_shape, maps), maps, rf)
        self.n_flat = maps * math.prod(self.l5.out_shape)
        self.fc = nn.Linear(self.n_flat, n_classes)
        glorot_(self.fc.weight, (self.n_flat, n_classes))
        glorot_(self.fc.bias, (n_classes,))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = standardize(torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0))
        x = standardize(self.l1(x))
        x = standardize(self.l3(x))
        return standardize(self.l5(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).flatten(1))
