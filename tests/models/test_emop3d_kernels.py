"""EmoP3D's fused kernels and micro-batches compute what the reference formulas compute."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from emobench_plugins.models.emop3d import accumulate_step
from emobench_plugins.models.emop3d.pyranet import EmoP3DNet, PyraPool3D, standardize, standardize_reference


def _pool_reference(x, pool=(2, 2), temporal=3):
    # the former implementation: VALID 2x2 spatial max as a reshape, then a sliding temporal max
    n, f, d, h, w = x.shape
    h2, w2 = h // pool[0], w // pool[1]
    y = x[..., :h2 * pool[0], :w2 * pool[1]].reshape(n, f, d, h2, pool[0], w2, pool[1]).amax(dim=(4, 6))
    dd = y.shape[2] - temporal + 1
    return torch.stack([y.narrow(2, k, dd) for k in range(temporal)]).amax(0)


def test_standardize_equals_the_z_score_formula():
    torch.manual_seed(0)
    x = torch.rand(3, 2, 5, 13, 11) * 255
    x[0, 0, 0] = 7.0  # a constant frame maps to zeros in both
    got, ref = standardize(x), standardize_reference(x)
    assert torch.allclose(got, ref, atol=1e-5, rtol=0)
    assert got[0, 0, 0].abs().max() == 0
    # population moments over H and W, by numpy
    a = x[1, 1, 2].double().numpy()
    assert np.allclose(got[1, 1, 2].numpy(), (a - a.mean()) / np.sqrt(a.var() + 1e-8), atol=1e-5)


def test_pyramidal_pool_equals_spatial_then_temporal_max():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 9, 15, 14)  # odd height: the last row is dropped in both
    layer = PyraPool3D((9, 15, 14, 3), activation=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.zero_()
        assert torch.equal(layer(x), _pool_reference(x))


def test_micro_batches_give_the_whole_batch_gradient():
    torch.manual_seed(2)
    net = EmoP3DNet(3, clip=(8, 24, 24))
    X = (np.random.default_rng(0).random((20, 8, 24, 24)) * 255).astype(np.uint8)
    Y = torch.tensor(np.arange(20) % 3)
    idx = np.arange(20)
    accumulate_step(net, X, Y, idx, "cpu", micro=16)
    micro = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    F.cross_entropy(net(torch.from_numpy(X).float()[:, None]), Y).backward()
    for a, b in zip(micro, (p.grad for p in net.parameters())):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def _ws3d_reference(layer, x):
    # the weighted-sum layer out of place, term by term (what the in-place kernel adds up)
    rt, rh, rw = layer.rf
    d = layer.out_shape[0]
    s = sum((x[:, None, :, tau:tau + d] * layer.weight[None, :, :, tau, None]).sum(2) for tau in range(rt))
    h, w = s.shape[-2] - rh + 1, s.shape[-1] - rw + 1
    box = sum(s[..., i:i + h, j:j + w] for i in range(rh) for j in range(rw))
    return F.leaky_relu(box + layer.bias, 0.01)


@pytest.mark.parametrize("channels", [1, 3])
def test_in_place_weighted_sum_has_the_reference_values_and_gradients(channels):
    from emobench_plugins.models.emop3d.pyranet import WS3D

    torch.manual_seed(3)
    layer = WS3D((6, 9, 8, channels), out_maps=2, rf=(3, 4, 4))
    x = torch.randn(2, channels, 6, 9, 8, requires_grad=True)
    got = layer(x)
    ref = _ws3d_reference(layer, x)
    assert torch.allclose(got, ref, atol=1e-5)
    g = torch.randn_like(got)
    grads = torch.autograd.grad(got, [x, layer.weight, layer.bias], g)
    refs = torch.autograd.grad(ref, [x, layer.weight, layer.bias], g)
    for a, b in zip(grads, refs):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
