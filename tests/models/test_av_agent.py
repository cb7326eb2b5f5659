"""The active audio-visual agent (Kansizoglou et al.): parameter counts, shapes, NHWC order."""

from __future__ import annotations

import numpy as np
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


# -- the models on the RML stand-in (smoke profile) ---------------------------------------

from emobench.data import Sample  # noqa: E402
from emobench.metrics import accuracy  # noqa: E402
from emobench.model import FitContext  # noqa: E402


@pytest.fixture(scope="module")
def rml_split(tmp_path_factory):
    from emobench_plugins.datasets.rml import EMOTION_TASK, Rml

    root = tmp_path_factory.mktemp("rml") / "RML_Dataset"
    Rml().write_standin(root, "tiny", seed=0)
    recs = Rml().load(root)
    as_sample = lambda r: Sample(r, EMOTION_TASK, {"face_video": "face_video", "audio": "audio"})
    test = [as_sample(r) for r in recs if r.subject == "s1"]
    valid = [as_sample(r) for r in recs if r.subject == "s2"]  # inner validation: never s1
    train = [as_sample(r) for r in recs if r.subject in ("s3", "s4")]
    ctx = FitContext(EMOTION_TASK, Rml.modalities, profile="smoke",
                     score=lambda s, p: accuracy([x.y for x in s], p))
    return train, valid, test, ctx


@pytest.fixture(scope="module")
def fitted_agent(rml_split):
    from emobench_plugins.models.av_agent import AVAgent

    train, valid, _, ctx = rml_split
    return AVAgent(rl_epochs=3).fit(train, valid, ctx)


@pytest.mark.slow
def test_branches_and_agent_fit_and_predict_classes(rml_split, fitted_agent):
    from emobench_plugins.models.av_agent import AVAudio

    train, valid, test, ctx = rml_split
    audio = AVAudio().fit(train, valid, ctx)
    assert audio.width_ == 0.125 and audio.fc_ == 128  # the slim smoke VGGish
    for model in (audio, fitted_agent):
        preds = model.predict(test)
        assert len(preds) == len(test) and all(0 <= p < 6 for p in preds)
        assert model.fit_seconds_ > 0
    # epoch selection ran on the validation speaker's clips only
    assert fitted_agent.visual_.history_["scores"] and len(fitted_agent.rl_history_) == 3


@pytest.mark.slow
def test_agent_streamer_matches_offline_outputs(rml_split, fitted_agent):
    _, _, test, ctx = rml_split
    sample = test[0]
    probs, stop = fitted_agent.window_outputs(sample)
    streamer = fitted_agent.streamer("online", ctx.task)
    pushed = [streamer.push(step) for step in fitted_agent.online_stream(sample)]
    np.testing.assert_allclose(np.stack(pushed), probs, atol=1e-5)
    threshold = float(fitted_agent.params["threshold"])
    if (stop >= threshold).any():
        assert streamer.decision == int(np.argmax(probs[int(np.argmax(stop >= threshold))]))
    else:
        assert streamer.decision is None


def test_weights_that_carry_code_are_refused_naming_the_file(rml_split, tmp_path):
    import pickle

    from emobench_plugins.models.av_agent import AVVisual

    bad = tmp_path / "visual.pt"
    bad.write_bytes(pickle.dumps({"x": Sample}))
    train, valid, _, ctx = rml_split
    with pytest.raises(ValueError, match="visual.pt"):
        AVVisual(weights=str(bad)).fit(train[:2], [], ctx)


def test_local_visual_weights_are_loaded(rml_split, tmp_path):
    from emobench_plugins.models.av_agent import AVVisual
    from emobench_plugins.models.av_agent.net import VisualNet

    torch.manual_seed(1)
    source = VisualNet(6, width=0.25)
    torch.save(source.state_dict(), tmp_path / "v.pt")
    train, _, _, ctx = rml_split
    model = AVVisual(weights=str(tmp_path / "v.pt"), window_budget=2, batch_size=2, lr=0.0)
    model.fit(train[:2], [], ctx)
    first = "backbone.features.0.0.weight"
    assert torch.equal(model.net_.state_dict()[first], source.state_dict()[first])


# -- model selection on the inner validation split, never the test speaker -------------

def test_rml_folds_keep_the_inner_validation_speakers_apart():
    """The default profile's RML folds (leave-one-speaker-out, capped to 3 groups):
    validation speakers are neither trained on nor tested."""
    from emobench import protocols as P
    from emobench.plugins import registry
    from emobench_plugins.datasets.rml import Rml

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "RML_Dataset"
        Rml().write_standin(root, "tiny", seed=0)
        recs = Rml().load(root)
    by_id = {r.id: r.subject for r in recs}
    for proto in (registry().protocol("loso"), P.capped(registry().protocol("loso"), 3)):
        for f in proto.folds(recs, 0):
            tr, va, te = ({by_id[i] for i in ids} for ids in (f.train, f.valid, f.test))
            assert va and tr and te
            assert not (va & te) and not (va & tr) and not (tr & te)


@pytest.mark.slow
def test_epoch_selection_scores_validation_clips_only(rml_split):
    """Every score the branches, the fusion head and the agent ask for (their epoch
    choice) is on the validation speaker's clips, never the test speaker's."""
    from emobench_plugins.models.av_agent import AVAgent

    train, valid, test, ctx = rml_split
    seen: list[str] = []

    def score(samples, preds):
        seen.extend(s.id for s in samples)
        return accuracy([x.y for x in samples], preds)

    probe = FitContext(ctx.task, ctx.modalities, profile="smoke", score=score)
    AVAgent(rl_epochs=1).fit(train, valid, probe)
    assert seen and set(seen) <= {s.id for s in valid}
    assert not set(seen) & {s.id for s in test}


def test_branches_start_with_logits_that_depend_on_the_input():
    """He / torchvision initialisation: at init the logits differ between inputs (with
    PyTorch's default init the slim VGGish's were constant to 1e-4 and a short budget
    ended at the majority class)."""
    from emobench_plugins.models.av_agent.net import AudioNet, VisualNet

    torch.manual_seed(0)
    with torch.no_grad():
        audio = AudioNet(6, 0.125, 128)(torch.randn(32, 1, 96, 64))
        visual = VisualNet(6, 0.25).train()(torch.randn(32, 3, 48, 48))
    assert audio.std(0).mean() > 1e-2 and visual.std(0).mean() > 1e-3


def test_training_windows_keep_the_floor_and_batchnorm_statistics_follow_training(rml_split):
    """A tiny share trains at least MIN_TRAIN windows (never more than the budget), and
    after training the visual branch's BatchNorm running statistics are re-estimated
    on training windows (no longer the initial zero mean / unit variance)."""
    from emobench.model import FitContext
    from emobench_plugins.models.av_agent import AVAudio, AVVisual, trained_windows

    assert trained_windows(AVAudio, 2000, 0.025) == 500 and trained_windows(AVAudio, 2000, 0.5) == 1000
    assert trained_windows(AVAudio, 300, 0.01) == 300 and trained_windows(AVVisual, 1200, 0.1) == 120
    train, _, _, ctx = rml_split
    small = FitContext(ctx.task, ctx.modalities, profile="default", seed=0, score=ctx.score,
                       options={"knobs": {"work": 0.025}})
    m = AVVisual(window_budget=64).fit(train, [], small)
    bn = m.net_.backbone.features[0][1]
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert m.net_.backbone.features[0][1].momentum == 0.1  # restored after re-estimating


def test_audio_bands_are_standardised_from_training_patches():
    net = AudioNet(6, width=0.125, fc=16)
    x = torch.randn(20, 1, 96, 64) * 3 + torch.linspace(-5, 5, 64)
    net.set_input_stats(x.numpy())
    z = ((x - net.band_mean) / net.band_std).reshape(-1, 64)
    assert torch.allclose(z.mean(0), torch.zeros(64), atol=1e-4)
    assert torch.allclose(z.std(0), torch.ones(64), atol=1e-3)
    assert "band_mean" not in dict(net.named_parameters())  # buffers: counts unchanged


def test_default_profile_costs_fit_the_planner_budget():
    """Declared seconds of one default-profile cell on the RML stand-in's folds
    (3 folds x 3 seeds, 2 trials, ~54 training clips): av-audio within ~70
    worker-seconds, av-visual and the agent within ~130 (the visual branch streams
    every frame of each test clip at batch 1 for the online trace: ~4.5 of its ~12
    CPU-s per fold measured), the agent costs more than the audio branch, and the
    paper profile costs far more. Measured against declared per fold (docs/models.md):
    within 1.5x at shares 0.1, 0.25 and 1."""
    from emobench_plugins.datasets.rml import EMOTION_TASK, Rml
    from emobench_plugins.models.av_agent import AVAgent, AVAudio, AVVisual

    knobs = {"profile": "default", "work": 1.0, "trials": 2, "n_valid": 24, "n_test": 42}
    cell = {}
    for cls in (AVVisual, AVAudio, AVAgent):
        c = cls.cost(Rml.modalities, EMOTION_TASK, 54, knobs)
        cell[cls.name] = 9 * (0.35 + 2 * (c["seconds"] + c.get("gflop", 0.0)))
    assert 10 < cell["av-audio"] <= 70 and 10 < cell["av-visual"] <= 130, cell
    assert cell["av-agent"] <= 130, cell
    assert cell["av-agent"] > cell["av-audio"]
    # below its floor of training windows a smaller share no longer cuts av-audio's training
    small = {w: AVAudio.cost(Rml.modalities, EMOTION_TASK, 54, {**knobs, "work": w})["seconds"]
             for w in (0.025, 0.1, 0.25, 1.0)}
    assert small[0.025] == small[0.1] == pytest.approx(small[0.25], rel=0.15)
    assert small[0.25] < small[1.0]
    paper = AVAudio.cost(Rml.modalities, EMOTION_TASK, 54, {**knobs, "profile": "paper"})
    assert paper["seconds"] > 20 * AVAudio.cost(Rml.modalities, EMOTION_TASK, 54, knobs)["seconds"]


def test_branch_streamers_batch_their_windows_as_push_would(rml_split):
    """push_many gives push's outputs window by window, and the online trace built on it
    is the step-by-step trace."""
    from emobench import online
    from emobench_plugins.models.av_agent import AVVisual

    train, valid, test, ctx = rml_split
    model = AVVisual().fit(train, valid, ctx)
    sample = test[0].without_labels()
    steps = list(online.default_stream(model, sample))
    streamer = model.streamer("online", ctx.task)
    np.testing.assert_allclose(np.stack(streamer.push_many(steps)),
                               np.stack([streamer.push(s) for s in steps]), atol=1e-5)  # fp32 batching

    class OneByOne:  # the same streamer without its batched path
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            if name == "push_many":
                raise AttributeError(name)
            return getattr(self.inner, name)

    class Unbatched:
        name = model.name

        def streamer(self, kind, task):
            return OneByOne(model.streamer(kind, task))

        def online_stream(self, s):
            return online.default_stream(model, s)

    assert online.trace_clip(model, sample, ctx.task) == online.trace_clip(Unbatched(), sample, ctx.task)
