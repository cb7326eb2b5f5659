"""Decoding, face detection/tracking/cropping, clip sampling and the cached pipeline."""

from __future__ import annotations

import dataclasses
import pickle

import cv2
import numpy as np
import pytest

from emobench import media as V
from emobench.media import ArrayCache
from emobench.sim.video_synth import face_frames, write_face_video

N = 30


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    out = {}
    out["mp4"] = d / "face.mp4", write_face_video(d / "face.mp4", N, (240, 320), fourcc="mp4v", head=180)
    out["avi"] = d / "face.avi", write_face_video(d / "face.avi", N, (240, 320), fourcc="MJPG", head=180)
    out["vga"] = d / "vga.mp4", write_face_video(d / "vga.mp4", 20, (480, 640), fourcc="mp4v")
    out["noface"] = d / "noface.avi", write_face_video(d / "noface.avi", 12, (240, 320), fourcc="MJPG", face=False)
    for key in ("mp4", "avi"):
        data = out[key][0].read_bytes()
        cut = d / f"truncated.{key}"
        cut.write_bytes(data[: len(data) // 2])
        out[f"cut_{key}"] = cut, None
    junk = d / "random.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(20_000))
    out["junk"] = junk, None
    return out


def centre(box):
    x, y, w, h = box
    return np.array([x + w / 2.0, y + h / 2.0])


# ------------------------------------------------------------------ decoding


@pytest.mark.parametrize("key", ["mp4", "avi"])
def test_read_frames_shape_and_content(media, key):
    path, _ = media[key]
    frames = V.read_frames(path)
    assert frames.shape == (N, 240, 320, 3) and frames.dtype == np.uint8
    info = V.video_info(path)
    assert info == {"fps": 25.0, "frames": N, "width": 320, "height": 240}
    # Lossy codecs, but the decoded frame must resemble what was written.
    truth, _ = face_frames(N, (240, 320), head=180)
    err = np.abs(frames[7].astype(int) - truth[7].astype(int)).mean()
    assert err < 12, err


def test_read_frames_step_and_max(media):
    path, _ = media["mp4"]
    full = V.read_frames(path)
    every3 = V.read_frames(path, step=3)
    assert len(every3) == 10
    np.testing.assert_array_equal(every3[2], full[6])
    assert V.read_frames(path, max_frames=4, step=2).shape[0] == 4
    with pytest.raises(ValueError, match="step"):
        V.read_frames(path, step=0)


def test_frame_counters(media):
    path, _ = media["avi"]
    V.reset_video_stats()
    V.read_frames(path, step=2)
    st = V.video_stats()
    assert st["videos_decoded"] == 1 and st["frames_decoded"] == N


@pytest.mark.parametrize("key", ["cut_mp4", "cut_avi", "junk"])
def test_corrupt_media_raise_media_error_naming_path(media, key):
    path, _ = media[key]
    with pytest.raises(V.MediaError) as exc:
        V.read_frames(path)
    assert str(path) in str(exc.value)
    assert exc.value.path == path and exc.value.reason


def test_truncated_avi_says_truncated(media):
    # The MJPG AVI is half decodable: the error must say how much.
    with pytest.raises(V.MediaError, match=r"truncated: decoded \d+ of the 30 frames"):
        V.read_frames(media["cut_avi"][0])


def test_missing_and_empty_files(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(V.MediaError, match="not found") as exc:
        V.read_frames(missing)
    assert str(missing) in str(exc.value)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(V.MediaError, match="empty"):
        V.video_info(empty)


def test_media_error_pickles(tmp_path):
    err = pickle.loads(pickle.dumps(V.MediaError(tmp_path / "x.mp4", "bad")))
    assert err.path == tmp_path / "x.mp4" and err.reason == "bad" and "x.mp4: bad" in str(err)


def test_read_image(tmp_path):
    frames, _ = face_frames(1)
    png = tmp_path / "f.png"
    cv2.imwrite(str(png), frames[0])
    np.testing.assert_array_equal(V.read_image(png), frames[0])  # PNG is lossless
    gray = tmp_path / "g.png"
    cv2.imwrite(str(gray), frames[0, :, :, 1])
    assert V.read_image(gray).shape == (240, 320, 3)
    txt = tmp_path / "notes.png"
    txt.write_text("not an image")
    with pytest.raises(V.MediaError, match="notes.png"):
        V.read_image(txt)


# ----------------------------------------------------------------- detection


def test_detector_finds_the_face_where_it_is(media):
    path, truth = media["vga"]
    frames = V.read_frames(path)
    det = V.FaceDetector(detect_scale=0.5)
    for i in (0, 10, 19):
        boxes = det.detect(frames[i])
        assert len(boxes) == 1
        b = boxes[0]
        assert np.linalg.norm(centre(b) - centre(truth[i])) < 0.15 * truth[i][2]
        assert 0.7 < b.w / truth[i][2] < 1.4
    assert det.n_detections == 3


def test_detector_nothing_on_background(media):
    frames = V.read_frames(media["noface"][0], max_frames=3)
    assert V.FaceDetector().detect(frames[0]) == []


def test_detector_bad_parameters_are_named():
    with pytest.raises(ValueError, match="scale_factor"):
        V.FaceDetector(scale_factor=1.0)
    with pytest.raises(ValueError, match="detect_scale"):
        V.FaceDetector(detect_scale=2)
    with pytest.raises(V.FaceDetectorUnavailable, match="cascade file not found"):
        V.FaceDetector(cascade_path="/nonexistent/haar.xml")


def test_missing_haar_xml_gives_clear_error(monkeypatch, tmp_path):
    # Simulates OpenCV 5, whose cv2.data folder holds no Haar XML files.
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path) + "/")
    with pytest.raises(V.FaceDetectorUnavailable, match="OpenCV 5 ships no Haar"):
        V.FaceDetector()


# ------------------------------------------------------------------ tracking


def test_tracker_detects_every_nth_frame_and_follows(media):
    path, truth = media["mp4"]
    tracker = V.FaceTracker(V.FaceDetector(detect_scale=0.5), detect_every=5, smoothing=1.0)
    for i, frame in enumerate(V.iter_frames(path)):
        box, found = tracker.update(frame)
        assert found
        # Between detections the box lags the moving face by at most 4 frames of motion.
        assert np.linalg.norm(centre(box) - centre(truth[i])) < 0.35 * truth[i][2], i
    assert tracker.n_frames == N
    assert tracker.n_detections == N // 5


def test_tracker_smoothing_glides_towards_new_detection():
    class Scripted:
        def __init__(self, boxes):
            self.boxes = list(boxes)

        def detect(self, frame):
            return self.boxes.pop(0)

    det = Scripted([[V.Box(0, 0, 40, 40)], [V.Box(20, 0, 40, 40)]])
    tr = V.FaceTracker(det, detect_every=2, smoothing=0.5)
    frame = np.zeros((100, 100, 3), np.uint8)
    xs = [tr.update(frame)[0].x for _ in range(4)]
    assert xs == [0, 0, 10, 15]  # jumps to the first face, then halves the gap each frame


def test_tracker_keeps_the_face_near_the_previous_one():
    class Scripted:
        def __init__(self, seq):
            self.seq = list(seq)

        def detect(self, frame):
            return self.seq.pop(0)

    main, big_other = V.Box(10, 10, 30, 30), V.Box(60, 50, 40, 40)
    tr = V.FaceTracker(Scripted([[main], [big_other, V.Box(12, 11, 30, 30)]]), detect_every=1, smoothing=1.0)
    frame = np.zeros((120, 120, 3), np.uint8)
    assert tr.update(frame)[0] == main
    assert tr.update(frame)[0] == V.Box(12, 11, 30, 30)


def test_tracker_fallback_and_retry_when_no_face(media):
    frames = V.read_frames(media["noface"][0])
    tracker = V.FaceTracker(V.FaceDetector(detect_scale=0.5), detect_every=5)
    for frame in frames:
        box, found = tracker.update(frame)
        assert not found
        assert box == V.Box(88, 48, 144, 144)  # centred square, 0.6 * min(240, 320)
    # Never found -> detection retried on every frame.
    assert tracker.n_detections == len(frames)


def test_tracker_reports_lost_after_max_missed():
    class Scripted:
        def __init__(self, seq):
            self.seq = list(seq)

        def detect(self, frame):
            return self.seq.pop(0)

    face = V.Box(10, 10, 30, 30)
    tr = V.FaceTracker(Scripted([[face], [], [], []]), detect_every=1, max_missed=2, smoothing=1.0)
    frame = np.zeros((100, 100), np.uint8)
    out = [tr.update(frame) for _ in range(4)]
    assert [f for _, f in out] == [True, True, True, False]
    assert all(b == face for b, _ in out)  # held at the last known position


# ------------------------------------------------------------------ cropping


def test_crop_is_centred_on_the_face(media):
    path, truth = media["vga"]
    frame = V.read_frames(path, max_frames=1)[0]
    box = V.FaceDetector(detect_scale=0.5).detect(frame)[0]
    crop = V.crop_face(frame, box, margin=0.0, size=(64, 64))
    assert crop.shape == (64, 64, 3)
    # The crop must equal the true face region of the source frame resized.
    x, y, w, h = (int(round(v)) for v in truth[0])
    ref = cv2.resize(frame[y:y + h, x:x + w], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(crop.astype(int) - ref.astype(int)).mean() < 25
    other = cv2.resize(frame[0:h, 0:w], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(crop.astype(int) - other.astype(int)).mean() > 40


def test_crop_margin_aspect_padding_and_gray():
    frame = np.arange(100 * 200, dtype=np.uint32).reshape(100, 200) % 251
    frame = np.repeat(frame.astype(np.uint8)[:, :, None], 3, axis=2)
    # No resize: margin 0.5 of a 20x20 box at (50, 40) -> 40x40 region at (40, 30).
    crop = V.crop_face(frame, (50, 40, 20, 20), margin=0.5)
    np.testing.assert_array_equal(crop, frame[30:70, 40:80])
    # Output aspect 1:2 widens the region around the centre instead of stretching.
    wide = V.crop_face(frame, (50, 40, 20, 20), margin=0.0, size=(20, 40))
    np.testing.assert_array_equal(wide, frame[40:60, 40:80])
    # Outside the frame is black.
    edge = V.crop_face(frame, (-10, -10, 20, 20), margin=0.0)
    assert edge.shape == (20, 20, 3)
    assert (edge[:10] == 0).all() and (edge[:, :10] == 0).all()
    np.testing.assert_array_equal(edge[10:, 10:], frame[:10, :10])
    g = V.crop_face(frame, (50, 40, 20, 20), size=(8, 8), gray=True)
    assert g.shape == (8, 8) and g.dtype == np.uint8
    with pytest.raises(ValueError, match="margin"):
        V.crop_face(frame, (0, 0, 5, 5), margin=-1)


# ------------------------------------------------------- preprocessing + cache


def test_preprocess_video_shapes_and_second_call_decodes_nothing(media, tmp_path):
    path, _ = media["mp4"]
    cache = ArrayCache(tmp_path / "cache")
    spec = V.FaceClipSpec(size=(48, 40), gray=True, frame_step=2)
    V.reset_video_stats()
    first = V.preprocess_video(path, spec, cache)
    after_first = V.video_stats()
    assert first.shape == (N // 2, 48, 40) and first.dtype == np.uint8
    assert after_first["frames_decoded"] == N and after_first["videos_decoded"] == 1
    assert after_first["detections"] == 3  # 15 frames, detect_every=5
    second = V.preprocess_video(path, spec, cache)
    np.testing.assert_array_equal(first, second)
    assert V.video_stats() == after_first  # nothing decoded, nothing detected
    # first call: the derived 48x40 grey entry and the shared 128-px crop both missed;
    # second: the derived entry alone is read (not the shared crop, ~20x the bytes)
    assert cache.stats()["hits"] == 1 and cache.stats()["misses"] == 2
    # Another size or colour is derived from the same cached crop: no second decode.
    color = V.preprocess_video(path, dataclasses.replace(spec, gray=False, size=(64, 64)), cache)
    assert color.shape == (N // 2, 64, 64, 3)
    assert V.video_stats()["videos_decoded"] == 1
    # A different track (frame step) is another entry.
    V.preprocess_video(path, dataclasses.replace(spec, frame_step=1), cache)
    assert V.video_stats()["videos_decoded"] == 2
    # Without a cache the video is decoded again.
    V.preprocess_video(path, spec)
    assert V.video_stats()["videos_decoded"] == 3


def test_face_clip_records_boxes_and_found(media, tmp_path):
    clip = V.face_clip(media["avi"][0], V.FaceClipSpec(size=(32, 32), fps=12.5))
    assert clip.step == 2 and clip.fps == 12.5
    assert clip.frames.shape == (N // 2, 32, 32, 3)
    assert clip.boxes.shape == (N // 2, 4) and clip.found.all()
    none = V.face_clip(media["noface"][0], V.FaceClipSpec(size=(32, 32)))
    assert none.found_fraction == 0.0


def test_modified_file_invalidates_cache(tmp_path):
    path = tmp_path / "v.avi"
    write_face_video(path, 6, fourcc="MJPG")
    cache = ArrayCache(tmp_path / "c")
    spec = V.FaceClipSpec(size=(16, 16))
    a = V.preprocess_video(path, spec, cache)
    write_face_video(path, 8, fourcc="MJPG")  # same path, new content
    b = V.preprocess_video(path, spec, cache)
    assert len(a) == 6 and len(b) == 8
    assert cache.stats()["hits"] == 0


def test_preprocess_video_corrupt_is_not_cached(media, tmp_path):
    cache = ArrayCache(tmp_path / "c")
    path = media["cut_avi"][0]
    for _ in range(2):
        with pytest.raises(V.MediaError, match="truncated"):
            V.preprocess_video(path, V.FaceClipSpec(), cache)
    assert cache.stats()["writes"] == 0
    with pytest.raises(V.MediaError, match="not found"):
        V.preprocess_video(tmp_path / "gone.mp4", V.FaceClipSpec(), cache)


def test_preprocess_frames_matches_video_pipeline(media):
    frames, _ = face_frames(12, (240, 320), head=180)
    spec = V.FaceClipSpec(size=(24, 24), frame_step=3)
    out = V.preprocess_frames(frames, spec)
    assert out.shape == (4, 24, 24, 3)
    direct = V.track_and_crop(frames[::3], spec).frames
    np.testing.assert_array_equal(out, direct)
    with pytest.raises(ValueError, match="source frame rate"):
        V.preprocess_frames(frames, V.FaceClipSpec(fps=10))
    assert len(V.preprocess_frames(list(frames), V.FaceClipSpec(fps=10), source_fps=30)) == 4


def test_spec_validation_names_the_field():
    with pytest.raises(ValueError, match="size"):
        V.FaceClipSpec(size=(0, 10))
    with pytest.raises(ValueError, match="frame_step"):
        V.FaceClipSpec(frame_step=0)
    assert V.FaceClipSpec(size=[10, 12]).size == (10, 12)


# ---------------------------------------------------------------------- clips


def test_sample_clips_windows():
    assert V.sample_clips(40, 16, 8) == [slice(0, 16), slice(8, 24), slice(16, 32), slice(24, 40)]
    assert V.sample_clips(35, 16, 8) == [slice(0, 16), slice(8, 24), slice(16, 32)]
    assert V.sample_clips(35, 16, 8, cover_tail=True)[-1] == slice(19, 35)
    assert V.sample_clips(16, 16, 8) == [slice(0, 16)]
    assert V.sample_clips(5, 16, 8) == [slice(0, 16)]
    with pytest.raises(ValueError, match="n_frames"):
        V.sample_clips(0, 16, 8)


def test_take_clips_shapes_and_padding():
    frames = np.arange(40 * 2 * 3).reshape(40, 2, 3)
    clips = V.take_clips(frames, 16, 8)
    assert clips.shape == (4, 16, 2, 3)
    np.testing.assert_array_equal(clips[1], frames[8:24])
    short = np.arange(5)[:, None] * np.ones((5, 4))
    padded = V.take_clips(short, 8, 4)
    assert padded.shape == (1, 8, 4)
    np.testing.assert_array_equal(padded[0, :, 0], [0, 1, 2, 3, 4, 4, 4, 4])
