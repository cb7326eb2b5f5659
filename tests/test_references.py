"""References on stand-ins: per test set, an upper bound (a lower bound for errors)
that strong, oracle-informed models trained on the training split do not pass, and
'none' with a reason where a corpus gives no valid one."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from emobench import metrics as M
from emobench.leaderboard.collect import test_set_reference as reference_of
from emobench.sim.ceilings import best_affine, item_reference, reference_key


@dataclass
class _Items:  # what test_set_reference reads from an entry
    item: np.ndarray
    y_true: np.ndarray


def _better(metric, a: float, b: float) -> bool:
    """a strictly better than b, with a tolerance for rounding (4 decimals stored)."""
    return a > b + 1e-3 if metric.greater_is_better else a < b - 1e-3


# -- the CCC-optimal affine map ------------------------------------------------------------

@pytest.mark.parametrize("name", ["ccc", "ccc_avec"])
def test_the_ccc_map_matches_mean_and_sd_and_no_affine_map_does_better(name):
    from scipy.optimize import minimize

    r = np.random.default_rng(3)
    x = r.normal(size=400)
    y = 1.5 + 3.0 * (0.7 * x + 0.7 * r.normal(size=400))
    fn = M.get_metric(name).fn
    mapped = best_affine(x, y, name)
    assert mapped.mean() == pytest.approx(y.mean()) and mapped.std() == pytest.approx(y.std())
    rho = np.corrcoef(x, y)[0, 1]
    if name == "ccc":
        assert fn(y, mapped) == pytest.approx(abs(rho), abs=1e-12)
    # least squares shrinks: CCC = 2 rho^2 / (1 + rho^2) < |rho|
    design = np.stack([x, np.ones_like(x)], 1)
    ls = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    assert M.ccc(y, ls) == pytest.approx(2 * rho ** 2 / (1 + rho ** 2), abs=1e-9)
    assert M.ccc(y, ls) < fn(y, mapped)
    for start in ([1.0, 0.0], [0.1, 2.0], [5.0, -1.0]):
        opt = minimize(lambda ab: -fn(y, ab[0] * x + ab[1]), start, method="Nelder-Mead",
                       options={"xatol": 1e-9, "fatol": 1e-13, "maxiter": 4000})
        assert -opt.fun <= fn(y, mapped) + 1e-9


def test_the_error_maps_are_least_squares_and_least_absolute_deviation():
    r = np.random.default_rng(4)
    x = r.normal(size=300)
    y = 2 * x + r.standard_t(2, size=300)
    mae, rmse = M.get_metric("mae").fn, M.get_metric("rmse").fn
    for a, b in ((2.0, 0.0), (1.8, 0.1), (2.2, -0.1)):
        assert mae(y, best_affine(x, y, "mae")) <= mae(y, a * x + b) + 1e-9
        assert rmse(y, best_affine(x, y, "rmse")) <= rmse(y, a * x + b) + 1e-12
    with pytest.raises(ValueError, match="no optimal affine map"):
        best_affine(x, y, "kappa")


# -- what a table prints -----------------------------------------------------------------

def test_a_reference_is_for_the_test_set_or_none_with_a_reason():
    ccc, acc, mae = (M.get_metric(n) for n in ("ccc", "accuracy", "mae"))
    e = _Items(np.array(["a", "a", "b", "c"]), np.array([0.0, 1.0, 2.0, 1.0]))
    # a value over all recordings is no statement about this test set
    assert "all its recordings" in reference_of({"ccc": 0.9}, e, ccc)["none"]
    assert "no reference" in reference_of({}, e, ccc)["none"]
    assert reference_of({"none": "why not"}, e, ccc) == {"none": "why not"}
    # exact labels: the metric's perfect score on every test set
    got = reference_of({"exact": "formula"}, e, acc, "classification")
    assert (got["value"], got["scope"]) == (1.0, "every test set")
    assert reference_of({"exact": "formula"}, e, mae)["value"] == 0.0
    # by test set: only exactly this set of items
    by = {"by_test_set": {reference_key(["a", "b", "c"]): {"ccc": 0.97, "test_set": "x"}}}
    assert reference_of(by, e, ccc)["value"] == 0.97
    assert "exactly this test set" in reference_of(by, _Items(e.item[:2], e.y_true[:2]), ccc)["none"]
    # per-item oracle: all items covered, scored on them
    oracle = {"oracle_items": {"a": 0.5, "b": 2.0, "c": 1.0}}
    got = reference_of(oracle, e, mae)
    assert got["scope"] == "test set" and got["value"] <= M.mae(e.y_true, [0.5, 0.5, 2.0, 1.0]) + 1e-12
    assert "does not cover 1 of the 5" in reference_of(
        oracle, _Items(np.append(e.item, "z"), np.append(e.y_true, 0.0)), mae)["none"]


def test_render_says_what_the_reference_is_and_why_there_is_none():
    from emobench.leaderboard.collect import Table
    from emobench.leaderboard.render import reference_note

    t = Table(True, "d", "t", "p", "pooled", "smoke", "mae", False)
    t.reference = {"none": "the stand-in gives no reference for this task"}
    assert reference_note(t) == ("\n\nReference (mae): none, the stand-in gives no reference "
                                 "for this task.")
    t.reference = {"value": 0.25, "scope": "test set", "reference": "oracle on the latent state"}
    assert "**0.250** on this test set" in reference_note(t) and "lower bound" in reference_note(t)
    t.synthetic = False
    assert reference_note(t) == ""


# -- each corpus: the reference of every test set against strong models --------------------

CORPORA = ("unbc", "biovid", "emer", "affectnet", "sewa")


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    from emobench.plugins import registry

    reg, out = registry(), {}
    base = tmp_path_factory.mktemp("standins")
    for name in CORPORA:
        ds = reg.dataset(name)
        root = base / ds.folder
        meta = ds.write_standin(root, scale="tiny", seed=0)
        with pytest.warns() if name == "affectnet" else _nothing():
            recs = ds.load(root)
        folds = {}
        for p in ds.protocols:
            proto = reg.protocol(p if isinstance(p, str) else p.name)
            with pytest.warns() if proto.name == "biovid-29-29-29" else _nothing():
                folds[proto.name] = (proto, proto.folds(recs, seed=0))
        out[name] = (ds, root, meta, {r.id: r for r in recs}, folds)
    return out


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _test_sets(folds):
    """Every test set a table shows: a cross-validation's pooled folds, or each fold of
    a protocol whose folds are separate test sets."""
    for name, (proto, fs) in folds.items():
        if proto.pool_folds:
            yield f"{name}/pooled", None, fs
        else:
            for f in fs:
                yield f"{name}/{f.name}", f, [f]


def _clip_arrays(recs, ids, task):
    ids = [i for i in ids if task in recs[i].labels]
    return np.array(ids), np.array([recs[i].labels[task] for i in ids])


def _ridge(x_train, y_train, x_test, alpha=1e-3):
    from sklearn.linear_model import Ridge

    return Ridge(alpha=alpha).fit(x_train, y_train).predict(x_test)


def _poly(z):
    z = np.asarray(z, float)
    return np.stack([z, z ** 2, z ** 3], 1)


@pytest.mark.parametrize("corpus,task", [("unbc", "vas"), ("unbc", "opr"), ("emer", "valence"),
                                         ("emer", "arousal"), ("emer", "intensity"),
                                         ("affectnet", "valence"), ("affectnet", "arousal")])
def test_clip_regression_references_hold_against_oracle_informed_models(standins, corpus, task):
    ds, _, meta, recs, folds = standins[corpus]
    t = ds.task(task)
    metric = M.get_metric(t.metric)
    ceiling = meta["ceilings"][task]
    oracle = ceiling["oracle_items"]
    checked = 0
    for label, _, fs in _test_sets(folds):
        ids, y = _clip_arrays(recs, [i for f in fs for i in f.test], task)
        if ids.size < 3 or np.ptp(y) == 0:
            continue
        ref = reference_of(ceiling, _Items(ids, y), metric, "regression")
        assert ref.get("scope") == "test set", (label, ref)
        z = np.array([oracle[i] for i in ids])
        rivals = {"oracle value as it is": z}
        # an oracle-informed ridge (the latent state's polynomial), trained per fold on
        # the fold's training items, pooled over the folds like the leaderboard
        pred = []
        for f in fs:
            tr_ids, tr_y = _clip_arrays(recs, f.train + f.valid, task)
            te_ids, _ = _clip_arrays(recs, f.test, task)
            pred.append(_ridge(_poly([oracle[i] for i in tr_ids]), tr_y, _poly([oracle[i] for i in te_ids])))
        rivals["oracle-informed ridge"] = np.concatenate(pred)
        rivals["mean of training labels"] = np.full_like(y, np.mean(
            _clip_arrays(recs, fs[0].train, task)[1]), dtype=float)
        for name, p in rivals.items():
            score = float(metric.fn(y, p))
            if math.isfinite(score):
                assert not _better(metric, score, ref["value"]), (label, name, score, ref)
        checked += 1
    assert checked >= 1


def _biovid_sessions(root: Path, recs):
    """The latent pain of every BioVid stand-in sample, regenerated from the simulator
    (the same calls as the writer): a rival that sees it is as informed as the oracle."""
    from emobench.sim import PAIN_LEVELS, World
    from emobench_plugins.datasets.biovid import layout as L
    from emobench_plugins.datasets.biovid.standin import NON_EXPRESSIVE_GAIN

    world = World(0)
    out = {}
    for line in (root / L.SAMPLES_FILE).read_text().splitlines()[1:]:
        _, name, level, _, _, sample = line.split("\t")
        trial = int(sample.rsplit("-", 1)[1])
        subject = world.subject(L.ALL_SUBJECTS.index(name), {"corpus": "biovid"}, name,
                                expressivity=NON_EXPRESSIVE_GAIN if name in L.NON_EXPRESSIVE else None)
        s = world.pain_sample(subject, PAIN_LEVELS[int(level)], L.SAMPLE_SECONDS, L.VIDEO_FPS, rng=trial)
        out[sample] = s
    return out


@pytest.mark.parametrize("task", ["bl1-vs-pa4", "pain-5class"])
def test_biovid_references_hold_against_the_peak_oracle_and_a_trained_latent_model(standins, task):
    from sklearn.linear_model import LogisticRegression

    from emobench.sim import PAIN_LEVELS

    ds, root, meta, recs, folds = standins["biovid"]
    t = ds.task(task)
    cols = [PAIN_LEVELS.index(c) for c in t.classes]
    sessions = _biovid_sessions(root, recs)
    feats = {i: [s.pain.max(), s.pain.mean(), (s.pain > 0).mean(), float(np.argmax(s.pain > 0))]
             for i, s in sessions.items()}
    for label, _, fs in _test_sets(folds):
        ids, y = _clip_arrays(recs, [i for f in fs for i in f.test], task)
        for metric in (M.get_metric(n) for n in t.metrics):
            ref = reference_of(meta["ceilings"][task], _Items(ids, y), metric, "classification")
            assert ref.get("scope") == "test set", (label, ref)
            # the old "ceiling": Bayes on the peak pain alone, a model more informed than
            # any real one (it knows the subject's sensitivity and the exact peak)
            peak = np.array([int(np.argmax(sessions[i].state_posterior[cols])) for i in ids])
            pred = []
            for f in fs:
                tr, ytr = _clip_arrays(recs, f.train + f.valid, task)
                te, _ = _clip_arrays(recs, f.test, task)
                if len(set(ytr.tolist())) < 2:
                    pred.append(np.full(len(te), ytr[0]))
                    continue
                clf = LogisticRegression(C=10.0, max_iter=2000).fit([feats[i] for i in tr], ytr)
                pred.append(clf.predict([feats[i] for i in te]))
            for name, p in (("peak Bayes", peak), ("latent logistic", np.concatenate(pred))):
                score = float(metric.fn(y, p))
                assert not _better(metric, score, ref["value"]), (label, metric.name, name, score, ref)


def test_every_sewa_test_set_has_its_reference(standins):
    """(The linear and Tiny EmotioNet rows against it: test_leaderboard.)"""
    ds, _, meta, recs, folds = standins["sewa"]
    for task in ("arousal", "valence", "liking"):
        metric = M.get_metric(ds.task(task).metric)
        values = set()
        for label, _, fs in _test_sets(folds):
            ids = [i for f in fs for i in f.test]
            items = np.concatenate([np.full(len(recs[i].labels[task]), i) for i in ids])
            y = np.concatenate([recs[i].labels[task] for i in ids])
            ref = reference_of(meta["ceilings"][task], _Items(items, y), metric, "regression")
            assert ref.get("scope") == "test set" and 0 < ref["value"] <= 1, (task, label, ref)
            values.add(ref["value"])
        assert len(values) > 1  # one per test set, not one value for all


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_task_has_a_reference_or_a_reason(standins, corpus):
    ds, _, meta, recs, folds = standins[corpus]
    for t in ds.tasks:
        ceiling = meta["ceilings"].get(t.name, {})
        assert ceiling, (corpus, t.name, "the writer says nothing about this task")
        assert set(ceiling) & {"exact", "none", "by_test_set", "oracle_items"}, (corpus, t.name)
