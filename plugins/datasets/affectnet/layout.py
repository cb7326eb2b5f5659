"""The AffectNet tree as distributed (docs/corpora/affectnet.md)::

    Manually_Annotated_file_lists/training.csv
    Manually_Annotated_file_lists/validation.csv
    Manually_Annotated_Images/<subdir>/<hash>.<ext>

CSV header ``subDirectory_filePath,face_x,face_y,face_width,face_height,
facial_landmarks,expression,valence,arousal``; landmarks are one field of numbers
separated by ``;``; expression codes 0-10 (8 None, 9 Uncertain, 10 Non-Face are
excluded); valence and arousal in [-1, 1] with -2 meaning "none".
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench.layouts import DataError, find_part, inside

LISTS_DIR, IMAGES_DIR = "Manually_Annotated_file_lists", "Manually_Annotated_Images"
LIST_FILES = {"training": "training.csv", "validation": "validation.csv"}
COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
           "facial_landmarks", "expression", "valence", "arousal")
#: codes 0-7, named in the shared label space
CLASSES8 = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt")
EXCLUDED = {8: "None", 9: "Uncertain", 10: "Non-Face"}
MISSING = -2.0
# first bytes of the formats AffectNet ships (JPEG, PNG, BMP, TIFF, GIF, WebP)
MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"BM", b"II*\0", b"MM\0*", b"GIF8", b"RIFF")


class AffectNetFormatError(DataError):
    """An AffectNet list or file that does not have the distributed form; names it."""


@dataclass(frozen=True)
class Row:
    line: int
    source: str            # "training" | "validation"
    rel: str               # subDirectory_filePath as listed
    box: tuple[int, int, int, int]
    landmarks: np.ndarray | None
    expression: int
    valence: float         # NaN when missing (-2)
    arousal: float


def lists_dir(root: Path) -> Path:
    found, _ = find_part(Path(root), LISTS_DIR)
    if found is None or not (found / LIST_FILES["validation"]).is_file():
        raise AffectNetFormatError(root, f"no {LISTS_DIR}/{LIST_FILES['validation']} (expected the "
                                         "AffectNet tree of docs/corpora/affectnet.md)")
    return found


def images_dir(root: Path) -> Path:
    found, _ = find_part(Path(root), IMAGES_DIR)
    if found is None:
        raise AffectNetFormatError(root, f"no {IMAGES_DIR}/ folder")
    return found


def _float(value: str, path, line: int, col: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise AffectNetFormatError(path, f"line {line}: {col}={value!r} is not a number") from None
    if not math.isfinite(x):
        raise AffectNetFormatError(path, f"line {line}: {col}={value!r} is not finite")
    return x


def _affect(value: str, path, line: int, col: str) -> float:
    x = _float(value, path, line, col)
    if x == MISSING:
        return float("nan")
    if not -1.0 <= x <= 1.0:
        raise AffectNetFormatError(path, f"line {line}: {col}={x} is outside [-1, 1] (and not "
                                         "the -2 'none' sentinel)")
    return x


def read_list(path: Path, source: str) -> list[Row]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header[:len(COLUMNS)]) != COLUMNS:
            raise AffectNetFormatError(path, f"line 1: expected the header {','.join(COLUMNS)}")
        rows = []
        for i, cols in enumerate(reader, start=2):
            if not cols:
                continue
            if len(cols) != len(COLUMNS):
                raise AffectNetFormatError(path, f"line {i}: {len(cols)} fields, expected "
                                                 f"{len(COLUMNS)} (landmarks are one ';' field)")
            code = cols[6].strip()
            if not (code.isdigit() and int(code) <= 10):
                raise AffectNetFormatError(path, f"line {i}: expression={code!r} is not a code 0-10")
            box = tuple(int(round(_float(c, path, i, n))) for c, n in zip(cols[1:5], COLUMNS[1:5]))
            pts = None
            if cols[5].strip():
                vals = [_float(v, path, i, "facial_landmarks") for v in cols[5].strip().strip(";").split(";")]
                if len(vals) % 2:
                    raise AffectNetFormatError(path, f"line {i}: {len(vals)} landmark numbers, "
                                                     "expected (x, y) pairs (136 for 68 points)")
                pts = np.asarray(vals, np.float32).reshape(-1, 2)
            rows.append(Row(i, source, cols[0].strip(), box, pts, int(code),
                            _affect(cols[7], path, i, "valence"), _affect(cols[8], path, i, "arousal")))
    return rows


def resolve_image(images: Path, rel: str) -> Path | None:
    """The listed file, or the same name with its extension in another case (the lists and
    the files disagree on ``.jpg`` / ``.JPG`` / ``.BMP`` in places)."""
    p = inside(images, rel, what="subDirectory_filePath")
    if p.is_file():
        return p
    stem, dot, ext = p.name.rpartition(".")
    for cand in {ext.lower(), ext.upper(), ext.capitalize()} - {ext}:
        q = p.with_name(f"{stem}.{cand}")
        if dot and q.is_file():
            return q
    return None


def quick_image_check(path: Path) -> str | None:
    """Why a file cannot be an image (empty, unknown format, truncated JPEG), or None.
    Reads a few bytes only: a full decode of 420K images belongs to ``emobench doctor``."""
    size = path.stat().st_size
    if size == 0:
        return "empty file"
    with open(path, "rb") as f:
        head = f.read(8)
        if not head.startswith(MAGIC):
            return "not an image (unknown file signature)"
        if head.startswith(b"\xff\xd8"):
            f.seek(max(0, size - 32))  # a few writers pad after the marker
            if b"\xff\xd9" not in f.read(32):
                return "truncated JPEG (no end-of-image marker)"
    return None
