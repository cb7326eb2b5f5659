"""Face clips: the cached decode -> track -> crop pipeline, and clip sampling."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from .cache import ArrayCache, content_key

from .decode import CANONICAL_CROP, PIPELINE_VERSION, _check_file, iter_frames, video_info
from .faces import FaceDetector, FaceTracker, crop_face
from .standin_faces import read_boxes, recorded_sidecar



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
    # "haar" (OpenCV cascade, the fast default) or "mtcnn" (emobench.media.mtcnn,
    # pretrained, with landmarks); for "mtcnn" min_size is its smallest face.
    face_detector: str = "haar"

    def __post_init__(self):
        if self.face_detector not in ("haar", "mtcnn"):
            raise ValueError(f"FaceClipSpec.face_detector must be 'haar' or 'mtcnn', got {self.face_detector!r}")
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
        if self.face_detector == "mtcnn":
            from .mtcnn import MTCNNDetector

            return MTCNNDetector(min_size=max(12, self.min_size))
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


def _spec_for_key(spec: FaceClipSpec):
    """The spec as the cache key sees it. With the default Haar detector this is
    a dataclass of the same qualified name without ``face_detector``, so keys of
    caches written before the option existed stay valid."""
    if spec.face_detector != "haar":
        return spec
    fields = [f for f in dataclasses.fields(spec) if f.name != "face_detector"]
    return _KEY_SPEC(**{f.name: getattr(spec, f.name) for f in fields})


_KEY_SPEC = dataclasses.make_dataclass(
    "FaceClipSpec",
    [(f.name, f.type) for f in dataclasses.fields(FaceClipSpec) if f.name != "face_detector"],
    frozen=True,
)
_KEY_SPEC.__module__ = __name__


def _video_key(path: Path, spec: FaceClipSpec, sidecar: Path | None = None) -> str:
    # The OpenCV version is part of the key: decoder and cascade changes alter the crops.
    import cv2
    if sidecar is None:
        return content_key("emobench.video.face_clip", PIPELINE_VERSION, cv2.__version__, path,
                           _spec_for_key(spec))
    # boxes recorded by the stand-in generator instead of the detector: another key
    return content_key("emobench.video.face_clip", PIPELINE_VERSION, cv2.__version__, path,
                       _spec_for_key(spec), "boxes:standin-sidecar", sidecar)


def crop_recorded(frames: Iterable[np.ndarray], boxes: np.ndarray, spec: FaceClipSpec, *,
                  step: int = 1, source_fps: float = 0.0) -> FaceClip:
    """Crop every sampled frame at the box recorded for it (``boxes`` holds one
    row per *source* frame; output frame ``i`` is source frame ``i * step``);
    frames past the recorded ones keep the last box. Every box is a face."""
    crops, used = [], []
    last = len(boxes) - 1
    for i, frame in enumerate(frames):
        b = boxes[min(i * step, last)]
        box = tuple(int(round(float(v))) for v in b)
        crops.append(crop_face(frame, box, margin=spec.margin, size=spec.size, gray=spec.gray))
        used.append(box)
    if not crops:
        raise ValueError("crop_recorded: no frames")
    return FaceClip(frames=np.stack(crops), boxes=np.asarray(used, dtype=np.int32).reshape(-1, 4),
                    found=np.ones(len(crops), dtype=bool), step=int(step), source_fps=float(source_fps))


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
        if sidecar is not None:
            return crop_recorded(frames, read_boxes(sidecar), spec, step=step,
                                 source_fps=info["fps"]).to_arrays()
        return track_and_crop(frames, spec, step=step, source_fps=info["fps"]).to_arrays()

    # A stand-in's own record of where it drew the face replaces the Haar tracker
    # (only for the default detector; a real corpus has no marker, hence no sidecar).
    sidecar = recorded_sidecar(path) if spec.face_detector == "haar" else None
    if cache is None:
        return FaceClip.from_arrays(compute())
    return FaceClip.from_arrays(cache.get_or_compute(_video_key(path, spec, sidecar), compute))


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
        base_spec = replace(spec, size=canonical, gray=False)
        if cache is None:
            return resize_crops(face_clip(path, base_spec, None).frames, (h, w), spec.gray)
        # The derived crops are cached too, keyed by the shared crop's key: a model
        # reading 48-px grey crops reads ~20x fewer bytes than the 128-px colour
        # entry (which it read and resized on every load before).
        path = Path(path)
        _check_file(path)
        sidecar = recorded_sidecar(path) if spec.face_detector == "haar" else None
        key = content_key("emobench.video.derived_crops", _video_key(path, base_spec, sidecar),
                          (h, w), bool(spec.gray))
        return cache.get_or_compute(key, lambda: {"frames": resize_crops(
            face_clip(path, base_spec, cache).frames, (h, w), spec.gray)})["frames"]
    return face_clip(path, spec, cache).frames


def resize_crops(frames: np.ndarray, size: tuple[int, int], gray: bool) -> np.ndarray:
    import cv2
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
