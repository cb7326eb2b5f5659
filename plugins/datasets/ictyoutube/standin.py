"""Stand-in ICT YouTube tree from the synthetic affect world, in the manifest layout.

``ICT-YouTube/manifest.csv`` and ``videos/vNN.mp4`` (MPEG-4 video, AAC voice in
one MP4). The small scale has the 2011 set's reported make-up (unverified):
47 videos, 13 positive, 12 negative, 22 neutral, 20 women and 27 men, one
speaker per video. A video is a monologue of ``Scale.statements`` statements
back to back, each an ``emobench.sim.voice.talking_clip`` of the reviewer acting
the video's polarity (:data:`POLARITY`: positive happy, negative anger, a critical
reviewer's irritation, neutral neutral); in :data:`P_DISAGREE` of the videos one
modality stays neutral for the whole video (half the face, half the voice). The manifest spells the
labels both ways (words and -1/0/+1) and starts with a comment line.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench.media.av import write_clip
from emobench.media.standin_faces import boxes_from_landmarks
from emobench.sim import World
from emobench.sim.rng import derive
from emobench.sim.voice import talking_clip

from . import layout as L

POLARITY = {"positive": "happy", "neutral": "neutral", "negative": "anger"}
P_DISAGREE = 0.2
AUDIO_RATE = 16000
NUMERIC = {"negative": "-1", "neutral": "0", "positive": "+1"}


@dataclass(frozen=True)
class Scale:
    counts: tuple[int, int, int]  # negative, neutral, positive
    women: int
    statements: int  # talking clips per video
    seconds: float   # of one statement
    fps: float
    frame_size: tuple[int, int]
    jobs: int


SCALES = {
    "tiny": Scale((3, 3, 3), 4, 1, 1.5, 10.0, (128, 96), 1),
    # 3 statements per video: one episode's intensity varies (0.2-0.9); a video's
    # functionals over three are what a 47-item corpus can be learnt from
    "small": Scale((12, 22, 13), 20, 3, 1.2, 10.0, (160, 120), 2),
    "full": Scale((12, 22, 13), 20, 6, 3.0, 30.0, (320, 240), 2),
}


def plan(sc: Scale, seed: int) -> list[tuple[str, str, str]]:
    """[(video id, sentiment, gender)], the sentiments in a seeded order."""
    labels = [s for s, n in zip(L.CLASSES, sc.counts) for _ in range(n)]
    order = derive(seed, "ictyoutube-order").permutation(len(labels))
    n = len(labels)
    return [(f"v{i + 1:02d}", labels[j], "F" if i < sc.women else "M")
            for i, j in enumerate(order)][:n]


def disagreement(seed: int, video: str) -> str | None:
    u = derive(seed, "ictyoutube-disagree", video).random()
    return None if u >= P_DISAGREE else ("face" if u < P_DISAGREE / 2 else "voice")


def sim_emotion(video: str, sentiment: str) -> str:
    return POLARITY[sentiment]


def _write_video(path: Path, seed: int, video: str, sentiment: str, sc: Scale) -> None:
    world = World(seed)
    person = world.subject(int(video[1:]), {"corpus": "ictyoutube"})
    quiet = disagreement(seed, video)
    e = sim_emotion(video, sentiment)
    frames, waves, lms = [], [], []
    for k in range(sc.statements):
        f, w, _, lm = talking_clip(world, person, e, sc.seconds, sc.fps, size=sc.frame_size,
                               sample_rate=AUDIO_RATE, rng=10 * int(video[1:]) + k,
                               face_emotion="neutral" if quiet == "face" else e,
                               voice_emotion="neutral" if quiet == "voice" else e,
                               landmarks=True)
        frames.append(f)
        waves.append(w)
        lms.append(lm)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_clip(path, np.concatenate(frames), sc.fps, np.concatenate(waves), AUDIO_RATE,
               face_boxes=boxes_from_landmarks(np.concatenate(lms)))


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    if scale not in SCALES:
        raise ValueError(f"ictyoutube stand-in: unknown scale {scale!r} "
                         f"(known: {', '.join(SCALES)})")
    sc = SCALES[scale]
    out = Path(out)
    shutil.rmtree(out / "videos", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    rows = plan(sc, seed)
    lines = ["# ICT YouTube manifest (docs/corpora/ictyoutube.md); stand-in from emobench.sim",
             "video,sentiment,gender"]
    for k, (vid, s, g) in enumerate(rows):
        lines.append(f"{vid},{NUMERIC[s] if k % 4 == 3 else s},{g}")
    (out / L.MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")
    jobs = [(out / "videos" / f"{vid}.mp4", seed, vid, s, sc) for vid, s, _ in rows]
    if sc.jobs > 1:
        from joblib import Parallel, delayed
        Parallel(n_jobs=sc.jobs)(delayed(_write_video)(*j) for j in jobs)
    else:
        for j in jobs:
            _write_video(*j)
    quiet = [disagreement(seed, vid) for vid, _, _ in rows]
    return {
        "scale": scale, "seed": seed,
        "ceilings": {"sentiment-3": {"exact": "the label is the generator's class of the clip"}},
        "counts": {"recordings": len(rows), "subjects": len(rows),
                   "per_sentiment": {s: sum(r[1] == s for r in rows) for s in L.CLASSES},
                   "women": sum(r[2] == "F" for r in rows),
                   "disagreeing_videos": sum(q is not None for q in quiet),
                   "face_neutral": quiet.count("face"), "voice_neutral": quiet.count("voice")},
        "p_disagree": P_DISAGREE, "statements": sc.statements, "seconds": sc.seconds,
        "fps": sc.fps,
        "frame_size": list(sc.frame_size), "audio_rate": AUDIO_RATE,
    }
