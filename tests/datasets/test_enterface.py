"""eNTERFACE'05 plugin: the fixture tree with its faults (spaces, uneven depth,
s12_* under subject 11, s_3_*, s16_su_3avi.avi), subject 6's exclusion, doctor on
a truncated clip, and the tiny stand-in read back."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emobench.protocols import check_fold
from emobench_plugins.datasets.enterface import Enterface
from emobench_plugins.datasets.enterface import layout as L
from emobench_plugins.datasets.enterface.protocols import EnterfaceKFold, EnterfaceLoso
from emobench_plugins.datasets.enterface.standin import file_name

FIXTURE = Path(__file__).parent / "fixtures" / "enterface" / "enterface database"
EXPECTED = {  # id -> (subject, emotion, sentence)
    "s1-anger-1": ("s1", "anger", 1), "s1-happiness-2": ("s1", "happiness", 2),
    "s3-fear-1": ("s3", "fear", 1), "s6-sadness-1": ("s6", "sadness", 1),
    "s11-disgust-4": ("s11", "disgust", 4), "s16-surprise-3": ("s16", "surprise", 3),
    "s16-anger-3": ("s16", "anger", 3),
}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))


def test_fixture_trusts_folders_not_file_names():
    recs = {r.id: r for r in Enterface().load(FIXTURE)}
    assert sorted(recs) == sorted(EXPECTED)
    for rid, (subject, emotion, sentence) in EXPECTED.items():
        r = recs[rid]
        assert (r.subject, L.CLASSES[r.labels["emotion-6"]], r.meta["sentence"]) == \
            (subject, emotion, sentence)
    assert recs["s11-disgust-4"].meta["file"].endswith("s12_di_4.avi")
    assert recs["s16-surprise-3"].meta["file"].endswith("s16_su_3avi.avi")
    assert recs["s1-happiness-2"].meta["file"].count("/") == 4  # the extra folder level


def test_fixture_audio_is_the_tone_of_the_file():
    rec = {r.id: r for r in Enterface().load(FIXTURE)}["s16-surprise-3"]
    x = rec.load("audio")
    assert x.shape == (9600,)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    assert abs(np.fft.rfftfreq(len(x), 1 / 16000)[spec.argmax()] - 800) < 3


def test_doctor_reports_the_misnamed_file_as_a_warning():
    rep = Enterface().doctor(FIXTURE)
    assert rep.ok, [str(p) for p in rep.problems]
    warned = [Path(p.path).name for p in rep.problems if p.severity == "warning"]
    assert warned == ["s12_di_4.avi"]
    assert rep.counts["subjects"] == 5 and rep.counts["excluded_by_convention_present"] == ["s6"]


def test_truncated_clip_is_reported_with_its_path(tmp_path):
    root = tmp_path / "enterface database"
    shutil.copytree(FIXTURE, root)
    bad = root / "subject 3" / "fear" / "sentence 1" / "s_3_fe_1.avi"
    bad.write_bytes(bad.read_bytes()[:1500])
    rep = Enterface().doctor(root)
    assert [p.path for p in rep.problems if p.severity == "error"] == [str(bad)]


def test_subject_6_exclusion_is_a_protocol_option():
    recs = Enterface().load(FIXTURE)
    for proto in (EnterfaceKFold(k=2), EnterfaceLoso()):
        folds = proto.folds(recs)
        used = {i for f in folds for i in (*f.train, *f.valid, *f.test)}
        assert "s6-sadness-1" not in used
        for f in folds:
            check_fold(f, recs, proto.name)
    kept = EnterfaceKFold(name="enterface-10fold-all", exclude=(), k=2).folds(recs)
    assert any("s6-sadness-1" in f.test for f in kept)
    assert len(EnterfaceLoso().folds(recs)) == 4  # s1, s3, s11, s16


def test_tiny_standin_reads_back_with_exact_counts(tmp_path):
    root = tmp_path / "enterface database"
    meta = Enterface().write_standin(root, "tiny", seed=0)
    recs = Enterface().load(root)
    assert len(recs) == meta["counts"]["recordings"] == 5 * 6 - 2  # s6 lacks two emotions
    assert sorted({r.subject for r in recs}) == ["s1", "s11", "s16", "s3", "s6"]
    assert meta["counts"]["per_emotion"] == {e: sum(L.CLASSES[r.labels["emotion-6"]] == e
                                                    for r in recs) for e in L.CLASSES}
    assert (root / "subject 16" / "surprise" / "sentence 3" / "s16_su_3avi.avi").is_file()
    assert (root / "subject 11" / "anger" / "sentence 3" / "s12_an_3.avi").is_file()
    assert file_name(3, "anger", 3) == "s_3_an_3.avi"
    assert (root / "subject 3" / "anger" / "sentence 3" / "s_3_an_3.avi").is_file()
    assert {r.subject for r in recs if r.meta["file"].count("/") == 4} == {"s1"}
