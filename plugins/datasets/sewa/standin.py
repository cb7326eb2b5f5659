"""Stand-in AVEC 2019 CES tree written from the synthetic affect world (emobench.sim).

Each recording is one simulated subject in a free-running video-chat session
(:meth:`World.continuous_session`): its latent arousal / valence / liking are
rated by simulated annotators (gold standard = rater mean, 10 Hz), its AU
intensities become the OpenFace LLD file, its speech turns drive the audio, and
the face renderer draws the video. Culture is a sim group, so DE, HU and CN
subjects express affect through shifted AU mappings (the cross-cultural gap).
See docs/corpora/sewa.md for what each scale writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench.sim import OPENFACE_AUS, World, annotate_continuous, select_aus
from emobench.sim.ceilings import reference_key, regression_reference
from emobench.sim.rng import derive

from .layout import AU_COLUMNS, DIMENSIONS, LABEL_HEADER, OPENFACE_HEADER

LABEL_RATE = 10.0
# Annotation delays of the simulated raters: the values Tiny EmotioNet found
# optimal on the real corpus, so delay compensation means the same thing here.
STANDIN_DELAYS_S = {"arousal": 4.0, "valence": 2.8, "liking": 2.8}
PART_NAMES = {"train": "Train", "devel": "Devel", "test": "Test"}
_WAVETABLE = 2048


@dataclass(frozen=True)
class Scale:
    counts: dict[tuple[str, str], int]  # (partition, culture) -> recordings
    duration_s: tuple[float, float]
    feature_fps: float  # OpenFace LLD rate
    audio_rate: int | None  # None: no audio/ folder
    video_per_culture: int | None  # recordings per culture with video; None: every one
    video_fps: float = 10.0
    video_size: tuple[int, int] = (160, 120)  # (width, height)


def _counts(de: tuple[int, int, int], hu: tuple[int, int, int], cn: int) -> dict:
    return {("train", "DE"): de[0], ("devel", "DE"): de[1], ("test", "DE"): de[2],
            ("train", "HU"): hu[0], ("devel", "HU"): hu[1], ("test", "HU"): hu[2],
            ("test", "CN"): cn}


SCALES: dict[str, Scale] = {
    "tiny": Scale(_counts((3, 2, 2), (3, 2, 2), 2), (20.0, 30.0), 10.0, None, 0),
    # at least 10 subjects in every test set (DE, HU, CN test; DE+HU devel); shorter
    # sessions than before keep the frame count (the cost of every model) at 1.65x
    "small": Scale(_counts((10, 6, 10), (10, 6, 10), 10), (45.0, 75.0), 50.0, 8000, 1,
                   video_fps=5.0, video_size=(128, 96)),
    "full": Scale(_counts((34, 14, 16), (34, 14, 18), 70), (100.0, 176.7), 50.0, 16000, None),
}


def write_standin(out: Path, scale: str, seed: int) -> dict:
    if scale not in SCALES:
        raise ValueError(f"sewa stand-in: unknown scale {scale!r} (known: {', '.join(SCALES)})")
    cfg = SCALES[scale]
    out = Path(out)
    for folder in ("labels", "visual_features"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    if cfg.audio_rate:
        (out / "audio").mkdir(exist_ok=True)
    if cfg.video_per_culture != 0:
        (out / "video").mkdir(exist_ok=True)

    world = World(seed)
    latents = {d: [] for d in DIMENSIONS}
    golds = {d: [] for d in DIMENSIONS}
    cells: list[tuple[str, str, str]] = []  # (recording id, partition, culture) per latent
    written = {"recordings": 0, "labelled": 0, "label_frames": 0, "feature_frames": 0,
               "audio": 0, "video": 0}
    per_cell: dict[str, int] = {}
    video_left: dict[str, int] = {}
    index = 0
    for (part, culture), n in cfg.counts.items():
        per_cell[f"{part}/{culture}"] = n
        subjects = world.subjects(n, groups={"culture": culture, "corpus": "sewa"}, start=index,
                                  names=[f"{PART_NAMES[part]}_{culture}_{i + 1:02d}" for i in range(n)])
        index += n
        for subject in subjects:
            rid = subject.name
            r = derive(seed, "sewa-standin", rid)
            duration = round(float(r.uniform(*cfg.duration_s)), 1)
            # OpenFace output usually runs a little past the last label.
            extra = round(float(r.uniform(0.1, 0.5)), 2)
            session = world.continuous_session(subject, duration + extra, cfg.feature_fps, rng=0)
            at_labels = session if cfg.feature_fps == LABEL_RATE else session.resample(LABEL_RATE)
            n_lab = int(round(duration * LABEL_RATE))
            ann = annotate_continuous(at_labels, derive(seed, "sewa-raters", rid), n_raters=6,
                                      delay_s=STANDIN_DELAYS_S)
            gold = {d: ann.gold[d][:n_lab] for d in DIMENSIONS}
            _write_labels(out / "labels" / f"{rid}.csv", rid, gold)
            for d in DIMENSIONS:
                latents[d].append(getattr(at_labels, d)[:n_lab])
                golds[d].append(gold[d])
            cells.append((rid, part, culture))
            written["labelled"] += 1
            written["label_frames"] += n_lab
            written["feature_frames"] += _write_openface(
                out / "visual_features" / f"{rid}.csv", rid, session, r)
            if cfg.audio_rate:
                _write_audio(out / "audio" / f"{rid}.wav", session, cfg.audio_rate, r)
                written["audio"] += 1
            left = video_left.setdefault(culture, cfg.video_per_culture
                                         if cfg.video_per_culture is not None else 10 ** 9)
            if left > 0:
                _write_video(out / "video" / f"{rid}.avi", session, cfg, r)
                video_left[culture] = left - 1
                written["video"] += 1
            written["recordings"] += 1

    ceilings = {d: _references(latents[d], golds[d], cells) for d in DIMENSIONS}
    return {"scale": scale, "seed": seed, "ceilings": ceilings,
            "counts": {**written, "subjects": written["recordings"], "by_partition_culture": per_cell},
            "feature_fps": cfg.feature_fps, "audio_rate": cfg.audio_rate,
            "video_fps": cfg.video_fps if written["video"] else None,
            "annotation_delay_s": STANDIN_DELAYS_S,
            "note": "test labels are written (the real package has none) so every "
                    "protocol can be scored"}


def _test_sets(cells: list[tuple[str, str, str]]) -> dict[str, list[int]]:
    """Every recording set a protocol can test on: each partition x culture cell, each
    partition, each culture, all recordings (label -> indices into ``cells``)."""
    sets: dict[str, list[int]] = {"all": list(range(len(cells)))}
    for i, (_, part, culture) in enumerate(cells):
        for label in (f"{part}/{culture}", part, culture):
            sets.setdefault(label, []).append(i)
    return sets


def _references(latent: list[np.ndarray], gold: list[np.ndarray],
                cells: list[tuple[str, str, str]]) -> dict:
    """The oracle on the latent state (sim.ceilings.regression_reference) per test set
    (``by_test_set``, keyed by sim.ceilings.reference_key of the set's recording ids;
    "all" is one of them)."""
    from emobench.metrics import get_metric

    fns = {m: get_metric(m).fn for m in ("ccc_avec", "ccc", "pearson", "rmse", "mae")}

    def ref(idx):
        return regression_reference([latent[i] for i in idx], [gold[i] for i in idx], LABEL_RATE, fns)

    by_set = {}
    for label, idx in _test_sets(cells).items():
        key = reference_key(cells[i][0] for i in idx)
        if key not in by_set:
            by_set[key] = {**ref(idx), "test_set": label, "subjects": len(idx)}
    return {"by_test_set": by_set,
            "reference": "oracle on the latent state (the latent delayed and smoothed like "
                         "the raters, best delay and width on the test set)"}


# ---------------------------------------------------------------- writers


def _write_rows(path: Path, header: tuple[str, ...], rid: str, rows: np.ndarray,
               formats: list[str]) -> None:
    """``;``-separated rows led by the quoted instance name, as in the package.
    One ``%`` per row (not per value) keeps large files quick to write."""
    line = f"'{rid}';" + ";".join(formats)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(";".join(header) + "\n")
        fh.write("\n".join(line % tuple(row) for row in rows.tolist()))
        fh.write("\n")


def _write_labels(path: Path, rid: str, gold: dict[str, np.ndarray]) -> None:
    rows = np.column_stack([np.arange(gold["arousal"].size) / LABEL_RATE,
                            *(gold[d] for d in DIMENSIONS)])
    _write_rows(path, LABEL_HEADER, rid, rows, ["%.6f"] * rows.shape[1])


def _openface_rows(session, r: np.random.Generator) -> np.ndarray:
    """(N, 19) frameTime, confidence, 17 AU_r with OpenFace-like tracking losses:
    a lost face has low confidence and all intensities 0."""
    n, fps = session.n, session.rate_hz
    aus = select_aus(session.aus, OPENFACE_AUS)
    conf = np.clip(r.normal(0.95, 0.015, n), 0.0, 0.98)
    for _ in range(r.poisson(session.duration_s / 60.0)):
        start = int(r.uniform(0, n))
        stop = min(n, start + int(r.uniform(0.5, 2.0) * fps))
        conf[start:stop] = r.uniform(0.0, 0.2, stop - start)
        aus[start:stop] = 0.0
    return np.column_stack([session.time, conf, aus])


def _write_openface(path: Path, rid: str, session, r: np.random.Generator) -> int:
    rows = _openface_rows(session, r)
    assert rows.shape[1] == 2 + len(AU_COLUMNS)
    _write_rows(path, OPENFACE_HEADER, rid, rows, ["%.3f"] * rows.shape[1])
    return len(rows)


def _write_audio(path: Path, session, rate: int, r: np.random.Generator) -> None:
    """Voiced speech while the subject talks (f0 from the subject, raised with arousal,
    syllable-rate amplitude) over low room noise; 16-bit mono wav."""
    from scipy.io import wavfile

    subject = session.subject
    n = int(round(session.duration_s * rate))
    t = np.arange(n) / rate
    on = np.interp(t, session.time, session.speaking.astype(float))
    arousal = np.interp(t, session.time, session.arousal)
    f0 = subject.voice_f0 * 2.0 ** ((2.0 * arousal + 0.8 * np.sin(2 * np.pi * 0.7 * t)) / 12.0)
    # One period of a 5-harmonic buzz looked up by phase: far cheaper than summing sines.
    grid = np.linspace(0.0, 2 * np.pi, _WAVETABLE, endpoint=False)
    table = sum(np.sin(k * grid) / k for k in range(1, 6))
    cycles = np.cumsum(f0) / rate
    voice = table[((cycles - np.floor(cycles)) * _WAVETABLE).astype(np.int64) % _WAVETABLE]
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * subject.speech_rate * t) ** 2
    level = 0.25 * (1.0 + 0.3 * arousal)
    x = on * level * syllables * voice / 2.3 + r.normal(0.0, 0.003, n)
    wavfile.write(path, rate, (np.clip(x, -1, 1) * 32767).astype(np.int16))


def _write_video(path: Path, session, cfg: Scale, r: np.random.Generator) -> None:
    """Xvid avi of the rendered face at ``cfg.video_fps`` (head sway, blinks and AUs
    from the session). Pixel noise is left out: it doubles the rendering time and
    the Xvid encoder adds its own artefacts."""
    import cv2

    from emobench.sim.face import make_background, render_face

    w, h = cfg.video_size
    n = int(round(session.duration_s * cfg.video_fps))
    idx = np.clip(np.round(np.arange(n) / cfg.video_fps * session.rate_hz).astype(int), 0,
                  session.n - 1)
    sway = np.cumsum(r.normal(0, 0.6, (n, 3)), axis=0)
    sway = np.clip(sway - sway.mean(axis=0), -12, 12) * np.array([1.0, 0.6, 0.4])
    background = make_background((w, h), r)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"XVID"), cfg.video_fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cv2.VideoWriter cannot write XVID")
    try:
        for k in range(n):
            writer.write(render_face(session.subject, session.aus[idx[k]], size=(w, h),
                                     pose=tuple(sway[k]), background=background,
                                     lighting=session.subject.lighting))
    finally:
        writer.release()
