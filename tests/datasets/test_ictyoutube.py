"""ICT YouTube plugin: the documented manifest (BOM, comments, word and numeric
sentiments, optional speaker and gender), doctor and run on a truncated video,
leave-one-video-out with a shared speaker, the tiny stand-in read back."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emobench.labelspace import LabelSpaceError, corpus_labels, pairing
from emobench.protocols import check_fold
from emobench_plugins.datasets.ictyoutube import LOVO, IctYoutube
from emobench_plugins.datasets.ictyoutube import layout as L

FIXTURE = Path(__file__).parent / "fixtures" / "ictyoutube" / "ICT-YouTube"
EXPECTED = {"v01": ("rev1", "positive", {"gender": "F"}), "v02": ("v02", "negative", {"gender": "M"}),
            "v03": ("v03", "neutral", {}), "v04": ("rev1", "positive", {"gender": "F"})}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))


def test_fixture_manifest_rows():
    recs = {r.id: r for r in IctYoutube().load(FIXTURE)}
    assert sorted(recs) == sorted(EXPECTED)
    for vid, (speaker, sentiment, groups) in EXPECTED.items():
        r = recs[vid]
        assert (r.subject, L.CLASSES[r.labels["sentiment-3"]], r.groups) == (speaker, sentiment, groups)
    assert recs["v02"].meta["file"] == "videos/v02.avi"
    assert recs["v03"].meta["file"] == "videos/more/v03.mp4"


def test_fixture_audio_is_the_tone_of_the_video():
    x = {r.id: r for r in IctYoutube().load(FIXTURE)}["v02"].load("audio")
    assert x.shape == (9600,)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    assert abs(np.fft.rfftfreq(len(x), 1 / 16000)[spec.argmax()] - 400) < 3


def test_doctor_names_the_bad_row_and_the_stray_files():
    rep = IctYoutube().doctor(FIXTURE)
    errors = [p for p in rep.problems if p.severity == "error"]
    assert [(Path(p.path).name, p.message.split(":")[0]) for p in errors] == [("manifest.csv", "line 8")]
    assert "'meh'" in errors[0].message
    warned = sorted(Path(p.path).name for p in rep.problems if p.severity == "warning")
    assert warned == ["extra.mp4", "v05.mp4"]
    assert rep.counts["recordings"] == 4 and rep.counts["speakers"] == 3


def test_truncated_video_is_reported_and_skipped(tmp_path):
    root = tmp_path / "ICT-YouTube"
    shutil.copytree(FIXTURE, root)
    bad = root / "videos" / "v04.mp4"
    bad.write_bytes(bad.read_bytes()[:1500])
    rep = IctYoutube().doctor(root)
    assert str(bad) in [p.path for p in rep.problems if p.severity == "error"]
    with pytest.warns(UserWarning, match="v04.mp4"):
        recs = IctYoutube().load(root)
    assert sorted(r.id for r in recs) == ["v01", "v02", "v03"]


def test_leave_one_video_out_keeps_a_speaker_together():
    recs = IctYoutube().load(FIXTURE)
    folds = LOVO.folds(recs)
    assert sorted(f.name for f in folds) == ["subject=rev1", "subject=v02", "subject=v03"]
    for f in folds:
        check_fold(f, recs, LOVO.name)
    assert {"v01", "v04"} == set(next(f for f in folds if f.name == "subject=rev1").test)


def test_sentiment_is_in_no_emotion_pairing():
    assert corpus_labels("ictyoutube").space_classes() == ()
    import emobench_plugins.datasets.rml  # noqa: F401
    with pytest.raises(LabelSpaceError, match="fewer than two"):
        pairing("rml", "ictyoutube")


def test_tiny_standin_reads_back_with_exact_counts(tmp_path):
    root = tmp_path / "ICT-YouTube"
    meta = IctYoutube().write_standin(root, "tiny", seed=0)
    recs = IctYoutube().load(root)
    assert len(recs) == meta["counts"]["recordings"] == 9
    per = {s: sum(L.CLASSES[r.labels["sentiment-3"]] == s for r in recs) for s in L.CLASSES}
    assert per == meta["counts"]["per_sentiment"] == {"negative": 3, "neutral": 3, "positive": 3}
    assert sum(r.groups.get("gender") == "F" for r in recs) == meta["counts"]["women"] == 4
    assert "-1" in (root / "manifest.csv").read_text() or "+1" in (root / "manifest.csv").read_text()
