"""The MLP baseline's early stopping holds out whole training subjects, not frames."""

from __future__ import annotations

import numpy as np
import pytest

from emobench.data import Modality, Recording, Sample, Task
from emobench.model import FitContext
from emobench_plugins.models.baselines import MLPBaseline

pytestmark = pytest.mark.usefixtures("one_thread")

FRAME = Task("valence", "regression", level="frame", rate=10.0, metric="ccc")


def samples(n_subjects, per_subject=2, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for s in range(n_subjects):
        offset = rng.normal(0, 1.0)  # a subject effect a frame split would leak
        for j in range(per_subject):
            x = rng.normal(size=(40, 3)).astype(np.float32)
            x[:, 2] += offset
            y = (x[:, 0] + 0.5 * offset).astype(np.float32)
            rec = Recording(f"r{s}_{j}", f"s{s}", labels={FRAME.name: y},
                            streams={"aus": (lambda x=x, **kw: x)})
            out.append(Sample(rec, FRAME, {"au_series": "aus"}))
    return out


def ctx():
    return FitContext(task=FRAME, modalities={"aus": Modality("au_series", (None, 3))},
                      profile="smoke", seed=0, score=lambda s, p: 0.0)


def test_mlp_early_stopping_holds_out_whole_subjects(monkeypatch):
    train = samples(10)
    seen = {}
    original = MLPBaseline._held_out

    def spy(self, groups, y, c):
        mask = original(self, groups, y, c)
        seen["groups"], seen["mask"] = groups, mask
        return mask

    monkeypatch.setattr(MLPBaseline, "_held_out", spy)
    m = MLPBaseline(hidden=16, alpha=1e-4, lr=1e-2).fit(train, [], ctx())
    groups, mask = seen["groups"], seen["mask"]
    assert mask is not None and groups.size == 10 * 2 * 40
    held = set(groups[mask])
    assert held and len(held) == 2  # 20 % of 10 training subjects
    assert not held & set(groups[~mask])  # no subject on both sides of the split
    assert m.early_stop["held_out_rows"] == int(mask.sum())
    preds = m.predict([s.without_labels() for s in train[:2]])
    assert all(np.isfinite(p).all() and p.shape == (40,) for p in preds)


def test_mlp_trains_for_the_budget_with_too_few_subjects():
    m = MLPBaseline(hidden=8, alpha=1e-4, lr=1e-2).fit(samples(2, per_subject=3), [], ctx())
    assert not hasattr(m, "early_stop")
