"""An EMER stand-in from the synthetic world: the eyes can disagree with the face.

Each sample has a felt emotion (ER) that drives the latent valence and arousal
and through them the eye tracker (fixation durations and saccade rate, saccade amplitudes, gaze
direction, pupil size: emobench.sim.eyes), and a displayed expression (FER)
that drives the rendered face. In ``MASK_FRACTION`` of the samples the face
shows another expression than the one felt (mostly a smile or a neutral face
over a negative feeling), which is EMER's point.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np

from emobench.sim import World, eye_behaviour, render_face
from emobench.sim.rng import derive

from . import layout as L

GENERATOR_VERSION = 2  # = Emer.standin_version: bump both when the content changes
MASK_FRACTION = 0.3
EYE_RATE_HZ = 60.0
CLIP_S = 3.2
FACE_SIZE = 112
SCALES = {"tiny": (10, 7), "small": (50, 7), "full": (121, 11)}
#: emobench.sim emotion names for EMER's seven classes
SIM_NAME = {"happiness": "happy", "sadness": "sad", "fear": "fear", "surprise": "surprise",
            "disgust": "disgust", "anger": "anger", "neutral": "neutral"}
# Surprise counts as positive, as in EMER's three-class labels (an emobench choice).
POLARITY = {"happiness": "positive", "surprise": "positive", "neutral": "neutral",
            "sadness": "negative", "fear": "negative", "disgust": "negative", "anger": "negative"}


def eye_features(trace) -> tuple[np.ndarray, np.ndarray]:
    """(32, 39) eye-movement features and (32, 2) fixation points from a trace: the
    trace is cut into 32 equal steps (a remainder at the end is dropped)."""
    m = len(trace.time) // L.STEPS
    if m < 2:
        raise ValueError(f"emer: an eye trace of {len(trace.time)} samples is too short for {L.STEPS} steps")
    cut = slice(0, m * L.STEPS)
    gx = np.nan_to_num(trace.gaze_x, nan=0.5)
    gy = np.nan_to_num(trace.gaze_y, nan=0.5)
    speed = np.r_[0.0, np.hypot(np.diff(gx), np.diff(gy)) * EYE_RATE_HZ]
    dist = np.hypot(gx - 0.5, gy - 0.5)
    chans = np.stack([c[cut].reshape(L.STEPS, m) for c in (gx, gy, trace.pupil_mm, speed, dist)])
    p25, p75 = np.percentile(chans, [25, 75], axis=2)
    lo, hi = chans.min(2), chans.max(2)
    stats = np.stack([chans.mean(2), chans.std(2), lo, hi, p25, p75, hi - lo], axis=2)  # (5, 32, 7)
    step_of = lambda t: np.minimum(np.searchsorted(trace.time, t) // m, L.STEPS)  # noqa: E731
    onsets = np.bincount(step_of(trace.fixations[:, 0]), minlength=L.STEPS + 1)[:L.STEPS] \
        if len(trace.fixations) else np.zeros(L.STEPS)
    extra = np.stack([trace.blink[cut].reshape(L.STEPS, m).mean(1),
                      trace.saccade[cut].reshape(L.STEPS, m).mean(1),
                      (hi[0] - lo[0]) * (hi[1] - lo[1]), onsets], axis=1)
    movement = np.concatenate([stats.transpose(1, 0, 2).reshape(L.STEPS, 35), extra], axis=1)
    centres = trace.time[np.arange(L.STEPS) * m + m // 2]
    fix = np.full((L.STEPS, 2), 0.5)
    if len(trace.fixations):
        k = np.searchsorted(trace.fixations[:, 0], centres, side="right") - 1
        fix[k >= 0] = trace.fixations[k[k >= 0], 2:4]
    return movement.astype(np.float32), fix.astype(np.float32)


def _displayed(felt: str, r: np.random.Generator) -> str:
    if r.random() >= MASK_FRACTION:
        return felt
    if POLARITY[felt] == "negative":
        return str(r.choice(["happiness", "neutral"]))
    return str(r.choice([c for c in L.CLASSES7 if c != felt]))


def _write_subject(root: Path, seed: int, si: int, per_subject: int) -> list[tuple[dict, tuple]]:
    """Write one subject's samples; return (label row, (latent valence, arousal, peak)) each."""
    world = World(seed)
    subject = world.subject(si, {"corpus": "emer"})
    r = derive(seed, "emer-standin", si)
    out = []
    for k in range(per_subject):
        felt = L.CLASSES7[k % 7] if k < 7 else str(r.choice(L.CLASSES7))
        shown = _displayed(felt, r)
        name = f"S{si + 1:03d}_{k + 1:02d}"
        er = world.episode_clip(subject, SIM_NAME[felt], CLIP_S, 25.0, rng=k)
        fer = world.episode_clip(subject, SIM_NAME[shown], CLIP_S, 25.0, rng=100 + k, end_at_apex=True)
        face_dir = root / "face" / name
        face_dir.mkdir(parents=True, exist_ok=True)
        for j, t in enumerate(np.linspace(0, fer.n - 1, L.FACE_FRAMES).round().astype(int)):
            img = render_face(subject, fer.aus[t], size=FACE_SIZE, crop=True, rng=r)
            cv2.imwrite(str(face_dir / f"{j:03d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        movement, fixation = eye_features(eye_behaviour(er, EYE_RATE_HZ, rng=r))
        eye_dir = root / "eye" / name
        eye_dir.mkdir(parents=True, exist_ok=True)
        np.savetxt(eye_dir / "movement.csv", movement, delimiter=",", fmt="%.6g",
                   header=",".join(L.EYE_FEATURES), comments="")
        np.savetxt(eye_dir / "fixation.csv", fixation, delimiter=",", fmt="%.6g",
                   header="x,y", comments="")
        v, a = float(er.valence.mean()), float(er.arousal.mean())
        peak = float(er.meta["intensity"]) * 3.0 if felt != "neutral" else 0.0
        # raters see the person, not the latent state: their scores carry noise
        row = {"sample": name, "subject": f"S{si + 1:03d}", "er7": felt, "er3": POLARITY[felt],
               "fer7": shown, "fer3": POLARITY[shown],
               "valence": f"{np.clip(v + r.normal(0, 0.08), -1, 1):.3f}",
               "arousal": f"{np.clip(a + r.normal(0, 0.08), -1, 1):.3f}",
               "intensity": f"{np.clip(peak + r.normal(0, 0.15), 0, 3):.2f}"}
        out.append((row, (v, a, peak)))
    return out


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    from joblib import Parallel, delayed

    if scale not in SCALES:
        raise ValueError(f"emer: unknown stand-in scale {scale!r} (choose from {', '.join(SCALES)})")
    n_subjects, per_subject = SCALES[scale]
    root = Path(out) / L.ROOT_DIR
    root.mkdir(parents=True, exist_ok=True)
    done = Parallel(n_jobs=min(2, os.cpu_count() or 1))(
        delayed(_write_subject)(root, seed, si, per_subject) for si in range(n_subjects))
    rows = [row for subject in done for row, _ in subject]
    latent = np.array([lat for subject in done for _, lat in subject])
    with open(root / L.LABELS_FILE, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=L.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    # references: the class labels are the generator's felt / shown classes, so an
    # oracle on the latent state is exact on every test set; the rated scores are the
    # latent mean plus independent rater noise, so the oracle predicts the latent value
    # per sample (its conditional median), mapped on each test set by the leaderboard
    exact = "the label is the generator's class of the sample"
    ceilings = {t: {"exact": exact} for t in ("er7", "er3", "fer7", "fer3")}
    for j, task in enumerate(("valence", "arousal", "intensity")):
        lat = np.clip(latent[:, j], *((0, 3) if task == "intensity" else (-1, 1)))
        ceilings[task] = {"reference": "oracle on the latent state (the clip's mean latent value)",
                          "oracle_items": {row["sample"]: round(float(v), 6)
                                           for row, v in zip(rows, lat)}}
    return {"generator": "emobench.sim", "generator_version": GENERATOR_VERSION,
            "ceilings": ceilings, "mask_fraction": MASK_FRACTION,
            "counts": {"subjects": n_subjects, "recordings": len(rows)}}
