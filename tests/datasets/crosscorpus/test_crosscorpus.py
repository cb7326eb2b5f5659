"""Cross-corpus pairings: classes through the label space, leak-free one-fold protocol,
sources resolved from the two corpora (pointer folder, combined fingerprint)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from emobench import datasource
from emobench.labelspace import SPACE, corpus_labels
from emobench.protocols import check_fold
from emobench_plugins.datasets.crosscorpus import (POINTER, CrossCorpus, CrossCorpusProtocol, PairError,
                                                   pairs, shared_modalities)
from emobench_plugins.datasets.ckplus import CkPlus
from emobench_plugins.datasets.enterface import Enterface
from emobench_plugins.datasets.rafdb import RafDb
from emobench_plugins.datasets.rml import Rml


@pytest.fixture(scope="module")
def pair_tree(tmp_path_factory):
    """rafdb-to-ckplus tiny stand-in: the two corpora's stand-ins side by side."""
    out = tmp_path_factory.mktemp("pair") / "tree"
    pair = CrossCorpus(RafDb(), CkPlus())
    meta = pair.write_standin(out, "tiny", 0)
    return pair, out, meta


def test_registered_pairings_and_their_class_lists():
    names = {p.name: p for p in pairs()}
    assert {"rafdb-to-ckplus", "enterface-to-rml", "rafdb-to-affectnet"} <= set(names)
    p = names["rafdb-to-ckplus"]
    (task,) = p.tasks
    assert task.classes == ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
    assert task.name == "-".join(task.classes)                       # the table title states them
    assert "ckplus drops contempt" in task.description
    assert p.task_a.name == "emotion" and p.task_b.name == "emotion8"
    assert p.primary_tasks == () and p.default
    assert names["enterface-to-rml"].tasks[0].classes == SPACE[:6]   # neither has neutral
    assert [n for n, q in names.items() if q.default] == ["rafdb-to-ckplus"]  # the cheap one


def test_shared_modalities_pair_by_kind_shape_and_channels():
    fr = shared_modalities(RafDb(), CkPlus())
    # CK+'s peak-frame still and its one-frame clip: RAF-DB's stills test on CK+'s apex images
    assert {n: (a, b) for n, (a, b, _) in fr.items()} == {"face_image": ("face_image", "face_image"),
                                                           "face_clip": ("face_clip", "face_clip")}
    av = shared_modalities(Enterface(), Rml())
    assert set(av) == {"face_video", "audio", "egemaps", "egemaps_lld", "logmel"}
    assert av["face_video"][2].rate is None          # 25 vs 30 fps: frames still pair
    assert av["audio"][2].rate == 16000.0


def test_load_relabels_through_the_label_space_and_keeps_corpora_apart(pair_tree):
    pair, out, meta = pair_tree
    recs = pair.load(out)
    assert len(recs) == meta["counts"]["recordings"]
    raf = RafDb().load(out / "RAF-DB")
    ck = CkPlus().load(out / "CK+")
    ck8 = [r for r in ck if "emotion8" in r.labels and
           corpus_labels("ckplus").classes[r.labels["emotion8"]] != "contempt"]
    train = [r for r in recs if r.partition == "train"]
    test = [r for r in recs if r.partition == "test"]
    assert len(train) == len(raf) and len(test) == len(ck8) > 0
    assert any(r.id.endswith("_neutral") for r in test)             # CK+ neutral is kept
    (task,) = pair.tasks
    for r in recs:
        corpus = r.meta["corpus"]
        assert r.id.startswith(corpus + ":") and r.subject.startswith(corpus + ":")
        assert task.classes[r.labels[task.name]] == r.meta["source_class"]   # identity mappings
        assert set(r.streams) == {"face_image", "face_clip"}
    assert not {r.subject for r in train} & {r.subject for r in test}
    clip = test[0].load("face_clip", size=(32, 32), gray=True)
    assert clip.shape == (1, 32, 32)                                 # CK+'s apex as one frame
    assert train[0].load("face_clip", size=(32, 32), gray=True).shape == (1, 32, 32)


def test_protocol_is_one_leak_free_fold_validated_on_a(pair_tree):
    pair, out, _ = pair_tree
    recs = pair.load(out)
    proto = CrossCorpusProtocol()
    (fold,) = proto.folds(recs, seed=0)
    check_fold(fold, recs, proto.name)
    part = {r.id: r.partition for r in recs}
    assert {part[i] for i in fold.train + fold.valid} == {"train"}
    assert sorted(fold.test) == sorted(r.id for r in recs if r.partition == "test")
    assert fold.valid and fold.name == "test=ckplus"
    assert proto.folds(recs, seed=0) == [fold]
    with pytest.raises(ValueError, match="both corpora"):
        proto.folds([r for r in recs if r.partition == "train"], seed=0)


def test_resolve_combines_the_two_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    pair = CrossCorpus(RafDb(), CkPlus())
    dry = datasource.resolve(pair, None, "tiny", write=False)
    assert not dry.written and not (tmp_path / "cache").exists()    # a dry run writes nothing
    src = datasource.resolve(pair, None, "tiny")
    a = datasource.resolve(RafDb(), None, "tiny", write=False)
    b = datasource.resolve(CkPlus(), None, "tiny", write=False)
    assert src.written and src.synthetic and dry.fingerprint == src.fingerprint
    assert a.fingerprint in src.fingerprint and b.fingerprint in src.fingerprint
    assert src.root.parent == tmp_path / "cache" / "pairs"
    pointer = json.loads((src.root / POINTER).read_text())
    assert pointer["train"]["path"] == str(a.root) and pointer["test"]["path"] == str(b.root)
    assert src.marker["scale"] == "tiny" and src.marker["sources"]["test"]["dataset"] == "ckplus"
    # the pair writes no data of its own: only the pointer and its marker
    assert sorted(p.name for p in src.root.iterdir()) == ["EMOBENCH_STANDIN.json", POINTER]
    assert len(pair.load(src.root)) > 0
    other = datasource.resolve(pair, None, "tiny", seed=1, write=False)
    assert other.fingerprint != src.fingerprint                     # either side's data changes it


def test_a_data_root_with_both_corpora_and_strict_naming(tmp_path, pair_tree, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    pair, out, _ = pair_tree
    root = tmp_path / "data"
    root.mkdir()
    for folder in ("RAF-DB", "CK+"):
        shutil.copytree(out / folder, root / folder)
    src = datasource.resolve(pair, root, "tiny", strict=True)
    assert src.synthetic and not src.notice                         # copies keep their markers
    assert json.loads((src.root / POINTER).read_text())["test"]["path"] == str(root / "CK+")
    assert len(pair.load(root)) == len(pair.load(src.root))         # a data root loads too
    assert pair.doctor(root).ok
    shutil.rmtree(root / "CK+")
    with pytest.raises(datasource.CorpusNotFoundError, match="ckplus"):
        datasource.resolve(pair, root, "tiny", strict=True)
    loose = datasource.resolve(pair, root, "tiny")
    assert "ckplus" in loose.notice and "SYNTHETIC" in loose.notice
    with pytest.raises(PairError, match="CK\\+"):
        pair.load(root)
    rep = pair.doctor(root)
    assert not rep.ok and "CK+" in str(rep.problems[0])


def test_relabel_drops_what_the_other_side_lacks():
    pair = CrossCorpus(CkPlus(), RafDb())              # CK+ trains: contempt has no RAF class
    assert pair.tasks[0].classes[-1] == "neutral" and "contempt" not in pair.tasks[0].classes
    ck = corpus_labels("ckplus")
    assert pair.pairing.relabel(ck, ck.classes.index("contempt")) is None
    assert pair.pairing.relabel(ck, ck.classes.index("neutral")) == 6
    assert np.all([pair.pairing.relabel(ck, i) is not None for i, c in enumerate(ck.classes)
                   if c != "contempt"])


def test_run_and_leaderboard_table_of_a_pairing(tmp_path):
    from emobench import runner
    from emobench.cells import plan
    from emobench.leaderboard.collect import collect
    from emobench.plugins import registry
    from emobench.profiles import get_profile
    from emobench.store import Store

    url = f"sqlite:///{tmp_path / 'r.db'}"
    cells, _ = plan(registry(), get_profile("smoke"), dataset="rafdb-to-ckplus", model="mean")
    assert [c.protocol for c in cells] == ["cross-corpus"]
    summary = runner.run(cells, profile="smoke", store_url=url, progress=False, log=lambda *a: None)
    assert summary.run == 1 and summary.failed == 0
    (table,) = collect(Store(url))
    assert (table.dataset, table.protocol, table.synthetic) == ("rafdb-to-ckplus", "cross-corpus", True)
    assert table.title.startswith("rafdb-to-ckplus / anger-disgust-fear-happiness-sadness-surprise-"
                                  "neutral / cross-corpus, test set ckplus")
    assert table.data.startswith("pair(rafdb@1=standin:") and f";ckplus@{CkPlus.version}=standin:" in table.data
    (entry,) = table.entries
    assert all(str(i).startswith("ckplus:") for i in entry.item)      # tested on CK+ only
    again = runner.run(cells, profile="smoke", store_url=url, progress=False, log=lambda *a: None)
    assert again.run == 0 and again.reused == 1                       # same identity: reused


def test_default_matrix_holds_only_the_cheap_pairings():
    from emobench.cells import plan
    from emobench.plugins import registry
    from emobench.profiles import get_profile

    reg = registry()
    cells, skipped = plan(reg, get_profile("default"), dataset="*-to-*", model="mean")
    assert {c.dataset for c in cells} == {p.name for p in pairs() if p.default} >= {"rafdb-to-ckplus"}
    assert any(s.dataset == "rafdb-to-affectnet" and "--task" in s.reason for s in skipped)
    chosen, _ = plan(reg, get_profile("default"), dataset="rafdb-to-affectnet", model="mean",
                     task="anger*")
    assert [c.dataset for c in chosen] == ["rafdb-to-affectnet"]
    paper, _ = plan(reg, get_profile("paper"), dataset="*-to-*", model="mean")
    assert {c.dataset for c in paper} == {p.name for p in pairs()}
