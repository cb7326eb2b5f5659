"""Sequence baselines: the RNN and the per-frame CNN learn simple synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ccc_ref

from emobench.data import Modality, Recording, Sample, Task
from emobench.model import FitContext
from emobench_plugins.models.baselines import sequence as sb


pytestmark = pytest.mark.usefixtures("one_thread")




def acc(samples, preds):
    return float(np.mean([int(s.y) == int(p) for s, p in zip(samples, preds)]))


FRAME = Task("valence", "regression", level="frame", rate=10.0, metric="ccc")
CLIP = Task("state", "classification", classes=("calm", "tense", "mixed"), metric="accuracy")
CLIPREG = Task("intensity", "regression", metric="ccc")


def series_samples(task, n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        T = int(rng.integers(60, 120))
        x = rng.normal(size=(T, 3)).astype(np.float32)
        label = i % 3
        if task is FRAME:
            # running average of channel 0: needs memory, not just the current row
            y = np.convolve(x[:, 0], np.ones(6) / 6, "full")[:T].astype(np.float32)
        elif task is CLIP:
            x[:, 1] += 1.5 * (label - 1)
            y = label
        else:
            level = float(rng.uniform(-1, 1))
            x[:, 2] += 2 * level
            y = 3.0 * level + 1.0
        rec = Recording(f"q{seed}_{i}", f"s{i}", labels={task.name: y},
                        streams={"aus": (lambda x=x, **kw: x)})
        out.append(Sample(rec, task, {"au_series": "aus"}))
    return out


def ctx(task, score):
    return FitContext(task=task, modalities={"aus": Modality("au_series", (None, 3))},
                      profile="smoke", seed=0, score=score)


def frame_score(samples, preds):
    return ccc_ref(np.concatenate([s.y for s in samples]), np.concatenate(preds))


def test_rnn_frame_level_regression_learns_running_mean():
    m = sb.SequenceRNN(epochs=25, lr=1e-2, chunk=50).fit(series_samples(FRAME, 10, 1),
                                                          series_samples(FRAME, 4, 2),
                                                          ctx(FRAME, frame_score))
    test = series_samples(FRAME, 4, 3)
    preds = m.predict(test)
    assert [len(p) for p in preds] == [len(s.y) for s in test]
    assert frame_score(test, preds) > 0.7


@pytest.mark.parametrize("cell,pool,bi", [("gru", "mean", False), ("lstm", "last", True)])
def test_rnn_clip_level_classification(cell, pool, bi):
    m = sb.SequenceRNN(cell=cell, pool=pool, bidirectional=bi, epochs=15, lr=1e-2)
    m.fit(series_samples(CLIP, 18, 4), series_samples(CLIP, 6, 5), ctx(CLIP, acc))
    test = series_samples(CLIP, 9, 6)
    preds = m.predict(test)
    assert all(p in (0, 1, 2) for p in preds)
    assert acc(test, preds) >= 0.8  # chance 1/3


def test_rnn_clip_level_regression_and_block_mean():
    m = sb.SequenceRNN(epochs=20, lr=1e-2, max_steps=25)
    m.fit(series_samples(CLIPREG, 16, 7), series_samples(CLIPREG, 5, 8),
          ctx(CLIPREG, lambda s, p: ccc_ref([x.y for x in s], p)))
    test = series_samples(CLIPREG, 8, 9)
    preds = m.predict(test)
    assert ccc_ref([s.y for s in test], preds) > 0.7
    assert sb._block_mean(np.arange(10.0)[:, None], 4).ravel().tolist() == [1.0, 4.0, 7.0, 9.0]


SIZE = 24


def video_samples(n, seed, task=CLIP):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = i % 3
        v = rng.integers(0, 50, size=(10, SIZE, SIZE)).astype(np.uint8)
        v[:, 8:16, 2 + 7 * label:8 + 7 * label] = 220  # a blob whose position encodes the class
        rec = Recording(f"w{seed}_{i}", f"s{i}", labels={task.name: label},
                        streams={"video": (lambda v=v, **kw: v)})
        out.append(Sample(rec, task, {"face_video": "video"}))
    return out


def test_frame_cnn_learns_blob_position():
    m = sb.FrameCNN(size=SIZE, n_frames=4, channels=(8, 16), epochs=12, lr=3e-3, batch_size=8)
    m.fit(video_samples(24, 1), video_samples(6, 2), FitContext(
        task=CLIP, modalities={}, profile="smoke", seed=0, score=acc))
    test = video_samples(9, 3)
    assert acc(test, m.predict(test)) >= 0.8
    net, example = m.torch_module()
    assert tuple(example.shape) == (1, 4, SIZE, SIZE) and net(example).shape == (1, 3)
    assert sb.FrameCNN.param_count(None, CLIP) > 0


def test_registration_and_search_spaces():
    assert sb.emobench_register_models() == [sb.SequenceRNN, sb.FrameCNN]
    for cls in (sb.SequenceRNN, sb.FrameCNN):
        assert cls.search_space("smoke") and set(cls.search_space("smoke")) <= set(cls.search_space())
        assert set(cls.search_space()) <= set(cls.paper_params)


def test_paper_params_validate_against_the_registry_rules():
    from emobench.plugins import validate_model

    for cls in sb.emobench_register_models():
        assert validate_model(cls) == [], cls.name


def test_frame_cnn_prepares_each_clip_once_per_fit(monkeypatch):
    """The validation clips are predicted after every epoch: they are prepared
    once per fit (and the fitted model keeps none); the fit is the same as when
    every call prepares them again."""
    import torch

    def fit(memo: bool):
        calls = []
        real = sb.FrameCNN._frames
        monkeypatch.setattr(sb.FrameCNN, "_frames", lambda self, s: calls.append(s.id) or real(self, s))
        if not memo:
            monkeypatch.setattr(sb.FrameCNN, "frames", lambda self, s: self._frames(s))
        m = sb.FrameCNN(size=SIZE, n_frames=4, channels=(8, 16), epochs=5, lr=3e-3, batch_size=8)
        m.fit(video_samples(12, 1), video_samples(6, 2), FitContext(
            task=CLIP, modalities={}, profile="smoke", seed=0, score=acc))
        monkeypatch.undo()
        return m, calls
    m, calls = fit(True)
    assert len(calls) == 12 + 6 and "_frames_memo" not in m.__dict__
    ref, ref_calls = fit(False)
    assert len(ref_calls) == 12 + 5 * 6
    assert m.history_ == ref.history_
    for a, b in zip(m.net_.state_dict().values(), ref.net_.state_dict().values()):
        assert torch.equal(a, b)
