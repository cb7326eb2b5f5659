"""The EMER tree emobench reads (the corpus's own loader is sent only on approval).

The layout follows the released test scripts' data root ``./data/smead_cross/``
(``face`` and ``eye`` folders); docs/corpora/emer.md writes it out::

    EMER/smead_cross/labels.csv                      one row per sample (see COLUMNS)
    EMER/smead_cross/face/<sample>/<frame>.jpg       >= 8 face crops, frame order by name
    EMER/smead_cross/eye/<sample>/movement.csv       32 rows x the 39 EYE_FEATURES columns
    EMER/smead_cross/eye/<sample>/fixation.csv       32 rows: x, y (screen units 0..1)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT_DIR = "smead_cross"
LABELS_FILE = "labels.csv"
COLUMNS = ("sample", "subject", "er7", "er3", "fer7", "fer3", "valence", "arousal", "intensity")
CLASSES7 = ("happiness", "sadness", "fear", "surprise", "disgust", "anger", "neutral")
CLASSES3 = ("positive", "negative", "neutral")
STEPS = 32
FACE_FRAMES = 8
_STATS = ("mean", "sd", "min", "max", "p25", "p75", "range")
#: 39 eye-movement features per step: 7 statistics of gaze x, gaze y, pupil diameter,
#: gaze speed and distance from the screen centre (35), then the blink and saccade
#: fractions, the gaze dispersion (bounding-box area) and the fixations begun in the step.
EYE_FEATURES: tuple[str, ...] = tuple(
    f"{ch}_{st}" for ch in ("gaze_x", "gaze_y", "pupil", "speed", "centre_dist") for st in _STATS
) + ("blink_frac", "saccade_frac", "dispersion", "fixation_onsets")
assert len(EYE_FEATURES) == 39


class EmerFormatError(ValueError):
    """A file of the EMER tree does not have the documented form; names the file."""


@dataclass(frozen=True)
class Row:
    line: int
    sample: str
    subject: str
    labels: dict


def corpus_dir(root: Path) -> Path:
    """The folder holding labels.csv: ``root/smead_cross`` or ``root`` itself."""
    root = Path(root)
    for cand in (root / ROOT_DIR, root, root / ROOT_DIR / ROOT_DIR):
        if (cand / LABELS_FILE).is_file():
            return cand
    raise EmerFormatError(f"{root}: no {ROOT_DIR}/{LABELS_FILE} (expected the EMER tree of "
                          "docs/corpora/emer.md)")


def _class(value: str, classes: tuple[str, ...], where: str, column: str) -> int:
    v = value.strip().lower()
    if v.lstrip("-").isdigit() and 0 <= int(v) < len(classes):
        return int(v)
    if v not in classes:
        raise EmerFormatError(f"{where}: {column}={value!r} is not one of {', '.join(classes)}")
    return classes.index(v)


def _number(value: str, lo: float, hi: float, where: str, column: str) -> float | None:
    if value.strip() == "":
        return None
    try:
        x = float(value)
    except ValueError:
        raise EmerFormatError(f"{where}: {column}={value!r} is not a number") from None
    if not (lo <= x <= hi):
        raise EmerFormatError(f"{where}: {column}={x} is outside [{lo}, {hi}]")
    return x


def read_labels(path: Path) -> list[Row]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise EmerFormatError(f"{path}: missing column(s) {', '.join(missing)} "
                                  f"(expected {', '.join(COLUMNS)})")
        rows = []
        for i, rec in enumerate(reader, start=2):
            where = f"{path}: line {i}"
            labels = {"er7": _class(rec["er7"], CLASSES7, where, "er7"),
                      "er3": _class(rec["er3"], CLASSES3, where, "er3"),
                      "fer7": _class(rec["fer7"], CLASSES7, where, "fer7"),
                      "fer3": _class(rec["fer3"], CLASSES3, where, "fer3")}
            for col, lo, hi in (("valence", -1, 1), ("arousal", -1, 1), ("intensity", 0, 3)):
                v = _number(rec[col], lo, hi, where, col)
                if v is not None:
                    labels[col] = v
            sample, subject = rec["sample"].strip(), rec["subject"].strip()
            if not sample or not subject or "/" in sample or "\\" in sample or sample.startswith("."):
                raise EmerFormatError(f"{where}: sample {sample!r} / subject {subject!r} must be "
                                      "plain non-empty names")
            rows.append(Row(i, sample, subject, labels))
    if not rows:
        raise EmerFormatError(f"{path}: no samples listed")
    return rows


def read_matrix(path: Path, columns: int) -> np.ndarray:
    """A (32, columns) float32 table with one header line."""
    try:
        x = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
    except (OSError, ValueError) as exc:
        raise EmerFormatError(f"{path}: {exc}") from None
    if x.shape != (STEPS, columns):
        raise EmerFormatError(f"{path}: expected {STEPS} rows x {columns} columns, got "
                              f"{x.shape[0]} x {x.shape[1]}")
    if not np.isfinite(x).all():
        r, c = np.argwhere(~np.isfinite(x))[0]
        raise EmerFormatError(f"{path}: row {r + 2} column {c + 1} is not finite")
    return x


def face_frames(folder: Path) -> list[Path]:
    frames = sorted(p for p in folder.iterdir()
                    if p.suffix.lower() in (".jpg", ".jpeg", ".png") and not p.name.startswith("."))
    if len(frames) < FACE_FRAMES:
        raise EmerFormatError(f"{folder}: {len(frames)} face frames, at least {FACE_FRAMES} needed")
    return frames
