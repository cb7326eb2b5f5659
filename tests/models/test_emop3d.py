"""EmoP3D: 3DPyraNet layers against naive loops, sizes, learning, streaming."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from emobench.data import Modality, Recording, Sample, Task
from emobench.model import FitContext
from emobench_plugins.models import emop3d
from emobench_plugins.models.emop3d import pyranet as emop3d_pyranet
from emobench_plugins.models.emop3d.pyranet import WS3D, EmoP3DNet, PyraPool3D, standardize


pytestmark = pytest.mark.usefixtures("one_thread")


def naive_ws3d(x, w, b, rf):
    """x (D, H, W, C), w (rt, H, W, C, F), b (D', H', W', F): the reference formula."""
    D, H, W, C = x.shape
    rt, rh, rw = rf
    Fm = w.shape[-1]
    out = np.zeros((D - rt + 1, H - rh + 1, W - rw + 1, Fm))
    for t, y, xx, f in itertools.product(*map(range, out.shape)):
        acc = b[t, y, xx, f]
        for tau, i, j, c in itertools.product(range(rt), range(rh), range(rw), range(C)):
            acc += w[tau, y + i, xx + j, c, f] * x[t + tau, y + i, xx + j, c]
        out[t, y, xx, f] = acc
    return out


def test_ws3d_matches_naive_loop():
    torch.manual_seed(0)
    layer = WS3D((5, 7, 6, 2), out_maps=2, rf=(3, 4, 4), activation=False)
    x = torch.randn(1, 2, 5, 7, 6)
    got = layer(x)[0].permute(1, 2, 3, 0).detach().numpy()   # -> (D', H', W', F)
    w = layer.weight.detach().numpy().transpose(2, 3, 4, 1, 0)  # -> (rt, H, W, C, F)
    b = layer.bias.detach().numpy().transpose(1, 2, 3, 0)
    ref = naive_ws3d(x[0].permute(1, 2, 3, 0).numpy(), w, b, (3, 4, 4))
    assert got.shape == ref.shape == (3, 4, 3, 2)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    act = WS3D((5, 7, 6, 2), 2, (3, 4, 4))
    act.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(act(x).detach(), torch.nn.functional.leaky_relu(layer(x), 0.01).detach())


def test_ws3d_gradient_is_shared_by_overlapping_windows():
    torch.manual_seed(1)
    layer = WS3D((4, 6, 6, 1), out_maps=1, rf=(3, 4, 4), activation=False)
    x = torch.randn(1, 1, 4, 6, 6)
    layer(x).sum().backward()
    assert layer(x).shape == (1, 1, 2, 3, 3)
    grad = layer.weight.grad[0, 0].numpy()            # (rt, H, W)
    X = x[0, 0].numpy()
    cover = np.array([sum(1 for o in range(3) if o <= p < o + 4) for p in range(6)])
    for tau, y, xx in itertools.product(range(3), range(6), range(6)):
        expected = cover[y] * cover[xx] * sum(X[t + tau, y, xx] for t in range(2))
        assert grad[tau, y, xx] == pytest.approx(expected, abs=1e-5)
    # a corner pixel is covered by one window per output depth, the centre by nine
    assert cover[0] * cover[0] == 1 and cover[3] * cover[3] == 9
    np.testing.assert_allclose(layer.bias.grad.numpy(), np.ones((1, 2, 3, 3)))


def test_pool_matches_naive_loop():
    torch.manual_seed(2)
    pool = PyraPool3D((5, 6, 7, 2), activation=False)
    x = torch.randn(1, 2, 5, 6, 7)
    got = pool(x)[0].detach().numpy()
    X, Wp, Bp = x[0].numpy(), pool.weight.detach().numpy(), pool.bias.detach().numpy()
    ref = np.zeros((2, 3, 3, 3))
    for f, t, y, xx in itertools.product(range(2), range(3), range(3), range(3)):
        m = max(X[f, t + k, 2 * y + i, 2 * xx + j] for k in range(3) for i in range(2) for j in range(2))
        ref[f, t, y, xx] = m * Wp[f, 0, y, xx] + Bp[f, t, 0, 0]
    np.testing.assert_allclose(got, ref, atol=1e-6)
    trained = pool(x).detach()
    with torch.no_grad():  # inference takes the strided-maxima path: the very same values
        assert torch.equal(pool(x), trained)
        big = torch.randn(2, 2, 5, 9, 11)  # odd sides: the last row and column are left out
        assert torch.equal(emop3d_pyranet._pool_forward(big, 3),
                           torch.nn.functional.max_pool3d(big, (3, 2, 2), (1, 2, 2)))


def test_standardize_per_frame():
    x = torch.randn(2, 3, 4, 5, 6) * 7 + 3
    z = standardize(x)
    torch.testing.assert_close(z.mean((-2, -1)), torch.zeros(2, 3, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std((-2, -1), unbiased=False), torch.ones(2, 3, 4), atol=1e-4, rtol=0)
    assert torch.all(standardize(torch.full((1, 1, 1, 4, 4), 5.0)) == 0)


def test_network_shapes_and_parameters():
    net = EmoP3DNet(6)
    counts = {name: sum(p.numel() for p in m.parameters())
              for name, m in (("l1", net.l1), ("l3", net.l3), ("l5", net.l5), ("fc", net.fc))}
    assert counts == {"l1": 485178, "l3": 6948, "l5": 122958, "fc": 364506}
    assert (net.l1.weight.numel(), net.l1.bias.numel()) == (90000, 395178)
    assert (net.l3.weight.numel(), net.l3.bias.numel()) == (6912, 36)
    assert (net.l5.weight.numel(), net.l5.bias.numel()) == (62208, 60750)
    assert sum(counts.values()) == 979590 == emop3d.EmoP3D.param_count()
    with torch.no_grad():
        x = torch.randint(0, 256, (2, 1, 16, 100, 100)).float()
        a = net.l1(standardize(x))
        b = net.l3(standardize(a))
        c = net.l5(standardize(b))
        assert (a.shape, b.shape, c.shape) == ((2, 3, 14, 97, 97), (2, 3, 12, 48, 48),
                                               (2, 3, 10, 45, 45))
        assert net.n_flat == 60750 and net(x).shape == (2, 6)
    three = Task("sentiment", "classification", classes=("neg", "neu", "pos"))
    assert emop3d.EmoP3D.param_count(None, three) == 979590 - 3 * 60751
    module, example = emop3d.EmoP3D().torch_module(None, three)
    assert tuple(example.shape) == (1, 1, 16, 100, 100) and module(example).shape == (1, 3)


def test_glorot_init_bounds():
    net = EmoP3DNet(6)
    lim = np.sqrt(6 / (6 + 6))  # fc bias (6,): fan_in = fan_out = 6
    assert net.fc.bias.abs().max() <= lim and net.fc.bias.abs().max() > 0.1
    l1 = np.sqrt(6 / (3 * 100 * 100 * 1 + 3 * 100 * 100 * 3))
    assert net.l1.weight.abs().max() <= l1 and net.l1.weight.abs().max() > 0.9 * l1


# ----------------------------------------------------------------- learning
TASK = Task("emotion", "classification", classes=("left", "right"), metric="accuracy")
SIZE = 20


def make_videos(n, seed):
    """Class 0: a bright blob drifting in the left half; class 1: in the right half."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = i % 2
        T = int(rng.integers(12, 20))
        frames = rng.integers(0, 60, size=(T, SIZE, SIZE)).astype(np.uint8)
        for t in range(T):
            y = 4 + (t % 6)
            x = (3 if label == 0 else 12) + int(rng.integers(0, 3))
            frames[t, y:y + 5, x:x + 5] = 230
        rec = Recording(f"v{seed}_{i}", f"s{i % 4}", labels={"emotion": label},
                        streams={"video": (lambda f=frames, **kw: f)})
        out.append(Sample(rec, TASK, {"face_video": "video"}))
    return out


def accuracy_score(samples, preds):
    return float(np.mean([int(s.y) == int(p) for s, p in zip(samples, preds)]))


SMALL = dict(size=SIZE, clip_len=8, stride=4)


@pytest.fixture(scope="module")
def fitted():
    ctx = FitContext(task=TASK, modalities={"video": Modality("face_video", (None, SIZE, SIZE))},
                     profile="smoke", seed=0, score=accuracy_score)
    model = emop3d.EmoP3D(**SMALL, lr=5e-3, batch_size=8, epochs=8, clip_budget=None)
    return model.fit(make_videos(16, 1), make_videos(6, 2), ctx)


def test_learns_synthetic_video_classes(fitted):
    test = make_videos(10, 3)
    preds = fitted.predict(test)
    assert all(isinstance(p, int) for p in preds)
    assert accuracy_score(test, preds) >= 0.9  # chance (and the majority class) is 0.5
    assert fitted.history_["train_clips"] > 16
    assert fitted.history_["clips_per_epoch"] == fitted.history_["train_clips"] // 8 * 8


def test_clip_budget_of_the_profile():
    ctx = FitContext(task=TASK, modalities={}, profile="smoke", seed=0, score=accuracy_score)
    m = emop3d.EmoP3D(**SMALL, epochs=2, batch_size=4).fit(make_videos(16, 1), [], ctx)
    assert m.history_["clips_per_epoch"] == 24  # smoke budget 48 clips over 2 epochs


def test_video_prediction_is_mean_of_clip_probabilities(fitted):
    short = make_videos(2, 4)[1]
    frames = np.concatenate([short.x("face_video")] * 3)  # long enough for more clips than the cap
    rec = Recording("long", "s9", labels={"emotion": 1}, streams={"video": lambda **kw: frames})
    sample = Sample(rec, TASK, {"face_video": "video"})
    clips = fitted.clips(sample)
    probs = fitted.clip_probabilities(clips)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    # outside `paper`: the mean over PREDICT_CLIPS evenly spaced clips, recorded in the history
    cap = emop3d.EmoP3D.PREDICT_CLIPS["smoke"]
    assert len(clips) > cap and fitted.history_["predict_clips"] == cap
    spaced = np.linspace(0, len(clips) - 1, cap).round().astype(int)
    np.testing.assert_allclose(fitted.predict_proba([sample])[0], probs[spaced].mean(0))
    assert fitted.predict([sample])[0] == int(np.argmax(probs[spaced].mean(0)))
    # the paper profile averages every clip
    saved = fitted.profile_
    try:
        fitted.profile_ = "paper"
        np.testing.assert_allclose(fitted.predict_proba([sample])[0], probs.mean(0))
    finally:
        fitted.profile_ = saved


def test_streaming_equals_offline_clips(fitted):
    sample = make_videos(2, 5)[0]
    frames = sample.x("face_video")
    offline = fitted.clip_probabilities(fitted.clips(sample))
    st = fitted.streamer("face_video", TASK)
    outs = [st.push(f) for f in frames]
    got = [o for o in outs if o is not None]
    due = [i for i, o in enumerate(outs) if o is not None]
    assert due[0] == 7 and all(b - a == 4 for a, b in zip(due, due[1:]))
    assert len(got) == len(offline)
    np.testing.assert_allclose(np.stack(got), offline, atol=1e-5)
    np.testing.assert_allclose(st.video_probabilities, offline.mean(0), atol=1e-5)


def test_online_streamer_answers_short_clips_as_offline(fitted):
    """Opened for the online protocol, the streamer answers a clip shorter than its
    window from the first frame (the padded clip offline takes), and after the
    whole clip - short or long - gives the offline video prediction."""
    from emobench import online

    videos = make_videos(6, 7)
    short = []
    for i, s in enumerate(videos[:4]):
        frames = s.x("face_video")[:3 + i]  # 3-6 frames, fewer than the window of 8
        rec = Recording(f"short{i}", "s9", labels={"emotion": int(s.y)},
                        streams={"video": (lambda f=frames, **kw: f)})
        short.append(Sample(rec, TASK, {"face_video": "video"}))
    long = videos[4:]
    for s in short + long:
        frames = fitted.online_stream(s)
        st = fitted.streamer("online", TASK)
        assert st.cumulative
        outs = [st.push(f) for f in frames]
        answered = [o for o in outs if o is not None]
        assert outs[0] is not None  # answered from the first frame on
        offline = fitted.predict_proba([s.without_labels()])[0]
        np.testing.assert_allclose(answered[-1], offline, atol=1e-6)
        if len(frames) < fitted.params["clip_len"]:
            # the padded window of the frames so far, at every frame
            np.testing.assert_allclose(outs[-1], fitted.clip_probabilities(fitted.clips(s))[0], atol=1e-6)
        # the protocol: the answer at the whole clip is the offline prediction
        preds, decided, _, n = online.trace_clip(fitted, s.without_labels(), TASK, (0.2, 0.5, 1.0))
        assert decided is None and n == len(frames) and -1 not in preds
        assert preds[-1] == fitted.predict([s.without_labels()])[0]
    # a stream for display (any other kind) keeps its per-clip outputs and waits for the window
    st = fitted.streamer("face_video", TASK)
    assert not st.cumulative and all(st.push(f) is None for f in fitted.online_stream(short[0]))


@pytest.mark.parametrize("kind", ["online", "face_video"])
def test_batched_pushes_equal_one_push_per_frame(fitted, kind, monkeypatch):
    # short (padded windows) and long videos, with batches flushed inside a video
    monkeypatch.setattr(emop3d.ClipStreamer, "FLUSH_CLIPS", 3)
    videos = make_videos(3, 8)
    frames = [videos[0].x("face_video")[:5], videos[1].x("face_video"),
              np.concatenate([videos[2].x("face_video")] * 3)]
    for f in frames:
        one, many = fitted.streamer(kind, TASK), fitted.streamer(kind, TASK)
        pushed = [one.push(x) for x in f]
        batched = many.push_many(list(f))
        assert [p is None for p in pushed] == [b is None for b in batched]
        for p, b in zip(pushed, batched):
            if p is not None:
                np.testing.assert_allclose(b, p, atol=1e-6)
        assert len(one.history) == len(many.history)


def test_bad_labels_name_the_sample():
    bad = make_videos(2, 6)
    bad[0].recording.labels["emotion"] = 5
    ctx = FitContext(task=TASK, modalities={}, profile="smoke", seed=0, score=accuracy_score)
    with pytest.raises(ValueError, match="v6_0"):
        emop3d.EmoP3D(**SMALL, epochs=1).fit(bad, [], ctx)


def test_registration():
    assert emop3d.emobench_register_models() == [emop3d.EmoP3D]
    assert emop3d.EmoP3D.paper_params["lr"] == 1.5e-4 and emop3d.EmoP3D.paper_params["batch_size"] == 100


def test_paper_params_validate_against_the_registry_rules():
    from emobench.plugins import validate_model

    assert validate_model(emop3d.EmoP3D) == []


def test_adam_starting_point_learns_and_bad_optimizer_is_named():
    ctx = FitContext(task=TASK, modalities={}, profile="smoke", seed=0, score=accuracy_score)
    (point,) = emop3d.EmoP3D.starting_points("smoke")
    assert point["optimizer"] == "adam" and emop3d.EmoP3D.starting_points("paper") == []
    model = emop3d.EmoP3D(**SMALL, **{**point, "lr": 1e-3}, epochs=4, clip_budget=None)
    model.fit(make_videos(16, 1), make_videos(6, 2), ctx)
    test = make_videos(10, 3)
    assert accuracy_score(test, model.predict(test)) >= 0.9
    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        emop3d.EmoP3D(**SMALL, optimizer="rmsprop", epochs=1).fit(make_videos(2, 6), [], ctx)


FRAME_TASK = Task("side", "classification", level="frame", classes=("left", "right"),
                  metric="accuracy")


def make_frame_videos(n, seed, frames=40, labels_per_frame=1):
    """The blob sits left until a per-video switch frame, then right; the labels
    say which side per frame (or per half frame: ``labels_per_frame=2``)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        switch = int(rng.integers(12, frames - 12))
        video = rng.integers(0, 60, size=(frames, SIZE, SIZE)).astype(np.uint8)
        side = (np.arange(frames) >= switch).astype(np.int64)
        for t in range(frames):
            y, x = 4 + (t % 6), (3 if side[t] == 0 else 12) + int(rng.integers(0, 3))
            video[t, y:y + 5, x:x + 5] = 230
        rec = Recording(f"f{seed}_{i}", f"s{i % 4}",
                        labels={"side": np.repeat(side, labels_per_frame)},
                        streams={"video": (lambda v=video, **kw: v)})
        out.append(Sample(rec, FRAME_TASK, {"face_video": "video"}))
    return out


def frame_accuracy(samples, preds):
    return float(np.mean(np.concatenate([np.asarray(s.y) == p for s, p in zip(samples, preds)])))


def test_frame_level_task_trains_on_centre_labels_and_predicts_every_label_step():
    ctx = FitContext(task=FRAME_TASK, modalities={}, profile="smoke", seed=0, score=frame_accuracy)
    model = emop3d.EmoP3D(**SMALL, optimizer="adam", lr=1e-3, batch_size=8, epochs=6,
                          clip_budget=None).fit(make_frame_videos(12, 1), make_frame_videos(4, 2), ctx)
    # 40 frames, clips of 8 every 4 (the tail covered): 9 clips, each labelled
    # with its centre frame's side
    clips, labels = model._labelled_clips(make_frame_videos(1, 3)[0], True)
    assert len(clips) == len(labels) == 9
    test = make_frame_videos(6, 4)
    preds = model.predict(test)
    assert [p.shape for p in preds] == [(40,)] * 6 and preds[0].dtype == np.int64
    # the switch frame is blurred over a clip's length at most; chance is ~0.5
    assert frame_accuracy(test, preds) >= 0.8
    # label streams at another rate still get one prediction per label step
    double = make_frame_videos(2, 5, labels_per_frame=2)
    probs = model.predict_proba(double)
    assert probs[0].shape == (80, 2)
    np.testing.assert_allclose(probs[0][0::2], probs[0][1::2])
    np.testing.assert_allclose(probs[0].sum(1), 1.0)
