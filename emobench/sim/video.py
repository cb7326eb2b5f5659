"""Face video from a session: AUs resampled to the frame rate, smooth head motion, drifting
face position and lighting over a fixed background."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .face import _size, default_face_box, landmarks, make_background, render_face
from .latent import ou_process
from .rng import as_generator
from .world import Session


@dataclass
class VideoFrame:
    """One rendered frame with its landmarks (66, 2) and head pose (yaw, pitch, roll) deg."""

    index: int
    time_s: float
    image: np.ndarray
    landmarks: np.ndarray
    pose: tuple[float, float, float]


def iter_video(session: Session, fps: float, *, size=(320, 240), crop: bool = False, rng=0,
               pose_sd=(8.0, 5.0, 4.0), drift: float = 0.04, noise_sd: float = 3.0,
               gaze: np.ndarray | None = None) -> Iterator[VideoFrame]:
    """Yield frames of ``session.subject`` at ``fps`` (AUs linearly interpolated).

    Head pose is an OU process (2 s) with standard deviations ``pose_sd`` degrees; the face
    centre drifts by about ``drift`` of the frame size; lighting and light direction drift
    slowly.  ``gaze`` (N, 2) in -1..1 moves the irises (e.g. from eye_behaviour)."""
    r = as_generator(rng)
    w, h = _size(size)
    s = session.resample(fps)
    n = s.n
    yaw, pitch, roll = (ou_process(r, n, fps, 2.0, sd) for sd in pose_sd)
    dx, dy = (ou_process(r, n, fps, 4.0, drift) for _ in range(2))
    light = np.exp(ou_process(r, n, fps, 6.0, 0.08))
    ldir = np.tanh(ou_process(r, n, fps, 6.0, 0.5))
    bg = make_background((w, h), r, crop)
    cx, cy, hw = default_face_box((w, h), crop, session.subject.geometry.aspect)
    for k in range(n):
        box = (cx + dx[k] * w, cy + dy[k] * h, hw * (1 + 0.5 * dx[k] * dy[k]))
        pose = (float(yaw[k]), float(pitch[k]), float(roll[k]))
        gz = (0.0, 0.0) if gaze is None else (float(gaze[k, 0]), float(gaze[k, 1]))
        img = render_face(session.subject, s.aus[k], size=(w, h), pose=pose, crop=crop, face_box=box,
                          rng=r, background=bg, lighting=float(light[k]),
                          light_direction=float(ldir[k]), noise_sd=noise_sd, gaze=gz)
        lm = landmarks(session.subject, s.aus[k], size=(w, h), pose=pose, crop=crop, face_box=box)
        yield VideoFrame(k, k / fps, img, lm, pose)


def render_video(session: Session, fps: float, **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All frames at once: (frames (N, H, W, 3) uint8, landmarks (N, 66, 2), poses (N, 3));
    keyword arguments as for :func:`iter_video`.  Use iter_video / write_video for long sessions."""
    frames, lms, poses = [], [], []
    for f in iter_video(session, fps, **kwargs):
        frames.append(f.image)
        lms.append(f.landmarks)
        poses.append(f.pose)
    return np.stack(frames), np.stack(lms), np.asarray(poses)


def write_video(path: str | Path, session: Session, fps: float, *, codec: str = "MJPG", **kwargs) -> int:
    """Stream the rendered session into a video file (codec: MJPG, XVID or mp4v; H.264 is not
    available in OpenCV wheels).  Returns the number of frames written."""
    path = Path(path)
    size = _size(kwargs.get("size", (320, 240)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), float(fps), size)
    if not writer.isOpened():
        raise OSError(f"write_video: cannot open {path} with codec {codec!r}")
    n = 0
    try:
        for f in iter_video(session, fps, **kwargs):
            writer.write(f.image)
            n += 1
    finally:
        writer.release()
    return n
