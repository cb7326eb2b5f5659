"""VTT AnotherMissOh: per-frame JSON with empty face rectangles, whole-scene shots, JSON
versions, the episode split and the stand-in read back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from emobench.protocols import check_fold
from emobench_plugins.datasets.vtt import Vtt, VttEpisodes
from emobench_plugins.datasets.vtt import layout as L
from emobench_plugins.datasets.vtt.standin import write_standin

FIXTURE = Path(__file__).parent / "fixtures" / "vtt" / "AnotherMissOh"


def test_fixture_faces_labels_and_empty_rectangles():
    recs = {r.id: r for r in Vtt().load(FIXTURE)}
    assert len(recs) == 11                                   # Haeyoung1 has face_rect "" everywhere
    assert not any(r.groups["character"] == "Haeyoung1" for r in recs.values())
    a = recs["AnotherMissOh01_001_0001_IMAGE_0000000100_Dokyung"]
    assert L.CLASSES[a.labels["emotion"]] == "happiness" and a.subject == "Dokyung@AnotherMissOh01"
    assert L.CLASSES[recs["AnotherMissOh02_001_0001_IMAGE_0000000100_Jinsang"].labels["emotion"]] == "anger"
    whole = recs["AnotherMissOh01_001_0000_IMAGE_0000000200_Deogi"]     # shot 0000: frame in shot 0002
    assert whole.labels == {} and whole.meta["path"].endswith("001/0002/IMAGE_0000000200.jpg")
    face = a.load("face_image", size=(10, 10), gray=True)
    assert face.shape == (10, 10) and face.min() > 200               # the bright square is the face
    assert recs["AnotherMissOh03_001_0001_IMAGE_0000000100_Jinsang"].load("face_clip").shape == (1, 64, 64, 3)


def test_episode_split_and_newest_json_version():
    recs = Vtt().load(FIXTURE)
    (fold,) = VttEpisodes().folds(recs)
    ep = {r.id: r.groups["episode"] for r in recs}
    assert {ep[i] for i in fold.train} == {"AnotherMissOh01"}        # ver3.2 read, not the empty ver3.1
    assert {ep[i] for i in fold.valid} == {"AnotherMissOh02"}
    assert {ep[i] for i in fold.test} == {"AnotherMissOh03", "AnotherMissOh04", "AnotherMissOh05"}
    check_fold(fold, recs, "vtt-episodes")


def _edit(tmp_path, fn):
    root = tmp_path / "AnotherMissOh"
    shutil.copytree(FIXTURE, root)
    path = root / "AnotherMissOh_Visual" / "AnotherMissOh03_ver3.2.json"
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))
    return root, path


@pytest.mark.parametrize("fn,message", [
    (lambda d: d["visual_results"][0]["image_info"][0]["persons"][0]["person_info"].update(emotion="Joyful"),
     "emotion 'Joyful' is not one of"),
    (lambda d: d["visual_results"][0]["image_info"][0]["persons"][0]["person_info"].update(face_rect={"x": 1}),
     "face_rect .* is not"),
    (lambda d: d["visual_results"][0].update(vid="AnotherMissOh04_001_0001"), "is not AnotherMissOh03_SSS_TTTT"),
    (lambda d: d.pop("visual_results"), "no 'visual_results' list"),
])
def test_bad_json_is_a_named_error(tmp_path, fn, message):
    root, path = _edit(tmp_path, fn)
    with pytest.raises(L.VttFormatError, match=message) as err:
        Vtt().load(root)
    assert err.value.path == str(path)


def test_missing_frame_is_named_by_doctor(tmp_path):
    root = tmp_path / "AnotherMissOh"
    shutil.copytree(FIXTURE, root)
    gone = root / "AnotherMissOh_images/AnotherMissOh04/001/0001/IMAGE_0000000100.jpg"
    gone.unlink()
    report = Vtt().doctor(root)
    assert not report.ok and {p.path for p in report.problems} == {str(gone)}


def test_standin_reads_back_with_exact_counts(tmp_path):
    meta = write_standin(tmp_path, "tiny", seed=5)
    recs = Vtt().load(tmp_path)
    c = meta["counts"]
    assert len(recs) == c["recordings"]
    per_ep = {}
    for r in recs:
        per_ep[int(r.groups["episode"][-2:])] = per_ep.get(int(r.groups["episode"][-2:]), 0) + 1
    assert per_ep == c["per_episode"]
    assert np.bincount([r.labels["emotion"] for r in recs], minlength=7).tolist() == c["classes"]
    assert len({r.groups["character"] for r in recs}) >= 4
    (fold,) = VttEpisodes().folds(recs)
    check_fold(fold, recs, "vtt-episodes")
    assert len(fold.test) == sum(c["per_episode"][e] for e in (3, 4, 5))
    assert recs[0].load("face_image").shape == (64, 64, 3)
