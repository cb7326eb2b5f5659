"""EMERT: parameter counts of the released variants, the gradient-reversal layer, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.data import Task
from emobench.model import FitContext
from emobench_plugins.models.emert import EMERT
from emobench_plugins.models.emert.net import CrossTransformer, EMERTNet, reverse_gradient

pytestmark = pytest.mark.usefixtures("one_thread")


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("variant,n_out,total,used", [
    ("va", 1, 12_768_179, 12_249_796),
    ("va", 7, 12_768_233, 12_249_850),
    ("discrete", 7, 12_625_209, 12_106_826),
    ("discrete", 3, 12_625_077, 12_106_694),
    ("intensity", 7, 12_765_946, 12_247_563),
])
def test_parameter_counts_of_the_released_variants(variant, n_out, total, used):
    assert _count(EMERTNet(n_out, variant, keep_unused=True)) == total
    assert _count(EMERTNet(n_out, variant)) == used


def test_component_sizes_and_outputs():
    net = EMERTNet(7, "discrete")
    assert _count(net.eye) == 350_720 and _count(net.fixation) == 331_776
    assert _count(CrossTransformer(64)) == 289_152 and _count(CrossTransformer(32)) == 140_480
    out = net.eval()(torch.rand(2, 8, 3, 32, 32), torch.rand(2, 32, 39), torch.rand(2, 32, 2))
    assert out["out"].shape == (2, 7) and out["fused"].shape == (2, 32)
    assert len(out["discriminator"]) == 6 and all(d.shape == (2, 3) for d in out["discriminator"])


def test_gradient_reversal_is_identity_forward_and_minus_lambda_backward():
    x = torch.randn(5, requires_grad=True)
    y = reverse_gradient(x, 0.7)
    assert torch.equal(y, x)
    (y * torch.arange(5.0)).sum().backward()
    assert torch.allclose(x.grad, -0.7 * torch.arange(5.0))


class _Sample:
    """The class is in the eye-movement stream only; faces are noise."""

    def __init__(self, i: int, label: int, task: Task):
        rng = np.random.default_rng(i)
        self.id, self.task, self.y, self.subject = f"e{i}", task, label, f"s{i}"
        self.faces = rng.integers(0, 255, size=(8, 16, 16, 3)).astype(np.uint8)
        self.eye = rng.normal(size=(32, 39)).astype(np.float32)
        self.eye[:, :5] += 2.0 * (label * 2 - 1)
        self.fix = rng.normal(size=(32, 2)).astype(np.float32)

    def x(self, name, **spec):
        return {"face_video": self.faces, "eye_movement": self.eye, "fixations": self.fix}[name]


def test_learns_from_the_eyes():
    task = Task(name="er", kind="classification", level="clip", classes=("negative", "positive"))
    train = [_Sample(i, i % 2, task) for i in range(32)]
    test = [_Sample(100 + i, i % 2, task) for i in range(16)]
    ctx = FitContext(task=task, modalities={}, profile="smoke", seed=0)
    model = EMERT(lr=1e-3, size=16, epochs=4, batch_size=8, sample_budget=None).fit(train, [], ctx)
    acc = np.mean([p == s.y for p, s in zip(model.predict(test), test)])
    assert acc >= 0.8


def test_default_profile_freezes_the_face_encoder_and_uses_small_positional_embeddings():
    task = Task(name="er", kind="classification", level="clip", classes=("negative", "positive"))
    train = [_Sample(i, i % 2, task) for i in range(32)]
    ctx = FitContext(task=task, modalities={}, profile="default", seed=0)
    model = EMERT(lr=1e-3, size=16, epochs=2, batch_size=8, sample_budget=64)
    torch.manual_seed(0)
    fresh = EMERTNet(2, "discrete", width=16)
    model.fit(train, [], ctx)
    net = model.net_
    # the frozen face ResNet keeps the weights it was initialised with (seed 0, as in fit)
    torch.manual_seed(0)
    init = EMERTNet(2, "discrete", width=16, dropout=0.1, pos_std=0.02)
    for (k, a), (_, b) in zip(net.face.state_dict().items(), init.face.state_dict().items()):
        assert torch.equal(a, b), k
    assert not any(p.requires_grad for p in net.face.parameters())
    assert float(net.transformer.pos_source.detach().std()) < 0.1 < float(fresh.transformer.pos_source.detach().std())
    # precomputed face features give the same outputs as the faces themselves
    net.eval()
    faces = torch.rand(3, 8, 3, 16, 16)
    eye, fix = torch.randn(3, 32, 39), torch.randn(3, 32, 2)
    with torch.no_grad():
        a = net(faces, eye, fix)["out"]
        b = net(None, eye, fix, face_features=net.face_features(faces))["out"]
    assert torch.allclose(a, b)


def test_budgeted_epochs_may_hold_several_passes_and_cost_counts_a_frozen_face_once():
    from emobench.plugins import registry

    ds = registry().dataset("emer")
    t = ds.task("er7")
    knobs = {"profile": "default", "trials": 2, "n_valid": 56, "n_test": 70}
    frozen = EMERT.cost(ds.modalities, t, 224, {**knobs, "work": 1.0})["gflop"]
    class Trained(EMERT):
        FREEZE_FACE = {"smoke": False, "default": False, "paper": False}

    trained = Trained.cost(ds.modalities, t, 224, {**knobs, "work": 1.0})["gflop"]
    assert frozen < trained
    assert EMERT.cost(ds.modalities, t, 224, {**knobs, "work": 0.5})["gflop"] < frozen
