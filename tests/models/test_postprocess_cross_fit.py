"""Tiny EmotioNet's post-processing is tuned on validation predictions it never saw."""

from __future__ import annotations

import numpy as np
import optuna.distributions as od
import pytest

from emobench.data import Modality, Recording, Sample, Task
from emobench.metrics import ccc
from emobench.model import FitContext, Model
from emobench.tuning import tune
from emobench_plugins.models import tiny_emotionet as te
from emobench_plugins.models.tiny_emotionet.postprocess import (
    PostProcess, cross_fitted, learn_postprocess, split_parts)

pytestmark = pytest.mark.usefixtures("one_thread")


def _validation(rep, offset, n_subjects=8):
    """Per-subject sequences and unbiased noisy predictions, shifted by ``offset``."""
    rng = np.random.default_rng(rep)
    golds, preds = [], []
    for _ in range(n_subjects):
        g = np.convolve(rng.normal(size=330), np.ones(30) / 30, "valid") * 4 + rng.normal(0, .3)
        golds.append(g)
        preds.append(g + offset + np.convolve(rng.normal(size=330), np.ones(30) / 30, "valid") * 3)
    return golds, preds, [f"s{i}" for i in range(n_subjects)]


def _gains(offset, reps=30):
    """Validation CCC gain of the learnt chain scored in-sample and cross-fitted."""
    inside, crossed = [], []
    for rep in range(reps):
        golds, preds, groups = _validation(rep, offset)

        def score(idx, ps):
            return ccc(np.concatenate([golds[i] for i in idx]), np.concatenate(ps))

        everyone = list(range(len(golds)))
        base = score(everyone, preds)
        pp = learn_postprocess(preds, golds, score, groups, seed=rep)
        inside.append(score(everyone, [pp.apply(p) for p in preds]) - base)
        crossed.append(score(everyone, cross_fitted(preds, golds, score, groups, seed=rep)) - base)
    return np.array(inside), np.array(crossed)


def test_cross_fitted_score_does_not_favour_useless_post_processing():
    inside, crossed = _gains(offset=0.0)
    # the final chain scored on the validation it was learnt on looks better...
    assert inside.mean() > 0.005 and (inside > 0).mean() >= 0.65
    # ...the cross-fitted score does not, on average
    assert crossed.mean() < inside.mean() / 3 and (crossed > 0).mean() <= 0.6


def test_cross_fitted_score_keeps_a_real_gain():
    inside, crossed = _gains(offset=1.0, reps=10)
    assert (crossed > 0.2).all() and crossed.mean() > 0.9 * inside.mean()


def test_each_part_is_post_processed_by_the_chain_of_the_other_part():
    golds, preds, groups = _validation(0, 1.0)

    def score(idx, ps):
        return ccc(np.concatenate([golds[i] for i in idx]), np.concatenate(ps))

    out = cross_fitted(preds, golds, score, groups, seed=5)
    first, second = split_parts(groups, 5)
    assert first and second and not {groups[i] for i in first} & {groups[i] for i in second}
    for learn_on, apply_to in ((first, second), (second, first)):
        pp = learn_postprocess([preds[i] for i in learn_on], [golds[i] for i in learn_on],
                               lambda idx, ps, m=learn_on: score([m[i] for i in idx], ps),
                               [groups[i] for i in learn_on], seed=5)
        assert pp != PostProcess()  # the offset is worth correcting
        for i in apply_to:
            np.testing.assert_array_equal(out[i], pp.apply(preds[i]))
    # too few sequences: nothing is post-processed
    one = cross_fitted(preds[:1], golds[:1], score, groups[:1])
    np.testing.assert_array_equal(one[0], preds[0])


# ------------------------------------------------------------------ the model and the tuner
TASK = Task("arousal", "regression", level="frame", rate=10.0, metric="ccc")
MODS = {"features": Modality("features", (None, 3), rate=10.0, channels=("a", "b", "c"))}


def _samples(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x = np.stack([np.convolve(rng.normal(size=160), np.ones(8) / 8, "valid")
                      for _ in range(3)], 1).astype(np.float32)
        y = (x[:, 0] - x[:, 1] + 0.05 * rng.normal(size=len(x))).astype(np.float32)
        rec = Recording(f"r{seed}_{i}", f"s{seed}_{i}", labels={"arousal": y},
                        streams={"features": (lambda x=x, **kw: x)})
        out.append(Sample(rec, TASK, {"features": "features"}))
    return out


def _score(samples, preds):
    return ccc(np.concatenate([s.y for s in samples]), np.concatenate(preds))


def test_tiny_emotionet_reports_the_cross_fitted_validation_score():
    train, valid = _samples(6, 1), _samples(6, 2)
    ctx = FitContext(task=TASK, modalities=MODS, profile="smoke", seed=0, score=_score)
    m = te.TinyEmotioNet(kernel=5, lr=1e-2, epochs=15, postprocess=True, label_delay=0.0)
    m.fit(train, valid, ctx)
    raws = [m._finish(m._raw(m._x(s)), s) for s in valid]
    golds = [np.asarray(s.y, float) for s in valid]
    expected = _score(valid, cross_fitted(
        raws, golds, lambda idx, ps: _score([valid[i] for i in idx], ps),
        groups=[s.subject for s in valid], seed=0))
    assert m.tuning_score_ == pytest.approx(expected, abs=1e-12)
    assert m.history_["postprocess_cross_fitted_score"] == m.tuning_score_
    plain = te.TinyEmotioNet(kernel=5, lr=1e-2, epochs=15, label_delay=0.0).fit(train, valid, ctx)
    assert plain.tuning_score_ is None


class _Reporting(Model):
    """Predicts the validation labels perfectly but reports a held-out score."""

    name = "reporting"
    task_kinds = ("regression",)
    levels = ("frame",)

    @classmethod
    def search_space(cls, profile="default"):
        return {"honest": od.FloatDistribution(0.1, 0.2)}

    def fit(self, train, valid, ctx):
        self.tuning_score_ = self.params["honest"]
        return self

    def predict(self, samples):
        return [np.asarray(s.y, float) for s in samples]


def test_the_tuner_ranks_a_trial_by_the_models_held_out_score():
    valid = _samples(3, 3)
    ctx = FitContext(task=TASK, modalities=MODS, profile="smoke", seed=0, score=_score)
    result = tune(_Reporting, valid, valid, ctx, trials=4, seed=0)
    assert 0.1 <= result.value <= 0.2  # not the perfect in-sample 1.0
    assert result.value == pytest.approx(result.params["honest"])
