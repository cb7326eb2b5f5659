"""Stand-in BAUM-1s tree from the synthetic affect world, in the real layout.

``BAUM1s_MP4 - All/Snnn/Snnn_kkk.mp4`` (MPEG-4 video with AAC audio in one MP4)
and ``Annotations_BAUM1s.xlsx`` beside the speaker folders, with the columns clip
name, emotion name, code, gender. Every speaker has one clip of each basic
emotion plus one of the other seven states in turn (neutral, boredom, contempt,
unsure, thinking, concentrating, bothered), in a shuffled order, so clip numbers
say nothing about labels. The spreadsheet carries the real copy's pitfalls: the
names are 3-letter prefixes (``con`` for both contempt and concentrating), and
``S015_007`` is written ``hap`` with code 9 (neutral). The states the synthetic
world has no expression for are acted with the nearest one (:data:`SIM`): the
13-class task's extra classes are confusable with basic ones by design. In
:data:`P_DISAGREE` of the clips one modality stays neutral (half the face, half
the voice), so fusion has something to gain.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from emobench.media.av import write_clip
from emobench.media.standin_faces import boxes_from_landmarks
from emobench.sim import World
from emobench.sim.rng import derive
from emobench.sim.voice import talking_clip

from . import layout as L

SIM = {"anger": "anger", "disgust": "disgust", "fear": "fear", "happiness": "happy",
       "sadness": "sad", "surprise": "surprise", "neutral": "neutral", "boredom": "sad",
       "contempt": "disgust", "unsure": "fear", "thinking": "neutral", "concentrating": "neutral",
       "bothered": "anger"}
OTHERS = ("neutral", "boredom", "contempt", "unsure", "thinking", "concentrating", "bothered")
P_DISAGREE = 0.2
AUDIO_RATE = 16000
CODE_OF = {e: k for k, e in L.CODES.items()}


@dataclass(frozen=True)
class Scale:
    speakers: int
    others: int  # clips of the non-basic states per speaker
    seconds: float
    fps: float
    frame_size: tuple[int, int]
    jobs: int


SCALES = {
    "tiny": Scale(6, 1, 1.2, 10.0, (128, 96), 1),
    # 30 speakers: each of the 3 speakers-group folds tests 10 of them
    "small": Scale(30, 1, 1.2, 10.0, (160, 120), 2),
    "full": Scale(31, 7, 3.0, 30.0, (320, 240), 2),
}


def disagreement(seed: int, clip: str) -> str | None:
    u = derive(seed, "baum1s-disagree", clip).random()
    return None if u >= P_DISAGREE else ("face" if u < P_DISAGREE / 2 else "voice")


def plan(sc: Scale, seed: int) -> list[tuple[str, str, str]]:
    """[(clip id, emotion, gender)] of every clip."""
    rows = []
    for i in range(1, sc.speakers + 1):
        states = list(L.SIX_BASIC) + [OTHERS[(i - 1 + j) % len(OTHERS)] for j in range(sc.others)]
        order = derive(seed, "baum1s-order", i).permutation(len(states))
        gender = "Female" if i % 3 == 0 else "Male"
        for k, j in enumerate(order, 1):
            rows.append((f"S{i:03d}_{k:03d}", states[j], gender))
    return rows


def _write_clip(path: Path, seed: int, clip: str, emotion: str, sc: Scale) -> None:
    world = World(seed)
    person = world.subject(int(clip[1:4]), {"corpus": "baum1s"})
    quiet = disagreement(seed, clip)
    e = SIM[emotion]
    frames, wave, _, lms = talking_clip(world, person, e, sc.seconds, sc.fps, size=sc.frame_size,
                                   sample_rate=AUDIO_RATE, rng=int(clip[5:]) + 50 * L.CLASSES.index(emotion),
                                   face_emotion="neutral" if quiet == "face" else e,
                                   voice_emotion="neutral" if quiet == "voice" else e,
                                   landmarks=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_clip(path, frames, sc.fps, wave, AUDIO_RATE, face_boxes=boxes_from_landmarks(lms))


def sheet_rows(rows) -> list[tuple[str, str, int, str]]:
    out = []
    for clip, emotion, gender in rows:
        code = CODE_OF[emotion]
        name = emotion[:3]
        if clip == "S015_007":  # the ambiguous clip of the real copy: name and code disagree
            name, code = "hap", CODE_OF["neutral"]
        out.append((clip, name, code, gender))
    return out


def write_spreadsheet(path: Path, rows) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "BAUM1s"
    ws.append(["Clip Name", "Emotion", "Code", "Gender"])
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    _fix_dates(path)


FIXED = "2017-01-01T00:00:00Z"


def _fix_dates(path: Path) -> None:
    """Rewrite the workbook with fixed timestamps (the document's created/modified
    dates and every zip member's), so one input gives byte-identical files."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" +
                              FIXED.encode(), data)
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data,
                       compress_type=zipfile.ZIP_DEFLATED)


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    if scale not in SCALES:
        raise ValueError(f"baum1s stand-in: unknown scale {scale!r} (known: {', '.join(SCALES)})")
    sc = SCALES[scale]
    out = Path(out)
    for d in out.glob("S[0-9][0-9][0-9]"):
        shutil.rmtree(d, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    rows = plan(sc, seed)
    labelled = sheet_rows(rows)
    write_spreadsheet(out / L.SPREADSHEET, labelled)
    jobs = [(out / clip[:4] / f"{clip}.mp4", seed, clip, emotion, sc) for clip, emotion, _ in rows]
    if sc.jobs > 1:
        from joblib import Parallel, delayed
        Parallel(n_jobs=sc.jobs)(delayed(_write_clip)(*j) for j in jobs)
    else:
        for j in jobs:
            _write_clip(*j)
    coded = [L.CODES[code] for _, _, code, _ in labelled]  # what the loader reads
    quiet = [disagreement(seed, clip) for clip, _, _ in rows]
    return {
        "scale": scale, "seed": seed,
        # both modalities carry the basic emotions; the extra states share renderings
        # with basic ones (SIM), so only the 6-basic reference is meaningful
        "ceilings": {"emotion-6basic": {"exact": "the label is the generator's class of the clip"},
                     "emotion-13": {"none": "the extra states share renderings with basic ones; "
                                            "no oracle reference is computed"}},
        "counts": {"recordings": len(rows), "subjects": sc.speakers,
                   "six_basic": sum(e in L.SIX_BASIC for e in coded),
                   "per_class": {e: coded.count(e) for e in L.CLASSES},
                   "disagreeing_clips": sum(q is not None for q in quiet),
                   "face_neutral": quiet.count("face"), "voice_neutral": quiet.count("voice")},
        "p_disagree": P_DISAGREE, "seconds": sc.seconds, "fps": sc.fps,
        "frame_size": list(sc.frame_size), "audio_rate": AUDIO_RATE,
    }
