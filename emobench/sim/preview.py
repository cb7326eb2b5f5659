"""Preview images of the synthetic world, to judge it by eye.

``write_preview(out_dir, seed=0)`` writes
  faces.png      rendered faces, one row per emotion, one column per subject;
  trajectories.png  latent vs annotated valence/arousal of a continuous session, with the
                 action-unit intensities under them as a heat map;
  pain.png       a BioVid-style sample per level: stimulus, perceived pain, PSPI and GSR.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .annotation import annotate_continuous
from .aus import pspi
from .constants import AU_NAMES, EMOTIONS, PAIN_LEVELS
from .face import render_face
from .physiology import physiology
from .world import World


def write_preview(out_dir: str | Path, seed: int = 0, *, n_subjects: int = 5, face_size: int = 128) -> list[Path]:
    """Write the preview PNGs into ``out_dir`` (created if needed); returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world = World(seed)
    subs = world.subjects(n_subjects, groups={"culture": "DE"})
    rows = []
    for ei, emo in enumerate(EMOTIONS):
        tiles = []
        for si, sub in enumerate(subs):
            clip = world.episode_clip(sub, emo, 3.0, 25.0, rng=ei, intensity=1.0)
            k = int(np.argmax(clip.emotion_activation.sum(axis=1))) if emo != "neutral" else clip.n // 2
            img = render_face(sub, clip.aus_clean[k], size=face_size, crop=True,
                              rng=np.random.default_rng([seed, si]))
            tiles.append(img)
        row = np.hstack(tiles)
        label = np.full((face_size, 90, 3), 255, np.uint8)
        cv2.putText(label, emo, (4, face_size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.hstack([label, row]))
    faces = out / "faces.png"
    cv2.imwrite(str(faces), np.vstack(rows))

    sess = world.continuous_session(subs[0], 90.0, 10.0, rng=0)
    ann = annotate_continuous(sess, rng=np.random.default_rng(seed))
    fig, ax = plt.subplots(3, 1, figsize=(11, 8), sharex=True, gridspec_kw={"height_ratios": [1, 1, 2]})
    for a, dim in zip(ax[:2], ("valence", "arousal")):
        a.plot(sess.time, getattr(sess, dim), label=f"latent {dim}", lw=1.5)
        for rt in ann.raters[dim]:
            a.plot(sess.time, rt, color="0.7", lw=0.5)
        a.plot(sess.time, ann.gold[dim], label=f"annotated (gold, delay {ann.delay_s[dim]:.1f} s)", lw=1.5)
        a.set_ylim(-1.05, 1.05)
        a.set_ylabel(dim)
        a.legend(loc="upper right", fontsize=8)
    ax[2].imshow(sess.aus.T, aspect="auto", cmap="magma", vmin=0, vmax=5, origin="lower",
                 extent=(0, sess.duration_s, -0.5, len(AU_NAMES) - 0.5), interpolation="nearest")
    ax[2].set_yticks(range(len(AU_NAMES)), AU_NAMES, fontsize=7)
    ax[2].set_xlabel("time (s)")
    for ep in sess.episodes:
        ax[0].axvspan(ep.onset, ep.offset, color="C2", alpha=0.12)
        ax[0].text(ep.onset, 0.9, ep.kind, fontsize=7)
    fig.tight_layout()
    traj = out / "trajectories.png"
    fig.savefig(traj, dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(1, 4, figsize=(13, 3))
    for li, lv in enumerate(PAIN_LEVELS):
        s = world.pain_sample(subs[1], lv, rng=li)
        ph = physiology(s, rng=li)
        ax[0].plot(s.time, s.stimulus, label=lv)
        ax[1].plot(s.time, s.pain, label=lv)
        ax[2].plot(s.time, pspi(s.aus), label=lv)
        ax[3].plot(ph["time_us"] / 1e6, ph["gsr"], label=lv)
    for a, title in zip(ax, ("temperature (C)", "perceived pain", "PSPI", "GSR (uS)")):
        a.set_title(title)
        a.set_xlabel("time (s)")
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    pain = out / "pain.png"
    fig.savefig(pain, dpi=80)
    plt.close(fig)
    return [faces, traj, pain]
