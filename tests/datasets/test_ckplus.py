"""CK+: the four archives (zipped or unzipped, doubled folders), peak-frame emotion files,
the 10-fold subject-independent protocol and the stand-in read back."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from emobench.protocols import check_fold
from emobench_plugins.datasets.ckplus import CLASSES6, CLASSES7, CkPlus, emobench_register_protocols
from emobench_plugins.datasets.ckplus import layout as L
from emobench_plugins.datasets.ckplus.standin import write_standin

FIXTURE = Path(__file__).parent / "fixtures" / "ckplus" / "CK+"


def _by_id(root):
    return {r.id: r for r in CkPlus().load(root)}


def test_zipped_fixture_loads_sequences_labels_and_litter_is_skipped():
    recs = _by_id(FIXTURE)
    assert sorted(recs) == ["S005_001", "S005_002", "S005_neutral", "S010_004", "S010_neutral",
                            "S011_001", "S011_neutral"]
    assert CLASSES7[recs["S005_001"].labels["emotion7"]] == "disgust"      # code 3.0000000e+00
    assert CLASSES6[recs["S005_001"].labels["emotion6"]] == "disgust"
    assert recs["S005_002"].labels == {}                                   # no emotion file
    assert CLASSES7[recs["S010_004"].labels["emotion7"]] == "contempt"
    assert "emotion6" not in recs["S010_004"].labels                       # contempt: not basic
    assert CLASSES7[recs["S011_001"].labels["emotion7"]] == "happiness"
    assert recs["S010_004"].meta["frames"] == 5
    video = recs["S010_004"].load("face_video", size=(16, 20), gray=True)
    assert video.shape == (5, 16, 20) and video.dtype == np.uint8
    assert video[0].mean() < video[-1].mean()                              # frame order kept
    assert recs["S005_001"].load("landmarks").shape == (4, 68, 2)


def test_unzipped_doubled_folders_load_the_same(tmp_path):
    for archive in FIXTURE.glob("*.zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp_path)
    assert (tmp_path / "Emotion_labels" / "Emotion").is_dir()              # the doubled part
    zipped, unzipped = _by_id(FIXTURE), _by_id(tmp_path)
    assert {k: r.labels for k, r in zipped.items()} == {k: r.labels for k, r in unzipped.items()}
    assert np.array_equal(zipped["S011_001"].load("face_video"), unzipped["S011_001"].load("face_video"))


@pytest.mark.parametrize("text,message", [("   9.0000000e+00\n", "expected one emotion code 0-7"),
                                          ("happy\n", "expected one emotion code"),
                                          ("   0.0000000e+00\n", "code 0 \\(neutral\\) on a peak frame")])
def test_bad_emotion_file_is_a_named_error(tmp_path, text, message):
    for archive in FIXTURE.glob("*.zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp_path)
    path = tmp_path / "Emotion_labels/Emotion/S005/001/S005_001_00000004_emotion.txt"
    path.write_text(text)
    with pytest.raises(L.CkPlusFormatError, match=message) as err:
        CkPlus().load(tmp_path)
    assert err.value.path == str(path)


def test_damaged_frame_is_named_by_the_stream_and_doctor(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "CK+")
    root = tmp_path / "CK+"
    with zipfile.ZipFile(FIXTURE / "cohn-kanade-images.zip") as src, \
            zipfile.ZipFile(root / "cohn-kanade-images.zip", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[:20] if info.filename.endswith("S011_001_00000002.png") else data)
    rec = _by_id(root)["S011_001"]
    with pytest.raises(L.CkPlusFormatError, match="S011_001_00000002.png: not a readable image"):
        rec.load("face_video")
    report = CkPlus().doctor(root)
    assert not report.ok
    assert any("S011_001_00000002.png" in p.path for p in report.problems)


def test_missing_image_part_is_a_named_error(tmp_path):
    with pytest.raises(L.CkPlusFormatError, match="no cohn-kanade-images"):
        CkPlus().load(tmp_path)


def test_standin_reads_back_with_exact_counts_and_ten_subject_folds(tmp_path):
    meta = write_standin(tmp_path, "tiny", seed=1)
    recs = CkPlus().load(tmp_path)
    assert len(recs) == meta["counts"]["recordings"] == 12 * 3 + 12  # + one neutral per subject
    assert len({r.subject for r in recs}) == 12
    labelled = [r for r in recs if "emotion7" in r.labels]
    # one sequence in four, staggered over subjects, has no emotion file
    expected = sum((si + k) % 4 != 3 for si in range(12) for k in range(3))
    assert len(labelled) == meta["counts"]["labelled"] == expected == 27
    # classes cycle through CK+ codes 1-7 over the subjects' sequences
    want = np.bincount([(si * 3 + k) % 7 for si in range(12) for k in range(3) if (si + k) % 4 != 3],
                       minlength=7)
    assert np.bincount([r.labels["emotion7"] for r in labelled], minlength=7).tolist() == want.tolist()
    assert all(r.meta["frames"] == 6 for r in recs)
    clip = recs[0].load("face_video", size=(32, 32), gray=True)
    assert clip.shape == (6, 32, 32)
    # neutral first frame: the face moves most towards the apex, not before the start
    assert np.abs(clip[-1].astype(int) - clip[0]).mean() > np.abs(clip[1].astype(int) - clip[0]).mean()
    (protocol,) = emobench_register_protocols()
    folds = protocol.folds(labelled, seed=0)
    assert len(folds) == 10
    for f in folds:
        check_fold(f, labelled, protocol.name)
    assert sorted(i for f in folds for i in f.test) == sorted(r.id for r in labelled)


def test_label_files_without_frames_are_a_named_error(tmp_path):
    for archive in FIXTURE.glob("*.zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp_path)
    shutil.rmtree(tmp_path / "cohn-kanade-images" / "S011")
    with pytest.raises(L.CkPlusFormatError, match="sequence S011_001 has label files but no image frames") as err:
        CkPlus().load(tmp_path)
    assert err.value.path.endswith("S011_001_00000003_emotion.txt")


def test_emotion8_adds_one_held_neutral_first_frame_per_labelled_subject():
    from emobench_plugins.datasets.ckplus import CLASSES8

    recs = _by_id(FIXTURE)
    assert CLASSES8[recs["S005_001"].labels["emotion8"]] == "disgust"
    assert CLASSES8[recs["S010_004"].labels["emotion8"]] == "contempt"
    neutral = {k: r for k, r in recs.items() if k.endswith("_neutral")}
    assert {k: r.labels for k, r in neutral.items()} == {
        "S005_neutral": {"emotion8": 0}, "S010_neutral": {"emotion8": 0}, "S011_neutral": {"emotion8": 0}}
    assert neutral["S010_neutral"].meta["neutral_of"] == "S010_004"
    held = neutral["S010_neutral"].load("face_video", size=(16, 20), gray=True)
    seq = recs["S010_004"].load("face_video", size=(16, 20), gray=True)
    assert held.shape == seq.shape                       # as long as the sequence's clip
    assert all(np.array_equal(f, seq[0]) for f in held)  # the neutral first frame, held
    assert not np.array_equal(seq[-1], seq[0])
    lm = neutral["S005_neutral"].load("landmarks")
    assert lm.shape == (4, 68, 2) and np.array_equal(lm[-1], recs["S005_001"].load("landmarks")[0])


def _frame(seq, i, size=(16, 20)):
    import cv2

    img = cv2.resize(L.decode_image(seq.frames[i]), (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def test_face_image_is_the_labelled_peak_frame_of_every_recording():
    recs = _by_id(FIXTURE)
    seqs = L.scan(FIXTURE)
    # one still per recording, the labelled ones included (327 of 593 in the real corpus)
    assert all({"face_image", "face_clip", "face_video"} <= set(r.streams) for r in recs.values())
    for rid in ("S005_001", "S010_004", "S011_001"):
        seq = seqs[rid]
        # the emotion file is named after the peak frame, which is the sequence's last
        assert seq.emotion_number == seq.numbers[-1] and seq.peak == len(seq.frames) - 1
        img = recs[rid].load("face_image", size=(16, 20), gray=True)
        assert img.shape == (16, 20) and img.dtype == np.uint8
        assert np.array_equal(img, _frame(seq, seq.peak))
        assert np.array_equal(img, recs[rid].load("face_video", size=(16, 20), gray=True)[-1])
        assert not np.array_equal(img, _frame(seq, 0))                  # not the neutral frame
        assert recs[rid].meta["peak_frame"].endswith(f"{rid}_{seq.emotion_number}.png")
    # an unlabelled sequence: its last frame; a neutral item: the first frame it is made of
    assert np.array_equal(recs["S005_002"].load("face_image", size=(16, 20), gray=True),
                          _frame(seqs["S005_002"], -1))
    assert np.array_equal(recs["S010_neutral"].load("face_image", size=(16, 20), gray=True),
                          _frame(seqs["S010_004"], 0))
    # the adapter: the same still as a one-frame clip
    clip = recs["S010_004"].load("face_clip", size=(16, 20), gray=True)
    assert clip.shape == (1, 16, 20) and np.array_equal(clip[0], recs["S010_004"].load(
        "face_image", size=(16, 20), gray=True))
    assert recs["S010_004"].load("face_image").shape == (64, 64, 3)


def _unzipped(tmp_path):
    for archive in FIXTURE.glob("*.zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp_path)
    return tmp_path / "Emotion_labels" / "Emotion" / "S010" / "004"


def test_face_image_follows_the_frame_the_emotion_file_names(tmp_path):
    emo = _unzipped(tmp_path)
    (emo / "S010_004_00000005_emotion.txt").rename(emo / "S010_004_00000003_emotion.txt")
    seq = L.scan(tmp_path)["S010_004"]
    assert seq.peak == 2
    rec = _by_id(tmp_path)["S010_004"]
    assert np.array_equal(rec.load("face_image", size=(16, 20), gray=True), _frame(seq, 2))


def test_emotion_file_naming_a_missing_frame_is_a_named_error(tmp_path):
    emo = _unzipped(tmp_path)
    (emo / "S010_004_00000005_emotion.txt").rename(emo / "S010_004_00000009_emotion.txt")
    with pytest.raises(L.CkPlusFormatError, match="names frame 00000009, which has no image") as err:
        CkPlus().load(tmp_path)
    assert err.value.path.endswith("S010_004_00000009_emotion.txt")


def test_standin_has_one_peak_image_per_recording(tmp_path):
    meta = write_standin(tmp_path, "tiny", seed=1)
    recs = CkPlus().load(tmp_path)
    images = [r.load("face_image", size=(32, 32), gray=True) for r in recs]
    assert len(images) == meta["counts"]["recordings"] == 48
    assert all(i.shape == (32, 32) for i in images)
    by_id = {r.id: (r, im) for r, im in zip(recs, images)}
    for r, im in by_id.values():
        clip = r.load("face_video", size=(32, 32), gray=True)
        # the stand-in's emotion files sit on the last frame: the still is the clip's apex
        assert np.array_equal(im, clip[0] if r.id.endswith("_neutral") else clip[-1])
