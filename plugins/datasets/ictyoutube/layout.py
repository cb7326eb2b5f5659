"""ICT YouTube opinion dataset (Morency, Mihalcea, Doshi, ICMI 2011): how a copy is read.

The official layout and label-file format are not documented publicly
(CORPORA.md section 9), so this plugin reads **a simple manifest** that any copy
can be given (docs/corpora/ictyoutube.md)::

    ICT-YouTube/manifest.csv        video,sentiment[,speaker][,gender]
    ICT-YouTube/videos/<video>.mp4  the video (with its audio track)

* ``manifest.csv``: UTF-8 (a BOM is accepted), comma-separated, a header row
  naming at least ``video`` and ``sentiment``; lines starting with ``#`` are
  comments. ``sentiment`` is ``negative``/``neutral``/``positive`` (any case) or
  ``-1``/``0``/``+1``. ``speaker`` (optional) names the person; without it each
  video is its own speaker (one reviewer per video, as in the 2011 set).
  ``gender`` (optional) is ``F``/``M`` (or female/male).
* The video is found by its file stem anywhere under the folder, with any of
  :data:`VIDEO_SUFFIXES`; AppleDouble ``._*`` files are ignored.

Not to be confused with ICT-MMMO (Wollmer et al. 2013, movie reviews, 5-level
opinion), a different corpus.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from emobench.dataset import Problem

MANIFEST = "manifest.csv"
CLASSES: tuple[str, ...] = ("negative", "neutral", "positive")
SPELLINGS: dict[str, str] = {"negative": "negative", "neg": "negative", "-1": "negative",
                             "neutral": "neutral", "neu": "neutral", "0": "neutral",
                             "positive": "positive", "pos": "positive", "1": "positive",
                             "+1": "positive"}
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".flv", ".mov")
VIDEO_FPS = 30.0
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Video:
    id: str
    speaker: str
    sentiment: str
    gender: str
    path: Path
    line: int


def _gender(x: str) -> str:
    x = x.strip().lower()
    return {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M",
            "man": "M"}.get(x, "")


def scan(root: Path) -> tuple[list[Video], list[Problem]]:
    """Every manifest row that has a video, and the problems met (never raises)."""
    root = Path(root)
    manifest = root / MANIFEST
    if not manifest.is_file():
        return [], [Problem(str(manifest), "manifest not found (docs/corpora/ictyoutube.md "
                                           "describes it)")]
    try:
        text = manifest.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Problem(str(manifest), f"not UTF-8 ({exc})")]
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), 1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return [], [Problem(str(manifest), "manifest has no header row")]
    reader = csv.reader(io.StringIO("\n".join(ln for _, ln in lines)))
    rows = list(reader)
    header = [h.strip().lower() for h in rows[0]]
    problems: list[Problem] = []
    missing = [c for c in ("video", "sentiment") if c not in header]
    if missing:
        return [], [Problem(str(manifest), f"line {lines[0][0]}: header lacks column(s) "
                                           f"{', '.join(missing)} (has: {', '.join(header)})")]
    col = {h: i for i, h in enumerate(header)}
    files: dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("._"):
            if p.stem in files:
                problems.append(Problem(str(p), f"second file for video {p.stem} (first: "
                                                f"{files[p.stem]}); skipped", "warning"))
                continue
            files[p.stem] = p
    videos, seen, listed = [], set(), set()
    for (n, _), row in zip(lines[1:], rows[1:]):
        get = lambda c: row[col[c]].strip() if c in col and col[c] < len(row) else ""  # noqa: E731
        vid, raw = get("video"), get("sentiment")
        vid = Path(vid).stem if Path(vid).suffix.lower() in VIDEO_SUFFIXES else vid
        if not ID_RE.match(vid):
            problems.append(Problem(str(manifest), f"line {n}: video name {vid!r} is empty or "
                                                   "has characters outside [A-Za-z0-9_.-]; skipped"))
            continue
        listed.add(vid)
        sentiment = SPELLINGS.get(raw.lower())
        if sentiment is None:
            problems.append(Problem(str(manifest), f"line {n}: video {vid}: sentiment {raw!r} is "
                                                   "not negative/neutral/positive or -1/0/+1; "
                                                   "skipped"))
            continue
        if vid in seen:
            problems.append(Problem(str(manifest), f"line {n}: video {vid} listed twice; "
                                                   "skipped"))
            continue
        seen.add(vid)
        if vid not in files:
            problems.append(Problem(str(root / "videos" / f"{vid}.mp4"),
                                    f"listed in {MANIFEST} line {n} but no video file; skipped",
                                    "warning"))
            continue
        videos.append(Video(vid, get("speaker") or vid, sentiment, _gender(get("gender")),
                            files[vid], n))
    for stem, p in sorted(files.items()):
        if stem not in listed:
            problems.append(Problem(str(p), f"video not in {MANIFEST}; skipped", "warning"))
    return videos, problems
