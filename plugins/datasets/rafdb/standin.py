"""A RAF-DB stand-in from the synthetic world: still faces at their expression's apex.

In-the-wild variety comes from the renderer's pose, lighting and background; the
class mix follows RAF-DB's training counts, flattened (square root) so that the
small scales still have every class. Written as distributed: the two-column label
list under its misspelt name, aligned crops with the ``_aligned`` suffix, the
originals, and manual attribute files. Identities are drawn from a pool and, as in
RAF-DB, are not recorded and cross the train/test split.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from emobench.sim import World, render_face
from emobench.sim.rng import derive

from . import layout as L

GENERATOR_VERSION = 2  # = RafDb.standin_version
ALIGNED, ORIGINAL = 64, 96
#: scale -> (identities, images per identity)
SCALES = {"tiny": (12, 6), "small": (40, 9), "full": (200, 20)}
TEST_FRACTION = 0.2
INTENSITY = (0.6, 1.0)          # apex intensity range
POSE_SD = (7.0, 4.0, 3.0)      # yaw, pitch, roll degrees
RAF_TRAIN_COUNTS = (1290, 281, 717, 4772, 1982, 705, 2524)  # CORPORA.md, RAF's class order
SIM_NAME = {"surprise": "surprise", "fear": "fear", "disgust": "disgust", "happiness": "happy",
            "sadness": "sad", "anger": "anger", "neutral": "neutral"}
# the five manual landmarks (eye centres, nose tip, mouth corners) of a 100x100 aligned face
FIVE_POINTS = np.array([[33.0, 40.0], [67.0, 40.0], [50.0, 58.0], [37.0, 75.0], [63.0, 75.0]])


def class_mix(counts=RAF_TRAIN_COUNTS) -> np.ndarray:
    p = np.sqrt(np.asarray(counts, float))
    return p / p.sum()


def still_face(world: World, subject, emotion: str, k: int, r: np.random.Generator,
               sizes=(ALIGNED,), crop=(True,)) -> list[np.ndarray]:
    """BGR renders of ``subject`` showing ``emotion`` (emobench.sim name) at its apex with
    one random pose and lighting (the variety of a web image, not of a lab camera), once
    per (size, crop) pair: an aligned crop and the whole picture share one expression."""
    # posed-strength apexes: RAF-DB's images were kept where raters agreed on the class
    aus = np.clip(world.episode_clip(subject, emotion, 1.0, 25.0, rng=k, end_at_apex=True,
                                     intensity=float(r.uniform(*INTENSITY))).aus[-1], 0, None)
    look = dict(pose=tuple(r.normal(0, POSE_SD)), lighting=float(np.exp(r.normal(0, 0.2))),
                light_direction=float(r.uniform(-0.6, 0.6)))
    return [render_face(subject, aus, size=sz, crop=c, rng=r, **look) for sz, c in zip(sizes, crop)]


def _write_identity(base: Path, seed: int, ident: int, jobs: list[tuple[str, int]]) -> None:
    world = World(seed)
    subject = world.subject(ident, {"corpus": "rafdb"})
    r = derive(seed, "rafdb-standin", ident)
    attrs = (int(r.integers(0, 3)), int(r.integers(0, 3)), int(r.integers(1, 5)))
    for k, (name, label) in enumerate(jobs):
        stem = name.rsplit(".", 1)[0]
        emotion = SIM_NAME[L.CLASSES[label]]
        face, frame = still_face(world, subject, emotion, k, r, (ALIGNED, ORIGINAL), (True, False))
        cv2.imwrite(str(base / "Image" / "aligned" / f"{stem}_aligned.jpg"), face,
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        cv2.imwrite(str(base / "Image" / "original" / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        pts = FIVE_POINTS + r.normal(0, 1.0, FIVE_POINTS.shape)
        lines = [f"{x:.2f}\t{y:.2f}" for x, y in pts] + [str(a) for a in attrs]
        (base / "Annotation" / "manual" / f"{stem}_manu_attri.txt").write_text("\n".join(lines) + "\n")


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    from joblib import Parallel, delayed

    if scale not in SCALES:
        raise ValueError(f"rafdb: unknown stand-in scale {scale!r} (choose from {', '.join(SCALES)})")
    n_ident, per = SCALES[scale]
    base = Path(out) / "basic"
    for sub in ("EmoLabel", "Image/aligned", "Image/original", "Annotation/manual"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    r = derive(seed, "rafdb-standin-plan")
    n = n_ident * per
    # every class at least once per 7 images, the rest drawn from RAF's (flattened) mix
    labels = np.concatenate([np.arange(7), r.choice(7, n - 7, p=class_mix())])
    r.shuffle(labels)
    idents = np.repeat(np.arange(n_ident), per)
    r.shuffle(idents)
    is_test = np.zeros(n, bool)
    is_test[r.choice(n, int(round(TEST_FRACTION * n)), replace=False)] = True
    names, jobs = [], {i: [] for i in range(n_ident)}
    counter = {"train": 0, "test": 0}
    for j in range(n):
        split = "test" if is_test[j] else "train"
        counter[split] += 1
        name = f"train_{counter[split]:05d}.jpg" if split == "train" else f"test_{counter[split]:04d}.jpg"
        names.append((name, int(labels[j])))
        jobs[int(idents[j])].append((name, int(labels[j])))
    n_jobs = 1 if n < 300 else min(2, os.cpu_count() or 1)
    Parallel(n_jobs=n_jobs)(delayed(_write_identity)(base, seed, i, jobs[i]) for i in range(n_ident))
    # RAF's list: train images first, then test, "name label" with labels 1-7
    order = sorted(names, key=lambda t: (t[0].startswith("test"), t[0]))
    base.joinpath(*L.LABEL_LIST).write_text("".join(f"{nm} {lab + 1}\n" for nm, lab in order))
    return {"generator": "emobench.sim", "generator_version": GENERATOR_VERSION,
            "ceilings": {"emotion": {"exact": "the label is the generator's class of the image"}},
            "counts": {"recordings": n, "identities": n_ident, "train": counter["train"],
                       "test": counter["test"],
                       "classes": np.bincount(labels, minlength=7).tolist()}}
