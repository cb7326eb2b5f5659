"""The RAF-DB (basic) tree as distributed (docs/corpora/rafdb.md)::

    basic/EmoLabel/list_patition_label.txt           <- sic; "name label" or "name split label"
    basic/Image/aligned/train_00001_aligned.jpg      100x100 aligned faces
    basic/Image/original/train_00001.jpg
    basic/Annotation/manual/train_00001_manu_attri.txt

List names lack the ``_aligned`` suffix the aligned files carry; the split comes
from the ``train_`` / ``test_`` prefix (or the middle column of the 3-column variant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emobench.layouts import DataError, inside, quote

LABEL_LIST = ("EmoLabel", "list_patition_label.txt")
#: RAF-DB's classes 1-7 in its own order, named in the shared label space
CLASSES = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
SPLITS = ("train", "test")
_NAME = re.compile(r"(train|test)_(\d+)(?:_aligned)?\.(jpg|jpeg|png)", re.IGNORECASE)
#: value codes of the manual attribute file, lines 6-8 (unverified codes, see CORPORA.md)
GENDER = ("male", "female", "unsure")
RACE = ("caucasian", "african-american", "asian")
AGE = ("0-3", "4-19", "20-39", "40-69", "70+")


class RafFormatError(DataError):
    """A RAF-DB file that does not have the distributed form; names the file (and line)."""


@dataclass(frozen=True)
class Entry:
    line: int
    name: str          # as listed, e.g. train_00001.jpg
    split: str
    number: int
    label: int         # 0-based index into CLASSES


def basic_dir(root: Path) -> Path:
    """The folder holding EmoLabel/: ``root/basic``, ``root`` or a doubled ``basic/basic``."""
    root = Path(root)
    for cand in (root / "basic", root, root / "basic" / "basic"):
        if cand.joinpath(*LABEL_LIST).is_file():
            return cand
    raise RafFormatError(root, "no basic/EmoLabel/list_patition_label.txt (expected the RAF-DB "
                               "tree of docs/corpora/rafdb.md)")


def read_label_list(path: Path) -> list[Entry]:
    out, seen = [], set()
    for i, raw in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), start=1):
        cols = raw.split()
        if not cols:
            continue
        where = f"line {i}"
        if len(cols) not in (2, 3):
            raise RafFormatError(path, f"{where}: expected 'name label' or 'name split label', "
                                       f"got {quote(raw)}")
        name, label = cols[0], cols[-1]
        m = _NAME.fullmatch(name)
        if not m:
            raise RafFormatError(path, f"{where}: image name {name!r} is not train_/test_NNNNN.jpg")
        split = m[1].lower()
        if len(cols) == 3 and cols[1].lower() != split:
            raise RafFormatError(path, f"{where}: split column {cols[1]!r} disagrees with the "
                                       f"name prefix of {name!r}")
        if not (label.isdigit() and 1 <= int(label) <= len(CLASSES)):
            raise RafFormatError(path, f"{where}: label {label!r} is not a RAF class 1-7")
        if name in seen:
            raise RafFormatError(path, f"{where}: {name!r} listed twice")
        seen.add(name)
        out.append(Entry(i, name, split, int(m[2]), int(label) - 1))
    if not out:
        raise RafFormatError(path, "no images listed")
    return out


def image_path(base: Path, entry: Entry) -> Path | None:
    """The aligned image (``<stem>_aligned.<ext>``) when present, else the original."""
    stem = entry.name.rsplit(".", 1)[0]
    aligned = base / "Image" / "aligned"
    for ext in ("jpg", "jpeg", "png", "JPG"):
        p = inside(aligned, f"{stem}_aligned.{ext}", what="image name") if aligned.is_dir() else None
        if p is not None and p.is_file():
            return p
    p = inside(base / "Image" / "original", entry.name, what="image name")
    return p if p.is_file() else None


def read_attributes(path: Path) -> dict[str, str]:
    """Gender, race and age group from lines 6-8 of a ``_manu_attri.txt`` (lines 1-5 are
    the five landmarks ``x y``)."""
    lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(lines) < 8:
        raise RafFormatError(path, f"{len(lines)} lines; expected 5 landmark lines, then gender, "
                                   "race and age")
    for j, ln in enumerate(lines[:5], start=1):
        parts = ln.split()
        try:
            if len(parts) != 2:
                raise ValueError
            [float(v) for v in parts]
        except ValueError:
            raise RafFormatError(path, f"line {j}: landmark {quote(ln)} is not 'x y'") from None
    out = {}
    for j, (key, names) in enumerate((("gender", GENDER), ("race", RACE), ("age", AGE)), start=6):
        v = lines[j - 1]
        if not (v.isdigit() and int(v) < len(names)):
            raise RafFormatError(path, f"line {j}: {key} code {v!r} is not 0-{len(names) - 1}")
        out[key] = names[int(v)]
    return out
