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


def test_rows_on_other_data_never_share_a_table_and_the_newest_data_is_shown(reg, tmp_path):
    import sqlalchemy as sa
    from emobench.store import results

    url = f"sqlite:///{tmp_path}/r.db"
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="mean", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False)
    st = Store(url)
    with st.engine.begin() as c:  # these rows now stand for an older copy of the corpus
        for r in st.rows():
            prov = dict(r["provenance"] or {}, data="older-copy")
            c.execute(sa.update(results).where(results.c.key == r["key"]).values(provenance=prov))
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="linear", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False)
    (t,) = lb.collect(Store(url))
    assert [e.model for e in t.entries] == ["linear"] and t.data != "older-copy"
    tables = lb.collect(Store(url), all_versions=True)
    assert sorted(len(x.entries) for x in tables) == [1, 1]
    old = next(x for x in tables if x.data == "older-copy")
    assert old.older_data and old.slug != t.slug and "older data" in old.title


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


def _real_run(url, dataset, models, task="*"):
    from emobench.plugins import registry

    cells = []
    for m in models:
        cells += plan(registry(), get_profile("smoke"), dataset=dataset, model=m, task=task)[0]
    assert cells
    s = runner.run(cells, profile="smoke", store_url=url, progress=False)
    assert s.failed == 0, s.failures


def test_no_model_row_exceeds_the_reference_of_its_test_set(tmp_path):
    """The reference is the oracle on the latent state of each table's own test set
    (SEWA: raters' delay and smoothing modelled, CCC-optimal map; UNBC VAS: the
    conditional median report), and no model row beats it."""
    url = f"sqlite:///{tmp_path}/r.db"
    _real_run(url, "sewa", ["mean", "linear", "tiny-emotionet"], task="arousal")
    _real_run(url, "unbc", ["mean", "linear", "mlp"], task="vas")
    tables = lb.collect(Store(url))
    seen = set()
    for t in tables:
        ref = t.reference
        assert ref.get("scope") == "test set", (t.title, ref)
        assert ref[t.metric] == ref["value"]
        for e in t.entries:
            if np.array_equal(e.item, next(b for b in t.entries if b.is_best).item):
                ok = e.score <= ref["value"] if t.greater_is_better else e.score >= ref["value"]
                assert ok, (t.title, e.model, e.score, ref)
        seen.add((t.dataset, t.test_set))
    # one reference per SEWA test set, and they differ between test sets
    sewa = {t.test_set: t.reference["value"] for t in tables if t.dataset == "sewa"}
    assert set(sewa) == {"test=CN", "test=DE", "test=HU"} and len(set(sewa.values())) == 3
    assert min(sewa.values()) > 0.9
    assert any(d == "unbc" for d, _ in seen)
    text = lb.render_table(next(t for t in tables if t.dataset == "unbc"))
    assert "on this test set (k = " in text and "reference: oracle on the latent state" in text


def test_params_of_an_unprofiled_row_say_so_instead_of_the_paper_config(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    _run(reg, url)
    (t,) = lb.collect(Store(url))
    assert any(e.params is not None for e in t.entries)  # the rows carry a class-level size
    lines = lb.render_table(t, []).splitlines()
    head = [c.strip() for c in lines[0].split("|")]
    col = head.index("params")
    # the smoke cap regrouped subject-5fold into 2 folds, every subject tested
    assert all("| 2/2 regrouped " in x for x in lines[2:] if x.startswith("|")), lines
    for e in t.entries:
        cells = [c.strip() for c in next(x for x in lines if f"| {e.model} " in x).split("|")]
        assert cells[col] == "not profiled", cells


def test_the_work_column_shows_the_budget_share_and_flags_a_share_below_the_floor(reg, tmp_path, monkeypatch):
    import dataclasses
    from types import SimpleNamespace

    from emobench.leaderboard import render
    floor = 0.5
    monkeypatch.setattr(reg.model("linear"), "min_work", floor, raising=False)
    assert render._work(SimpleNamespace(model="linear", identity={})) == "1"
    assert render._work(SimpleNamespace(model="linear", identity={"knobs": {"work": floor}})) == f"{floor:g}"
    below = render._work(SimpleNamespace(model="linear", identity={"knobs": {"work": floor / 4}}))
    assert below == f"{floor / 4:g} (below floor {floor:g})"
    url = f"sqlite:///{tmp_path}/r.db"
    _run(reg, url)
    (t,) = lb.collect(Store(url))
    cut = dataclasses.replace(t.entries[0], identity={**t.entries[0].identity, "knobs": {"work": 0.25}})
    lines = lb.render_table(dataclasses.replace(t, entries=[cut, *t.entries[1:]]), []).splitlines()
    col = [c.strip() for c in lines[0].split("|")].index("work")
    rows = [[c.strip() for c in x.split("|")] for x in lines[2:] if x.startswith("|")]
    assert t.entries[0].model == "linear"
    assert [r[col] for r in rows] == ["0.25 (below floor 0.5)"] + ["1"] * (len(rows) - 1)
