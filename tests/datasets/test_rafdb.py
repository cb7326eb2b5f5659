"""RAF-DB: both label-list variants, _aligned names, RAF's class order, the recorded
validation rule and the stand-in read back."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emobench.protocols import check_fold
from emobench_plugins.datasets.rafdb import VALID_EVERY, RafDb, RafOfficial
from emobench_plugins.datasets.rafdb import layout as L
from emobench_plugins.datasets.rafdb.standin import write_standin

FIXTURE = Path(__file__).parent / "fixtures" / "rafdb" / "RAF-DB"
LIST = ("basic", "EmoLabel", "list_patition_label.txt")


def _copy(tmp_path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "RAF-DB")
    return tmp_path / "RAF-DB"


def test_three_column_fixture_loads_aligned_first_and_raf_class_order():
    recs = {r.id: r for r in RafDb().load(FIXTURE)}
    assert sorted(recs) == ["test_0001", "test_0002", "train_00001", "train_00002", "train_00005"]
    assert [L.CLASSES[recs[k].labels["emotion"]] for k in ("train_00001", "train_00002", "train_00005",
                                                           "test_0001", "test_0002")] == \
        ["happiness", "surprise", "neutral", "anger", "disgust"]           # 4, 1, 7, 6, 3
    assert {k: r.partition for k, r in recs.items()} == {
        "train_00001": "train", "train_00002": "train", "train_00005": "train",
        "test_0001": "test", "test_0002": "test"}
    assert recs["train_00001"].meta["path"].endswith("aligned/train_00001_aligned.jpg")
    assert recs["test_0002"].meta["path"].endswith("original/test_0002.jpg")   # no aligned file
    assert recs["train_00001"].groups == {"gender": "female", "race": "asian", "age": "40-69"}
    assert recs["train_00002"].groups == {}
    face = recs["train_00001"].load("face_image", size=(32, 32), gray=True)
    assert face.shape == (32, 32) and face.dtype == np.uint8
    assert recs["train_00001"].load("face_image").shape == (64, 64, 3)
    clip = recs["train_00001"].load("face_clip", size=(32, 32), gray=True)   # the image-to-clip adapter
    assert clip.shape == (1, 32, 32) and np.array_equal(clip[0], face)


def test_two_column_list_gives_the_same_labels(tmp_path):
    root = _copy(tmp_path)
    path = root.joinpath(*LIST)
    path.write_text("".join(f"{ln.split()[0]} {ln.split()[2]}\n" for ln in path.read_text().splitlines()))
    two = {r.id: (r.labels, r.partition) for r in RafDb().load(root)}
    three = {r.id: (r.labels, r.partition) for r in RafDb().load(FIXTURE)}
    assert two == three


def test_validation_is_the_recorded_rule():
    recs = RafDb().load(FIXTURE)
    (fold,) = RafOfficial().folds(recs)
    assert fold.valid == ("train_00005",) and VALID_EVERY == 5
    assert sorted(fold.train) == ["train_00001", "train_00002"]
    assert sorted(fold.test) == ["test_0001", "test_0002"]
    check_fold(fold, recs, "rafdb-official")


@pytest.mark.parametrize("line,message", [
    ("train_00001.jpg 8", "label '8' is not a RAF class 1-7"),
    ("train_00001.jpg test 4", "split column 'test' disagrees"),
    ("img_00001.jpg 4", "is not train_/test_NNNNN.jpg"),
    ("train_00001.jpg", "expected 'name label' or 'name split label'"),
])
def test_bad_label_lines_are_named_errors(tmp_path, line, message):
    root = _copy(tmp_path)
    path = root.joinpath(*LIST)
    path.write_text(line + "\n" + path.read_text())
    with pytest.raises(L.RafFormatError, match=message) as err:
        RafDb().load(root)
    assert err.value.path.endswith("list_patition_label.txt") and "line 1" in str(err.value)


def test_missing_image_and_bad_attributes_are_named(tmp_path):
    root = _copy(tmp_path)
    (root / "basic/Annotation/manual/train_00001_manu_attri.txt").write_text("1 2\n3 4\n1\n")
    with pytest.raises(L.RafFormatError, match="train_00001_manu_attri.txt: 3 lines"):
        RafDb().load(root)
    shutil.copy(FIXTURE / "basic/Annotation/manual/train_00001_manu_attri.txt",
                root / "basic/Annotation/manual/train_00001_manu_attri.txt")
    (root / "basic/Image/original/test_0002.jpg").unlink()
    with pytest.raises(L.RafFormatError, match="line 5: no aligned/test_0002_aligned.jpg"):
        RafDb().load(root)


def test_corrupt_image_is_named_by_doctor(tmp_path):
    root = _copy(tmp_path)
    bad = root / "basic/Image/aligned/train_00002_aligned.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    report = RafDb().doctor(root)
    assert not report.ok
    assert {p.path for p in report.problems} == {str(bad)}                 # face_image and its clip
    assert report.counts["recordings"] == 5


def test_standin_reads_back_with_exact_counts(tmp_path):
    meta = write_standin(tmp_path, "tiny", seed=2)
    recs = RafDb().load(tmp_path)
    assert len(recs) == meta["counts"]["recordings"] == 72
    assert sum(r.partition == "test" for r in recs) == meta["counts"]["test"] == 14
    assert np.bincount([r.labels["emotion"] for r in recs], minlength=7).tolist() == meta["counts"]["classes"]
    assert min(meta["counts"]["classes"]) >= 1
    assert all(r.meta["path"].endswith("_aligned.jpg") and set(r.groups) == {"gender", "race", "age"}
               for r in recs)
    (fold,) = RafOfficial().folds(recs)
    assert len(fold.train) + len(fold.valid) == 58 and all(i.startswith("train_") for i in fold.valid)
    assert recs[0].load("face_image").shape == (64, 64, 3)
