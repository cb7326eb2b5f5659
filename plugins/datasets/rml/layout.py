"""RML emotion database (Ryerson): the tree as distributed and how it is read.

    RML_Dataset/s1/<language>/<emo>*.avi      most speakers: a language level
    RML_Dataset/s4/<emo>*.avi                 some speakers: the clips sit directly in sN/

The emotion is the first two letters of the file name (an, di, fe, ha, sa, su);
``Thumbs.db`` and other non-video files are skipped. Clips are AVI with the
audio in the same file (22,050 Hz mono in the original). See docs/corpora/rml.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emobench.dataset import Problem

CLASSES: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
CODES: dict[str, str] = {"an": "anger", "di": "disgust", "fe": "fear", "ha": "happiness",
                         "sa": "sadness", "su": "surprise"}
LANGUAGES: tuple[str, ...] = ("english", "mandarin", "urdu", "punjabi", "persian", "italian")
VIDEO_SUFFIXES = (".avi",)
SPEAKER_RE = re.compile(r"^s(\d+)$", re.IGNORECASE)
IGNORED = {"thumbs.db", ".ds_store", "desktop.ini"}
VIDEO_FPS = 30.0
AUDIO_RATE = 22050


@dataclass(frozen=True)
class Clip:
    id: str
    speaker: str
    language: str | None
    emotion: str
    path: Path


def _is_video(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("._")


def scan(root: Path) -> tuple[list[Clip], list[Problem]]:
    """Every clip under ``root`` with the problems met (never raises for bad names)."""
    root = Path(root)
    clips, problems, seen = [], [], {}
    speakers = sorted((d for d in root.iterdir() if d.is_dir() and SPEAKER_RE.match(d.name)),
                      key=lambda d: int(SPEAKER_RE.match(d.name).group(1)))
    if not speakers:
        problems.append(Problem(str(root), "no speaker folders s1, s2, ... found"))
    for spk in speakers:
        speaker = spk.name.lower()
        places = [(None, spk)] + [(d.name.lower(), d) for d in sorted(spk.iterdir()) if d.is_dir()]
        for language, folder in places:
            for p in sorted(folder.iterdir()):
                if p.is_dir() or p.name.lower() in IGNORED:
                    continue
                if not _is_video(p):
                    problems.append(Problem(str(p), "not an .avi clip; skipped", "warning"))
                    continue
                emotion = CODES.get(p.name[:2].lower())
                if emotion is None:
                    problems.append(Problem(str(p), f"first two letters {p.name[:2]!r} are no "
                                                    f"emotion code ({', '.join(CODES)}); skipped",
                                            "warning"))
                    continue
                if language is not None and language not in LANGUAGES:
                    problems.append(Problem(str(folder), f"language folder {folder.name!r} is "
                                                         "not one of the six documented", "warning"))
                cid = "-".join(x for x in (speaker, language, p.stem.lower()) if x)
                if cid in seen:
                    problems.append(Problem(str(p), f"same clip id {cid!r} as {seen[cid]}"))
                    continue
                seen[cid] = p
                clips.append(Clip(cid, speaker, language, emotion, p))
    return clips, problems
