"""BioVid Part A plugin: the fixture tree with its pitfalls, doctor on a broken copy,
the tiny stand-in read back, protocols and registration."""

from __future__ import annotations

import csv
import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from emobench.data import Recording
from emobench.protocols import check_fold
from emobench.media import reset_video_stats, video_stats
from emobench_plugins.datasets.biovid import layout as L
from emobench_plugins.datasets.biovid.protocols import (BioVidHoldout61x26, BioVidLoso67,
                                                         BioVidOrdered29)
from emobench_plugins.datasets.biovid.standin import pick_subjects
from emobench_plugins.datasets.biovid import BioVidPartA

FIXTURE = Path(__file__).parent / "fixtures" / "biovid" / "PartA"
IDS = ["071313_m_41-BL1-081", "071313_m_41-PA4-012", "082315_w_60-PA2-044"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))


def _by_id(recs):
    return {r.id: r for r in recs}


def _pspi_from_csv(path: Path) -> np.ndarray:
    """Independent PSPI from the OpenFace CSV with the csv module."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, skipinitialspace=True))
    f = lambda r, k: float(r[k])  # noqa: E731
    return np.array([f(r, "AU04_r") + max(f(r, "AU06_r"), f(r, "AU07_r"))
                     + max(f(r, "AU09_r"), f(r, "AU10_r")) + f(r, "AU45_c") for r in rows])


# -- fixture tree ------------------------------------------------------------------

def test_fixture_counts_labels_and_groups():
    recs = _by_id(BioVidPartA().load(FIXTURE))
    assert sorted(recs) == IDS
    assert {r.subject for r in recs.values()} == {"071313_m_41", "082315_w_60"}
    assert [recs[i].labels["pain-5class"] for i in IDS] == [0, 4, 2]
    assert recs[IDS[0]].labels["bl1-vs-pa4"] == 0 and recs[IDS[1]].labels["bl1-vs-pa4"] == 1
    assert "bl1-vs-pa4" not in recs[IDS[2]].labels  # PA2 is not part of the binary task
    assert recs[IDS[0]].groups == {"sex": "m", "age_band": "36-50"}
    assert recs[IDS[2]].groups == {"sex": "w", "age_band": "51-65"}
    assert recs[IDS[2]].meta["class_name"] == "PA2" and recs[IDS[2]].meta["sample_id"] == "2600"
    # only one sample has an OpenFace CSV: only it has the features and the PSPI label
    assert "face_features" in recs[IDS[1]].streams and "pspi" in recs[IDS[1]].labels
    assert "face_features" not in recs[IDS[0]].streams and "pspi" not in recs[IDS[0]].labels


def test_parent_folder_is_accepted():
    assert sorted(r.id for r in BioVidPartA().load(FIXTURE.parent)) == IDS


def test_physio_microsecond_times_and_leading_spaces():
    rec = _by_id(BioVidPartA().load(FIXTURE))[IDS[1]]  # class_id 4
    x = rec.load("physio")
    assert x.shape == (2816, 5) and x.dtype == np.float32  # a four-column file: facial EMG 0
    t = np.arange(2816) / 512.0
    np.testing.assert_allclose(x[:, 0], 5 + 4 + t, atol=1e-3)  # gsr = 5 + class_id + t
    np.testing.assert_array_equal(x[:, 1], np.where((np.arange(2816) // 256) % 2 == 0, 0.5, -0.5))
    assert not x[:, 2:].any()
    time_us, _ = L.read_bio(L.bio_path(FIXTURE, "071313_m_41", IDS[1]))
    assert L.bio_rate(time_us) == pytest.approx(512.0, rel=1e-3)
    # resampled onto the 25 Hz video grid: 138 rows, the ramp preserved away from the edges
    y = rec.load("physio", rate=25)
    assert y.shape == (138, 5)
    np.testing.assert_allclose(y[10:-10, 0], 9 + np.arange(138)[10:-10] / 25.0, atol=0.02)


def test_face_features_and_pspi_match_an_independent_reading():
    rec = _by_id(BioVidPartA().load(FIXTURE))[IDS[1]]
    feats = rec.load("face_features")
    assert feats.shape == (138, 41) and feats.dtype == np.float32
    assert BioVidPartA.modalities["face_features"].channels[:7] == (
        "pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz", "AU01_r")
    expected = _pspi_from_csv(L.openface_path(FIXTURE, "071313_m_41", IDS[1]))
    np.testing.assert_allclose(rec.labels["pspi"], expected, atol=1e-5)
    assert rec.labels["pspi"].shape[0] == feats.shape[0]
    assert expected.max() > 5  # the ramp and the blinks are really in there


def test_face_video_is_cached():
    recs = BioVidPartA().load(FIXTURE)
    reset_video_stats()
    clip = recs[0].load("face_video", size=(32, 32), gray=True)
    assert clip.shape == (138, 32, 32) and clip.dtype == np.uint8
    first = video_stats()["videos_decoded"]
    assert first >= 1
    again = BioVidPartA().load(FIXTURE)[0].load("face_video", size=(32, 32), gray=True)
    np.testing.assert_array_equal(clip, again)
    assert video_stats()["videos_decoded"] == first  # second run decodes nothing


def test_samples_csv_positional_fallback_and_comma_copy(tmp_path):
    root = tmp_path / "PartA"
    shutil.copytree(FIXTURE, root)
    lines = (root / "samples.csv").read_text().splitlines()
    renamed = "\t".join(["SubjID", "Subject", "Class", "ClassName", "SampleID", "Sample"])
    (root / "samples.csv").write_text("\n".join([renamed] + lines[1:]) + "\n")
    assert sorted(r.id for r in BioVidPartA().load(root)) == IDS
    (root / "samples.csv").write_text("\n".join(l.replace("\t", ",") for l in lines) + "\n")
    recs = _by_id(BioVidPartA().load(root))
    assert sorted(recs) == IDS and recs[IDS[1]].labels["pain-5class"] == 4


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(L.BioVidFormatError, match="samples.csv"):
        BioVidPartA().load(tmp_path)
    root = tmp_path / "PartA"
    shutil.copytree(FIXTURE, root)
    with open(root / "samples.csv", "a") as fh:
        fh.write("3\t071309_w_21\t7\tPA7\t5\t071309_w_21-PA7-001\n")
    with pytest.raises(L.BioVidFormatError, match=r"samples.csv: line 5: class_id 7"):
        BioVidPartA().load(root)


def test_doctor_on_fixture_is_clean():
    report = BioVidPartA().doctor(FIXTURE)
    # the fixture is the four-column variant: only that is reported, once per file
    assert report.ok and {p.message for p in report.problems} == {
        "four-column file: emg_corrugator and emg_zygomaticus are absent and read as 0"}
    assert len(report.problems) == 3
    assert report.counts["samples"] == 3 and report.counts["subjects"] == 2
    assert report.counts["videos"] == 3 and report.counts["bio_files"] == 3
    assert report.counts["openface_files"] == 1


def test_doctor_names_every_broken_file(tmp_path):
    root = tmp_path / "PartA"
    shutil.copytree(FIXTURE, root)
    missing_video = L.video_path(root, "071313_m_41", IDS[0])
    missing_video.unlink()
    cut_bio = L.bio_path(root, "082315_w_60", IDS[2])
    cut_bio.write_text("\n".join(cut_bio.read_text().splitlines()[:200]) + "\n")
    short_of = L.openface_path(root, "071313_m_41", IDS[1])
    short_of.write_text("\n".join(short_of.read_text().splitlines()[:100]) + "\n")
    stray = root / "video" / "071313_m_41" / "071313_m_41-PA1-099.mp4"
    stray.write_bytes(b"")
    with open(root / "samples.csv", "a") as fh:
        fh.write("1\t071313_m_41\t9\tPA9\t7\t071313_m_41-PA9-001\n")
        fh.write("1\t071313_m_41\t3\tPA1\t8\t071313_m_41-PA3-002\n")

    report = BioVidPartA().doctor(root)
    assert not report.ok
    by_path = {}
    for p in report.problems:
        by_path.setdefault(p.path, []).append(p)
    assert "video file missing" in by_path[str(missing_video)][0].message
    assert "truncated" in by_path[str(cut_bio)][0].message
    assert "99 rows" in by_path[str(short_of)][0].message
    assert by_path[str(stray)][0].severity == "warning"
    assert any("unknown class_id 9" in p.message for p in by_path[f"{root / 'samples.csv'}:5"])
    assert any("class_name 'PA1'" in p.message for p in by_path[f"{root / 'samples.csv'}:6"])
    # the PA3 row's files do not exist either
    assert str(L.bio_path(root, "071313_m_41", "071313_m_41-PA3-002")) in by_path
    assert report.counts["samples"] == 4  # the unknown class row is not counted


def test_doctor_without_samples_csv_does_not_raise(tmp_path):
    report = BioVidPartA().doctor(tmp_path)
    assert not report.ok and "samples.csv" in report.problems[0].path


# -- stand-in ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMOBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        root = tmp_path_factory.mktemp("standin") / "BioVid" / "PartA"
        meta = BioVidPartA().write_standin(root, "tiny", seed=3)
        return root, meta


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_standin_read_back_with_exact_counts(tiny):
    root, meta = tiny
    recs = BioVidPartA().load(root)
    c = meta["counts"]
    assert len(recs) == c["samples"] and len({r.subject for r in recs}) == c["subjects"]
    per_class = {cls: sum(r.labels["pain-5class"] == i for r in recs) for i, cls in enumerate(L.CLASSES)}
    assert per_class == c["samples_per_class"]
    assert sum("bl1-vs-pa4" in r.labels for r in recs) == 2 * c["samples_per_class"]["BL1"]
    assert c["holdout_subjects"] >= 1 and c["non_expressive_subjects"] >= 1
    assert {r.subject for r in recs} <= set(L.ALL_SUBJECTS)
    rec = recs[0]
    assert rec.load("physio").shape == (L.BIO_ROWS, 5)
    assert rec.load("face_features").shape == (L.VIDEO_FRAMES, 41)
    assert rec.labels["pspi"].shape == (L.VIDEO_FRAMES,)
    np.testing.assert_allclose(rec.labels["pspi"], _pspi_from_csv(
        L.openface_path(root, rec.subject, rec.id)), atol=1e-5)
    report = BioVidPartA().doctor(root)
    assert report.ok, [str(p) for p in report.problems]
    assert report.counts["videos"] == c["samples"]
    ceil = meta["ceilings"]
    for task in ("bl1-vs-pa4", "pain-5class"):  # the oracle's label per sample of the task
        items = ceil[task]["oracle_items"]
        assert set(items) == {r.id for r in recs if task in r.labels}
        assert 0.5 < np.mean([items[r.id] == r.labels[task] for r in recs if task in r.labels]) <= 1.0


def test_standin_pitfalls_are_in_the_files(tiny):
    root, _ = tiny
    first = (root / "samples.csv").read_text().splitlines()[0]
    assert first.split("\t") == list(L.SAMPLES_COLUMNS)
    bio = next((root / "biosignals_filtered").rglob("*_bio.csv")).read_text().splitlines()
    assert bio[0] == "time\t gsr\t ecg\t emg_trapezius\t emg_corrugator\t emg_zygomaticus"
    times = [int(line.split("\t")[0]) for line in bio[1:6]]
    assert times[0] == 1250 and set(np.diff(times)) <= {1953, 1954}  # microseconds at 512 Hz
    assert "e" in bio[1].split("\t")[1]  # %e values, as in real copies
    from emobench.media import video_info
    info = video_info(next((root / "video").rglob("*.mp4")))
    assert info["frames"] == 138 and info["fps"] == pytest.approx(25.0)


def test_standin_gsr_responds_to_pain(tiny):
    root, _ = tiny
    rise = {0: [], 4: []}
    for r in BioVidPartA().load(root):
        if r.labels["pain-5class"] in rise:
            g = r.load("physio")[:, 0]
            rise[r.labels["pain-5class"]].append(g[-512:].mean() - g[:512].mean())
    assert np.mean(rise[4]) > np.mean(rise[0]) + 0.2


def test_standin_same_seed_same_bytes(tiny, tmp_path):
    root, meta = tiny
    again = BioVidPartA().write_standin(tmp_path / "PartA", "tiny", seed=3)
    assert again == meta
    assert _digest(tmp_path / "PartA") == _digest(root)


def test_pick_subjects_covers_every_protocol_list():
    for n in (4, 6, 18, 40):
        names = pick_subjects(n)
        assert len(names) == len(set(names)) == n and names == sorted(names)
        held, nonexp = set(L.HOLDOUT_26), set(L.NON_EXPRESSIVE)
        assert any(s in held and s in nonexp for s in names)
        assert any(s in held and s not in nonexp for s in names)
        assert any(s in nonexp and s not in held for s in names)
        assert any(s not in held and s not in nonexp for s in names)
    assert pick_subjects(87) == list(L.ALL_SUBJECTS)


# -- protocols -------------------------------------------------------------------------

def _recs(subjects, per=2):
    return [Recording(f"{s}-BL1-{i:03d}", s, {"pain-5class": 0}) for s in subjects for i in range(per)]


def test_subject_lists_match_the_corpus_facts():
    assert len(L.ALL_SUBJECTS) == len(set(L.ALL_SUBJECTS)) == 87
    assert sum(s[7] == "m" for s in L.ALL_SUBJECTS) == 44
    assert len(L.NON_EXPRESSIVE) == 20 and len(L.EXPRESSIVE_67) == 67
    assert len(L.HOLDOUT_26) == 26 and set(L.HOLDOUT_26) <= set(L.ALL_SUBJECTS)


def test_protocols_on_all_87_subjects():
    recs = _recs(L.ALL_SUBJECTS)
    subj = {r.id: r.subject for r in recs}
    (fold,) = BioVidOrdered29().folds(recs)
    check_fold(fold, recs)
    ordered = sorted(L.ALL_SUBJECTS)
    assert {subj[i] for i in fold.test} == set(ordered[:29])
    assert {subj[i] for i in fold.valid} == set(ordered[29:58])
    assert {subj[i] for i in fold.train} == set(ordered[58:])
    (fold,) = BioVidHoldout61x26().folds(recs, seed=1)
    check_fold(fold, recs)
    assert {subj[i] for i in fold.test} == set(L.HOLDOUT_26)
    assert len({subj[i] for i in fold.train + fold.valid}) == 61
    folds = BioVidLoso67().folds(recs)
    assert len(folds) == 67
    used = {subj[i] for f in folds for i in f.train + f.valid + f.test}
    assert used == set(L.EXPRESSIVE_67)


def test_protocols_on_a_reduced_copy(tiny):
    root, _ = tiny
    recs = BioVidPartA().load(root)
    subj = {r.id: r.subject for r in recs}
    subjects = sorted(set(subj.values()))
    (fold,) = BioVidHoldout61x26().folds(recs)
    check_fold(fold, recs)
    assert {subj[i] for i in fold.test} == set(subjects) & set(L.HOLDOUT_26)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (fold,) = BioVidOrdered29().folds(recs)
    assert any("sorted thirds" in str(w.message) for w in caught)
    check_fold(fold, recs)
    assert {subj[i] for i in fold.test} == set(subjects[:2])
    folds = BioVidLoso67().folds(recs)
    assert {f.name for f in folds} == {f"subject={s}" for s in subjects if s in L.EXPRESSIVE_67}


def test_fixed_list_protocols_explain_what_is_missing():
    recs = _recs([f"S{i:03d}" for i in range(5)])
    with pytest.raises(ValueError, match="26 hold-out subjects"):
        BioVidHoldout61x26().folds(recs)
    assert BioVidHoldout61x26().unmet_needs(recs)
    with pytest.raises(ValueError, match="67 expressive"):
        BioVidLoso67().folds(recs)


def test_registered_without_failures():
    from emobench.plugins import load_registry

    reg = load_registry()
    assert "biovid" in reg.datasets
    assert not [f for f in reg.failures if f[0].entry_point == "biovid"]
    for name in BioVidPartA.protocols:
        assert name in reg.protocols
