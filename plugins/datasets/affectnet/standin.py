"""An AffectNet stand-in from the synthetic world: web-like face pictures with a face box,
68-point-style landmarks, an expression code and valence / arousal.

Written as distributed, with its pitfalls: the two lists with the landmark field
``;``-separated, codes 8-10 rows with the -2 sentinel (excluded by the loader), some
arousal values missing (-2), mixed extensions (``.jpg``, ``.JPG``, ``.png``, ``.BMP``,
and lists naming ``.jpg`` where the file is ``.JPG``), and one truncated image in the
training list that the loader must skip and report. Training codes follow a flattened
version of AffectNet's imbalance; the validation list is balanced as the real one is.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np

from emobench.sim import AU_INDEX, World, landmarks, make_background, render_face
from emobench.sim.rng import derive

from . import layout as L

GENERATOR_VERSION = 2  # = AffectNet.standin_version
FRAME = 80
#: scale -> (identities, training rows, validation rows per code 0-7)
SCALES = {"tiny": (12, 60, 4), "small": (40, 240, 10), "full": (200, 4000, 60)}
# manually annotated training counts per code 0-7 (Mollahosseini et al. 2019), flattened
TRAIN_COUNTS = (74874, 134415, 25459, 14090, 6378, 3803, 24882, 3750)
SIM_NAME = {"neutral": "neutral", "happiness": "happy", "sadness": "sad", "surprise": "surprise",
            "fear": "fear", "disgust": "disgust", "anger": "anger"}
INTENSITY = (0.5, 1.0)          # apex intensity range (web images: mostly clear expressions)
POSE_SD = (8.0, 5.0, 4.0)       # yaw, pitch, roll degrees
RATER_SD = 0.1           # valence / arousal ratings are noisy versions of the latent state
AROUSAL_MISSING = 0.05   # share of labelled training rows whose arousal is -2


def _extension(j: int) -> tuple[str, str]:
    """(extension written, extension listed) for row j: mostly jpg, some of each pitfall."""
    if j % 11 == 3:
        return "JPG", "JPG"
    if j % 11 == 7:
        return "JPG", "jpg"      # the list and the file disagree on the case
    if j % 13 == 5:
        return "png", "png"
    if j % 17 == 9:
        return "BMP", "BMP"
    return "jpg", "jpg"


def _picture(world, subject, code: int, k: int, r) -> tuple:
    """(image, face box x y w h, landmarks, valence, arousal, latent (valence, arousal)
    or None) for one row."""
    half = float(r.uniform(0.24, 0.34) * FRAME)
    cx, cy = (float(v) for v in r.uniform(FRAME * 0.42, FRAME * 0.58, 2))
    box = (int(round(cx - half)), int(round(cy - 1.25 * half)), int(round(2 * half)), int(round(2.5 * half)))
    if code == 10:   # Non-Face: a picture of a room
        return make_background(FRAME, r), box, np.zeros((0, 2)), L.MISSING, L.MISSING, None
    cls = L.CLASSES8[code] if code < 8 else "neutral"
    if cls == "contempt":   # no simulator prototype: AU14 with a trace of AU12 (as for CK+)
        clip = world.episode_clip(subject, "happy", 1.0, 25.0, rng=k, end_at_apex=True)
        aus = np.zeros_like(clip.aus[-1])
        aus[AU_INDEX["AU14"]], aus[AU_INDEX["AU12"]] = 0.8, 0.25
    else:
        clip = world.episode_clip(subject, SIM_NAME[cls], 1.0, 25.0, rng=k, end_at_apex=True,
                                  intensity=float(r.uniform(*INTENSITY)))
        aus = np.clip(clip.aus[-1], 0, None)
    pose = tuple(r.normal(0, POSE_SD))
    img = render_face(subject, aus, size=FRAME, pose=pose, face_box=(cx, cy, half), rng=r,
                      lighting=float(np.exp(r.normal(0, 0.2))))
    pts = landmarks(subject, aus, size=FRAME, pose=pose, face_box=(cx, cy, half))
    if code >= 8:
        return img, box, pts, L.MISSING, L.MISSING, None
    v = float(np.clip(clip.valence[-1] + r.normal(0, RATER_SD), -1, 1))
    a = float(np.clip(clip.arousal[-1] + r.normal(0, RATER_SD), -1, 1))
    # the rated state, for the reference (the oracle on the latent state)
    latent = (float(np.clip(clip.valence[-1], -1, 1)), float(np.clip(clip.arousal[-1], -1, 1)))
    return img, box, pts, v, a, latent


def _write_identity(images: Path, seed: int, ident: int, jobs: list[dict]) -> list[dict]:
    world = World(seed)
    subject = world.subject(ident, {"corpus": "affectnet"})
    r = derive(seed, "affectnet-standin", ident)
    out = []
    for k, job in enumerate(jobs):
        img, box, pts, v, a, latent = _picture(world, subject, job["code"], k, r)
        if job["missing_arousal"]:
            a = L.MISSING
        path = images / job["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), img)
        if job["corrupt"]:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 3])
        out.append({**job, "box": box, "landmarks": ";".join(f"{x:.2f}" for x in pts.ravel()),
                    "valence": v, "arousal": a, "latent": latent})
    return out


def _references(rows: dict[str, dict]) -> dict:
    """The expression code is the generator's class (exact on every test set); valence
    and arousal are the latent state plus independent rater noise, so the oracle
    predicts the latent value per image (keyed by the loader's recording id)."""
    exact = "the label is the generator's class of the image"
    out = {"expression7": {"exact": exact}, "expression8": {"exact": exact}}
    for j, task in enumerate(("valence", "arousal")):
        out[task] = {"reference": "oracle on the latent state (the rated valence/arousal before "
                                  "rater noise)",
                     "oracle_items": {listed.rsplit(".", 1)[0].replace("/", "_"): row["latent"][j]
                                      for listed, row in rows.items() if row.get("latent")}}
    return out


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    from joblib import Parallel, delayed

    if scale not in SCALES:
        raise ValueError(f"affectnet: unknown stand-in scale {scale!r} (choose from {', '.join(SCALES)})")
    n_ident, n_train, per_code = SCALES[scale]
    r = derive(seed, "affectnet-standin-plan")
    p = np.sqrt(np.asarray(TRAIN_COUNTS, float))
    train_codes = np.concatenate([np.arange(8), r.choice(8, n_train - 8, p=p / p.sum()), [8, 9, 10]])
    valid_codes = np.concatenate([np.repeat(np.arange(8), per_code), [8, 9, 10]])
    rows = []
    for source, codes in (("training", train_codes), ("validation", valid_codes)):
        codes = r.permutation(codes)
        for j, code in enumerate(codes):
            written, listed = _extension(len(rows))
            name = f"{int(r.integers(0, 16 ** 12)):012x}"
            sub = str(1 + int(r.integers(0, 6)))
            rows.append({"source": source, "code": int(code), "ident": int(r.integers(0, n_ident)),
                         "file": f"{sub}/{name}.{written}", "listed": f"{sub}/{name}.{listed}",
                         "missing_arousal": bool(source == "training" and code < 8
                                                 and r.random() < AROUSAL_MISSING),
                         "corrupt": False})
    # one truncated JPEG in the training list (skipped and reported by the loader)
    jpgs = [row for row in rows if row["source"] == "training" and row["file"].endswith(".jpg")
            and row["code"] < 8]
    jpgs[len(jpgs) // 2]["corrupt"] = True
    base = Path(out)
    images = base / L.IMAGES_DIR
    lists = base / L.LISTS_DIR
    lists.mkdir(parents=True, exist_ok=True)
    by_ident = {i: [row for row in rows if row["ident"] == i] for i in range(n_ident)}
    n_jobs = 1 if len(rows) < 300 else min(2, os.cpu_count() or 1)
    done = Parallel(n_jobs=n_jobs)(delayed(_write_identity)(images, seed, i, by_ident[i])
                                   for i in range(n_ident))
    final = {row["listed"]: row for part in done for row in part}
    counts = {}
    for source, fname in L.LIST_FILES.items():
        mine = [final[row["listed"]] for row in rows if row["source"] == source]
        with open(lists / fname, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(L.COLUMNS)
            for row in mine:
                w.writerow([row["listed"], *row["box"], row["landmarks"], row["code"],
                            f"{row['valence']:.6f}" if row["valence"] != L.MISSING else "-2",
                            f"{row['arousal']:.6f}" if row["arousal"] != L.MISSING else "-2"])
        kept = [row for row in mine if row["code"] < 8 and not row["corrupt"]]
        counts[source] = {"rows": len(mine), "loaded": len(kept),
                          "codes": np.bincount([row["code"] for row in kept], minlength=8).tolist(),
                          "arousal_missing": sum(row["arousal"] == L.MISSING for row in kept)}
    return {"generator": "emobench.sim", "generator_version": GENERATOR_VERSION,
            "ceilings": _references(final),
            "counts": {"recordings": counts["training"]["loaded"] + counts["validation"]["loaded"],
                       "identities": n_ident, "corrupt": 1, **counts}}
