"""Small synthetic face videos for tests, benchmarks and demos (fully offline).

The face is the real photograph from ``skimage.data.astronaut()`` (bundled with
scikit-image), cut around the head, scaled and pasted on a moving colour
gradient; it slides left to right and bobs up and down, so detection, tracking
and cropping can be checked against a known face position.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["astronaut_head", "face_frames", "write_face_video", "HEAD_FACE_BOX"]

# The Haar face box of astronaut() at native 512x512 is about (177, 67, 93, 93);
# the head crop below is the 300x300 square at (74, 13), so inside it the face
# box is (103, 54, 93, 93), centre (149.5, 100.5).
_HEAD_ORIGIN = (74, 13)
_HEAD_SIDE = 300
HEAD_FACE_BOX = (103.0, 54.0, 93.0, 93.0)


def astronaut_head(side: int) -> np.ndarray:
    """The astronaut's head and shoulders as a (side, side, 3) uint8 BGR image."""
    from skimage import data

    img = data.astronaut()[:, :, ::-1]
    x, y = _HEAD_ORIGIN
    head = np.ascontiguousarray(img[y:y + _HEAD_SIDE, x:x + _HEAD_SIDE])
    interp = cv2.INTER_AREA if side < _HEAD_SIDE else cv2.INTER_LINEAR
    return cv2.resize(head, (side, side), interpolation=interp)


def face_frames(
    n_frames: int, size: tuple[int, int] = (240, 320), head: int | None = None, face: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 BGR and the true face boxes (T, 4) float x, y, w, h.

    ``size`` is (height, width); ``head`` the side of the pasted head image
    (default 3/4 of the height; the face itself is about 0.31 of it).
    ``face=False`` gives the same moving background without a face (boxes NaN).
    """
    H, W = size
    side = int(head if head is not None else 0.75 * H)
    if side > min(H, W):
        raise ValueError(f"face_frames: head {side} does not fit in a {W}x{H} frame")
    img = astronaut_head(side)
    s = side / _HEAD_SIDE
    fx, fy, fw, fh = HEAD_FACE_BOX
    yy, xx = np.mgrid[0:H, 0:W]
    frames = np.empty((n_frames, H, W, 3), np.uint8)
    boxes = np.full((n_frames, 4), np.nan)
    for t in range(n_frames):
        frames[t, ..., 0] = (xx * 255 // W + 3 * t) % 256
        frames[t, ..., 1] = yy * 255 // H
        frames[t, ..., 2] = 90
        if face:
            ox = int((W - side) * (0.2 + 0.6 * t / max(n_frames - 1, 1)))
            oy = (H - side) // 2 + int(round(0.04 * H * np.sin(t / 5.0)))
            oy = min(max(oy, 0), H - side)
            frames[t, oy:oy + side, ox:ox + side] = img
            boxes[t] = (ox + fx * s, oy + fy * s, fw * s, fh * s)
    return frames, boxes


def write_face_video(
    path: str | Path,
    n_frames: int = 30,
    size: tuple[int, int] = (240, 320),
    *,
    fourcc: str = "mp4v",
    fps: float = 25.0,
    head: int | None = None,
    face: bool = True,
) -> np.ndarray:
    """Write :func:`face_frames` to ``path`` with cv2.VideoWriter (``mp4v`` for
    .mp4, ``MJPG`` or ``XVID`` for .avi; OpenCV wheels cannot write H.264).
    Returns the true face boxes (T, 4)."""
    path = Path(path)
    frames, boxes = face_frames(n_frames, size, head, face)
    H, W = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (W, H))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cv2.VideoWriter cannot write fourcc {fourcc!r}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return boxes
