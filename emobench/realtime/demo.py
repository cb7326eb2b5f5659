"""The astronaut test video: a real face that moves, scales and is re-lit.

``skimage.data.astronaut()`` (bundled with scikit-image, so nothing is
downloaded) is cut around the head and pasted on a moving gradient; over the
clip the head slides across the frame, grows and shrinks by about +-20 %,
and the whole frame's brightness and contrast swing between about 0.7 and
1.25. The expression is a clear smile, so a working expression model must
label it ``happy``. Written with cv2.VideoWriter (mp4v: OpenCV wheels cannot
write H.264).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emobench.video_synth import astronaut_head

__all__ = ["astronaut_frames", "write_astronaut_video"]


def astronaut_frames(n_frames: int, size: tuple[int, int] = (480, 640), face: bool = True):
    """Yield (H, W, 3) uint8 BGR frames; ``face=False`` gives the background only."""
    H, W = size
    yy, xx = np.mgrid[0:H, 0:W]
    base_side = int(0.6 * H)
    for t in range(n_frames):
        phase = t / max(n_frames - 1, 1)
        frame = np.empty((H, W, 3), np.uint8)
        frame[..., 0] = (xx * 255 // W + 3 * t) % 256
        frame[..., 1] = yy * 255 // H
        frame[..., 2] = 90
        if face:
            side = int(base_side * (1.0 + 0.2 * np.sin(2 * np.pi * phase)))
            side = min(side, H, W)
            head = astronaut_head(side)
            ox = int((W - side) * (0.15 + 0.7 * phase))
            oy = int((H - side) * (0.5 + 0.3 * np.sin(t / 7.0)))
            frame[oy:oy + side, ox:ox + side] = head
        gain = 1.0 + 0.25 * np.sin(2 * np.pi * 1.5 * phase)  # re-lighting
        bias = 12.0 * np.cos(2 * np.pi * phase)
        yield cv2.convertScaleAbs(frame, alpha=gain, beta=bias)


def write_astronaut_video(path: str | Path, n_frames: int = 90, size: tuple[int, int] = (480, 640),
                          fps: float = 30.0, face: bool = True, fourcc: str = "mp4v") -> Path:
    path = Path(path)
    H, W = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (W, H))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cv2.VideoWriter cannot write fourcc {fourcc!r}")
    try:
        for frame in astronaut_frames(n_frames, size, face):
            writer.write(frame)
    finally:
        writer.release()
    return path
