"""The active audio-visual agent (Kansizoglou et al.): parameter counts, shapes, NHWC order."""

from __future__ import annotations

import pytest
import torch

from emobench_plugins.models.av_agent.net import (AudioNet, FusionHead, MobileNetV2Features,
                                                  OnlineAgent, VGGish, VisualNet)

pytestmark = pytest.mark.usefixtures("one_thread")


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_of_the_paper_configuration():
    assert _count(MobileNetV2Features()) == 2_223_872
    assert _count(VisualNet(6)) == 2_231_558
    vggish = VGGish()
    assert _count(vggish.features) == 4_499_712
    assert _count(vggish.embeddings) == 67_641_472
    assert _count(vggish) == 72_141_184
    assert _count(AudioNet(6)) == 72_141_958
    assert _count(FusionHead(1280 + 128, 6)) == 992_006


def test_shapes_of_branch_outputs():
    torch.manual_seed(0)
    vggish = VGGish().eval()
    with torch.no_grad():
        fmap = vggish.feature_map(torch.randn(2, 1, 96, 64))
        assert fmap.shape == (2, 512, 6, 4)
        assert vggish(torch.randn(2, 1, 96, 64)).shape == (2, 128)
        assert VisualNet(6).eval().embed(torch.randn(1, 3, 224, 224)).shape == (1, 1280)


def test_vggish_flattens_in_nhwc_order():
    """The first FC reads index (h * 4 + w) * C + c of the map: channels vary fastest."""
    vggish = VGGish(width=1 / 64, fc=8).eval()  # 8 channels at the last stage
    c = vggish.channels
    fmap = torch.zeros(1, c, 6, 4)
    fmap[0, 5, 2, 3] = 7.0  # channel 5 at h=2, w=3
    vggish.feature_map = lambda x: fmap  # the forward pass flattens this known map
    fc1 = vggish.embeddings[0]

    def first_hidden(index: int) -> float:
        with torch.no_grad():
            fc1.weight.zero_()
            fc1.bias.zero_()
            fc1.weight[0, index] = 1.0
            return float(torch.relu(fc1(_flattened(vggish, fmap)))[0, 0])

    assert first_hidden((2 * 4 + 3) * c + 5) == 7.0       # NHWC
    assert first_hidden(5 * 24 + 2 * 4 + 3) == 0.0         # where NCHW would put it


def _flattened(vggish, fmap):
    """The vector VGGish.forward feeds its first FC, captured by a forward hook."""
    seen = {}
    handle = vggish.embeddings[0].register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0]))
    with torch.no_grad():
        vggish(torch.zeros(1, 1, 96, 64))
    handle.remove()
    return seen["x"]


def test_online_agent_is_causal():
    torch.manual_seed(0)
    agent = OnlineAgent(16, 6, hidden=8).eval()
    x = torch.randn(1, 5, 16)
    y = x.clone()
    y[:, 4] = torch.randn(16)
    with torch.no_grad():
        (a, pa), (b, pb) = agent(x), agent(y)
    assert torch.allclose(a[:, :4], b[:, :4]) and torch.allclose(pa[:, :4], pb[:, :4])
    assert not torch.allclose(a[:, 4], b[:, 4])
