"""Stand-in face boxes: the generator records where it drew each face; the face
pipeline reads them instead of running Haar, on stand-ins only."""

import shutil

import numpy as np
import pytest

from emobench.dataset import STANDIN_MARKER
from emobench.media import FaceClipSpec, face_clip, reset_video_stats, video_stats
from emobench.media import standin_faces as sf
from emobench.media.audio import write_av_clip
from emobench.media.cache import ArrayCache


def test_marker_name_matches_the_dataset_layer():
    assert sf.STANDIN_MARKER == STANDIN_MARKER


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy / (aw * ah + bw * bh - ix * iy)


@pytest.fixture(scope="module")
def clip():
    from emobench.sim import World
    from emobench.sim.voice import talking_clip
    world = World(0)
    frames, wave, _, lms = talking_clip(world, world.subject(2, {"corpus": "t"}), "happy", 1.2, 10.0,
                                        size=(160, 120), landmarks=True)
    return frames, wave, lms


def test_sidecar_replaces_haar_on_stand_ins_only(tmp_path, clip):
    frames, wave, lms = clip
    root = tmp_path / ".writing-abc" / "corpus"
    video = root / "s1" / "a.avi"
    video.parent.mkdir(parents=True)
    write_av_clip(video, frames, 10.0, wave, 16000, face_boxes=sf.boxes_from_landmarks(lms))
    side = sf.sidecar_path(root, video)
    assert side.is_file() and side.parent.parent.name == sf.FACES_DIR
    assert not list((root / "s1").glob("*.npy"))  # nothing beside the corpus's own files
    # the stand-in is renamed into place with its marker, as datasource does it
    final = tmp_path / "standin" / "corpus"
    final.parent.mkdir()
    shutil.move(str(root), final)
    (final / STANDIN_MARKER).write_text("{}")
    copy = tmp_path / "real" / "corpus"  # a real copy: the same files, no marker
    shutil.copytree(final, copy)
    (copy / STANDIN_MARKER).unlink()

    spec = FaceClipSpec(size=(64, 64))
    cache = ArrayCache(tmp_path / "cache")
    reset_video_stats()
    recorded = face_clip(final / "s1" / "a.avi", spec, cache)
    assert video_stats()["detections"] == 0 and recorded.found.all()
    reset_video_stats()
    tracked = face_clip(copy / "s1" / "a.avi", spec, cache)
    assert video_stats()["detections"] > 0  # the real copy went through the detector
    assert recorded.frames.shape == tracked.frames.shape
    # the recorded boxes are where Haar finds the face (boxes of frames where Haar found it)
    ious = [_iou(a, b) for a, b, ok in zip(recorded.boxes, tracked.boxes, tracked.found) if ok]
    assert len(ious) >= 5 and np.median(ious) > 0.6
    # the source of the boxes is part of the crops' cache key
    assert cache.stats()["writes"] == 2
    reset_video_stats()
    again = face_clip(final / "s1" / "a.avi", spec, cache)
    assert video_stats()["videos_decoded"] == 0 and np.array_equal(again.frames, recorded.frames)
    # without the sidecar the stand-in is tracked again (another key: no stale crops)
    shutil.rmtree(final / sf.FACES_DIR)
    reset_video_stats()
    face_clip(final / "s1" / "a.avi", spec, cache)
    assert video_stats()["detections"] > 0


def test_no_sidecar_outside_a_stand_in_being_written(tmp_path, clip):
    frames, wave, lms = clip
    video = tmp_path / "a.avi"
    write_av_clip(video, frames, 10.0, wave, 16000, face_boxes=sf.boxes_from_landmarks(lms))
    assert not list(tmp_path.rglob("*.npy")) and sf.recorded_sidecar(video) is None
    with pytest.raises(ValueError):
        sf.write_face_boxes(video, np.full((3, 4), np.nan), root=tmp_path)
