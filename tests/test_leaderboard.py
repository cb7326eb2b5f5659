import numpy as np
import pytest

from emobench import leaderboard as lb
from emobench import runner
from emobench.cells import plan
from emobench.metrics import ccc
from emobench.profiles import get_profile
from emobench.stats import subject_ci
from emobench.store import Store


def _run(reg, url, **kw):
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="*ea*", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False, **kw)


def test_real_and_synthetic_rows_never_share_a_table(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    _run(reg, url)
    import sqlalchemy as sa
    from emobench.store import results
    st = Store(url)
    with st.engine.begin() as c:  # these rows now stand for a real copy
        c.execute(sa.update(results).values(synthetic=False))
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="*ea*", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False, trials=1)
    text = lb.write(Store(url), tmp_path / "lb").read_text()
    real_part, synthetic_part = text.split("## Synthetic stand-ins")
    assert "toy / level / subject-5fold" in real_part and "Reference (" not in real_part
    assert "toy / level / subject-5fold" in synthetic_part and "Test subjects: k = " in synthetic_part
    assert sorted(t.synthetic for t in lb.collect(Store(url))) == [False, True]


def test_interval_and_paired_test_come_from_the_stored_predictions(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    _run(reg, url)
    (table,) = lb.collect(Store(url))
    best, other = table.entries
    assert [best.model, other.model] == ["linear", "mean"]
    store = Store(url)
    rows = sorted([r for r in store.rows() if r["model"] == "linear"], key=lambda r: r["fold_index"])
    preds = [store.predictions(r["key"]) for r in rows]
    yt, yp, subj = (np.concatenate([p[k] for p in preds]) for k in ("y_true", "y_pred", "subject"))
    assert best.score == pytest.approx(ccc(yt, yp))
    ci = subject_ci("ccc", yt, yp, subj)
    assert (best.ci.low, best.ci.high, best.k) == (ci.low, ci.high, ci.k)
    assert other.compared and other.diff_vs_best < 0
    # folds never above the protocol's total
    assert all(e.folds_run <= e.folds_total for e in table.entries)


def test_a_changed_trial_budget_is_a_separate_entry(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="linear", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False)
    runner.run(cells, profile="smoke", store_url=url, progress=False, trials=1)
    (t,) = lb.collect(Store(url), all_versions=True)
    assert len(t.entries) == 2 and len({e.identity_key for e in t.entries}) == 2
    (t,) = lb.collect(Store(url))
    assert len(t.entries) == 1


def test_holm_marks_and_stale_pngs_and_atomic_readme(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    _run(reg, url)
    out = tmp_path / "lb"
    out.mkdir()
    (out / "pareto-old-table.png").write_bytes(b"x")
    (out / "mine.png").write_bytes(b"x")
    lb.write(Store(url), out)
    assert not (out / "pareto-old-table.png").exists() and (out / "mine.png").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    (t,) = lb.collect(Store(url))
    for e in t.entries:
        if e.compared:
            assert e.near_best == (e.p_holm > 0.05)


def test_missing_store_is_an_error(tmp_path):
    with pytest.raises(lb.StoreNotFound):
        lb.require_store(f"sqlite:///{tmp_path}/none.db")
    assert not (tmp_path / "none.db").exists()
