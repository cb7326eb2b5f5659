"""RML plugin: the fixture tree with its pitfalls, the audio track, doctor on a
truncated clip, the tiny stand-in read back, protocol and label space."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emobench.labelspace import SIX_BASIC, corpus_labels, pairing
from emobench.media import MediaError
from emobench.protocols import LeaveOneSubjectOut, check_fold
from emobench_plugins.datasets.rml import Rml
from emobench_plugins.datasets.rml import layout as L

FIXTURE = Path(__file__).parent / "fixtures" / "rml" / "RML_Dataset"
IDS = {"s1-english-an1": "anger", "s1-english-ha1": "happiness", "s2-sa1": "sadness",
       "s2-su2": "surprise", "s3-mandarin-di1": "disgust", "s3-mandarin-fe1": "fear"}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))


def test_fixture_ids_labels_and_languages():
    recs = {r.id: r for r in Rml().load(FIXTURE)}
    assert sorted(recs) == sorted(IDS)  # Thumbs.db, notes.txt and xx1.avi are skipped
    for rid, emotion in IDS.items():
        assert L.CLASSES[recs[rid].labels["emotion-6"]] == emotion
    assert {r.subject for r in recs.values()} == {"s1", "s2", "s3"}
    assert recs["s1-english-an1"].groups == {"language": "english"}
    assert recs["s2-sa1"].groups == {}  # no language level
    assert recs["s3-mandarin-fe1"].groups == {"language": "mandarin"}


def test_fixture_audio_track_and_features():
    from emobench.media.av import clip_streams

    x = clip_streams(FIXTURE / "s2" / "SU2.avi")["audio"]()
    assert x.shape == (9600,)  # 0.6 s at 16 kHz
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    assert abs(np.fft.rfftfreq(len(x), 1 / 16000)[spec.argmax()] - 600) < 3  # TONES
    rec = next(r for r in Rml().load(FIXTURE) if r.id == "s2-su2")
    assert rec.load("egemaps").shape == (1, 88)
    assert rec.load("face_video", size=(64, 64)).shape == (6, 64, 64, 3)


def test_doctor_on_fixture_warns_about_stray_files():
    rep = Rml().doctor(FIXTURE)
    assert rep.ok, [str(p) for p in rep.problems]
    warned = {Path(p.path).name for p in rep.problems if p.severity == "warning"}
    assert warned == {"notes.txt", "xx1.avi"}
    assert rep.counts["recordings"] == 6 and rep.counts["subjects"] == 3
    assert rep.counts["per_language"] == {"(none)": 2, "english": 2, "mandarin": 2}


def test_truncated_clip_is_reported_with_its_path(tmp_path):
    root = tmp_path / "RML_Dataset"
    shutil.copytree(FIXTURE, root)
    bad = root / "s1" / "english" / "ha1.avi"
    bad.write_bytes(bad.read_bytes()[:2000])
    rep = Rml().doctor(root)
    assert not rep.ok
    assert [p.path for p in rep.problems if p.severity == "error"] == [str(bad)]
    rec = next(r for r in Rml().load(root) if r.id == "s1-english-ha1")
    with pytest.raises(MediaError) as err:
        rec.load("face_video")
    assert err.value.path == bad


def test_tiny_standin_reads_back_with_exact_counts(tmp_path):
    meta = Rml().write_standin(tmp_path / "RML_Dataset", "tiny", seed=0)
    recs = Rml().load(tmp_path / "RML_Dataset")
    assert len(recs) == meta["counts"]["recordings"] == 4 * 6
    assert sorted({r.subject for r in recs}) == ["s1", "s2", "s3", "s4"]
    per = np.bincount([r.labels["emotion-6"] for r in recs], minlength=6)
    assert per.tolist() == [4] * 6
    assert sum(not r.groups for r in recs) == 6  # s2 has no language level
    assert (tmp_path / "RML_Dataset" / "s2" / "Thumbs.db").exists()
    c = meta["counts"]
    assert c["disagreeing_clips"] == c["face_neutral"] + c["voice_neutral"]
    folds = LeaveOneSubjectOut().folds(recs)
    assert len(folds) == 4
    for f in folds:
        check_fold(f, recs, "loso")
        assert len({r.subject for r in recs if r.id in set(f.test)}) == 1


def test_label_space_pairing():
    assert corpus_labels("rml").space_classes() == SIX_BASIC
    import emobench_plugins.datasets.enterface  # noqa: F401  (declares its mapping)
    p = pairing("enterface", "rml")
    assert p.classes == SIX_BASIC and not p.dropped_a and not p.dropped_b
    assert p.relabel(corpus_labels("rml"), L.CLASSES.index("fear")) == SIX_BASIC.index("fear")


def test_label_space_drops_what_a_pairing_lacks():
    from emobench.labelspace import CorpusLabels, LabelSpaceError

    baum_like = CorpusLabels("baum-like", ("ang", "bor", "hap", "neu"),
                             {"ang": "anger", "bor": "boredom", "hap": "happiness",
                              "neu": "neutral"})
    p = pairing(baum_like, corpus_labels("rml"))
    assert p.classes == ("anger", "happiness")
    assert p.dropped_a == ("neutral", "boredom")
    assert p.dropped_b == ("disgust", "fear", "sadness", "surprise")
    assert p.relabel(baum_like, 1) is None and p.relabel(baum_like, 2) == 1
    assert "baum-like drops neutral, boredom" in p.describe()
    with pytest.raises(LabelSpaceError, match="'joy'"):
        CorpusLabels("x", ("joy", "anger"), {"joy": "joy"})
    with pytest.raises(LabelSpaceError, match="two classes onto one"):
        CorpusLabels("x", ("exc", "hap"), {"exc": "happiness", "hap": "happiness"})
