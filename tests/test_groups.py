"""Per-group leaderboard tables: groups travel from the recordings into the
stored rows, and the breakdown applies the main table's statistics per group."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import plugin_kit
from emobench import runner
from emobench import score as SC
from emobench import stats as S
from emobench.cells import plan
from emobench.data import group_columns
from emobench.export import export_predictions
from emobench.leaderboard import collect, groups, write
from emobench.leaderboard.collect import MIN_K
from emobench.profiles import get_profile
from emobench.store import Store, unpack_predictions


def culture(subject: str) -> str:
    return "A" if int(subject[1:]) % 2 else "B"        # 5 subjects each


def gender(subject: str) -> str:
    return "f" if int(subject[1:]) < 3 else "m"          # 3 and 7 subjects


def site(subject: str) -> str:
    return "xyz"[int(subject[1:]) % 3]                    # 4, 3 and 3 subjects


class GroupedToy(plugin_kit.Toy):
    name = "toyg"

    def load(self, root):
        recs = super().load(root)
        for r in recs:
            r.groups = {"culture": culture(r.subject), "gender": gender(r.subject),
                        "speaker": r.subject, "site": site(r.subject)}
        return recs


@pytest.fixture
def greg(reg, monkeypatch):
    monkeypatch.setitem(reg.datasets, "toyg", GroupedToy())
    return reg


def _run(reg, url, task="level", model="linear"):
    cells, _ = plan(reg, get_profile("smoke"), dataset="toyg", model=model, task=task)
    assert cells
    runner.run(cells, profile="smoke", store_url=url, progress=False)


def test_group_columns_follow_the_pooled_predictions():
    from emobench.data import Recording, Sample, Task

    t = Task("level", "regression", "frame", rate=10.0)
    recs = [Recording("a", "s1", labels={"level": np.zeros(3)}, groups={"culture": "DE"}),
            Recording("b", "s2", labels={"level": np.zeros(2)})]
    cols = group_columns([Sample(r, t, {}) for r in recs])
    assert list(cols) == ["group_culture"]
    assert cols["group_culture"].tolist() == ["DE", "DE", "DE", "", ""]
    assert group_columns([Sample(recs[1], t, {})]) == {}


def test_rows_carry_groups_and_breakdown_uses_the_main_table_rules(greg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    _run(greg, url)
    for r in Store(url).rows(with_predictions=True):
        p = unpack_predictions(r["predictions"])
        assert [culture(s) for s in p["subject"]] == p["group_culture"].tolist()
    (table,) = collect(Store(url))
    bds = {b.key: b for b in groups.breakdowns(table)}
    assert set(bds) == {"culture", "gender", "site"}  # speaker = subject: left out
    cult = bds["culture"]
    assert cult.values == ["A", "B"] and cult.k == {"A": 5, "B": 5}
    (eg,) = cult.entries
    e = eg.entry
    for v in ("A", "B"):
        m = np.array([culture(s) == v for s in e.subject])  # from the subjects, not the store
        ref = S.subject_ci(table.metric, e.y_true[m], e.y_pred[:, m], e.subject[m], min_k=MIN_K)
        got = eg.scores[v].ci
        assert got.estimate == ref.estimate and (got.low, got.high) == (ref.low, ref.high)
        assert got.has_interval and got.k == 5
    gap, worst, best = eg.gap(True)
    a, b = eg.scores["A"].ci.estimate, eg.scores["B"].ci.estimate
    assert gap == pytest.approx(abs(a - b)) and {worst, best} == {"A", "B"}
    assert (worst == "A") == (a < b)
    # below MIN_K subjects a group gets no interval, as in the main table
    gen = bds["gender"]
    assert gen.k == {"f": 3, "m": 7}
    f_ci = gen.entries[0].scores["f"].ci
    assert not f_ci.has_interval and math.isnan(f_ci.low) and "k=3" in f_ci.reason
    assert gen.entries[0].scores["m"].ci.has_interval


def test_leaderboard_links_the_breakdown_and_removes_stale_ones(greg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    _run(greg, url)
    out = tmp_path / "board"
    out.mkdir()
    (out / "groups-gone.md").write_text("old")
    index = write(Store(url), out)
    text = index.read_text()
    assert "## Per-group results" in text
    (name,) = [p.name for p in out.glob("groups-*.md")]
    assert f"]({name})" in text and "culture (2 groups)" in text
    page = (out / name).read_text()
    assert "## By culture" in page and "## By gender" in page and "A (k=5)" in page
    assert "too few for an interval" in page and "largest gap" in page


def test_no_breakdown_without_groups(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="linear", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False)
    (table,) = collect(Store(url))
    assert groups.breakdowns(table) == []
    assert groups.section(Store(url), [table], tmp_path, set()) == []


def test_scored_external_rows_break_down_like_their_original(greg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    _run(greg, url, task="kind")
    out = tmp_path / "export"
    export_predictions(Store(url), out, registry=greg)
    (entry,) = json.loads((out / "index.json").read_text())
    SC.score_predictions([out / entry["path"]], dataset="toyg", task="kind", protocol="subject-5fold",
                         name="ext", profile="smoke", store_url=url, reg=greg)
    (table,) = collect(Store(url))
    (cult,) = [b for b in groups.breakdowns(table) if b.key == "culture"]
    by = {eg.entry.model: eg for eg in cult.entries}
    for v in cult.values:
        own, ext = by["linear"].scores[v].ci, by["external:ext"].scores[v].ci
        assert (own.estimate, own.low, own.high, own.k) == (ext.estimate, ext.low, ext.high, ext.k) \
            or (own.estimate == ext.estimate and not own.has_interval)


def test_rows_without_stored_groups_read_them_from_the_same_corpus(greg, tmp_path):
    """Rows of a store written before folds recorded groups: the breakdown reads
    the groups from the corpus copy that has the rows' data fingerprint."""

    from emobench.store import pack_predictions, results

    url = f"sqlite:///{tmp_path}/r.db"
    _run(greg, url)
    st = Store(url)
    with st.engine.begin() as c:
        for r in st.rows(with_predictions=True):
            p = unpack_predictions(r["predictions"])
            old = pack_predictions(**{k: v for k, v in p.items() if not k.startswith("group_")})
            c.execute(results.update().where(results.c.key == r["key"]).values(predictions=old))
    groups._CORPUS.clear()
    (table,) = collect(st)
    assert all(not groups._item_groups(e) for e in table.entries)
    bds = {b.key: b for b in groups.breakdowns(table)}
    assert bds["culture"].k == {"A": 5, "B": 5}
    # another fingerprint (another copy of the corpus): no groups are guessed
    groups._CORPUS.clear()
    table.data = "not-this-copy"
    assert groups.breakdowns(table) == []


def test_test_sets_by_group_side_by_side(greg, tmp_path, monkeypatch):
    """A protocol with one test set per group value (SEWA's per culture): the
    family breakdown shows each test set's own row of the main tables."""
    from emobench.protocols import CrossGroup

    monkeypatch.setitem(greg.protocols, "toy-cross-site",
                        CrossGroup(key="site", train_groups=("x",), name="toy-cross-site",
                                   datasets=("toyg",)))
    url = f"sqlite:///{tmp_path}/r.db"
    cells, _ = plan(greg, get_profile("smoke"), dataset="toyg", model="linear", task="level",
                    protocol="toy-cross-site")
    assert cells
    runner.run(cells, profile="smoke", store_url=url, progress=False)
    tables = collect(Store(url))
    assert [t.test_set for t in tables] == ["test=y", "test=z"]
    (fam,) = groups.families(tables)
    bd = fam.breakdown
    assert bd.key == "site" and bd.values == ["y", "z"]
    (eg,) = bd.entries
    for t, v in zip(tables, bd.values):
        (e,) = t.entries
        assert eg.scores[v].ci == e.ci and bd.k[v] == t.k
    gap, _, _ = eg.gap(True)
    assert gap == pytest.approx(abs(tables[0].entries[0].score - tables[1].entries[0].score))
    lines = groups.section(Store(url), tables, tmp_path, set())
    assert any("test sets by site" in ln for ln in lines)
