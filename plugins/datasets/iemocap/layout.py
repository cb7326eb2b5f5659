"""IEMOCAP: the tree as distributed and how it is read (CORPORA.md section 13).

    IEMOCAP_full_release/Session1/
      dialog/EmoEvaluation/Ses01F_impro01.txt        the labels of every turn
      dialog/transcriptions/Ses01F_impro01.txt       ``<turn> [start-end]: text``
      dialog/avi/DivX/Ses01F_impro01.avi             the dialog's video (both turns)
      sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav   one wav per turn, 16 kHz

EmoEvaluation files are read as latin-1. A summary line, TAB-separated, is
``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]``
(start - end, turn, label, valence/activation/dominance 1-5); the lines after it
are per-evaluator: ``C-E2:<TAB>Neutral;<TAB>()`` (categorical), ``A-E3:...``
(dimensional), ``C-F``/``C-M`` (self-evaluations). ``%`` lines are comments.
AppleDouble ``._*`` files (macOS copies) are skipped everywhere.

The speaker is the session plus **the gender letter of the turn's final field**
(``Ses01F_impro01_M003`` is ``Ses01M``), not the letter in the dialog name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from emobench.dataset import Problem

#: label codes of the summary lines
CODES: dict[str, str] = {"neu": "neutral", "hap": "happiness", "exc": "excited", "sad": "sadness",
                         "ang": "anger", "fru": "frustration", "sur": "surprise", "fea": "fear",
                         "dis": "disgust", "oth": "other", "xxx": "no agreement"}
CLASSES_5: tuple[str, ...] = ("neutral", "happiness", "sadness", "anger", "frustration")
CLASSES_4: tuple[str, ...] = CLASSES_5[:4]  # a prefix: the two tasks share class indices
VIDEO_FPS = 30.0
AUDIO_RATE = 16000
SESSION_RE = re.compile(r"^Session(\d+)$", re.IGNORECASE)
TURN_RE = re.compile(r"^(Ses(\d\d)[FM]_[A-Za-z0-9_]+?)_([FM])(\d{3})$")
SUMMARY_RE = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\t(\S+)\t(\S+)\t\[\s*([\d.]+),\s*"
                        r"([\d.]+),\s*([\d.]+)\s*\]")
EVALUATOR_RE = re.compile(r"^[CA]-(E\d+|F|M):\t")


def labels_of(code: str, merge_excited: bool = True, five: bool = False) -> int | None:
    """The class index of a summary-line code in the 4-class (or 5-class) task, or
    None. ``merge_excited``: ``exc`` counts as happiness (the standard 5,531-turn
    4-class set); without it ``exc`` turns leave the task."""
    name = CODES.get(code)
    if name == "excited":
        name = "happiness" if merge_excited else None
    classes = CLASSES_5 if five else CLASSES_4
    return classes.index(name) if name in classes else None


@dataclass
class Turn:
    id: str
    dialog: str
    session: int
    speaker: str  # Ses01F
    gender: str   # F | M
    code: str
    start: float
    end: float
    vad: tuple[float, float, float]
    wav: Path
    avi: Path
    evaluators: list[str] = field(default_factory=list)
    source: Path | None = None
    line: int = 0


#: how emobench.media.av checks a turn's wav: no video, and turns may be short
WAV_CHECK = {"video": False, "min_seconds": 0.2}


def _visible(paths) -> list[Path]:
    return sorted(p for p in paths if not p.name.startswith("._"))


def parse_evaluation(path: Path, session: int, root: Path) -> tuple[list[Turn], list[Problem]]:
    """The turns of one EmoEvaluation file (latin-1), with problems per line."""
    turns, problems = [], []
    sess = root / path.parents[2].name
    text = path.read_bytes().decode("latin-1")
    current = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("%"):
            continue
        m = SUMMARY_RE.match(line)
        if m:
            start, end, turn, code = float(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
            t = TURN_RE.match(turn)
            if not t:
                problems.append(Problem(str(path), f"line {n}: turn name {turn!r} is not "
                                                   "Ses<nn><F|M>_<dialog>_<F|M><nnn>; skipped"))
                current = None
                continue
            if code not in CODES:
                problems.append(Problem(str(path), f"line {n}: unknown label code {code!r} "
                                                   f"(known: {', '.join(CODES)}); skipped"))
                current = None
                continue
            if int(t.group(2)) != session:
                problems.append(Problem(str(path), f"line {n}: turn {turn} names session "
                                                   f"{int(t.group(2))} inside Session{session}",
                                        "warning"))
            dialog, gender = t.group(1), t.group(3)
            current = Turn(turn, dialog, session, f"Ses{session:02d}{gender}", gender, code,
                           start, end, (float(m.group(5)), float(m.group(6)), float(m.group(7))),
                           sess / "sentences" / "wav" / dialog / f"{turn}.wav",
                           sess / "dialog" / "avi" / "DivX" / f"{dialog}.avi",
                           source=path, line=n)
            turns.append(current)
        elif EVALUATOR_RE.match(line):
            if current is not None and line.startswith("C-E"):
                # C-E2:<TAB>Neutral;<TAB>(): the categories before the comment field
                cats = line.split("\t")[1] if "\t" in line else ""
                current.evaluators.append(cats.strip().rstrip(";"))
        elif line.startswith("["):
            problems.append(Problem(str(path), f"line {n}: summary line not understood: "
                                               f"{line[:60]!r}; skipped"))
            current = None
    return turns, problems


def scan(root: Path) -> tuple[list[Turn], list[Problem]]:
    """Every labelled turn under ``root`` and the problems met (never raises for a bad line)."""
    root = Path(root)
    turns, problems, seen = [], [], {}
    sessions = sorted((d for d in root.iterdir() if d.is_dir() and SESSION_RE.match(d.name)),
                      key=lambda d: int(SESSION_RE.match(d.name).group(1)))
    if not sessions:
        problems.append(Problem(str(root), "no Session1 ... Session5 folders found"))
    for sdir in sessions:
        session = int(SESSION_RE.match(sdir.name).group(1))
        evald = sdir / "dialog" / "EmoEvaluation"
        if not evald.is_dir():
            problems.append(Problem(str(evald), "no EmoEvaluation folder in this session"))
            continue
        for f in _visible(evald.glob("*.txt")):
            got, probs = parse_evaluation(f, session, root)
            problems += probs
            for t in got:
                if t.id in seen:
                    problems.append(Problem(str(f), f"line {t.line}: turn {t.id} already "
                                                    f"labelled in {seen[t.id]}; skipped"))
                    continue
                if not t.wav.is_file():
                    problems.append(Problem(str(t.wav), f"turn {t.id} ({f.name} line {t.line}) "
                                                        "has no wav; skipped", "warning"))
                    continue
                seen[t.id] = f
                turns.append(t)
    return turns, problems
