"""Tiny EmotioNet: sizes from the paper's saved models, learning, streaming, attribution."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ccc_ref
import torch

from emobench.data import Modality, Recording, Sample, Task
from emobench.model import FitContext
from emobench_plugins.models import tiny_emotionet as te
from emobench_plugins.models.tiny_emotionet.postprocess import PostProcess, learn_postprocess, split_parts
from emobench_plugins.models.tiny_emotionet.nets import ModelANet, TinyEmotioNetNet, count_parameters
from emobench_plugins.models.common.torch_training import ccc_loss


pytestmark = pytest.mark.usefixtures("one_thread")




TASK = Task("arousal", "regression", level="frame", rate=10.0, metric="ccc")
CHANNELS = ("AU06_mean", "AU12_mean", "AU04_mean", "noise_a", "noise_b")
MODS = {"features": Modality("features", (None, 5), rate=10.0, channels=CHANNELS)}
DELAY_S = 0.5  # 5 steps at 10 Hz, stored in the recording meta


def make_samples(n: int, seed: int, length=(120, 200)) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        T = int(rng.integers(*length))
        raw = rng.normal(size=(T + 10, 5))
        x = np.stack([np.convolve(raw[:, j], np.ones(8) / 8, "same") for j in range(5)], 1)[:T]
        x = x.astype(np.float32)
        # The annotator reacts 5 steps late to a smile-minus-frown signal.
        clean = x[:, 0] + x[:, 1] - 0.8 * x[:, 2]
        y = np.concatenate([np.zeros(5), clean[:-5]]) + 0.05 * rng.normal(size=T)
        rec = Recording(f"r{seed}_{i}", f"s{i}", labels={"arousal": y.astype(np.float32)},
                        streams={"features": (lambda x=x, **kw: x)},
                        meta={"label_delay_s": {"arousal": DELAY_S}})
        out.append(Sample(rec, TASK, {"features": "features"}))
    return out


def score(samples, preds):
    return ccc_ref(np.concatenate([s.y for s in samples]), np.concatenate(preds))


def ctx(**kw):
    return FitContext(task=TASK, modalities=MODS, profile="smoke", seed=0, score=score, **kw)


@pytest.fixture(scope="module")
def data():
    return make_samples(6, 1), make_samples(3, 2), make_samples(3, 3)


@pytest.fixture(scope="module")
def fitted(data):
    train, valid, _ = data
    return te.TinyEmotioNet(kernel=15, lr=1e-2, epochs=120).fit(train, valid, ctx())


# --------------------------------------------------------------------- sizes
@pytest.mark.parametrize("features,kernel,td,expected", [
    (37, 80, True, 2963), (37, 50, True, 1853), (37, 60, True, 2223), (37, 80, False, 2961),
    (19, 80, True, 1523), (7, 80, True, 563), (14, 24, True, 339), (41, 24, True, 987)])
def test_tiny_parameter_counts(features, kernel, td, expected):
    assert count_parameters(TinyEmotioNetNet(features, kernel, td_dense=td)) == expected


@pytest.mark.parametrize("features,filters,kernels,expected", [
    (37, (200, 64, 32, 32), (5, 20, 30, 50), 406001), (47, (200, 64, 32, 32), (5, 20, 30, 50), 416001),
    (83, (200, 64, 32, 32), (5, 20, 30, 50), 452001), (37, (1, 1, 1, 1), (5, 20, 30, 50), 291),
    (37, (9, 9, 9, 9), (5, 20, 30, 50), 9811), (37, (1, 1), (15, 50), 609)])
def test_model_a_parameter_counts(features, filters, kernels, expected):
    assert count_parameters(ModelANet(features, filters, kernels)) == expected


def test_param_count_api_uses_paper_and_given_inputs():
    assert te.TinyEmotioNet.param_count() == 2963
    assert te.TinyEmotioNetModelA.param_count() == 406001
    assert te.TinyEmotioNetPain.param_count() == 339
    biovid = {"openface": Modality("features", (None, 41))}
    assert te.TinyEmotioNetPain.param_count(biovid) == 987
    assert te.TinyEmotioNet.param_count({"au": Modality("au_series", (None, 14))}, None) == 14 * 80 + 3


def test_same_padding_alignment_and_receptive_fields():
    net = TinyEmotioNetNet(1, 80, td_dense=False).eval()
    assert net.context == (39, 40)
    with torch.no_grad():
        net.conv.weight.zero_(); net.conv.bias.zero_()
        net.conv.weight[0, 0, 0] = 1.0  # first tap reads 39 steps back
        x = torch.arange(1768, dtype=torch.float32).reshape(1, 1768, 1)
        y = net(x)
    assert y.shape == (1, 1768)
    assert y[0, 100].item() == 61.0
    assert sum(ModelANet(37).context) + 1 == 102


def test_ccc_loss_properties():
    x = torch.randn(2, 50)
    x = x - x.mean(1, keepdim=True)
    m = torch.ones(2, 50)
    assert ccc_loss(x, x, m).item() == pytest.approx(0.0, abs=1e-6)
    assert ccc_loss(-x, x, m).item() == pytest.approx(2.0, abs=1e-5)
    assert ccc_loss(x + 1, x, m).item() > 0.1
    ref = np.mean([ccc_ref(x[i], x[i] * 0.5 + 0.3) for i in range(2)])
    assert 1 - ccc_loss(x * 0.5 + 0.3, x, m).item() == pytest.approx(ref, abs=1e-5)


def test_label_delay_paper_values_and_no_meta():
    model = te.TinyEmotioNet()
    sewa = Task("arousal", "regression", level="frame", rate=10.0)
    rec = Recording("a", "s", labels={"arousal": np.zeros(3)})
    assert model._delay_steps(Sample(rec, sewa, {}), sewa) == 40  # before fit: the paper's
    val = Task("valence", "regression", level="frame", rate=10.0)
    assert model._delay_steps(Sample(rec, val, {}), val) == 28
    # a recording's meta (on a stand-in: the generator's own delay) is never read
    rec.meta["label_delay_s"] = {"arousal": 2.5}
    assert model._delay_steps(Sample(rec, sewa, {}), sewa) == 40
    assert te.TinyEmotioNet(label_delay="paper")._delay_steps(None, sewa) == 40
    assert te.TinyEmotioNet(label_delay=0.0)._delay_steps(Sample(rec, sewa, {}), sewa) == 0


def test_label_delay_is_estimated_on_the_validation_split(data):
    train, valid, _ = data
    for s in train + valid:  # the meta says 4 s; the data's delay is 0.5 s
        s.recording.meta["label_delay_s"] = {"arousal": 4.0}
    m = te.TinyEmotioNet(kernel=3, epochs=1)
    m.fit(train, valid, ctx())
    assert m.delay_s_ == pytest.approx(DELAY_S)
    assert m.history_["label_delay_s"] == pytest.approx(m.delay_s_)
    assert te.TinyEmotioNet(kernel=3, epochs=1).fit(train, [], ctx()).delay_s_ is None
    for s in train + valid:
        s.recording.meta["label_delay_s"] = {"arousal": DELAY_S}


# ------------------------------------------------------------------ learning
def test_learns_delayed_signal_and_beats_mean(data, fitted):
    _, _, test = data
    preds = fitted.predict(test)
    assert [len(p) for p in preds] == [len(s.y) for s in test]
    gold = np.concatenate([s.y for s in test])
    assert score(test, preds) > 0.8
    assert ccc_ref(gold, np.full_like(gold, gold.mean()) + 1e-9 * np.arange(len(gold))) < 0.01
    assert fitted.history_["best_epoch"] >= 0


def test_model_a_and_pain_variants_train(data):
    train, valid, test = data
    a = te.TinyEmotioNetModelA(filters=(8, 4), kernels=(5, 9), lr=3e-3, epochs=40)
    a.fit(train, valid, ctx())
    assert score(test, a.predict(test)) > 0.5
    pain = te.TinyEmotioNetPain(kernel=9, lr_scale=10.0, epochs=60, label_delay="auto")
    pain.fit(train, valid, ctx())
    assert pain._setting("batch_size", 5) == 1024 and pain._setting("l1_bias", 14) == 0.01
    assert pain._setting("lr", 5) == pytest.approx(1e-2) and pain._setting("lr", 14) == pytest.approx(8e-3)
    assert score(test, pain.predict(test)) > 0.5


def test_postprocess_learnt_on_validation(data):
    train, valid, test = data
    m = te.TinyEmotioNet(kernel=15, lr=1e-2, epochs=30, postprocess=True).fit(train, valid, ctx())
    pp = m.postprocess_
    assert isinstance(pp, PostProcess)
    assert m.history_["postprocess"] == pp.to_dict()
    # Fitted on half of the validation subjects, chosen on the other half: it
    # never lowers the score of the selection half.
    fit, select = split_parts([s.subject for s in valid], 0)
    assert fit and select and not {valid[i].subject for i in fit} & {valid[i].subject for i in select}
    base = [m._finish(m._raw(m._x(valid[i])), valid[i]) for i in select]
    part = [valid[i] for i in select]
    assert score(part, [pp.apply(p) for p in base]) >= score(part, base) - 1e-12


def test_postprocess_is_fitted_on_one_part_and_selected_on_another():
    rng = np.random.default_rng(0)
    golds = [rng.normal(size=200) for _ in range(6)]
    # predictions that need +1 centring on the fitting half only: the selection
    # half, already centred, rejects the offset
    groups = [f"s{i}" for i in range(6)]
    fit, select = split_parts(groups, 3)
    preds = [g + rng.normal(0, 0.5, 200) - (1.0 if i in fit else 0.0) for i, g in enumerate(golds)]

    def score_part(idx, ps):
        return -float(np.mean(np.concatenate([(p - golds[i]) ** 2 for i, p in zip(idx, ps)])))

    pp = learn_postprocess(preds, golds, score_part, groups=groups, seed=3)
    assert abs(pp.b) < 0.5  # the fitting half's offset (about +1) was not kept
    # with one sequence nothing can be selected honestly
    assert learn_postprocess(preds[:1], golds[:1], score_part, groups=groups[:1]) == PostProcess()


# ----------------------------------------------------------------- streaming
@pytest.mark.parametrize("pp", [PostProcess(), PostProcess(median=5, a=1.3, b=-0.2, shift=4),
                                PostProcess(median=3, shift=-8)])
def test_streaming_equals_offline(data, fitted, pp):
    _, _, test = data
    fitted.postprocess_ = pp
    try:
        sample = test[0]
        offline = fitted.predict([sample])[0]
        st = fitted.streamer("features", TASK, label_delay_s=DELAY_S)
        got = {}
        for row in sample.x("features"):
            v = st.push(row)
            if v is not None:
                got[st.position] = v
        tail = st.flush()
        streamed = np.asarray(st.out)
        assert len(streamed) == len(offline) and len(tail) >= 0
        assert max(got) < len(offline)
        np.testing.assert_allclose([got[j] for j in sorted(got)], offline[sorted(got)], atol=1e-5)
        np.testing.assert_allclose(streamed, offline, atol=1e-5)
    finally:
        fitted.postprocess_ = PostProcess()


# ------------------------------------------------------------ interpretability
def test_attributions_sum_to_prediction(data, fitted):
    sample = data[2][1]
    att = fitted.attributions(sample)
    total = att["contributions"].sum(1) + att["bias"]
    np.testing.assert_allclose(total, att["output"], atol=1e-4, rtol=1e-5)
    assert att["contributions"].shape == (len(sample.y), 5)
    # The learnt filter weighs the smile channels against the frown channel.
    w = att["filter"].sum(1)
    assert w[0] > 0 and w[1] > 0 and w[2] < 0


def test_explain_writes_pngs(tmp_path, data, fitted):
    paths = fitted.explain(data[2][0], tmp_path)
    assert len(paths) == 2
    for p in paths:
        assert p.exists() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


def test_torch_module_and_realtime():
    net, example = te.TinyEmotioNet().torch_module()
    assert tuple(example.shape) == (1, 80, 37) and tuple(net(example).shape) == (1, 80)  # one streaming window
    assert te.TinyEmotioNet.realtime == {"window": 80, "hop": 1, "rate": 10}


def test_paper_params_validate_against_the_registry_rules():
    from emobench.plugins import validate_model

    for cls in te.emobench_register_models():
        assert validate_model(cls) == [], cls.name


def test_registration_returns_classes():
    classes = te.emobench_register_models()
    assert {c.name for c in classes} == {"tiny-emotionet", "tiny-emotionet-model-a",
                                         "tiny-emotionet-pain"}
    assert all(isinstance(c, type) for c in classes)


@pytest.mark.parametrize("out,k", [(1, 80), (1, 7), (3, 24), (64, 20)])
def test_same_conv_matches_torch_conv(out, k):
    from emobench_plugins.models.tiny_emotionet.nets import SameConv1d

    torch.manual_seed(0)
    conv = SameConv1d(5, out, k)
    x = torch.randn(3, 5, 150, requires_grad=True)
    ref = torch.nn.functional.conv1d(torch.nn.functional.pad(x, ((k - 1) // 2, k - 1 - (k - 1) // 2)),
                                     conv.weight, conv.bias)
    got = conv(x)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    g1 = torch.autograd.grad(got.square().sum(), [x, conv.weight])
    g2 = torch.autograd.grad(ref.square().sum(), [x, conv.weight])
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_the_label_lag_can_be_read_off_the_filter(data, fitted):
    """Trained without the delay shift, the filter puts its weight on the taps
    0.5 s (5 steps) before the output step, where the annotator's cue was;
    with the shift the weight sits at offset 0."""
    train, valid, _ = data

    def peak_offset(model) -> int:
        w, _ = model.effective_filter()
        left, _ = model.net_.context
        return int(np.argmax(np.abs(w[:3]).sum(0))) - left

    unshifted = te.TinyEmotioNet(kernel=15, lr=1e-2, epochs=120, label_delay=0.0)
    unshifted.fit(train, valid, ctx())
    assert peak_offset(unshifted) == -round(DELAY_S * TASK.rate)
    assert peak_offset(fitted) == 0
