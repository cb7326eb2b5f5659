"""Stand-in eNTERFACE'05 tree from the synthetic affect world, in the real layout
with its documented faults.

``subject N/<emotion>/sentence K/sN_<code>_K.avi``: AVI files with MPEG-4 video and
the voice as 16-bit PCM at 48 kHz in the same file. Faults written on purpose:
subject 11's files are named ``s12_*``, subject 3's are ``s_3_*`` for half the
emotions, subject 16's surprise sentence 3 is ``s16_su_3avi.avi``, subjects 1 and 5
have one more folder level inside each sentence folder, and subject 6 lacks two
emotions (the imbalance the usual exclusion is about). The face and the voice act
the folder's emotion (``emobench.sim.voice.talking_clip``); in :data:`P_DISAGREE`
of the clips one modality stays neutral (half the face, half the voice).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from emobench.media.audio import write_av_clip
from emobench.media.standin_faces import boxes_from_landmarks
from emobench.sim import World
from emobench.sim.rng import derive
from emobench.sim.voice import talking_clip

from . import layout as L

SIM_EMOTION = {"anger": "anger", "disgust": "disgust", "fear": "fear", "happiness": "happy",
               "sadness": "sad", "surprise": "surprise"}
P_DISAGREE = 0.2
DEEPER = (1, 5)                      # subjects with an extra folder level
S6_MISSING = ("fear", "surprise")    # subject 6's imbalance


@dataclass(frozen=True)
class Scale:
    subjects: tuple[int, ...]
    sentences: tuple[int, ...]
    seconds: float
    fps: float
    frame_size: tuple[int, int]  # (width, height)
    jobs: int


SCALES = {
    "tiny": Scale((1, 3, 6, 11, 16), (3,), 1.2, 10.0, (128, 96), 1),
    # 20 subjects: the 10-fold protocol's 3 default folds test about 6 of them; one
    # sentence (3, which carries the s16_su_3avi fault) keeps it in the time budget
    "small": Scale(tuple(range(1, 21)), (3,), 1.2, 10.0, (160, 120), 2),
    "full": Scale(tuple(range(1, 45)), (1, 2, 3, 4, 5), 3.0, 25.0, (360, 288), 2),
}


def disagreement(seed: int, subject: int, emotion: str, sentence: int) -> str | None:
    """None (face and voice agree), ``"face"`` or ``"voice"``: the modality left neutral."""
    u = derive(seed, "enterface-disagree", subject, emotion, sentence).random()
    return None if u >= P_DISAGREE else ("face" if u < P_DISAGREE / 2 else "voice")


def file_name(subject: int, emotion: str, sentence: int) -> str:
    code = next(c for c, e in L.CODES.items() if e == emotion)
    if subject == 11:
        return f"s12_{code}_{sentence}.avi"
    if subject == 3 and L.CLASSES.index(emotion) % 2 == 0:
        return f"s_3_{code}_{sentence}.avi"
    if subject == 16 and emotion == "surprise" and sentence == 3:
        return "s16_su_3avi.avi"
    return f"s{subject}_{code}_{sentence}.avi"


def relative_path(subject: int, emotion: str, sentence: int) -> Path:
    name = file_name(subject, emotion, sentence)
    folder = Path(f"subject {subject}") / emotion / f"sentence {sentence}"
    if subject in DEEPER:
        folder = folder / Path(name).stem
    return folder / name


def _write_clip(path: Path, seed: int, subject: int, emotion: str, sentence: int,
                sc: Scale) -> None:
    world = World(seed)
    person = world.subject(subject, {"corpus": "enterface"})
    quiet = disagreement(seed, subject, emotion, sentence)
    e = SIM_EMOTION[emotion]
    frames, wave, _, lms = talking_clip(
        world, person, e, sc.seconds, sc.fps, size=sc.frame_size, sample_rate=L.AUDIO_RATE,
        rng=100 * L.CLASSES.index(emotion) + sentence,
        face_emotion="neutral" if quiet == "face" else e,
        voice_emotion="neutral" if quiet == "voice" else e, landmarks=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_av_clip(path, frames, sc.fps, wave, L.AUDIO_RATE,
                  face_boxes=boxes_from_landmarks(lms))  # the stand-in's face sidecar


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    if scale not in SCALES:
        raise ValueError(f"enterface stand-in: unknown scale {scale!r} "
                         f"(known: {', '.join(SCALES)})")
    sc = SCALES[scale]
    out = Path(out)
    for d in out.glob("subject *"):
        shutil.rmtree(d, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    rows = [(s, e, k) for s in sc.subjects for e in L.CLASSES for k in sc.sentences
            if not (s == 6 and e in S6_MISSING)]
    jobs = [(out / relative_path(s, e, k), seed, s, e, k, sc) for s, e, k in rows]
    if sc.jobs > 1:
        from joblib import Parallel, delayed
        Parallel(n_jobs=sc.jobs)(delayed(_write_clip)(*j) for j in jobs)
    else:
        for j in jobs:
            _write_clip(*j)
    quiet = [disagreement(seed, s, e, k) for s, e, k in rows]
    return {
        "scale": scale, "seed": seed,
        # both modalities together carry the emotion in every clip; episode
        # intensities vary (0.2-0.9), so this is an upper bound, not a tight one
        "ceilings": {"emotion-6": {"exact": "the label is the generator's class of the clip"}},
        "counts": {"recordings": len(rows), "subjects": len(sc.subjects),
                   "per_emotion": {e: sum(r[1] == e for r in rows) for e in L.CLASSES},
                   "subject_6_clips": sum(r[0] == 6 for r in rows),
                   "disagreeing_clips": sum(q is not None for q in quiet),
                   "face_neutral": quiet.count("face"), "voice_neutral": quiet.count("voice")},
        "p_disagree": P_DISAGREE, "seconds": sc.seconds, "fps": sc.fps,
        "frame_size": list(sc.frame_size), "audio_rate": L.AUDIO_RATE,
    }
