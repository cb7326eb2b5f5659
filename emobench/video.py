"""Video decoding, face detection, tracking, cropping and clip sampling.

Shared by every video corpus and by the real-time pipeline. The pipeline is::

    decode (cv2.VideoCapture, every ``frame_step``-th frame)
      -> FaceTracker (Haar detection every ``detect_every`` frames, main face
         kept, box smoothed between detections, centre crop when no face)
      -> crop_face (margin, output aspect, resize, optional gray)
      -> ArrayCache entry keyed by (file, spec, pipeline version)

Bad media raise :class:`MediaError` naming the file; corpus plugins let it
propagate (or catch it) so the runner can skip that recording and record why.
See docs/video.md for parameters, the fallback rules and measured speed.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import cv2
import numpy as np

from emobench.cache import ArrayCache, content_key

__all__ = [
    "MediaError", "FaceDetectorUnavailable", "Box", "FaceDetector", "FaceTracker", "FaceClipSpec",
    "FaceClip", "iter_frames", "read_frames", "read_image", "video_info", "crop_face",
    "track_and_crop", "preprocess_frames", "preprocess_video", "face_clip", "sample_clips",
    "take_clips", "video_stats", "reset_video_stats", "PIPELINE_VERSION",
]

# Bump when the output of preprocess_video changes for the same inputs, so old
# cache entries are no longer used.
PIPELINE_VERSION = 2
# crops of this size or smaller are resized from one shared cached crop
CANONICAL_CROP = 128
MIN_DETECT_WIDTH = 320
HAAR_FRONTAL_FACE = "haarcascade_frontalface_default.xml"


# ------------------------------------------------------------------ errors


class MediaError(Exception):
    """A media file that cannot be used: missing, unreadable, corrupt or truncated."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # keep path/reason when sent between processes
        return (type(self), (self.path, self.reason))


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
    _check_file(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise MediaError(path, "cannot open as video (corrupt, truncated or unsupported codec)")
    return cap


def video_info(path: str | Path) -> dict:
    """``fps``, ``frames`` (as claimed by the container), ``width``, ``height``."""
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


def read_image(path: str | Path) -> np.ndarray:
    """A still image (PNG, JPG, BMP...) as (H, W, 3) uint8 BGR.

    Gray images are expanded to three channels so frame sequences have one
    layout. Raises :class:`MediaError` if the file is missing or not an image.
    """
    path = Path(path)
    _check_file(path)
    buf = np.fromfile(path, dtype=np.uint8)  # works for any path encoding
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError(path, "not a readable image (corrupt or unsupported format)")
    _bump("images_decoded")
    return img


# ---------------------------------------------------------------- detection


class Box(NamedTuple):
    """A face box in pixels: top-left corner, width, height."""

    x: int
    y: int
    w: int
    h: int

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)

    @property
    def area(self) -> int:
        return self.w * self.h


def _to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    raise ValueError(f"expected a (H, W), (H, W, 1) or (H, W, 3) frame, got shape {frame.shape}")


def _haar_path() -> Path:
    if not hasattr(cv2, "CascadeClassifier"):
        raise FaceDetectorUnavailable(
            f"OpenCV {cv2.__version__} has no cv2.CascadeClassifier (OpenCV 5 removed it); "
            "install opencv-python-headless<5"
        )
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder or "") / HAAR_FRONTAL_FACE
    if not folder or not path.is_file():
        raise FaceDetectorUnavailable(
            f"{path}: Haar cascade file not found in this OpenCV {cv2.__version__} build "
            "(OpenCV 5 ships no Haar XMLs); install opencv-python-headless<5 or pass cascade_path"
        )
    return path


class FaceDetector:
    """OpenCV Haar frontal-face detector (``haarcascade_frontalface_default.xml``).

    ``detect_scale`` < 1 runs the cascade on a downscaled gray image (the
    cascade cost grows with the pixel count); ``min_size`` is given in pixels
    of the original frame and boxes are returned in original coordinates.
    The gray image is histogram-equalised first, as in OpenCV's own samples.
    Nothing is ever downloaded: the XML comes with OpenCV 4.x wheels.
    """

    def __init__(
        self,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 30,
        detect_scale: float = 1.0,
        equalize: bool = True,
        cascade_path: str | Path | None = None,
    ):
        if scale_factor <= 1.0:
            raise ValueError(f"FaceDetector: scale_factor must be > 1, got {scale_factor}")
        if min_neighbors < 0:
            raise ValueError(f"FaceDetector: min_neighbors must be >= 0, got {min_neighbors}")
        if min_size < 1:
            raise ValueError(f"FaceDetector: min_size must be >= 1, got {min_size}")
        if not 0.0 < detect_scale <= 1.0:
            raise ValueError(f"FaceDetector: detect_scale must be in (0, 1], got {detect_scale}")
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = int(min_size)
        self.detect_scale = float(detect_scale)
        self.equalize = bool(equalize)
        if cascade_path is None:
            path = _haar_path()
        else:
            path = Path(cascade_path)
            if not path.is_file():
                raise FaceDetectorUnavailable(f"{path}: cascade file not found")
            if not hasattr(cv2, "CascadeClassifier"):
                _haar_path()  # raises the explanatory error
        self.cascade_path = path
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FaceDetectorUnavailable(f"{path}: OpenCV could not load this cascade file")
        self.n_detections = 0

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Face boxes in ``frame`` (BGR or gray), largest first."""
        gray = _to_gray(np.asarray(frame))
        if gray.dtype != np.uint8:
            raise ValueError(f"FaceDetector.detect: expected uint8 pixels, got {gray.dtype}")
        # Downscaling speeds up large frames, but below ~320 px of width the
        # cascade starts missing faces that are there: never shrink past that.
        s = max(self.detect_scale, min(1.0, MIN_DETECT_WIDTH / gray.shape[1]))
        if s < 1.0:
            small = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        else:
            small = gray
        if self.equalize:
            small = cv2.equalizeHist(small)
        ms = max(1, int(round(self.min_size * s)))
        found = self._cascade.detectMultiScale(
            small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(ms, ms)
        )
        self.n_detections += 1
        _bump("detections")
        boxes = [
            Box(int(round(x / s)), int(round(y / s)), int(round(w / s)), int(round(h / s)))
            for (x, y, w, h) in np.asarray(found).reshape(-1, 4)
        ]
        boxes.sort(key=lambda b: b.area, reverse=True)
        return boxes


# ----------------------------------------------------------------- tracking


class FaceTracker:
    """Follows the main face through a stream of frames, one ``update`` per frame.

    * Detection runs on frame 0 and then every ``detect_every`` frames; while
      the face is lost (the last detection found nothing) it runs on every
      frame until a face is found again.
    * Main face: with no previous box, the largest detection; otherwise the
      detection whose centre is closest to the previous box's centre, provided
      it lies within one box width of it; if none does, the largest one.
    * The returned box moves towards the latest detection by exponential
      smoothing, ``box += smoothing * (target - box)`` on every frame (1.0 = no
      smoothing), so the crop does not jitter with detector noise.
    * ``found`` is False when no face has been detected yet (the box is then a
      centred square of side ``fallback_fraction * min(H, W)``) and after
      ``max_missed`` consecutive failed detections (the box stays at the last
      known position).
    """

    def __init__(
        self,
        detector: FaceDetector | None = None,
        *,
        detect_every: int = 5,
        smoothing: float = 0.5,
        max_missed: int = 3,
        fallback_fraction: float = 0.6,
    ):
        if detect_every < 1:
            raise ValueError(f"FaceTracker: detect_every must be >= 1, got {detect_every}")
        if not 0.0 < smoothing <= 1.0:
            raise ValueError(f"FaceTracker: smoothing must be in (0, 1], got {smoothing}")
        if max_missed < 0:
            raise ValueError(f"FaceTracker: max_missed must be >= 0, got {max_missed}")
        if not 0.0 < fallback_fraction <= 1.0:
            raise ValueError(
                f"FaceTracker: fallback_fraction must be in (0, 1], got {fallback_fraction}"
            )
        self.detector = detector if detector is not None else FaceDetector()
        self.detect_every = int(detect_every)
        self.smoothing = float(smoothing)
        self.max_missed = int(max_missed)
        self.fallback_fraction = float(fallback_fraction)
        self.reset()

    def reset(self) -> None:
        self.n_frames = 0
        self.n_detections = 0
        self.ever_found = False
        self._since_detect = 0
        self._missed = 0
        self._target: np.ndarray | None = None  # last chosen detection, float x,y,w,h
        self._smooth: np.ndarray | None = None

    @property
    def lost(self) -> bool:
        return self._missed > 0 or not self.ever_found

    def _choose(self, boxes: list[Box]) -> Box:
        if self._target is None:
            return boxes[0]  # largest
        px, py, pw, ph = self._target
        pcx, pcy = px + pw / 2, py + ph / 2
        dist = [math.hypot(b.center[0] - pcx, b.center[1] - pcy) for b in boxes]
        i = int(np.argmin(dist))
        return boxes[i] if dist[i] <= pw else boxes[0]

    def _fallback(self, frame: np.ndarray) -> Box:
        h, w = frame.shape[:2]
        side = max(1, int(round(self.fallback_fraction * min(h, w))))
        return Box((w - side) // 2, (h - side) // 2, side, side)

    def update(self, frame: np.ndarray) -> tuple[Box, bool]:
        """Process the next frame; returns the face box and whether it is a face."""
        due = self.n_frames == 0 or self._since_detect >= self.detect_every or self.lost
        self.n_frames += 1
        if due:
            boxes = self.detector.detect(frame)
            self.n_detections += 1
            self._since_detect = 1
            if boxes:
                chosen = np.array(self._choose(boxes), dtype=np.float64)
                self._missed = 0
                self._target = chosen
                if not self.ever_found:
                    self._smooth = chosen.copy()  # no gliding in from the fallback
                self.ever_found = True
            else:
                self._missed += 1
        else:
            self._since_detect += 1
        if not self.ever_found:
            return self._fallback(frame), False
        self._smooth += self.smoothing * (self._target - self._smooth)
        box = Box(*(int(round(v)) for v in self._smooth))
        return box, self._missed <= self.max_missed


# ------------------------------------------------------------------ cropping


def crop_face(
    frame: np.ndarray,
    box: Box | tuple[int, int, int, int],
    *,
    margin: float = 0.2,
    size: tuple[int, int] | None = None,
    gray: bool = False,
) -> np.ndarray:
    """Crop ``box`` enlarged by ``margin`` (fraction of the box size on every
    side) and resize to ``size`` = (height, width).

    The crop region is widened or heightened around the box centre to the
    output's aspect ratio, so faces are never stretched. Parts outside the
    frame are filled with black. ``gray`` converts BGR to one channel, giving
    (h, w) instead of (h, w, 3).
    """
    frame = np.asarray(frame)
    if frame.ndim not in (2, 3):
        raise ValueError(f"crop_face: expected a (H, W) or (H, W, C) frame, got {frame.shape}")
    if margin < 0:
        raise ValueError(f"crop_face: margin must be >= 0, got {margin}")
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"crop_face: box {tuple(box)} has no area")
    cx, cy = x + w / 2.0, y + h / 2.0
    cw, ch = w * (1 + 2 * margin), h * (1 + 2 * margin)
    if size is not None:
        oh, ow = int(size[0]), int(size[1])
        if oh < 1 or ow < 1:
            raise ValueError(f"crop_face: size must be positive (height, width), got {size}")
        aspect = ow / oh
        if cw / ch < aspect:
            cw = ch * aspect
        else:
            ch = cw / aspect
    x0, y0 = int(round(cx - cw / 2.0)), int(round(cy - ch / 2.0))
    x1, y1 = x0 + max(1, int(round(cw))), y0 + max(1, int(round(ch)))
    H, W = frame.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if sx0 >= sx1 or sy0 >= sy1:
        crop = np.zeros((y1 - y0, x1 - x0) + frame.shape[2:], dtype=frame.dtype)
    else:
        crop = frame[sy0:sy1, sx0:sx1]
        pads = (sy0 - y0, y1 - sy1, sx0 - x0, x1 - sx1)
        if any(pads):
            crop = cv2.copyMakeBorder(crop, *pads, borderType=cv2.BORDER_CONSTANT, value=0)
    if gray and crop.ndim == 3:
        crop = _to_gray(crop)
    if size is not None and crop.shape[:2] != (oh, ow):
        shrink = crop.shape[0] > oh
        crop = cv2.resize(crop, (ow, oh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(crop)


# ---------------------------------------------------------- clip preprocessing


@dataclass(frozen=True)
class FaceClipSpec:
    """Everything that determines the face crops of a video (and its cache key).

    ``size`` is (height, width) of the crops; ``gray`` gives (T, H, W) instead
    of (T, H, W, 3). Frame sampling: ``fps`` (target rate; the step is
    ``round(source_fps / fps)``, at least 1) takes precedence over
    ``frame_step``. ``max_frames`` caps the number of output frames.
    The remaining fields configure :class:`FaceDetector` and :class:`FaceTracker`.
    """

    size: tuple[int, int] = (112, 112)
    gray: bool = False
    margin: float = 0.2
    frame_step: int = 1
    fps: float | None = None
    max_frames: int | None = None
    detect_every: int = 5
    smoothing: float = 0.5
    max_missed: int = 3
    fallback_fraction: float = 0.6
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: int = 30
    detect_scale: float = 0.5

    def __post_init__(self):
        size = tuple(int(v) for v in self.size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"FaceClipSpec.size must be (height, width) > 0, got {self.size}")
        object.__setattr__(self, "size", size)  # lists become tuples: hashable, stable key
        if self.frame_step < 1:
            raise ValueError(f"FaceClipSpec.frame_step must be >= 1, got {self.frame_step}")
        if self.fps is not None and self.fps <= 0:
            raise ValueError(f"FaceClipSpec.fps must be > 0 or None, got {self.fps}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"FaceClipSpec.max_frames must be >= 1 or None, got {self.max_frames}")
        if self.margin < 0:
            raise ValueError(f"FaceClipSpec.margin must be >= 0, got {self.margin}")

    def step_for(self, source_fps: float | None) -> int:
        if self.fps is None:
            return self.frame_step
        if not source_fps or source_fps <= 0:
            raise ValueError(
                f"FaceClipSpec.fps={self.fps} needs the source frame rate, which is unknown"
            )
        return max(1, int(round(source_fps / self.fps)))

    def detector(self) -> FaceDetector:
        return FaceDetector(
            scale_factor=self.scale_factor, min_neighbors=self.min_neighbors,
            min_size=self.min_size, detect_scale=self.detect_scale,
        )

    def tracker(self) -> FaceTracker:
        return FaceTracker(
            self.detector(), detect_every=self.detect_every, smoothing=self.smoothing,
            max_missed=self.max_missed, fallback_fraction=self.fallback_fraction,
        )


@dataclass
class FaceClip:
    """Output of the face pipeline: crops plus per-frame box and face flag."""

    frames: np.ndarray  # (T, H, W) or (T, H, W, 3) uint8
    boxes: np.ndarray  # (T, 4) int32 x, y, w, h in source-frame pixels
    found: np.ndarray  # (T,) bool: box came from a detected face
    step: int  # source frames per output frame
    source_fps: float  # 0.0 when unknown

    @property
    def fps(self) -> float:
        return self.source_fps / self.step if self.source_fps else 0.0

    @property
    def found_fraction(self) -> float:
        return float(self.found.mean()) if len(self.found) else 0.0

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "frames": self.frames, "boxes": self.boxes, "found": self.found,
            "step": np.array(self.step), "source_fps": np.array(self.source_fps),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "FaceClip":
        return cls(
            frames=arrays["frames"], boxes=arrays["boxes"], found=arrays["found"],
            step=int(arrays["step"]), source_fps=float(arrays["source_fps"]),
        )


def track_and_crop(
    frames: Iterable[np.ndarray], spec: FaceClipSpec, *, step: int = 1, source_fps: float = 0.0
) -> FaceClip:
    """Track and crop every frame of ``frames`` (already sampled)."""
    tracker = spec.tracker()
    crops, boxes, found = [], [], []
    for frame in frames:
        box, ok = tracker.update(frame)
        crops.append(crop_face(frame, box, margin=spec.margin, size=spec.size, gray=spec.gray))
        boxes.append(box)
        found.append(ok)
    if not crops:
        raise ValueError("track_and_crop: no frames")
    return FaceClip(
        frames=np.stack(crops),
        boxes=np.asarray(boxes, dtype=np.int32).reshape(-1, 4),
        found=np.asarray(found, dtype=bool),
        step=int(step),
        source_fps=float(source_fps),
    )


def preprocess_frames(
    frames: np.ndarray | Iterable[np.ndarray], spec: FaceClipSpec, *, source_fps: float | None = None
) -> np.ndarray:
    """Face crops for frames already in memory (e.g. a PNG sequence read with
    :func:`read_image`): sampling by the spec, tracking, cropping, resizing.
    ``source_fps`` is needed only when ``spec.fps`` is set."""
    step = spec.step_for(source_fps)
    seq = frames if isinstance(frames, np.ndarray) else list(frames)
    picked = seq[::step]
    if spec.max_frames is not None:
        picked = picked[: spec.max_frames]
    return track_and_crop(picked, spec, step=step, source_fps=source_fps or 0.0).frames


def _video_key(path: Path, spec: FaceClipSpec) -> str:
    # The OpenCV version is part of the key: decoder and cascade changes alter the crops.
    return content_key("emobench.video.face_clip", PIPELINE_VERSION, cv2.__version__, path, spec)


def face_clip(path: str | Path, spec: FaceClipSpec = FaceClipSpec(), cache: ArrayCache | None = None) -> FaceClip:
    """Decode + track + crop + resize one video, with boxes and face flags.

    With a ``cache``, the result is stored under ``content_key(file, spec,
    version)`` and a later call with the same file (same path, size, mtime)
    and spec decodes nothing. ``cache=None`` computes without storing.
    Raises :class:`MediaError` for unusable files (never cached).
    """
    path = Path(path)
    _check_file(path)  # before hashing, so a missing file raises MediaError

    def compute() -> dict[str, np.ndarray]:
        info = video_info(path)
        try:
            step = spec.step_for(info["fps"])
        except ValueError:
            warnings.warn(f"{path}: frame rate unknown; FaceClipSpec.fps ignored, every frame used")
            step = 1
        frames = iter_frames(path, step=step, max_frames=spec.max_frames)
        return track_and_crop(frames, spec, step=step, source_fps=info["fps"]).to_arrays()

    if cache is None:
        return FaceClip.from_arrays(compute())
    return FaceClip.from_arrays(cache.get_or_compute(_video_key(path, spec), compute))


def preprocess_video(
    path: str | Path, spec: FaceClipSpec = FaceClipSpec(), cache: ArrayCache | None = None
) -> np.ndarray:
    """Face crops of one video as (T, H, W) (gray) or (T, H, W, 3) uint8 BGR.
    See :func:`face_clip` for caching and errors.

    Crops up to :data:`CANONICAL_CROP` pixels are derived from one cached colour
    crop of that size, so models asking for different sizes or for grey share a
    single decode and face track of the video."""
    h, w = spec.size
    canonical = (CANONICAL_CROP, CANONICAL_CROP)
    if max(h, w) <= CANONICAL_CROP and (spec.size, spec.gray) != (canonical, False):
        base = face_clip(path, replace(spec, size=canonical, gray=False), cache).frames
        return _resize_crops(base, (h, w), spec.gray)
    return face_clip(path, spec, cache).frames


def _resize_crops(frames: np.ndarray, size: tuple[int, int], gray: bool) -> np.ndarray:
    out = []
    for f in frames:
        if gray:
            f = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
        if f.shape[:2] != size:
            f = cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        out.append(f)
    return np.stack(out)


# ------------------------------------------------------------------ clips


def sample_clips(n_frames: int, length: int, stride: int, *, cover_tail: bool = False) -> list[slice]:
    """Clip windows ``[s, s + length)`` for ``s = 0, stride, 2*stride, ...``.

    Only full windows are produced; the frames after the last full window are
    dropped unless ``cover_tail`` adds one more window ending at the last
    frame. A sequence shorter than ``length`` yields exactly one window
    ``slice(0, length)`` that runs past the end: :func:`take_clips` pads it by
    repeating the last frame.
    """
    if n_frames < 1:
        raise ValueError(f"sample_clips: n_frames must be >= 1, got {n_frames}")
    if length < 1 or stride < 1:
        raise ValueError(f"sample_clips: length and stride must be >= 1, got {length}, {stride}")
    if n_frames <= length:
        return [slice(0, length)]
    starts = list(range(0, n_frames - length + 1, stride))
    if cover_tail and starts[-1] + length < n_frames:
        starts.append(n_frames - length)
    return [slice(s, s + length) for s in starts]


def take_clips(
    frames: np.ndarray, length: int, stride: int, *, cover_tail: bool = False
) -> np.ndarray:
    """Stack the windows of :func:`sample_clips` into (n_clips, length, ...);
    a sequence shorter than ``length`` is padded by repeating its last frame."""
    frames = np.asarray(frames)
    n = len(frames)
    windows = sample_clips(n, length, stride, cover_tail=cover_tail)
    index = np.stack([np.minimum(np.arange(w.start, w.stop), n - 1) for w in windows])
    return frames[index]
