"""eNTERFACE'05 audio-visual emotion database: the tree as distributed and how it is read.

    enterface database/subject 1/anger/sentence 1/s1_an_1.avi

Emotion folders anger, disgust, fear, happiness, sadness, surprise (file codes an,
di, fe, ha, sa, su), five sentences each. The loader trusts the folders, never the
file names, because copies carry these faults (CORPORA.md section 6):

* folder names contain spaces (``subject 1``, ``sentence 1``);
* the depth is uneven: some sentence folders hold one more sub-folder level;
* subject 11's files are named ``s12_*``;
* one file is ``s16_su_3avi.avi`` (no dot before ``avi``);
* some of subject 3's files are ``s_3_*``.

Subject and emotion come from the ``subject N`` and emotion folders, the sentence
from the ``sentence K`` folder (else the file name). A file name that disagrees
with its folders is reported by ``doctor`` as a warning, never trusted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from emobench.dataset import Problem

CLASSES: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
CODES: dict[str, str] = {"an": "anger", "di": "disgust", "fe": "fear", "ha": "happiness",
                         "sa": "sadness", "su": "surprise"}
SUBJECT_RE = re.compile(r"^subject\s*(\d+)$", re.IGNORECASE)
SENTENCE_RE = re.compile(r"^sentence\s*(\d+)$", re.IGNORECASE)
# s1_an_1, s_3_an_1, s16_su_3avi: subject, code, sentence
FILE_RE = re.compile(r"^s_?(\d+)_([a-z]{2})_(\d+)", re.IGNORECASE)
VIDEO_FPS = 25.0
AUDIO_RATE = 48000
# The usual exclusion (ertk's default subset ``no_s6``, "due to imbalance").
EXCLUDED_BY_CONVENTION: tuple[str, ...] = ("s6",)


@dataclass(frozen=True)
class Clip:
    id: str
    subject: str
    emotion: str
    sentence: int | None
    path: Path


def scan(root: Path) -> tuple[list[Clip], list[Problem]]:
    """Every clip under ``root`` and the problems met (never raises for bad names)."""
    root = Path(root)
    clips, problems, seen = [], [], {}
    subjects = sorted((d for d in root.iterdir() if d.is_dir() and SUBJECT_RE.match(d.name)),
                      key=lambda d: int(SUBJECT_RE.match(d.name).group(1)))
    if not subjects:
        problems.append(Problem(str(root), "no 'subject N' folders found"))
    for sdir in subjects:
        number = int(SUBJECT_RE.match(sdir.name).group(1))
        subject = f"s{number}"
        for dirpath, dirnames, filenames in os.walk(sdir):
            dirnames.sort()
            for name in sorted(filenames):
                p = Path(dirpath) / name
                if not name.lower().endswith(".avi") or name.startswith("._"):
                    if name.lower() not in ("thumbs.db", ".ds_store"):
                        problems.append(Problem(str(p), "not an .avi clip; skipped", "warning"))
                    continue
                parts = [x.lower() for x in p.relative_to(sdir).parts[:-1]]
                emotions = [x for x in parts if x in CLASSES]
                if len(emotions) != 1:
                    problems.append(Problem(str(p), "not inside exactly one emotion folder "
                                                    f"({', '.join(CLASSES)}); skipped"))
                    continue
                emotion = emotions[0]
                sent = [int(SENTENCE_RE.match(x).group(1)) for x in parts if SENTENCE_RE.match(x)]
                m = FILE_RE.match(p.stem)
                sentence = sent[0] if sent else (int(m.group(3)) if m else None)
                if m and (int(m.group(1)) != number or CODES.get(m.group(2).lower()) != emotion):
                    problems.append(Problem(str(p), f"file name says subject {m.group(1)} / "
                                                    f"{m.group(2)}; its folders say {subject} / "
                                                    f"{emotion} (folders used)", "warning"))
                cid = f"{subject}-{emotion}-{sentence if sentence is not None else p.stem}"
                if cid in seen:
                    cid = f"{cid}-{p.stem.lower()}"
                if cid in seen:
                    problems.append(Problem(str(p), f"same clip as {seen[cid]}; skipped"))
                    continue
                seen[cid] = p
                clips.append(Clip(cid, subject, emotion, sentence, p))
    return clips, problems
