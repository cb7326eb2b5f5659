"""Face detection (Haar), tracking of the main face, and cropping."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .decode import MIN_DETECT_WIDTH, HAAR_FRONTAL_FACE, FaceDetectorUnavailable, _bump


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
    import cv2
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    raise ValueError(f"expected a (H, W), (H, W, 1) or (H, W, 3) frame, got shape {frame.shape}")


def _haar_path() -> Path:
    import cv2
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


_cascades = threading.local()


def _load_cascade(path: Path):
    """The cascade of ``path``, parsed once per thread (parsing the 900 KB XML cost
    ~37 ms, paid by every video's tracker before); one instance per thread because
    a CascadeClassifier is not meant to be shared between threads."""
    import cv2
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    loaded = getattr(_cascades, "by_path", None)
    if loaded is None:
        loaded = _cascades.by_path = {}
    if memo not in loaded:
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise FaceDetectorUnavailable(f"{path}: OpenCV could not load this cascade file")
        loaded[memo] = cascade
    return loaded[memo]


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
        import cv2
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
        self._cascade = _load_cascade(path)
        self.n_detections = 0

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Face boxes in ``frame`` (BGR or gray), largest first."""
        import cv2
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
    import cv2
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


