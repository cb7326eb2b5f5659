"""No model reads a recording's meta or the stand-in's marker: on a stand-in they
hold the generator's own truths (annotation delay, latent state, ceilings)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from emobench.data import Modality, Recording, Sample, Task
from emobench.model import FitContext
from emobench_plugins.models import tiny_emotionet as te
from emobench_plugins.models.baselines import LinearBaseline, MLPBaseline

pytestmark = pytest.mark.usefixtures("one_thread")

TASK = Task("arousal", "regression", level="frame", rate=10.0, metric="ccc")
MODS = {"features": Modality("features", (None, 4), rate=10.0,
                             channels=("AU06_mean", "AU12_mean", "AU04_mean", "noise"))}
MODELS = Path(__file__).resolve().parents[2] / "plugins" / "models"


class GeneratorTruth(dict):
    """A meta dict that fails the test on any read."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError("a model read the recording's meta (generator truth)")

    __getitem__ = get = __contains__ = __iter__ = __len__ = keys = items = values = _refuse
    __bool__ = _refuse


def make_samples(n, seed, delay=7):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        T = int(rng.integers(150, 220))
        x = np.stack([np.convolve(rng.normal(size=T + 9), np.ones(10) / 10, "valid")
                      for _ in range(4)], 1).astype(np.float32)
        clean = x[:, 0] + x[:, 1] - x[:, 2]
        y = np.concatenate([np.zeros(delay), clean[:-delay]]) + 0.05 * rng.normal(size=T)
        meta = GeneratorTruth()
        dict.__setitem__(meta, "label_delay_s", {"arousal": 4.0})  # wrong on purpose
        rec = Recording(f"r{seed}_{i}", f"s{seed}_{i}", labels={"arousal": y.astype(np.float32)},
                        streams={"features": (lambda x=x, **kw: x)}, meta=meta)
        out.append(Sample(rec, TASK, {"features": "features"}))
    return out


def score(samples, preds):
    from emobench.metrics import ccc

    return ccc(np.concatenate([s.y for s in samples]), np.concatenate(preds))


@pytest.mark.parametrize("model", [
    te.TinyEmotioNet(kernel=15, lr=1e-2, epochs=20, postprocess=True),
    te.TinyEmotioNetModelA(filters=(4, 2), kernels=(5, 9), epochs=5),
    te.TinyEmotioNetPain(kernel=9, epochs=5),
    MLPBaseline(hidden=8, alpha=1e-4, lr=1e-2),
    LinearBaseline(alpha=1.0),
], ids=lambda m: m.name)
def test_fit_and_predict_never_read_the_meta(model):
    train, valid, test = make_samples(10, 1), make_samples(4, 2), make_samples(2, 3)
    ctx = FitContext(task=TASK, modalities=MODS, profile="smoke", seed=0, score=score)
    model.fit(train, valid, ctx)
    preds = model.predict([s.without_labels() for s in test])
    assert [len(p) for p in preds] == [len(s.y) for s in test]
    if isinstance(model, te.TinyEmotioNet) and model.params["label_delay"] == "auto":
        # estimated from the data (0.7 s), not the meta's 4 s
        assert model.delay_s_ == pytest.approx(0.7, abs=0.15)


def test_no_model_plugin_reads_meta_or_the_standin_marker():
    pattern = re.compile(r"\.meta\b|read_standin_marker|standin\.json|\"ceilings\"")
    offenders = [f"{p.relative_to(MODELS)}:{i}" for p in sorted(MODELS.rglob("*.py"))
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, offenders
