"""BAUM-1s plugin: the annotation spreadsheet's codes (not the names' prefixes),
the folder name with spaces, doctor and run on a truncated clip, the tiny stand-in
read back, the speakers-group folds and the label space."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emobench.labelspace import SIX_BASIC, corpus_labels, pairing
from emobench.protocols import check_fold
from emobench_plugins.datasets.baum1s import Baum1s
from emobench_plugins.datasets.baum1s import layout as L
from emobench_plugins.datasets.baum1s.protocols import SpeakerGroupsOut

FIXTURE = Path(__file__).parent / "fixtures" / "baum1s" / "BAUM1s_MP4 - All"
EXPECTED = {"S001_001": "contempt", "S001_002": "concentrating", "S002_001": "happiness",
            "S002_003": "boredom", "S015_001": "surprise", "S015_007": "neutral"}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))


def test_fixture_labels_come_from_the_codes():
    recs = {r.id: r for r in Baum1s().load(FIXTURE)}
    assert sorted(recs) == sorted(EXPECTED)
    for rid, emotion in EXPECTED.items():
        assert L.CLASSES[recs[rid].labels["emotion-13"]] == emotion
    six = {rid for rid, r in recs.items() if "emotion-6basic" in r.labels}
    assert six == {"S002_001", "S015_001"}
    assert L.SIX_BASIC[recs["S015_001"].labels["emotion-6basic"]] == "surprise"
    assert recs["S001_001"].subject == "S001" and recs["S001_001"].groups == {"gender": "F"}


def test_fixture_audio_is_the_tone_of_the_clip():
    rec = {r.id: r for r in Baum1s().load(FIXTURE)}["S002_003"]
    x = rec.load("audio")
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    assert abs(np.fft.rfftfreq(len(x), 1 / 16000)[spec.argmax()] - 600) < 5
    assert rec.load("face_video", size=(32, 32)).shape == (6, 32, 32, 3)


def test_doctor_warns_about_each_spreadsheet_pitfall():
    rep = Baum1s().doctor(FIXTURE)
    assert rep.ok, [str(p) for p in rep.problems]
    warned = sorted(p.message.split(":")[0] + ("" if p.path.endswith(".xlsx") else
                                               " " + Path(p.path).name) for p in rep.problems)
    assert warned == ["annotated in Annotations_BAUM1s.xlsx row 5 but no file; skipped S002_002.mp4",
                      "clip not in the annotation spreadsheet; skipped S003_001.mp4",
                      "row 6", "row 8"]
    msgs = " | ".join(p.message for p in rep.problems)
    assert "name 'ang' contradicts code 2 (boredom)" in msgs and "happy vs neutral" in msgs
    assert "con" not in " ".join(p.message for p in rep.problems if "S001" in p.message)


def test_truncated_clip_is_reported_and_skipped(tmp_path):
    root = tmp_path / "BAUM1s_MP4 - All"
    shutil.copytree(FIXTURE, root)
    bad = root / "S002" / "S002_001.mp4"
    bad.write_bytes(bad.read_bytes()[:1500])
    rep = Baum1s().doctor(root)
    assert [p.path for p in rep.problems if p.severity == "error"] == [str(bad)]
    with pytest.warns(UserWarning, match="S002_001.mp4"):
        recs = Baum1s().load(root)
    assert sorted(r.id for r in recs) == sorted(set(EXPECTED) - {"S002_001"})


def test_spreadsheet_beside_the_folder_is_found(tmp_path):
    root = tmp_path / "BAUM1s_MP4 - All"
    shutil.copytree(FIXTURE, root)
    (root / L.SPREADSHEET).rename(tmp_path / L.SPREADSHEET)
    assert len(Baum1s().load(root)) == len(EXPECTED)
    (tmp_path / L.SPREADSHEET).unlink()
    with pytest.raises(FileNotFoundError, match="annotation spreadsheet not found"):
        Baum1s().load(root)


def test_tiny_standin_reads_back_with_exact_counts(tmp_path):
    root = tmp_path / "BAUM1s_MP4 - All"
    meta = Baum1s().write_standin(root, "tiny", seed=0)
    recs = Baum1s().load(root)
    assert len(recs) == meta["counts"]["recordings"] == 6 * 7
    assert sum("emotion-6basic" in r.labels for r in recs) == meta["counts"]["six_basic"] == 36
    per = {e: sum(L.CLASSES[r.labels["emotion-13"]] == e for r in recs) for e in L.CLASSES}
    assert per == meta["counts"]["per_class"]
    folds = SpeakerGroupsOut().folds(recs)
    assert [f.name for f in folds] == ["speakers=S001-S002", "speakers=S003-S004",
                                       "speakers=S005-S006"]
    for f in folds:
        check_fold(f, recs, "baum1s-speaker-groups")


def test_speaker_groups_of_the_real_count():
    groups = SpeakerGroupsOut().groups([type("R", (), {"subject": f"S{i:03d}"})()
                                        for i in range(1, 32)])
    sizes = [list(groups.values()).count(g) for g in range(3)]
    assert sizes == [11, 10, 10] and groups["S011"] == 0 and groups["S012"] == 1


def test_label_space():
    assert set(corpus_labels("baum1s").space_classes()) == set(L.CLASSES)
    import emobench_plugins.datasets.rml  # noqa: F401  (declares its mapping)
    p = pairing("rml", "baum1s")
    assert p.classes == SIX_BASIC and not p.dropped_a
    assert "boredom" in p.dropped_b and "neutral" in p.dropped_b
