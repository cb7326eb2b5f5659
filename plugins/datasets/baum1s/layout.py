"""BAUM-1s (spontaneous): the tree as distributed and how it is read (CORPORA.md section 8).

    BAUM1s_MP4 - All/S001/S001_001.mp4        one MP4 per clip (video with its voice)
    BAUM1s_MP4 - All/Annotations_BAUM1s.xlsx  (or beside the folder, in the data root)

The labels come from the annotation spreadsheet, one row per clip with the
columns clip name, emotion name, numeric code and gender. The **numeric code is
the label** (1 ang, 2 bor, 3 bothered, 4 concentrating, 5 contempt, 6 dis, 7 fea,
8 hap, 9 neu, 10 sad, 11 sur, 12 thinking, 13 unsure); the names are not trusted
because "concentrating" and "contempt" share the prefix ``con``. A name that
contradicts its code is a doctor warning (code used); ``S015_007`` is known to be
ambiguous (happy vs neutral) and always warned about. The folder name contains
spaces; clips are found by name anywhere under the folder (speaker folders
``S001`` ...), and the speaker is the clip name's ``Snnn`` prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emobench.dataset import Problem

SPREADSHEET = "Annotations_BAUM1s.xlsx"
SIX_BASIC: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
# the six basic emotions first, so the 6-basic task's indices are the full task's
CLASSES: tuple[str, ...] = SIX_BASIC + ("neutral", "boredom", "contempt", "unsure", "thinking",
                                        "concentrating", "bothered")
CODES: dict[int, str] = {1: "anger", 2: "boredom", 3: "bothered", 4: "concentrating",
                         5: "contempt", 6: "disgust", 7: "fear", 8: "happiness", 9: "neutral",
                         10: "sadness", 11: "surprise", 12: "thinking", 13: "unsure"}
#: the names' 3-letter prefixes the spreadsheet uses ("con" is two classes)
PREFIX: dict[str, tuple[str, ...]] = {
    "ang": ("anger",), "bor": ("boredom",), "bot": ("bothered",), "con": ("concentrating", "contempt"),
    "dis": ("disgust",), "fea": ("fear",), "hap": ("happiness",), "neu": ("neutral",),
    "sad": ("sadness",), "sur": ("surprise",), "thi": ("thinking",), "uns": ("unsure",)}
AMBIGUOUS: dict[str, str] = {"S015_007": "known ambiguous label (happy vs neutral)"}
CLIP_RE = re.compile(r"^(S\d{3})_(\d{3})$", re.IGNORECASE)
VIDEO_SUFFIXES = (".mp4",)
VIDEO_FPS = 30.0


@dataclass(frozen=True)
class Clip:
    id: str
    speaker: str
    emotion: str
    code: int
    gender: str
    path: Path
    row: int


def find_spreadsheet(root: Path) -> Path | None:
    for where in (root, root.parent):
        for p in sorted(where.glob("*.xlsx")):
            if p.name.lower() == SPREADSHEET.lower() and not p.name.startswith("._"):
                return p
    return None


def _column(header: list[str], words: tuple[str, ...], default: int) -> int:
    for i, h in enumerate(header):
        if any(w in h for w in words):
            return i
    return default


def read_spreadsheet(path: Path) -> tuple[list[tuple[int, str, str, object, str]], list[Problem]]:
    """Rows ``(row number, clip name, emotion name, code cell, gender)`` of the first
    sheet; the header row is found by its words (clip/name, emotion, code, gender),
    else the columns are taken in that order."""
    from openpyxl import load_workbook

    problems = []
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        return [], [Problem(str(path), f"cannot read the annotation spreadsheet "
                                       f"({type(exc).__name__}: {exc})")]
    try:
        rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()
    start, cols = 0, (0, 1, 2, 3)
    for i, r in enumerate(rows[:5]):
        cells = [str(c).strip().lower() if c is not None else "" for c in r]
        if any("code" in c or "emotion" in c or "gender" in c for c in cells):
            cols = (_column(cells, ("clip", "file", "video", "name"), 0),
                    _column(cells, ("emotion", "label name", "class"), 1),
                    _column(cells, ("code", "label"), 2),
                    _column(cells, ("gender", "sex"), 3))
            start = i + 1
            break
    out = []
    for i, r in enumerate(rows[start:], start + 1):
        if not r or all(c is None or str(c).strip() == "" for c in r):
            continue
        get = lambda j: r[j] if j < len(r) else None  # noqa: E731
        out.append((i, str(get(cols[0]) or "").strip(), str(get(cols[1]) or "").strip(),
                    get(cols[2]), str(get(cols[3]) or "").strip()))
    if not out:
        problems.append(Problem(str(path), "the annotation spreadsheet has no clip rows"))
    return out, problems


def _code(cell) -> int | None:
    try:
        f = float(str(cell).strip())
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() and int(f) in CODES else None


def scan(root: Path) -> tuple[list[Clip], list[Problem]]:
    """Every annotated clip that has a file, and the problems met (never raises)."""
    root = Path(root)
    sheet = find_spreadsheet(root)
    if sheet is None:
        return [], [Problem(str(root / SPREADSHEET), "annotation spreadsheet not found (looked "
                                                    f"in {root} and {root.parent})")]
    rows, problems = read_spreadsheet(sheet)
    files: dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("._"):
            if p.stem.upper() in files:
                problems.append(Problem(str(p), f"second file for clip {p.stem} (first: "
                                                f"{files[p.stem.upper()]}); skipped", "warning"))
                continue
            files[p.stem.upper()] = p
    clips, seen = [], set()
    where = "row"
    for n, name, ename, cell, gender in rows:
        stem = Path(name).stem if name.lower().endswith(VIDEO_SUFFIXES) else name
        m = CLIP_RE.match(stem)
        if not m:
            problems.append(Problem(str(sheet), f"{where} {n}: clip name {name!r} is not "
                                                "Snnn_nnn; skipped"))
            continue
        cid = stem.upper()
        code = _code(cell)
        if code is None:
            problems.append(Problem(str(sheet), f"{where} {n}: clip {cid}: code {cell!r} is not "
                                                "one of 1-13; skipped"))
            continue
        emotion = CODES[code]
        named = PREFIX.get(ename[:3].lower())
        if cid in AMBIGUOUS:
            problems.append(Problem(str(sheet), f"{where} {n}: clip {cid}: {AMBIGUOUS[cid]}; "
                                                f"code {code} ({emotion}) used", "warning"))
        elif ename and (named is None or emotion not in named):
            problems.append(Problem(str(sheet), f"{where} {n}: clip {cid}: name {ename!r} "
                                                f"contradicts code {code} ({emotion}); code used",
                                    "warning"))
        if cid in seen:
            problems.append(Problem(str(sheet), f"{where} {n}: clip {cid} annotated twice; "
                                                "second row skipped"))
            continue
        seen.add(cid)
        if cid not in files:
            problems.append(Problem(str(root / m.group(1).upper() / f"{cid}.mp4"),
                                    f"annotated in {sheet.name} row {n} but no file; skipped", "warning"))
            continue
        g = gender[:1].upper() if gender[:1].upper() in ("F", "M") else ""
        clips.append(Clip(cid, m.group(1).upper(), emotion, code, g, files[cid], n))
    for stem, p in sorted(files.items()):
        if stem not in seen:
            problems.append(Problem(str(p), "clip not in the annotation spreadsheet; skipped",
                                    "warning"))
    return clips, problems
