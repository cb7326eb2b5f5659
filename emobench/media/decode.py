"""Decoding video files, frame folders and images, with checked reads.

Bad media raise :class:`MediaError` naming the file; corpus plugins let it
propagate (or catch it) so the runner can skip that recording and record why.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from emobench.layouts import DataError

# Bump when the output of preprocess_video changes for the same inputs, so old
# cache entries are no longer used.
PIPELINE_VERSION = 2
# crops of this size or smaller are resized from one shared cached crop
CANONICAL_CROP = 128
MIN_DETECT_WIDTH = 320
HAAR_FRONTAL_FACE = "haarcascade_frontalface_default.xml"


# ------------------------------------------------------------------ errors


class MediaError(DataError):
    """A media file that cannot be used: missing, unreadable, corrupt or truncated.
    A :class:`~emobench.layouts.DataError`, so the runner blames the data, not the model."""

    def __init__(self, path: str | Path, reason: str, recording: str | None = None):
        super().__init__(path, reason, recording)
        self.path = Path(path)

    def __reduce__(self):  # keep path/reason when sent between processes
        return (type(self), (self.path, self.reason, self.recording))


class FaceDetectorUnavailable(RuntimeError):
    """The OpenCV build has no Haar cascade support or no cascade file."""


# ------------------------------------------------------------------ counters

_stats_lock = threading.Lock()
_STAT_NAMES = ("videos_decoded", "frames_decoded", "images_decoded", "detections")
_stats = dict.fromkeys(_STAT_NAMES, 0)


def _bump(name: str, n: int = 1) -> None:
    with _stats_lock:
        _stats[name] += n


def video_stats() -> dict[str, int]:
    """Process-level counters: videos opened for decoding, frames decoded,
    still images decoded and face detections run."""
    with _stats_lock:
        return dict(_stats)


def reset_video_stats() -> None:
    with _stats_lock:
        for k in _STAT_NAMES:
            _stats[k] = 0


# ------------------------------------------------------------------ decoding


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(path, "file not found")
    if not path.is_file():
        raise MediaError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(path, "file is empty")


def _open_capture(path: Path) -> cv2.VideoCapture:
    import cv2
    _check_file(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise MediaError(path, "cannot open as video (corrupt, truncated or unsupported codec)")
    return cap


def video_info(path: str | Path) -> dict:
    """``fps``, ``frames`` (as claimed by the container), ``width``, ``height``."""
    import cv2
    path = Path(path)
    cap = _open_capture(path)
    try:
        return {
            "fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            "frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
        }
    finally:
        cap.release()


def iter_frames(
    path: str | Path,
    *,
    max_frames: int | None = None,
    step: int = 1,
    truncation_tolerance: float = 0.25,
) -> Iterator[np.ndarray]:
    """Yield frames ``0, step, 2*step, ...`` as (H, W, 3) uint8 BGR arrays.

    ``max_frames`` caps the number of frames *yielded*. When the whole file is
    read, fewer decoded frames than ``(1 - truncation_tolerance)`` times the
    count the container claims raises :class:`MediaError` (truncated file);
    the tolerance absorbs containers whose count is only an estimate. Zero
    decodable frames always raises.
    """
    import cv2
    path = Path(path)
    if step < 1:
        raise ValueError(f"iter_frames: step must be >= 1, got {step}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"iter_frames: max_frames must be >= 1 or None, got {max_frames}")
    cap = _open_capture(path)
    claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    _bump("videos_decoded")
    decoded = yielded = 0
    try:
        while max_frames is None or yielded < max_frames:
            # grab() decodes; retrieve() only converts the frame we keep.
            if not cap.grab():
                break
            decoded += 1
            if (decoded - 1) % step:
                continue
            ok, frame = cap.retrieve()
            if not ok or frame is None:
                break
            yielded += 1
            yield frame
    finally:
        cap.release()
        _bump("frames_decoded", decoded)
    if decoded == 0:
        raise MediaError(path, "no frame could be decoded (corrupt or truncated file)")
    capped = max_frames is not None and yielded >= max_frames
    if not capped and claimed > 0 and decoded < (1.0 - truncation_tolerance) * claimed:
        raise MediaError(
            path, f"truncated: decoded {decoded} of the {claimed} frames the container claims"
        )


def read_frames(
    path: str | Path, *, max_frames: int | None = None, step: int = 1
) -> np.ndarray:
    """All frames (every ``step``-th, at most ``max_frames``) as (T, H, W, 3)
    uint8 BGR. Raises :class:`MediaError` for missing, corrupt or truncated files."""
    frames = list(iter_frames(path, max_frames=max_frames, step=step))
    return np.stack(frames)


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"


def _check_complete(path: Path, buf: np.ndarray) -> None:
    """A cut PNG or JPEG still half-decodes in OpenCV (the rest gray); refuse it by
    its missing end marker (PNG's IEND chunk, JPEG's EOI)."""
    head, tail = buf[:8].tobytes(), buf[-64:].tobytes()
    if head == _PNG_MAGIC:
        if not tail.rstrip(b"\0").endswith(_PNG_END):
            raise MediaError(path, "truncated PNG (no IEND chunk at the end)")
    elif head[:2] == b"\xff\xd8":
        if b"\xff\xd9" not in tail:
            raise MediaError(path, "truncated JPEG (no end-of-image marker)")
    elif path.suffix.lower() in (".png", ".jpg", ".jpeg"):
        kind = "PNG" if path.suffix.lower() == ".png" else "JPEG"
        raise MediaError(path, f"not a {kind} image (the content does not start with a {kind} "
                               "signature)")


def read_image(path: str | Path) -> np.ndarray:
    """A still image (PNG, JPG, BMP...) as (H, W, 3) uint8 BGR.

    Gray images are expanded to three channels so frame sequences have one
    layout. Raises :class:`MediaError` if the file is missing or not an image.
    """
    import cv2
    path = Path(path)
    _check_file(path)
    buf = np.fromfile(path, dtype=np.uint8)  # works for any path encoding
    _check_complete(path, buf)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError(path, "not a readable image (corrupt or unsupported format)")
    _bump("images_decoded")
    return img


# ---------------------------------------------------------------- detection


