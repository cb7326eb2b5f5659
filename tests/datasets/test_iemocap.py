"""IEMOCAP plugin: the fixture tree with its pitfalls (latin-1, % comments,
C-E2 evaluator lines, AppleDouble files, the speaker from the turn's final field),
the excited merge as a task option, the turn window of the dialog video, doctor
and run on a truncated video, the tiny stand-in read back, session-out folds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emobench.labelspace import corpus_labels
from emobench.protocols import check_fold
from emobench_plugins.datasets.iemocap import PROTOCOLS, Iemocap
from emobench_plugins.datasets.iemocap import layout as L

FIXTURE = Path(__file__).parent / "fixtures" / "iemocap" / "IEMOCAP_full_release"
# id -> (speaker, emotion-4, emotion-4-noexc, emotion-5) class names (None: not in the task)
EXPECTED = {
    "Ses01F_impro01_F000": ("Ses01F", "neutral", "neutral", "neutral"),
    "Ses01F_impro01_M000": ("Ses01M", "happiness", None, "happiness"),  # exc
    "Ses01F_impro01_F001": ("Ses01F", "anger", "anger", "anger"),
    "Ses01F_impro01_F002": ("Ses01F", None, None, "frustration"),
    "Ses02M_script01_1b_F000": ("Ses02F", "sadness", "sadness", "sadness"),
    "Ses02M_script01_1b_M000": ("Ses02M", "happiness", "happiness", "happiness"),
}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))


def _name(rec, task, classes):
    return classes[rec.labels[task]] if task in rec.labels else None


def test_fixture_turns_speakers_and_labels():
    recs = {r.id: r for r in Iemocap().load(FIXTURE)}
    assert sorted(recs) == sorted(EXPECTED)  # xxx, sur and the turn without wav are out
    for rid, (speaker, four, noexc, five) in EXPECTED.items():
        r = recs[rid]
        assert r.subject == speaker
        assert (_name(r, "emotion-4", L.CLASSES_4), _name(r, "emotion-4-noexc", L.CLASSES_4),
                _name(r, "emotion-5", L.CLASSES_5)) == (four, noexc, five)
        assert r.groups == {"session": rid[4], "gender": speaker[-1]}
    # the dialog is named after the male actor; its F turn is the female speaker's
    assert recs["Ses02M_script01_1b_F000"].meta["code"] == "sad"
    assert recs["Ses01F_impro01_F000"].meta["evaluators"] == ["Neutral", "Neutral"]


def test_fixture_wav_and_turn_window_of_the_dialog_video():
    recs = {r.id: r for r in Iemocap().load(FIXTURE)}
    x = recs["Ses01F_impro01_M000"].load("audio")
    assert x.shape == (9600,)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    assert abs(np.fft.rfftfreq(len(x), 1 / 16000)[spec.argmax()] - 400) < 3
    # turn 2 of 5 in the dialog AVI: frames 6..11, grey level 40 (make_fixture)
    face = recs["Ses01F_impro01_M000"].load("face_video", size=(32, 32))
    assert face.shape == (6, 32, 32, 3)
    assert abs(float(face.mean()) - 40) < 6
    assert abs(float(recs["Ses01F_impro01_F001"].load("face_video", size=(32, 32)).mean()) - 80) < 6


def test_doctor_on_fixture_warns_only_about_the_missing_wav():
    rep = Iemocap().doctor(FIXTURE)
    assert rep.ok, [str(p) for p in rep.problems]
    assert [Path(p.path).name for p in rep.problems] == ["Ses02M_script01_1b_M001.wav"]
    assert rep.counts["per_code"] == {"ang": 1, "exc": 1, "fru": 1, "hap": 1, "neu": 1, "sad": 1,
                                      "sur": 1, "xxx": 1}
    assert rep.counts["appledouble_files_skipped"] == 4


def test_truncated_dialog_video_is_reported_and_its_turns_skipped(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(FIXTURE, root)
    bad = root / "Session2" / "dialog" / "avi" / "DivX" / "Ses02M_script01_1b.avi"
    bad.write_bytes(bad.read_bytes()[:3000])
    rep = Iemocap().doctor(root)
    assert [p.path for p in rep.problems if p.severity == "error"] == [str(bad)]
    with pytest.warns(UserWarning, match="Ses02M_script01_1b.avi"):
        recs = Iemocap().load(root)
    assert sorted(r.id for r in recs) == sorted(i for i in EXPECTED if i.startswith("Ses01"))


def test_session_out_folds_and_label_space():
    recs = Iemocap().load(FIXTURE)
    session_out = next(p for p in PROTOCOLS if p.name == "iemocap-session-out")
    folds = session_out.folds(recs)
    assert [f.name for f in folds] == ["session=1", "session=2"]
    for f in folds:
        check_fold(f, recs, session_out.name)
        assert len({r.subject for r in recs if r.id in set(f.test)}) == 2  # one dyad
    assert corpus_labels("iemocap").space_classes() == ("anger", "happiness", "sadness", "neutral")
    assert L.CLASSES_5[:4] == L.CLASSES_4


def test_tiny_standin_reads_back_with_exact_counts(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    meta = Iemocap().write_standin(root, "tiny", seed=0)
    recs = Iemocap().load(root)
    assert len(recs) == meta["counts"]["recordings"] == 3 * 2 * 6
    assert sorted({r.subject for r in recs}) == ["Ses01F", "Ses01M", "Ses02F", "Ses02M",
                                                 "Ses03F", "Ses03M"]
    four = {c: sum(_name(r, "emotion-4", L.CLASSES_4) == c for r in recs) for c in L.CLASSES_4}
    assert four == meta["counts"]["emotion-4"] == {"neutral": 6, "happiness": 12, "sadness": 6,
                                                   "anger": 6}
    assert list(root.rglob("._*.txt")) and list(root.rglob("._*.wav"))
    text = (root / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt").read_bytes()
    assert b"synth\xe9tique" in text  # latin-1, not UTF-8
    c = meta["counts"]
    assert c["disagreeing_turns"] == c["face_neutral"] + c["voice_neutral"]
