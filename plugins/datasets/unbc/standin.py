"""Stand-in UNBC-McMaster tree written from the synthetic world (emobench.sim).

Each of the 25 subject folders of the archive (``042-ll042`` ...) gets
sequences named like the real ones (``ll042t1abaff``, ``tv095t2aeunaff``).
A sequence is a shoulder-movement pain session (``World.pain_session``,
movement protocol: painful movements happen more often when the affected
shoulder is tested); its action units are FACS-coded by a simulated coder
relative to the subject's neutral face (coded intensities 0-5, AU43 binary),
PSPI is computed from the coded AUs exactly as in the archive, the frames are
rendered faces (PNG) with their 66 landmarks, and the sequence labels
(VAS, OPR, AFF, SEN) come from the session's peak pain
(``annotation.pain_reports``). Pitfalls reproduced: empty FACS files whenever
no AU is coded, black first frames of ``tv095t2aeunaff`` and ``.DS_Store``
files.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from emobench.sim import AU_INDEX, UNBC_AUS, World, annotate_facs, pain_reports, pspi
from emobench.sim.ceilings import report_median
from emobench.sim.face import landmarks, make_background, render_face
from emobench.sim.latent import ou_process
from emobench.sim.rng import derive


FRAME_RATE = 30.0
# per scale: sequences per subject, frame-count range, frame size (width, height)
SCALES = {
    "tiny": dict(seqs=1, frames=(12, 18), size=(128, 96)),
    "small": dict(seqs=2, frames=(30, 60), size=(320, 240)),
    "full": dict(seqs=8, frames=(48, 436), size=(320, 240)),  # mean 242 = 48,398 / 200
}
# A coder codes an AU only clearly above the person's neutral face: this dead
# zone (intensity units) keeps about 80% of frames at PSPI 0, as in the archive.
CODING_DEAD_ZONE = 0.6
CODER_NOISE_SD = 0.25
P_PAIN = {"aff": 0.6, "unaff": 0.25}  # chance a sequence holds painful movements
N_BLACK = 7  # tv095t2aeunaff001..007 are black in the archive
DS_STORE = b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00"


def _sequence_names(initials: str, number: str, n: int, rng: np.random.Generator,
                    first: str | None) -> list[str]:
    names: list[str] = [first] if first else []
    letter = 0
    while len(names) < n:
        t = 1 + int(rng.integers(2))
        side = "aff" if rng.random() < 0.5 else "unaff"
        name = f"{initials}{number}t{t}a{chr(97 + letter % 26)}{side}"
        letter += 1
        if name not in names:
            names.append(name)
    return names


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("ascii")
    path.write_bytes(data)


def _facs_text(coded_row: np.ndarray) -> str:
    rows = []
    for au in UNBC_AUS:
        v = coded_row[AU_INDEX[au]]
        if v > 0:
            rows.append(f"   {float(au[2:]):.7e}   {float(v):.7e}   {0.0:.7e}   {0.0:.7e}\n")
    return "".join(rows)


def _code_facs(session, subject, rng) -> np.ndarray:
    """Integer FACS codes (T, N_AUS) of a session, relative to the neutral face."""
    delta = np.clip(session.aus - subject.neutral_aus[None, :] - CODING_DEAD_ZONE, 0.0, 5.0)
    coded = annotate_facs(delta, rng, noise_sd=CODER_NOISE_SD)
    i43 = AU_INDEX["AU43"]
    coded[:, i43] = session.aus[:, i43] > 0.5
    return coded


def write_standin(out: Path, scale: str = "small", seed: int = 0, n_jobs: int | None = None) -> dict:
    """Write the tree into ``out``; sequences are rendered in parallel
    (``n_jobs``, default: 2 workers when there are enough frames to pay for
    them). Every sequence draws from its own seeded stream, so the bytes do
    not depend on the number of workers."""
    if scale not in SCALES:
        raise ValueError(f"unbc stand-in: scale must be one of {', '.join(SCALES)}, got {scale!r}")
    from .layout import SUBJECT_FOLDERS

    cfg = SCALES[scale]
    out = Path(out)
    jobs = []
    for k, sdir in enumerate(SUBJECT_FOLDERS):
        initials, number = sdir[4:6], sdir[:3]
        first = "tv095t2aeunaff" if sdir == "095-tv095" else None
        names = _sequence_names(initials, number, cfg["seqs"], derive(seed, "unbc", "subject", k), first)
        jobs += [(k, j, sdir, seq) for j, seq in enumerate(names)]
    if n_jobs is None:
        n_jobs = 1 if scale == "tiny" else min(2, os.cpu_count() or 1)
    if n_jobs > 1:
        from joblib import Parallel, delayed

        stats = Parallel(n_jobs=n_jobs)(delayed(_write_sequence)(out, seed, cfg, *job) for job in jobs)
    else:
        stats = [_write_sequence(out, seed, cfg, *job) for job in jobs]
    for p in ("Images", "Images/042-ll042", "Frame_Labels/FACS", "Sequence_Labels/VAS"):
        _write(out / p / ".DS_Store", DS_STORE)
    total = lambda key: int(sum(s[key] for s in stats))  # noqa: E731
    return {
        "scale": scale, "seed": seed, "frame_rate": FRAME_RATE,
        "counts": {"subjects": len(SUBJECT_FOLDERS), "recordings": len(stats),
                   "frames": total("frames"), "pain_frames": total("pain_frames"),
                   "black_frames": total("black_frames"),
                   "empty_facs_files": total("empty_facs_files")},
        "ceilings": _ceilings(np.array([s["peak"] for s in stats]), [job[3] for job in jobs]),
        "notes": "pspi and pain are exact functions of the facs14 input (ceiling 1); vas/opr "
                 "references: the conditional median report given the sequence's true peak "
                 "pain, per sequence (oracle_items), scored on each table's test set.",
    }


def _write_sequence(out: Path, seed: int, cfg: dict, k: int, j: int, sdir: str, seq: str) -> dict:
    """Render and write one sequence with all its label files; returns its counts."""
    width, height = cfg["size"]
    world = World(seed)
    subject = world.subject(k, groups={"corpus": "unbc"}, name=sdir[4:])
    side = "unaff" if seq.endswith("unaff") else "aff"
    r = derive(seed, "unbc", "sequence", k, j)
    n = int(r.integers(cfg["frames"][0], cfg["frames"][1] + 1))
    session = world.pain_session(subject, n / FRAME_RATE, FRAME_RATE, rng=j,
                                 protocol="movement", p_pain=P_PAIN[side])
    n = session.n
    coded = _code_facs(session, subject, r)
    frame_pspi = pspi(coded)
    # head motion follows the arm movement: more sway while in pain
    sway = 1.0 + 3.0 * session.pain[:, None]
    pose = np.stack([ou_process(r, n, FRAME_RATE, 1.5, sd) for sd in (6.0, 4.0, 3.0)], 1) * sway
    centre = np.stack([ou_process(r, n, FRAME_RATE, 2.0, 0.03 * width),
                       ou_process(r, n, FRAME_RATE, 2.0, 0.03 * height)], 1)
    half_width = height * 0.3 / subject.geometry.aspect
    background = make_background((width, height), r)
    black = min(N_BLACK, n // 4) if seq == "tv095t2aeunaff" else 0
    rel = Path(sdir) / seq
    n_empty = 0
    for t in range(n):
        stem = f"{seq}{t + 1:03d}"
        box = (width / 2 + centre[t, 0], height / 2 + centre[t, 1], half_width)
        if t < black:
            img = np.zeros((height, width, 3), np.uint8)
        else:
            # no pixel noise (rng=None): noise makes PNGs large and slow to write
            img = render_face(subject, session.aus[t], size=(width, height), pose=tuple(pose[t]),
                              face_box=box, rng=None, background=background)
        ok, png = cv2.imencode(".png", img)
        if not ok:
            raise RuntimeError(f"unbc stand-in: cannot encode {stem}.png")
        _write(out / "Images" / rel / f"{stem}.png", png.tobytes())
        _write(out / "Frame_Labels" / "PSPI" / rel / f"{stem}_facs.txt",
               f"   {float(frame_pspi[t]):.7e}\n")
        facs = _facs_text(coded[t])
        n_empty += not facs
        _write(out / "Frame_Labels" / "FACS" / rel / f"{stem}_facs.txt", facs)
        lm = landmarks(subject, session.aus[t], size=(width, height), pose=tuple(pose[t]),
                       face_box=box)
        _write(out / "AAM_landmarks" / rel / f"{stem}_aam.txt",
               "".join(f"{x:.3f} {y:.3f}\n" for x, y in lm))
    rep = pain_reports(session, r)
    for name, value in rep.items():
        _write(out / "Sequence_Labels" / name / sdir / f"{seq}.txt", f"   {float(value):.7e}\n")
    return {"frames": n, "pain_frames": int((frame_pspi > 0).sum()), "black_frames": black,
            "empty_facs_files": n_empty, "peak": float(np.clip(session.pain.max(), 0, 1)),
            "VAS": rep["VAS"], "OPR": rep["OPR"]}


def _ceilings(peaks: np.ndarray, ids: list[str]) -> dict:
    """References: PSPI and pain presence are formulas of the facs14 input (exact on
    every test set); VAS/OPR reports are a monotone function of the sequence's peak pain
    plus independent rater noise, so the oracle on the latent state predicts the
    conditional median report per sequence (``oracle_items``, scored by the leaderboard
    on each table's test set after the affine map best for its metric there)."""
    formula = "the label is a formula of the facs14 input"
    out = {"pspi": {"exact": formula}, "pain": {"exact": formula}}
    for task, top in (("vas", 10), ("opr", 5)):
        out[task] = {"reference": "oracle on the latent state (conditional median report "
                                  "given the sequence's true peak pain)",
                     "oracle_items": {i: float(v) for i, v in zip(ids, report_median(peaks, top))}}
    return out


__all__ = ["write_standin", "SCALES", "FRAME_RATE"]
