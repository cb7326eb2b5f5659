"""AffectNet: the CSV lists (landmarks as one ';' field, codes 8-10 excluded, -2 as missing),
mixed extensions, unusable images skipped and reported, the protocol and the stand-in."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from emobench.protocols import check_fold
from emobench_plugins.datasets.affectnet import VALID_EVERY, AffectNet, AffectNetOfficial
from emobench_plugins.datasets.affectnet import layout as L
from emobench_plugins.datasets.affectnet.standin import write_standin

FIXTURE = Path(__file__).parent / "fixtures" / "affectnet" / "AffectNet"
TRAIN_CSV = ("Manually_Annotated_file_lists", "training.csv")


def _load(root):
    ds = AffectNet()
    with pytest.warns(UserWarning, match="skipped 2 unusable image"):
        recs = ds.load(root)
    return ds, {r.id: r for r in recs}


def test_fixture_loads_codes_affect_and_skips_what_it_must():
    ds, recs = _load(FIXTURE)
    assert sorted(recs) == ["1_aaa", "1_bbb", "2_ccc", "4_ggg", "4_hhh"]   # 9, 10 excluded; 2 skipped
    assert {k: r.partition for k, r in recs.items()} == {
        "1_aaa": "train", "1_bbb": "train", "2_ccc": "train", "4_ggg": "test", "4_hhh": "test"}
    a = recs["1_aaa"].labels
    assert a == {"expression8": 1, "expression7": 1, "valence": 0.785714, "arousal": -0.055556}
    assert L.CLASSES8[recs["2_ccc"].labels["expression8"]] == "contempt"
    assert "expression7" not in recs["2_ccc"].labels and "arousal" not in recs["2_ccc"].labels
    assert L.CLASSES8[recs["4_hhh"].labels["expression7"]] == "anger"
    assert recs["1_bbb"].meta["path"].endswith("1/bbb.JPG")                # listed as .jpg
    assert recs["2_ccc"].load("face_image", size=(10, 8), gray=True).shape == (10, 8)   # .BMP
    assert recs["1_aaa"].load("landmarks").shape == (1, 68, 2)
    assert "landmarks" not in recs["4_hhh"].streams
    assert recs["4_ggg"].load("face_clip").shape == (1, 64, 64, 3)
    skipped = sorted((Path(p.path).name, p.message) for p in ds.skipped)
    assert [s[0] for s in skipped] == ["eee.jpg", "iii.jpg"]
    assert "truncated JPEG" in skipped[0][1] and "training.csv line 6" in skipped[0][1]
    assert "listed image not found" in skipped[1][1] and all(p.severity == "warning" for p in ds.skipped)


def test_face_box_is_cropped():
    _, recs = _load(FIXTURE)
    face = recs["1_aaa"].load("face_image", size=(20, 16), gray=True)
    # the fixture's box (4, 5, 16, 20) is exactly the bright inner square
    assert face.std() < 8


def test_protocol_tests_on_validation_and_tunes_on_the_recorded_rule():
    _, recs = _load(FIXTURE)
    (fold,) = AffectNetOfficial().folds(list(recs.values()))
    assert sorted(fold.test) == ["4_ggg", "4_hhh"]
    assert [recs[i].meta["line"] % VALID_EVERY for i in fold.valid] == [0] * len(fold.valid)
    assert sorted(fold.train + fold.valid) == ["1_aaa", "1_bbb", "2_ccc"]


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace(",1,0.785714,", ",11,0.785714,"), "expression='11' is not a code 0-10"),
    (lambda t: t.replace("0.785714", "1.5"), "valence=1.5 is outside"),
    (lambda t: t.replace(";", ",", 1), "fields, expected 9"),
    (lambda t: t.replace("5.0;6.1;", "5.0;", 1), "landmark numbers"),
    (lambda t: t.replace("subDirectory_filePath", "path"), "line 1: expected the header"),
])
def test_bad_list_lines_are_named_errors(tmp_path, edit, message):
    root = tmp_path / "AffectNet"
    shutil.copytree(FIXTURE, root)
    path = root.joinpath(*TRAIN_CSV)
    path.write_text(edit(path.read_text()))
    with pytest.raises(L.AffectNetFormatError, match=message) as err:
        AffectNet().load(root)
    assert err.value.path.endswith("training.csv")


def test_doctor_reports_skipped_files_as_warnings_and_decodes_the_rest(tmp_path):
    root = tmp_path / "AffectNet"
    shutil.copytree(FIXTURE, root)
    bad = root / "Manually_Annotated_Images/4/hhh.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")               # passes the quick check only
    with pytest.warns(UserWarning):
        report = AffectNet().doctor(root)
    errors = {p.path for p in report.problems if p.severity == "error"}
    assert errors == {str(bad)}
    assert report.counts["skipped"] == 2 and report.counts["recordings"] == 5


def test_standin_reads_back_with_exact_counts(tmp_path):
    meta = write_standin(tmp_path, "tiny", seed=4)
    ds = AffectNet()
    with pytest.warns(UserWarning, match="skipped 1 unusable"):
        recs = ds.load(tmp_path)
    c = meta["counts"]
    assert len(recs) == c["recordings"] == c["training"]["loaded"] + c["validation"]["loaded"]
    test = [r for r in recs if r.partition == "test"]
    assert np.bincount([r.labels["expression8"] for r in test], minlength=8).tolist() == [4] * 8
    train = [r for r in recs if r.partition == "train"]
    assert np.bincount([r.labels["expression8"] for r in train], minlength=8).tolist() == c["training"]["codes"]
    assert sum("arousal" not in r.labels for r in train) == c["training"]["arousal_missing"]
    assert all(-1 <= r.labels["valence"] <= 1 and not math.isnan(r.labels["valence"]) for r in recs)
    exts = {Path(r.meta["path"]).suffix for r in recs}
    assert {".jpg", ".JPG"} <= exts
    (fold,) = AffectNetOfficial().folds(recs)
    check_fold(fold, recs, "affectnet-official")
    assert recs[0].load("face_image").shape == (64, 64, 3)
