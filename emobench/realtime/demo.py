"""The astronaut test video: a real face that moves, scales and is re-lit.

``skimage.data.astronaut()`` (bundled with scikit-image, so nothing is
downloaded) is cut around the head and pasted on a moving gradient; over the
clip the head slides across the frame (one sweep per ``sweep_frames``
frames, 10 s at 30 fps by default, back and forth), grows and shrinks by
about +-20 % (5 s period), and the whole frame's brightness and contrast
swing between about 0.75 and 1.25 (3.3 s period). The expression is a clear smile, so a working expression model must
label it ``happy``. Written with cv2.VideoWriter (mp4v: OpenCV wheels cannot
write H.264).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emobench.sim.video_synth import astronaut_head

__all__ = ["astronaut_frames", "write_astronaut_video"]


def astronaut_frames(n_frames: int, size: tuple[int, int] = (480, 640), face: bool = True,
                     sweep_frames: int = 300):
    """Yield (H, W, 3) uint8 BGR frames; ``face=False`` gives the background only."""
    H, W = size
    yy, xx = np.mgrid[0:H, 0:W]
    base_side = int(0.6 * H)
    for t in range(n_frames):
        sweep = (t % (2 * sweep_frames)) / sweep_frames
        across = sweep if sweep <= 1 else 2 - sweep  # 0 -> 1 -> 0
        frame = np.empty((H, W, 3), np.uint8)
        frame[..., 0] = (xx * 255 // W + 3 * t) % 256
        frame[..., 1] = yy * 255 // H
        frame[..., 2] = 90
        if face:
            side = int(base_side * (1.0 + 0.2 * np.sin(2 * np.pi * t / 150)))
            side = min(side, H, W)
            head = astronaut_head(side)
            ox = int((W - side) * (0.15 + 0.7 * across))
            oy = int((H - side) * (0.5 + 0.3 * np.sin(t / 7.0)))
            frame[oy:oy + side, ox:ox + side] = head
        gain = 1.0 + 0.25 * np.sin(2 * np.pi * t / 100)  # re-lighting
        bias = 12.0 * np.cos(2 * np.pi * t / 100)
        yield cv2.convertScaleAbs(frame, alpha=gain, beta=bias)


def write_astronaut_video(path: str | Path, n_frames: int = 90, size: tuple[int, int] = (480, 640),
                          fps: float = 30.0, face: bool = True, fourcc: str = "mp4v",
                          sweep_frames: int = 300) -> Path:
    path = Path(path)
    H, W = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (W, H))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cv2.VideoWriter cannot write fourcc {fourcc!r}")
    try:
        for frame in astronaut_frames(n_frames, size, face, sweep_frames):
            writer.write(frame)
    finally:
        writer.release()
    return path
