"""The per-sequence CCC stored beside the pooled metrics of frame-level rows."""

import numpy as np
import pytest

from emobench.data import Task
from emobench.metrics import ccc_per_sequence, ccc_per_sequence_of, sequence_metrics


def _numpy_ccc(t, p, ddof=0):
    n = len(t)
    st, sp = t.var(ddof=ddof), p.var(ddof=ddof)
    cov = ((t - t.mean()) * (p - p.mean())).sum() / (n - ddof)
    return 2 * cov / (st + sp + (t.mean() - p.mean()) ** 2)


def _interleaved(rng):
    """Four recordings of different lengths, their frames interleaved, plus a
    constant-truth recording and a one-frame recording (both left out)."""
    lengths = {"r1": 50, "r2": 13, "r3": 200, "r4": 7}
    ts, ps, ids = [], [], []
    for name, n in lengths.items():
        t = rng.normal(rng.normal(), rng.uniform(0.2, 2), n)
        ts.append(t)
        ps.append(0.7 * t + rng.normal(0.3, 0.5, n))
        ids.append(np.full(n, name))
    ts.append(np.zeros(30)), ps.append(rng.normal(0, 0.1, 30)), ids.append(np.full(30, "flat"))
    ts.append(np.array([2.0])), ps.append(np.array([1.0])), ids.append(np.array(["single"]))
    t, p, s = np.concatenate(ts), np.concatenate(ps), np.concatenate(ids)
    order = rng.permutation(len(t))
    return t[order], p[order], s[order], ts[:4], ps[:4]


@pytest.mark.parametrize("ddof", [0, 1])
def test_per_sequence_ccc_matches_numpy_on_interleaved_recordings(ddof):
    rng = np.random.default_rng(11)
    t, p, s, ts, ps = _interleaved(rng)
    expected = np.mean([_numpy_ccc(a, b, ddof) for a, b in zip(ts, ps)])
    got = ccc_per_sequence_of(t, p, s, ddof=ddof)
    assert got == pytest.approx(expected, abs=1e-12)
    assert got == pytest.approx(ccc_per_sequence(ts, ps, ddof=ddof), abs=1e-12)
    # every recording weighs the same: it is not the pooled CCC
    assert abs(got - _numpy_ccc(t, p)) > 1e-3


def test_the_kept_recordings_depend_on_the_truth_only():
    rng = np.random.default_rng(3)
    t, p, s, _, _ = _interleaved(rng)
    flat = s == "flat"
    exact = p.copy()
    exact[flat] = 0.0  # a model that predicts the flat truth exactly gains nothing
    assert ccc_per_sequence_of(t, exact, s) == ccc_per_sequence_of(t, p, s)
    # a recording that does vary counts, and a bad prediction on it lowers the mean
    worse = p.copy()
    worse[s == "r2"] = -t[s == "r2"]
    assert ccc_per_sequence_of(t, worse, s) < ccc_per_sequence_of(t, p, s) - 0.1


def test_no_usable_recording_gives_nan_and_bad_input_raises():
    assert np.isnan(ccc_per_sequence_of([1.0, 1.0, 2.0], [0.0, 1.0, 2.0], ["a", "a", "b"]))
    with pytest.raises(ValueError, match="one entry per item"):
        ccc_per_sequence_of([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ["a", "a"])
    with pytest.raises(ValueError, match="non-finite"):
        ccc_per_sequence_of([1.0, 2.0], [1.0, np.nan], ["a", "a"])
    with pytest.raises(ValueError, match="ddof"):
        ccc_per_sequence_of([1.0, 2.0], [1.0, 2.0], ["a", "a"], ddof=2)


def test_sequence_metrics_only_for_frame_level_regression():
    t, p, s = np.arange(6.0), np.arange(6.0) ** 1.5, np.repeat(["a", "b"], 3)
    frame = Task("v", "regression", "frame", rate=10.0)
    assert sequence_metrics(frame, t, p, s) == {
        "ccc_per_sequence": pytest.approx(ccc_per_sequence_of(t, p, s))}
    assert sequence_metrics(Task("v", "regression", "clip"), t, p, s) == {}
    assert sequence_metrics(Task("c", "classification", "frame", rate=10.0, classes=("a", "b")),
                            t, p, s) == {}


def test_a_fold_row_stores_the_per_sequence_ccc(reg, tmp_path):
    from emobench import runner
    from emobench.cells import plan
    from emobench.profiles import get_profile
    from emobench.store import Store

    url = f"sqlite:///{tmp_path}/r.db"
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="linear")
    runner.run(cells, profile="smoke", store_url=url, progress=False)
    store = Store(url)
    rows = store.rows()
    frame = [r for r in rows if r["task"] == "level"]
    assert frame and all(r["task"] == "kind" for r in rows if r not in frame)
    for r in frame:
        pr = store.predictions(r["key"])
        t, p, items = (np.asarray(pr[k]) for k in ("y_true", "y_pred", "item"))
        vals = [_numpy_ccc(t[items == i].astype(float), p[items == i].astype(float))
                for i in np.unique(items) if np.ptp(t[items == i].astype(float)) > 0]
        assert len(vals) > 1
        assert r["metrics"]["ccc_per_sequence"] == pytest.approx(np.mean(vals), abs=1e-12)
        assert r["score"] == r["metrics"][r["primary_metric"]] != r["metrics"]["ccc_per_sequence"]
    for r in rows:
        if r["task"] == "kind":  # clip-level classification: no sequence metric
            assert "ccc_per_sequence" not in r["metrics"]
    # the leaderboard's per-seq CCC column follows the same rule on an entry's pooled items
    from emobench import leaderboard as lb

    tables = lb.collect(store)
    assert {t.task for t in tables} == {"level", "kind"}
    for table in tables:
        for e in table.entries:
            if table.task != "level":
                assert np.isnan(e.per_sequence_ccc)
                continue
            t, items = e.y_true.astype(float), np.asarray(e.item)
            keep = [i for i in np.unique(items) if np.ptp(t[items == i]) > 0]
            expected = np.mean([np.mean([_numpy_ccc(t[items == i], row[items == i].astype(float))
                                         for i in keep]) for row in e.y_pred])
            assert e.per_sequence_ccc == pytest.approx(expected, abs=1e-12)
