"""MTCNN port: real photos (skimage), a blank frame, alignment, spec option."""

import importlib.util

import cv2
import numpy as np
import pytest

from emobench.media.cache import content_key
from emobench.media.clips import FaceClipSpec, _spec_for_key

HAVE_WHEEL = importlib.util.find_spec("facenet_pytorch") is not None
needs_wheel = pytest.mark.skipif(
    not HAVE_WHEEL, reason='MTCNN weights absent: pip install --no-deps "facenet-pytorch==2.6.0"')


@pytest.fixture(scope="module")
def mtcnn():
    from emobench.media.mtcnn import MTCNNDetector

    return MTCNNDetector()


def _astronaut():
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@needs_wheel
def test_astronaut_one_face_with_plausible_landmarks(mtcnn):
    faces = [d for d in mtcnn.detect_faces(_astronaut()) if d.score >= 0.95]
    assert len(faces) == 1
    box, lm = faces[0].box, faces[0].landmarks
    # The face is in the upper left-centre of the 512x512 photo (head at about x 175-270, y 55-175).
    assert 150 < box.x + box.w / 2 < 300 and 60 < box.y + box.h / 2 < 170 and 60 < box.w < 150
    (lex, ley), (rex, rey), (nx, ny), (mlx, mly), (mrx, mry) = lm
    assert lex < nx < rex and mlx < mrx  # left eye / mouth corner on the image's left
    assert max(ley, rey) < ny < min(mly, mry)  # eyes above nose above mouth
    inside = (lm[:, 0] > box.x) & (lm[:, 0] < box.x + box.w) & (lm[:, 1] > box.y) & (lm[:, 1] < box.y + box.h)
    assert inside.all()


@needs_wheel
def test_lfw_crops_detection_rate(mtcnn):
    from skimage import data

    faces = data.lfw_subset()[:100]  # the first 100 are faces (25x25 gray, tightly cropped)
    hits = 0
    for f in faces:
        img = cv2.resize((f * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_LINEAR)
        img = cv2.copyMakeBorder(img, 30, 30, 30, 30, cv2.BORDER_REPLICATE)
        hits += bool(mtcnn.detect(img))
    assert hits / len(faces) >= 0.9


@needs_wheel
def test_blank_frames_give_no_face(mtcnn):
    assert mtcnn.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert mtcnn.detect(np.full((240, 320), 128, np.uint8)) == []


@needs_wheel
def test_aligned_crop_levels_the_eyes(mtcnn):
    from emobench.media.mtcnn import align_face

    img = _astronaut()
    centre = (256, 256)
    rotated = cv2.warpAffine(img, cv2.getRotationMatrix2D(centre, 15, 1.0), (512, 512))
    face = max(mtcnn.detect_faces(rotated), key=lambda d: d.score)
    crop = align_face(rotated, face.landmarks, size=(112, 112))
    assert crop.shape == (112, 112, 3)
    again = max(mtcnn.detect_faces(cv2.resize(crop, (224, 224))), key=lambda d: d.score)
    (lx, ly), (rx, ry) = again.landmarks[:2]
    tilt = abs(np.degrees(np.arctan2(ry - ly, rx - lx)))
    assert tilt < 5.0  # the source face is tilted 15 degrees


def test_missing_wheel_error_names_the_install(monkeypatch):
    from emobench.media import mtcnn
    from emobench.media.decode import FaceDetectorUnavailable

    monkeypatch.setattr(mtcnn.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FaceDetectorUnavailable, match="facenet-pytorch==2.6.0"):
        mtcnn.weights_dir()


def test_spec_default_keeps_old_cache_keys():
    # Values computed before face_detector existed: default Haar specs keep their keys.
    assert content_key("k", _spec_for_key(FaceClipSpec())) == (
        "84bd5b841928ef753543fcd512a1ac24dcd1d28882510e3f766ccca7836093e0")
    assert content_key("k", _spec_for_key(FaceClipSpec(size=(64, 64), gray=True, fps=10))) == (
        "6de24a131c7d9a2ad453f16a5181dfb3940f14865bf86ed3ae74e2f4e44e598f")
    assert content_key("k", _spec_for_key(FaceClipSpec(face_detector="mtcnn"))) != content_key(
        "k", _spec_for_key(FaceClipSpec()))
    with pytest.raises(ValueError, match="face_detector"):
        FaceClipSpec(face_detector="dlib")


@needs_wheel
def test_spec_mtcnn_tracks_the_astronaut():
    from emobench.media.clips import track_and_crop

    img = cv2.resize(_astronaut(), (320, 320))
    clip = track_and_crop([img, img], FaceClipSpec(face_detector="mtcnn", size=(64, 64)))
    assert clip.found.all() and clip.frames.shape == (2, 64, 64, 3)
    x, y, w, h = clip.boxes[0]
    assert 90 < x + w / 2 < 190 and 30 < y + h / 2 < 110
