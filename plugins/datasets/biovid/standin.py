"""Stand-in BioVid Part A tree from the synthetic affect world.

Layout and formats are the real ones (TAB-separated ``samples.csv``; six-column
TAB-separated ``_bio.csv`` with microsecond times from about 1,250 us in 1953/1954 us
steps and leading spaces in column names; 25 fps
``.mp4`` of 138 frames) plus the ``openface/`` extra. Subjects carry real Part A
names, picked so some of the 26 hold-out and of the 20 non-expressive subjects are
present; non-expressive subjects are simulated with a low expressivity.

Video frames are rendered at key frames every ``key_step`` frames and cross-faded
in between (rendering is the expensive part); the container still holds 138
frames at 25 fps.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emobench.sim import OPENFACE_AUS, PAIN_LEVELS, World, select_aus
from emobench.sim.ceilings import pain_trajectory_posterior
from emobench.sim.face import make_background, render_face
from emobench.sim.latent import ou_process
from emobench.sim.rng import derive

from . import layout as L
from .physio import PhysioTraits, biosignals


@dataclass(frozen=True)
class Scale:
    subjects: int
    per_class: int
    frame_size: tuple[int, int]  # (width, height) of the whole video frame
    key_step: int
    jobs: int


SCALES = {
    "tiny": Scale(6, 1, (128, 96), 23, 1),
    # Enough subjects that pixel models trained from scratch (EmoP3D, frame-cnn)
    # see identity variety beyond the face they memorise: with 18 subjects they
    # stayed at chance, with 40+ they learn (docs/corpora/biovid.md).
    "small": Scale(48, 3, (160, 120), 10, 2),
    "full": Scale(87, 20, (320, 240), 2, 2),
}
NON_EXPRESSIVE_GAIN = 0.3


def pick_subjects(n: int) -> list[str]:
    """``n`` real Part A names, evenly spread over four kinds: hold-out and
    non-expressive, hold-out only, non-expressive only, neither (each kind at least
    once when ``n`` >= 4), sorted."""
    if n >= len(L.ALL_SUBJECTS):
        return list(L.ALL_SUBJECTS)
    held, nonexp = set(L.HOLDOUT_26), set(L.NON_EXPRESSIVE)
    kinds = [
        [s for s in L.ALL_SUBJECTS if s in held and s in nonexp],
        [s for s in L.ALL_SUBJECTS if s in held and s not in nonexp],
        [s for s in L.ALL_SUBJECTS if s in nonexp and s not in held],
        [s for s in L.ALL_SUBJECTS if s not in held and s not in nonexp],
    ]
    total = len(L.ALL_SUBJECTS)
    quota = [max(1, round(n * len(k) / total)) for k in kinds[:3]]
    quota.append(max(0, n - sum(quota)))
    out = []
    for names, q in zip(kinds, quota):
        idx = np.linspace(0, len(names) - 1, q).round().astype(int) if q else []
        out += [names[i] for i in idx]
    return sorted(out)


# -- one sample -----------------------------------------------------------------------------

def _pose(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 6) head translation (mm) and rotation (rad): Tx, Ty, Tz, Rx, Ry, Rz."""
    cols = [ou_process(rng, n, L.VIDEO_FPS, 1.5, 8.0), ou_process(rng, n, L.VIDEO_FPS, 1.5, 6.0),
            ou_process(rng, n, L.VIDEO_FPS, 2.0, 15.0, 620.0)]
    cols += [np.deg2rad(ou_process(rng, n, L.VIDEO_FPS, 1.0, sd)) for sd in (3.0, 4.0, 2.0)]
    return np.stack(cols, axis=1)


def _openface_csv(aus: np.ndarray, pose: np.ndarray, rng: np.random.Generator) -> str:
    """OpenFace-style rows (``", "`` separators, as OpenFace writes them)."""
    n = len(aus)
    au_r = np.round(select_aus(aus, OPENFACE_AUS), 2)
    au_c = []
    for name in L.OPENFACE_AU_C:
        if name == "AU28":  # lip suck is not simulated: OpenFace sees it rarely
            au_c.append(np.zeros(n))
        else:
            thr = 1.5 if name == "AU45" else 1.0
            au_c.append((au_r[:, OPENFACE_AUS.index(name)] >= thr).astype(float))
    conf = np.clip(0.98 - np.abs(rng.normal(0, 0.01, n)), 0, 1)
    lines = [", ".join(L.OPENFACE_COLUMNS)]
    for k in range(n):
        vals = [f"{k + 1}", "0", f"{k / L.VIDEO_FPS:.3f}", f"{conf[k]:.2f}", "1"]
        vals += [f"{v:.1f}" for v in pose[k, :3]] + [f"{v:.3f}" for v in pose[k, 3:]]
        vals += [f"{v:.2f}" for v in au_r[k]] + [f"{v:.0f}" for v in (c[k] for c in au_c)]
        lines.append(", ".join(vals))
    return "\n".join(lines) + "\n"


def _video(path: Path, subject, aus: np.ndarray, pose: np.ndarray, background: np.ndarray,
           scale: Scale, rng: np.random.Generator) -> None:
    w, h = scale.frame_size
    n = len(aus)
    keys = sorted(set(range(0, n, scale.key_step)) | {n - 1})
    half = h * 0.3 / subject.geometry.aspect
    px_per_mm = half / 70.0  # a face half-width is about 70 mm
    from emobench.media.standin_faces import boxes_from_landmarks, write_face_boxes
    from emobench.sim.face import landmarks

    rendered, lms = {}, {}
    for k in keys:
        box = (w / 2 + px_per_mm * pose[k, 0], h / 2 + px_per_mm * pose[k, 1], half)
        deg = np.rad2deg(pose[k, 3:])
        rendered[k] = render_face(subject, aus[k], size=(w, h), pose=(deg[1], deg[0], deg[2]),
                                  face_box=box, rng=rng, background=background)
        lms[k] = landmarks(subject, aus[k], size=(w, h), pose=(deg[1], deg[0], deg[2]), face_box=box)
    # where the face is on every frame (cross-faded frames: between the key frames' boxes),
    # recorded for the face pipeline instead of the Haar tracker
    per_frame = [lms[a] * (1 - (i - a) / (b - a)) + lms[b] * ((i - a) / (b - a))
                 for a, b in zip(keys[:-1], keys[1:]) for i in range(a, b)] + [lms[keys[-1]]]
    # path = <stand-in root>/video/<subject>/<sample>.mp4 (layout.video_path of the stand-in)
    write_face_boxes(path, boxes_from_landmarks(np.stack(per_frame)), root=path.parents[2])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), L.VIDEO_FPS, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cv2.VideoWriter cannot write mp4v")
    try:
        for a, b in zip(keys[:-1], keys[1:]):
            for i in range(a, b):
                u = (i - a) / (b - a)
                writer.write(rendered[a] if u == 0 else
                             cv2.addWeighted(rendered[a], 1 - u, rendered[b], u, 0.0))
        writer.write(rendered[keys[-1]])
    finally:
        writer.release()


# The distributed files start near 1,250 us (not 0) and step 1953/1954 us.
BIO_T0_US = 1250


def _bio_csv(path: Path, signals: np.ndarray) -> None:
    """Six TAB-separated columns as distributed: time (us) and the five channels;
    values in ``%e`` (gsr, ecg) and ``%g`` (EMG) formats, both seen in real copies."""
    n = len(signals)
    time_us = BIO_T0_US + np.floor(np.arange(n) * 1e6 / L.BIO_RATE).astype(np.int64)
    # Leading spaces in the column names, as in some distributed copies.
    header = "time\t" + "\t".join(f" {c}" for c in L.BIO_CHANNELS) + "\n"
    cols = [time_us.tolist()] + [signals[:, c].tolist() for c in range(signals.shape[1])]
    flat = [v for row in zip(*cols) for v in row]
    body = ("%d\t%e\t%e\t%g\t%g\t%g\n" * n) % tuple(flat)
    path.write_text(header + body)


def _write_sample(out: Path, seed: int, subj_index: int, subject_name: str, level: int,
                  trial: int, sample_name: str, scale: Scale) -> np.ndarray:
    """Write the three files of one sample; returns the oracle's posterior over
    PAIN_LEVELS given the sample's whole perceived-pain trajectory."""
    world = World(seed)
    expr = NON_EXPRESSIVE_GAIN if subject_name in L.NON_EXPRESSIVE else None
    subject = world.subject(subj_index, {"corpus": "biovid"}, subject_name, expressivity=expr)
    session = world.pain_sample(subject, PAIN_LEVELS[level], L.SAMPLE_SECONDS, L.VIDEO_FPS,
                                rng=trial)
    rng = derive(seed, "biovid-standin", subj_index, level, trial)
    traits = PhysioTraits.draw(derive(seed, "biovid-physio", subj_index))
    signals = biosignals(traits, session.time, session.pain, session.arousal, L.BIO_ROWS, rng)
    pose = _pose(rng, session.n)
    background = make_background(scale.frame_size, derive(seed, "biovid-room", subj_index))

    for folder in (L.BIO_DIR, L.VIDEO_DIR, L.OPENFACE_DIR):
        (out / folder / subject_name).mkdir(parents=True, exist_ok=True)
    _bio_csv(L.bio_path(out, subject_name, sample_name), signals)
    L.openface_path(out, subject_name, sample_name).write_text(
        _openface_csv(session.aus, pose, rng))
    _video(L.video_path(out, subject_name, sample_name), subject, session.aus, pose, background,
           scale, rng)
    return pain_trajectory_posterior(level, float(session.pain.max()), session.state_posterior)


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    if scale not in SCALES:
        raise ValueError(f"biovid stand-in: unknown scale {scale!r} (known: {', '.join(SCALES)})")
    sc = SCALES[scale]
    out = Path(out)
    for folder in (L.BIO_DIR, L.VIDEO_DIR, L.OPENFACE_DIR):
        shutil.rmtree(out / folder, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    subjects = pick_subjects(sc.subjects)
    jobs, rows = [], []
    for sid, name in enumerate(subjects):
        index = L.ALL_SUBJECTS.index(name)
        # Trial numbers: the position of each stimulus in a shuffled session order.
        order = derive(seed, "biovid-order", index).permutation(len(PAIN_LEVELS) * sc.per_class)
        for level in range(len(PAIN_LEVELS)):
            for j in range(sc.per_class):
                trial = int(order[level * sc.per_class + j]) + 1
                sample = f"{name}-{PAIN_LEVELS[level]}-{trial:03d}"
                rows.append((sid, name, level, PAIN_LEVELS[level], len(rows), sample))
                jobs.append((out, seed, index, name, level, trial, sample, sc))
    if sc.jobs > 1:
        from joblib import Parallel, delayed
        posts = Parallel(n_jobs=sc.jobs)(delayed(_write_sample)(*j) for j in jobs)
    else:
        posts = [_write_sample(*j) for j in jobs]

    lines = ["\t".join(L.SAMPLES_COLUMNS)] + ["\t".join(str(v) for v in r) for r in rows]
    (out / L.SAMPLES_FILE).write_text("\n".join(lines) + "\n")

    oracle = "oracle on the latent pain trajectory (Bayes label given the perceived pain over the window)"
    tasks = {"bl1-vs-pa4": ("BL1", "PA4"), "pain-5class": PAIN_LEVELS}
    ceilings = {}
    for task, levels in tasks.items():
        cols = [PAIN_LEVELS.index(c) for c in levels]
        ceilings[task] = {"reference": oracle, "oracle_items": {
            r[5]: int(np.argmax(np.asarray(p)[cols])) for r, p in zip(rows, posts) if r[3] in levels}}
    # the PSPI target is a function of the face_features inputs
    ceilings["pspi"] = {"exact": "the PSPI target is a formula of the face_features input"}
    return {
        "scale": scale,
        "seed": seed,
        "ceilings": ceilings,
        "counts": {
            "subjects": len(subjects),
            "samples": len(rows),
            "samples_per_class": {c: len(subjects) * sc.per_class for c in PAIN_LEVELS},
            "video_frames": L.VIDEO_FRAMES,
            "bio_rows": L.BIO_ROWS,
            "holdout_subjects": sum(s in L.HOLDOUT_26 for s in subjects),
            "non_expressive_subjects": sum(s in L.NON_EXPRESSIVE for s in subjects),
        },
        "subjects": subjects,
        "frame_size": list(sc.frame_size),
        "key_step": sc.key_step,
    }
