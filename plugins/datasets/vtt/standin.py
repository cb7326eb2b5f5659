"""A VTT AnotherMissOh stand-in: episodes of a drama whose characters share the frames.

Each shot shows two or three of the recurring characters, each with one emotion for the
shot (neutral most often, as in a drama), rendered into one whole frame over the scene's
background. Written as the real JSON: per-frame ``persons`` with ``face_rect`` and
``full_rect``, where some persons are seen from behind (``face_rect`` is ``""``) and
some full rectangles are empty too; one JSON per episode named ``_ver3.2``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from emobench.sim import World, make_background, render_face
from emobench.sim.rng import derive

from . import layout as L

GENERATOR_VERSION = 1  # = Vtt.standin_version
W, H = 192, 144
CHARACTERS = ("Dokyung", "Haeyoung1", "Haeyoung2", "Jinsang", "Hun", "Deogi", "Kyungsu", "Jiya")
#: scale -> (episodes, scenes per episode, shots per scene, frames per shot)
SCALES = {"tiny": (5, 1, 2, 2), "small": (8, 2, 2, 3), "full": (18, 4, 4, 4)}
SIM_NAME = {"anger": "anger", "disgust": "disgust", "fear": "fear", "happiness": "happy",
            "sadness": "sad", "surprise": "surprise", "neutral": "neutral"}
EMOTION_P = np.array([1.0, 0.6, 0.6, 1.4, 1.0, 0.8, 2.0])   # CLASSES order; neutral most often
NO_FACE = 0.12   # share of persons seen without a face rectangle


def _write_episode(root: Path, seed: int, ep: int, scale: tuple) -> dict:
    _, n_scenes, n_shots, n_frames = scale
    world = World(seed)
    cast = {name: world.subject(i, {"corpus": "vtt"}) for i, name in enumerate(CHARACTERS)}
    r = derive(seed, "vtt-standin", ep)
    shots, faces, frame_no = [], [], 1000 * ep
    for sc in range(1, n_scenes + 1):
        background = make_background((W, H), r)
        for sh in range(1, n_shots + 1):
            vid = f"AnotherMissOh{ep:02d}_{sc:03d}_{sh:04d}"
            folder = root / L.IMAGES_DIR / f"AnotherMissOh{ep:02d}" / f"{sc:03d}" / f"{sh:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            who = list(r.choice(CHARACTERS, size=int(r.integers(2, 4)), replace=False))
            feel = {c: int(r.choice(7, p=EMOTION_P / EMOTION_P.sum())) for c in who}
            clips = {c: world.episode_clip(cast[c], SIM_NAME[L.CLASSES[feel[c]]], 1.0, 25.0,
                                           rng=int(r.integers(1 << 30)), end_at_apex=True).aus
                     for c in who}
            xs = np.linspace(W * 0.2, W * 0.8, len(who))
            infos = []
            for j in range(n_frames):
                frame_no += int(r.integers(3, 9))
                img, persons = background.copy(), []
                for k, c in enumerate(who):
                    half = float(r.uniform(16, 22))
                    cx, cy = float(xs[k] + r.normal(0, 3)), float(H * 0.45 + r.normal(0, 3))
                    aus = np.clip(clips[c][-1 - (n_frames - 1 - j)], 0, None)
                    img = render_face(cast[c], aus, size=(W, H), face_box=(cx, cy, half),
                                      background=img, rng=r, noise_sd=0.0,
                                      pose=(float(r.normal(0, 12)), 0.0, 0.0))
                    face = {"min_x": int(cx - half), "min_y": int(cy - 1.3 * half),
                            "max_x": int(cx + half), "max_y": int(cy + 1.3 * half)}
                    full = {"min_x": int(cx - 1.6 * half), "min_y": int(cy - 1.4 * half),
                            "max_x": int(cx + 1.6 * half), "max_y": H - 1}
                    hidden = r.random() < NO_FACE
                    persons.append({"person_id": c, "person_info": {
                        "face_rect": "" if hidden else face, "full_rect": "" if r.random() < 0.1 else full,
                        "behavior": "stand up", "predicate": "none",
                        "emotion": L.CLASSES[feel[c]].capitalize(),
                        "face_rect_score": "" if hidden else f"{r.uniform(0.6, 1):.3f}",
                        "full_rect_score": f"{r.uniform(0.6, 1):.3f}"}})
                    if not hidden:
                        faces.append(feel[c])
                frame_id = f"IMAGE_{frame_no:010d}"
                img = np.clip(img.astype(np.float32) + r.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
                cv2.imwrite(str(folder / f"{frame_id}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 88])
                infos.append({"frame_id": frame_id, "place": "living room", "persons": persons})
            shots.append({"start_time": f"00:{sc:02d}:{sh:02d};00", "end_time": f"00:{sc:02d}:{sh:02d};12",
                          "vid": vid, "image_info": infos})
    visual = root / L.VISUAL_DIR
    visual.mkdir(parents=True, exist_ok=True)
    (visual / f"AnotherMissOh{ep:02d}_ver3.2.json").write_text(
        json.dumps({"file_name": f"AnotherMissOh{ep:02d}.json", "visual_results": shots}, indent=1))
    return {"episode": ep, "faces": len(faces), "classes": np.bincount(faces, minlength=7).tolist()}


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    from joblib import Parallel, delayed

    if scale not in SCALES:
        raise ValueError(f"vtt: unknown stand-in scale {scale!r} (choose from {', '.join(SCALES)})")
    sc = SCALES[scale]
    n_frames = sc[0] * sc[1] * sc[2] * sc[3]
    n_jobs = 1 if n_frames * 2.5 < 300 else min(2, os.cpu_count() or 1)
    done = Parallel(n_jobs=n_jobs)(delayed(_write_episode)(Path(out), seed, ep, sc)
                                   for ep in range(1, sc[0] + 1))
    return {"generator": "emobench.sim", "generator_version": GENERATOR_VERSION,
            "ceilings": {"emotion": {"exact": "the label is the generator's class of the clip"}},
            "counts": {"episodes": sc[0], "frames": n_frames,
                       "recordings": sum(d["faces"] for d in done),
                       "per_episode": {d["episode"]: d["faces"] for d in done},
                       "classes": np.sum([d["classes"] for d in done], axis=0).tolist()}}
