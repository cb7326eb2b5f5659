"""A CK+ stand-in from the synthetic world: posed sequences from neutral to apex.

Written unzipped, as unzipping the four archives leaves it: the emotion part
doubled (``Emotion_labels/Emotion/``), gray 8-bit PNG frames, emotion files on
the peak frame of the labelled sequences only (one in four sequences carries
none), FACS rows and landmarks in the corpus's scientific notation, and a
``.DS_Store`` the loader must skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from emobench.sim import AU_INDEX, AU_NAMES, World, landmarks, make_background, render_face
from emobench.sim.rng import derive

from . import layout as L

GENERATOR_VERSION = 1  # = CkPlus.standin_version
SIZE = 64
CLIP_S = 2.0
#: scale -> (subjects, sequences per subject, frames per sequence)
SCALES = {"tiny": (12, 3, 6), "small": (40, 4, 8), "full": (123, 5, 12)}
SIM_NAME = {"anger": "anger", "disgust": "disgust", "fear": "fear", "happiness": "happy",
            "sadness": "sad", "surprise": "surprise"}
# emobench.sim has no contempt prototype: a one-sided lip-corner tightener (AU14) with a
# trace of AU12, after the CK+ coding of contempt.
CONTEMPT = {"AU14": 1.0, "AU12": 0.3}
UNLABELLED_EVERY = 4  # one sequence in four (staggered over subjects) has no emotion file


def _contempt_aus(world, subject, n, rng):
    env = _apex_clip(world, subject, "happy", n, rng)[:, AU_INDEX["AU12"]]
    env = env / max(float(env.max()), 1e-6)
    aus = np.zeros((n, len(AU_NAMES)))
    for au, w in CONTEMPT.items():
        aus[:, AU_INDEX[au]] = w * env * 0.8
    return aus


def _apex_clip(world, subject, emotion, n, rng):
    """n frames evenly spaced over a 2 s neutral-to-apex clip (CK+ sequences are short
    and end at the apex; sampling a longer clip keeps the onset smooth)."""
    aus = world.episode_clip(subject, emotion, CLIP_S, 25.0, rng=rng, end_at_apex=True).aus
    return aus[np.linspace(0, len(aus) - 1, n).round().astype(int)]


def _write_subject(root: Path, seed: int, si: int, n_seq: int, n_frames: int) -> list[dict]:
    world = World(seed)
    subject = world.subject(si, {"corpus": "ckplus"})
    r = derive(seed, "ckplus-standin", si)
    sid = f"S{si + 5:03d}"
    out = []
    for k in range(n_seq):
        cls = L.CODES[1 + (si * n_seq + k) % 7]
        seq = f"{k + 1:03d}"
        if cls == "contempt":
            aus = _contempt_aus(world, subject, n_frames, k)
        else:
            aus = _apex_clip(world, subject, SIM_NAME[cls], n_frames, k)
        aus = aus - aus[0]  # CK+ sequences start from a neutral face
        img_dir = root / "cohn-kanade-images" / sid / seq
        lm_dir = root / "Landmarks" / sid / seq
        img_dir.mkdir(parents=True, exist_ok=True)
        lm_dir.mkdir(parents=True, exist_ok=True)
        background = make_background(SIZE, r, crop=True)  # one fixed camera per sequence
        for j in range(n_frames):
            stem = f"{sid}_{seq}_{j + 1:08d}"
            img = render_face(subject, np.clip(aus[j], 0, None), size=SIZE, crop=True, rng=r,
                              background=background)
            cv2.imwrite(str(img_dir / f"{stem}.png"), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
            pts = landmarks(subject, np.clip(aus[j], 0, None), size=SIZE, crop=True)
            np.savetxt(lm_dir / f"{stem}_landmarks.txt", pts, fmt="   %.7e")
        peak = f"{sid}_{seq}_{n_frames:08d}"
        facs_dir = root / "FACS" / sid / seq
        facs_dir.mkdir(parents=True, exist_ok=True)
        coded = [(int(name[2:]), 0.0) for name in AU_NAMES
                 if name[2:].isdigit() and aus[-1, AU_INDEX[name]] > 0.15]
        np.savetxt(facs_dir / f"{peak}_facs.txt", np.array(coded or [(0, 0.0)], float), fmt="   %.7e")
        labelled = (si + k) % UNLABELLED_EVERY != UNLABELLED_EVERY - 1
        if labelled:
            emo_dir = root / "Emotion_labels" / "Emotion" / sid / seq
            emo_dir.mkdir(parents=True, exist_ok=True)
            (emo_dir / f"{peak}_emotion.txt").write_text(f"   {float(L.CODES.index(cls)):.7e}\n")
        out.append({"id": f"{sid}_{seq}", "class": cls if labelled else None})
    (root / "cohn-kanade-images" / sid / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return out


def write_standin(out, scale: str = "small", seed: int = 0) -> dict:
    from joblib import Parallel, delayed

    if scale not in SCALES:
        raise ValueError(f"ckplus: unknown stand-in scale {scale!r} (choose from {', '.join(SCALES)})")
    n_sub, n_seq, n_frames = SCALES[scale]
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    # worker start-up (imports) costs more than a few hundred renders
    jobs = 1 if n_sub * n_seq * n_frames < 600 else min(2, os.cpu_count() or 1)
    done = Parallel(n_jobs=jobs)(
        delayed(_write_subject)(root, seed, si, n_seq, n_frames) for si in range(n_sub))
    seqs = [s for subject in done for s in subject]
    labelled = [s for s in seqs if s["class"]]
    # the loader adds one neutral recording per subject with a labelled sequence (emotion8)
    neutral = len({s["id"].rsplit("_", 1)[0] for s in labelled})
    return {"generator": "emobench.sim", "generator_version": GENERATOR_VERSION,
            "ceilings": {t: {"exact": "the label is the generator's class of the sequence"}
                         for t in ("emotion7", "emotion6", "emotion8")},
            "counts": {"subjects": n_sub, "recordings": len(seqs) + neutral, "sequences": len(seqs),
                       "labelled": len(labelled), "neutral": neutral,
                       "frames": len(seqs) * n_frames}}
