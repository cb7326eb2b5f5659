"""Face boxes recorded by the stand-in generator, used instead of Haar on stand-ins.

The generator draws every face itself, so it knows where each one is: running
the Haar tracker on its renderings was ~90 % of a video stand-in's first read
(decode + track + crop). A video stand-in therefore records each video's
per-frame face box in a sidecar under the stand-in root, beside its marker
file, outside the corpus layout proper::

    <root>/EMOBENCH_STANDIN.json                      (the stand-in marker)
    <root>/EMOBENCH_STANDIN_FACES/<relative video path>.npy   (T, 4) float32 x, y, w, h

:func:`recorded_boxes` finds the sidecar of a video only when the marker is
there too, so a real corpus (which never has a marker) always goes through the
detector. The boxes are given as the Haar detector would report them, so the
crops look like the detector's: the landmarks' bounding box mapped with
constants measured against Haar on stand-in renderings (:data:`HAAR_FROM_LANDMARKS`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# = emobench.dataset.STANDIN_MARKER (a lower layer cannot import it; a test checks)
STANDIN_MARKER = "EMOBENCH_STANDIN.json"
FACES_DIR = "EMOBENCH_STANDIN_FACES"

#: Haar's square box relative to the bounding box (width lw, height lh) of the
#: 66 rendered landmarks: centre x offset / lw, centre y offset / lh, side / lw.
#: Measured on 96 Haar detections of talking-clip renderings at 160x120 and
#: 320x240 (median; sd 0.03, 0.02, 0.06): Haar's box is centred higher (the
#: landmarks reach the chin) and a little wider than the landmarks.
HAAR_FROM_LANDMARKS = (0.0, -0.24, 1.158)


def boxes_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """(T, 66, 2) pixel landmarks -> (T, 4) float32 Haar-like x, y, w, h boxes."""
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[-1] != 2:
        raise ValueError(f"boxes_from_landmarks: expected (T, n_points, 2), got {lm.shape}")
    lo, hi = lm.min(axis=1), lm.max(axis=1)
    size = hi - lo
    dx, dy, side = HAAR_FROM_LANDMARKS
    cx = (lo[:, 0] + hi[:, 0]) / 2 + dx * size[:, 0]
    cy = (lo[:, 1] + hi[:, 1]) / 2 + dy * size[:, 1]
    s = side * size[:, 0]
    return np.stack([cx - s / 2, cy - s / 2, s, s], axis=1).astype(np.float32)


def sidecar_path(root: str | Path, video: str | Path) -> Path:
    root, video = Path(root), Path(video)
    return root / FACES_DIR / f"{video.relative_to(root).as_posix()}.npy"


#: The temporary folder emobench.datasource.write_standin writes a stand-in into,
#: ``<parent>/<WRITING_PREFIX><random>/<folder>``, before renaming ``<folder>`` into
#: place once the marker is written (datasource uses this constant).
WRITING_PREFIX = ".writing-"


def standin_root_being_written(video: str | Path) -> Path | None:
    """The root of the stand-in that ``video`` is being written into: the folder
    directly below a ``.writing-*`` ancestor (datasource's temporary folder), or
    None when the video is not written through ``datasource.write_standin``
    (then no marker will be written either, and a sidecar would never be read)."""
    video = Path(video).resolve()
    for child, parent in zip(video.parents, list(video.parents)[1:]):
        if parent.name.startswith(WRITING_PREFIX):
            return child
    return None


def write_face_boxes(video: str | Path, boxes: np.ndarray, root: str | Path | None = None) -> Path | None:
    """Record the per-frame face boxes (T, 4) x, y, w, h of ``video`` in the
    sidecar of the stand-in root ``root`` (default: the root being written,
    :func:`standin_root_being_written`); returns its path, or None when there is
    no stand-in root to record under."""
    boxes = np.asarray(boxes, np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all():
        raise ValueError(f"write_face_boxes: expected finite (T, 4) boxes, got {boxes.shape}")
    video = Path(video).resolve()
    root = Path(root).resolve() if root is not None else standin_root_being_written(video)
    if root is None:
        return None
    path = sidecar_path(root, video)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, boxes, allow_pickle=False)
    return path


def _root_of(folder: Path) -> Path | None:
    for p in (folder, *folder.parents):
        if (p / STANDIN_MARKER).is_file():
            return p
    return None


def recorded_sidecar(video: str | Path) -> Path | None:
    """The sidecar in which the stand-in generator recorded the face boxes of
    ``video``, or None: no stand-in marker above the video (a real corpus), or
    no sidecar for it (a stand-in written before sidecars existed)."""
    video = Path(video).resolve()
    root = _root_of(video.parent)
    if root is None:
        return None
    path = sidecar_path(root, video)
    return path if path.is_file() else None


def read_boxes(sidecar: Path) -> np.ndarray:
    boxes = np.load(sidecar, allow_pickle=False)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{sidecar}: expected (T, 4) face boxes, got {boxes.shape}")
    return boxes
