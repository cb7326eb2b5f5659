"""Stand-in RML tree from the synthetic affect world, in the real layout.

``s<N>/<language>/<code><k>.avi`` (two speakers in three without the language
level, as in the distributed copy, plus ``Thumbs.db`` files), each clip an AVI
with MPEG-4 video and its 16-bit PCM voice at RML's 22,050 Hz in the same file.
The face and the voice act the clip's emotion (``emobench.sim.voice.talking_clip``,
voice prosody: pitch, rate, level, spectral tilt); in :data:`P_DISAGREE` of the
clips one modality stays neutral (half the face, half the voice), so the two
disagree and fusion has something to gain.
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


@dataclass(frozen=True)
class Scale:
    speakers: int
    per_emotion: int
    seconds: float
    fps: float
    frame_size: tuple[int, int]  # (width, height)
    jobs: int


SCALES = {
    "tiny": Scale(4, 1, 1.2, 10.0, (128, 96), 1),
    # sized for the default run's budget (docs/corpora/rml.md: write, feature and run times)
    "small": Scale(10, 2, 1.2, 10.0, (160, 120), 2),
    "full": Scale(8, 15, 4.0, 30.0, (320, 240), 2),
}


def disagreement(seed: int, speaker: int, emotion: str, k: int) -> str | None:
    """None (face and voice agree), ``"face"`` or ``"voice"``: the modality left neutral."""
    u = derive(seed, "rml-disagree", speaker, emotion, k).random()
    return None if u >= P_DISAGREE else ("face" if u < P_DISAGREE / 2 else "voice")


def _write_clip(path: Path, seed: int, speaker: int, emotion: str, k: int, sc: Scale) -> None:
    world = World(seed)
    subject = world.subject(speaker, {"corpus": "rml"})
    quiet = disagreement(seed, speaker, emotion, k)
    e = SIM_EMOTION[emotion]
    frames, wave, _, lms = talking_clip(
        world, subject, e, sc.seconds, sc.fps, size=sc.frame_size, sample_rate=L.AUDIO_RATE,
        rng=100 * L.CLASSES.index(emotion) + k,
        face_emotion="neutral" if quiet == "face" else e,
        voice_emotion="neutral" if quiet == "voice" else e, landmarks=True)
    write_av_clip(path, frames, sc.fps, wave, L.AUDIO_RATE,
                  face_boxes=boxes_from_landmarks(lms))  # the stand-in's face sidecar


def _plan(sc: Scale, seed: int):
    """(relative folder, file name, speaker index, emotion, k, disagreement) per clip."""
    rows = []
    for i in range(sc.speakers):
        speaker = f"s{i + 1}"
        # every third speaker has no language level, as s4 and others in the real copy
        folder = speaker if i % 3 == 1 else f"{speaker}/{L.LANGUAGES[i % len(L.LANGUAGES)]}"
        for emotion in L.CLASSES:
            code = next(c for c, e in L.CODES.items() if e == emotion)
            for k in range(sc.per_emotion):
                rows.append((folder, f"{code}{k + 1}.avi", i, emotion, k,
                             disagreement(seed, i, emotion, k)))
    return rows


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    if scale not in SCALES:
        raise ValueError(f"rml stand-in: unknown scale {scale!r} (known: {', '.join(SCALES)})")
    sc = SCALES[scale]
    out = Path(out)
    for d in out.glob("s*"):
        if d.is_dir():
            shutil.rmtree(d)
    out.mkdir(parents=True, exist_ok=True)
    rows = _plan(sc, seed)
    for folder in sorted({r[0] for r in rows}):
        (out / folder).mkdir(parents=True, exist_ok=True)
        (out / folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 thumbnail cache\n")
    jobs = [(out / folder / name, seed, i, emotion, k, sc)
            for folder, name, i, emotion, k, _ in rows]
    if sc.jobs > 1:
        from joblib import Parallel, delayed
        Parallel(n_jobs=sc.jobs)(delayed(_write_clip)(*j) for j in jobs)
    else:
        for j in jobs:
            _write_clip(*j)
    n_dis = sum(r[5] is not None for r in rows)
    return {
        "scale": scale, "seed": seed,
        # both modalities together carry the emotion in every clip; episode
        # intensities vary (0.2-0.9), so this is an upper bound, not a tight one
        "ceilings": {"emotion-6": {"exact": "the label is the generator's class of the clip"}},
        "counts": {"recordings": len(rows), "subjects": sc.speakers,
                   "per_emotion": {e: sc.speakers * sc.per_emotion for e in L.CLASSES},
                   "without_language_level": sum(1 for i in range(sc.speakers) if i % 3 == 1),
                   "disagreeing_clips": n_dis,
                   "face_neutral": sum(r[5] == "face" for r in rows),
                   "voice_neutral": sum(r[5] == "voice" for r in rows)},
        "p_disagree": P_DISAGREE, "seconds": sc.seconds, "fps": sc.fps,
        "frame_size": list(sc.frame_size), "audio_rate": L.AUDIO_RATE,
    }
