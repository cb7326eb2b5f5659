"""Where a corpus comes from, withheld test labels and label checks (issues 14, 15)."""

from importlib.metadata import entry_points

import numpy as np
import pytest

import plugin_kit
from emobench import datasource, hookimpl, runner
from emobench.cells import plan
from emobench.data import Recording, Task
from emobench.profiles import get_profile
from emobench.store import Store
from emobench.validate import check_label, label_problems


def real_copy(parent):
    """A toy corpus written without a stand-in marker: a 'real' copy. It carries one file
    a stand-in has not, or the registry of written stand-ins would (rightly) know it as a
    stand-in whose marker was deleted."""
    plugin_kit.Toy().write_standin(parent / "Toy", scale="tiny")
    (parent / "Toy" / "README.txt").write_text("the owner's notes on this copy\n")
    return parent / "Toy"


def run(tmp_path, model="linear", dataset="toy", **kw):
    from emobench.plugins import registry

    cells, skipped = plan(registry(), get_profile("smoke"), dataset=dataset, model=model)
    return runner.run(cells, profile="smoke", store_url=f"sqlite:///{tmp_path}/r.db",
                      skipped=skipped, progress=False, **kw)


def test_the_data_root_may_be_the_parent_or_the_corpus_folder(tmp_path):
    corpus = real_copy(tmp_path / "data")
    ds = plugin_kit.Toy()
    for root in (tmp_path / "data", corpus):
        src = datasource.resolve(ds, root, "tiny")
        assert (src.root, src.synthetic, src.notice) == (corpus, False, "")
    corpus.rename(tmp_path / "data" / "toy")  # the folder name matches without case
    assert datasource.resolve(ds, tmp_path / "data", "tiny").root == tmp_path / "data" / "toy"


def test_a_corpus_missing_under_the_data_root_runs_on_the_stand_in_only_with_a_notice(reg, tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    warned = []
    s = run(tmp_path, data_root=empty, warn=warned.append)
    assert s.run == 4 and len(warned) == 1 and warned == s.notices
    assert warned[0].startswith("NOTICE: dataset 'toy' not found under the data root")
    assert "SYNTHETIC stand-in" in warned[0]
    assert all(r["synthetic"] for r in Store(f"sqlite:///{tmp_path}/r.db").rows())


def test_a_corpus_named_with_dataset_must_be_under_the_data_root(reg, tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    with pytest.raises(datasource.CorpusNotFoundError, match="'toy' was asked for by name"):
        run(tmp_path, data_root=empty, run_config={"dataset": "toy"})
    assert not (tmp_path / "r.db").exists() or Store(f"sqlite:///{tmp_path}/r.db").rows(None) == []


class ToyWithheld(plugin_kit.Toy):
    """The toy corpus with an official partition whose test labels are withheld."""

    name = "toy-withheld"
    protocols = ("official", "subject-5fold")

    def load(self, root):
        recs = super().load(root)
        for r in recs:
            k = int(r.subject[1:])
            r.partition = "test" if k < 3 else "devel" if k < 5 else "train"
            if r.partition == "test":
                r.labels.clear()
        return recs


class _Withheld:
    @hookimpl
    def emobench_register_datasets(self):
        return [ToyWithheld()]


@pytest.fixture
def reg_withheld(monkeypatch):
    import emobench.plugins as P

    eps = [e for e in entry_points(group="emobench") if e.name in ("protocols", "baselines")]
    monkeypatch.setattr("emobench.plugins.entry_points", lambda group: eps)
    r = P.load_registry([(plugin_kit, P.Origin("testkit", "emobench-testkit", "1.0")),
                         (_Withheld(), P.Origin("withheld", "emobench-withheld", "1.0"))])
    monkeypatch.setattr(P, "_REGISTRY", r)
    runner._RECORDINGS.clear()
    return r


def test_unlabelled_test_partitions_are_skipped_before_running_with_the_alternative(reg_withheld,
                                                                                    tmp_path):
    s = run(tmp_path, dataset="toy-withheld")
    assert (s.run, s.failed) == (0, 0)
    why = [m for m in s.skips if m.startswith("toy-withheld/")]
    assert len(why) == 2  # one per task, each naming the fix
    assert all("carry no" in m and "labels withheld" in m and "--protocol subject-5fold" in m
               for m in why)


def test_check_label_against_the_task():
    reg = Task("v", "regression", value_range=(-1.0, 1.0))
    cls = Task("c", "classification", classes=("a", "b", "c"))
    frames = Task("f", "regression", "frame", rate=10.0, value_range=(0.0, 16.0))
    assert check_label(reg, 0.5) is None and check_label(cls, 2) is None
    assert "outside the task's range [-1, 1]" in check_label(reg, 1e30)
    assert "non-finite" in check_label(reg, float("nan"))
    assert "non-finite" in check_label(frames, [1.0, np.inf, 2.0])
    assert "outside" in check_label(frames, [1.0, -0.5])  # a negative PSPI
    assert "class index 3" in check_label(cls, 3) and "class index 1.5" in check_label(cls, 1.5)
    assert "class index -1" in check_label(cls, -1)
    rec = Recording("r1", "s1", labels={"v": 7.0}, meta={"label_file": "labels/r1.csv"})
    (p,) = label_problems("corpus", (reg,), [rec])
    assert str(p).startswith("dataset 'corpus', recording 'r1' (labels/r1.csv), task 'v': ")


def test_a_bad_label_excludes_its_recording_from_that_task_and_is_reported(reg, tmp_path):
    corpus = real_copy(tmp_path / "data")
    (corpus / "levels" / "r003.txt").write_text("0.1\ninf\n" + "0.2\n" * 28)
    warned = []
    s = run(tmp_path, data_root=tmp_path / "data", warn=warned.append)
    assert s.failed == 0 and s.run == 4
    assert len(warned) == 1 and "1 invalid label(s) excluded" in warned[0]
    assert "recording 'r003'" in warned[0] and "task 'level'" in warned[0]
    rows = Store(f"sqlite:///{tmp_path}/r.db").rows()
    level = [r for r in rows if r["task"] == "level"]
    assert all(any("'r003'" in e for e in r["provenance"]["excluded_labels"]) for r in level)
    assert all(r["provenance"]["excluded_labels"] == [] for r in rows if r["task"] == "kind")
    for r in level:  # r003 is in no split of the level task
        item = Store(f"sqlite:///{tmp_path}/r.db").predictions(r["key"])["item"]
        assert "r003" not in set(item)
