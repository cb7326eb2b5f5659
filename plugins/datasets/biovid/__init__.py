"""BioVid Heat Pain Database, Part A (87 subjects x 5 classes x 20 samples of 5.5 s).

Reads the tree as distributed (``samples.csv``, ``biosignals_filtered/``, ``video/``)
plus an optional ``openface/`` folder of per-sample OpenFace CSVs that the user
supplies (the distribution has none); see docs/corpora/biovid.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emobench import hookimpl
from emobench.data import Modality, Recording, Task
from emobench.dataset import Dataset, DoctorReport, count_recordings, problem_from

from . import layout as L
from .doctor import check_tree
from .protocols import biovid_protocols

DEFAULT_CROP = (112, 112)


def _cached(kind: str, path: Path, version: str, compute, **params) -> np.ndarray:
    from emobench.media import content_key, default_cache
    key = content_key("emobench_plugins.biovid", kind, version, path, params)
    return default_cache().get_or_compute(key, lambda: {"x": compute()})["x"]


def _physio_loader(path: Path, version: str):
    from scipy.signal import resample_poly
    def load(rate: float | None = None) -> np.ndarray:
        """(T, 5) float32 :data:`layout.BIO_CHANNELS` at 512 Hz, or resampled to ``rate`` Hz
        (polyphase, anti-aliased; 25 gives the 138 video-frame steps)."""
        def compute():
            _, x = L.read_bio(path)
            if rate is None or float(rate) == L.BIO_RATE:
                return x
            from fractions import Fraction
            frac = Fraction(float(rate) / L.BIO_RATE).limit_denominator(10000)
            return resample_poly(x, frac.numerator, frac.denominator, axis=0).astype(np.float32)
        return _cached("physio", path, version, compute, rate=rate)
    return load


def _video_loader(path: Path):
    from emobench.media import default_cache
    def load(size: tuple[int, int] = DEFAULT_CROP, gray: bool = False, **spec) -> np.ndarray:
        """Face crops (T, H, W[, 3]) uint8 at 25 fps through the shared face pipeline
        (``emobench.media.preprocess_video``, cached)."""
        from emobench.media import FaceClipSpec, preprocess_video
        return preprocess_video(path, FaceClipSpec(size=tuple(size), gray=bool(gray), **spec),
                                cache=default_cache())
    return load


def _features_loader(path: Path, version: str):
    def load() -> np.ndarray:
        """(T, 41) float32 OpenFace pose + AU_r + AU_c per video frame."""
        return _cached("openface", path, version, lambda: L.read_openface(path))
    return load


class BioVidPartA(Dataset):
    name = "biovid"
    version = "1"
    standin_version = "3"  # bump when the stand-in files change (3: face-box sidecar)
    # writing the stand-in 52.0 s + first read 210.8 s, face crops at the default models'
    # four sizes (scripts/bench_first_read.py, 2-core EPYC, two corpora at a time as a
    # run writes them, nothing else running)
    standin_seconds = 263
    title = "BioVid Heat Pain Database, Part A"
    folder = "BioVid/PartA"
    modalities = {
        "physio": Modality("physio", (len(L.BIO_CHANNELS),), L.BIO_RATE, L.BIO_CHANNELS,
                           "biosignals_filtered (or biosignals_raw): skin conductance (GSR), ECG, "
                           "trapezius, corrugator and zygomaticus EMG (the last two are 0 in a "
                           "four-column copy); spec rate=<Hz> resamples (25 = video frames)"),
        "face_video": Modality("face_video", (None, None), L.VIDEO_FPS, (),
                               "face crops of video/<subject>/<sample>.mp4 (138 frames, 25 fps); "
                               "spec size=(H, W), gray=True|False"),
        "face_features": Modality("au_series", (len(L.FACE_FEATURES),), L.VIDEO_FPS,
                                  L.FACE_FEATURES,
                                  "OpenFace pose + 17 AU intensities + 18 AU presences per frame "
                                  "from openface/<subject>/<sample>.csv (user-supplied extra)"),
    }
    tasks = (
        Task("bl1-vs-pa4", "classification", "clip", classes=("BL1", "PA4"), metric="accuracy",
             metrics=("accuracy", "macro_f1", "uar"),
             description="No pain (BL1) vs the highest heat-pain level (PA4); balanced."),
        Task("pain-5class", "classification", "clip", classes=L.CLASSES, metric="accuracy",
             metrics=("accuracy", "macro_f1", "uar"),
             description="Stimulus level BL1, PA1..PA4; balanced."),
        Task("pspi", "regression", "frame", value_range=(0.0, 16.0), metric="ccc",
             metrics=("ccc", "pearson", "rmse", "mae"), rate=L.VIDEO_FPS,
             description="OpenFace-derived PSPI per frame (AU04_r + max(AU06_r, AU07_r) + "
                         "max(AU09_r, AU10_r) + AU45_c); only where openface/ CSVs exist."),
    )
    protocols = ("biovid-holdout-61-26", "loso", "biovid-loso-67", "biovid-29-29-29",
                 "subject-5fold")
    citation = ("Walter S. et al., The BioVid heat pain database: data for the advancement and "
                "systematic validation of an automated pain recognition system, IEEE CYBCONF 2013.")
    url = "https://www.nit.ovgu.de/BioVid.html"

    # -- loading -------------------------------------------------------------------------
    def load(self, root: Path) -> list[Recording]:
        root = L.corpus_dir(Path(root))
        samples = L.find_samples(root)
        rows = L.read_samples(samples)
        bio = L.locate(root, *L.BIO_DIRS)
        zipped = L.zipped_videos(root)
        if zipped is not None:
            raise L.BioVidFormatError(zipped, f"the video part is still zipped: unpack it into "
                                              f"{root / L.VIDEO_DIR}/ so that "
                                              f"{L.VIDEO_DIR}/<subject>/<sample>.mp4 exists")
        has_video = L.find_part(root, L.VIDEO_DIR)[0] is not None
        seen: set[str] = set()
        recs = []
        pspi_paths = []
        for row in rows:
            where = f"{samples}: line {row.line}"
            if not 0 <= row.class_id < len(L.CLASSES):
                raise L.BioVidFormatError(f"{where}: class_id {row.class_id} is not 0..4")
            if row.class_name and row.class_name != L.CLASSES[row.class_id]:
                raise L.BioVidFormatError(f"{where}: class_name {row.class_name!r} contradicts "
                                          f"class_id {row.class_id} ({L.CLASSES[row.class_id]})")
            if not row.sample or not row.subject:
                raise L.BioVidFormatError(f"{where}: empty subject_name or sample_name")
            if row.sample in seen:
                raise L.BioVidFormatError(f"{where}: sample_name {row.sample!r} listed twice")
            seen.add(row.sample)
            labels = {"pain-5class": row.class_id}
            if row.class_id in (0, 4):
                labels["bl1-vs-pa4"] = 0 if row.class_id == 0 else 1
            streams = {}
            if bio is not None:
                streams["physio"] = _physio_loader(L.bio_path(root, row.subject, row.sample, bio),
                                                   self.version)
            if has_video:
                streams["face_video"] = _video_loader(L.video_path(root, row.subject, row.sample))
            of = L.openface_path(root, row.subject, row.sample)
            if of.is_file():
                streams["face_features"] = _features_loader(of, self.version)
                pspi_paths.append((len(recs), of))
            recs.append(Recording(
                id=row.sample, subject=row.subject, labels=labels, streams=streams,
                groups=L.subject_groups(row.subject),
                meta={"class_name": L.CLASSES[row.class_id], "subject_id": row.subject_id,
                      "sample_id": row.sample_id, "path": where}))
        for i, path in pspi_paths:
            recs[i].labels["pspi"] = _cached(
                "pspi", path, self.version, lambda p=path: L.pspi_from_features(L.read_openface(p)))
            recs[i].meta["label_files"] = {"pspi": str(path)}
        return recs

    # -- checking ------------------------------------------------------------------------
    def doctor(self, root: Path) -> DoctorReport:
        from emobench.dataset import recording_problems, tree_problems

        root = L.corpus_dir(Path(root))
        report = DoctorReport(self.name, str(root))
        report.problems.extend(tree_problems(root))
        counts, problems = check_tree(root)
        report.problems.extend(problems)
        try:
            recs = self.load(root)
        except Exception as exc:  # doctor reports, it does not crash
            if not any(p.severity == "error" for p in problems):
                report.problems.append(problem_from(exc, root))
            report.counts = counts
            return report
        report.problems.extend(recording_problems(self, recs))
        report.counts = {**count_recordings(recs, self.tasks), **counts}
        return report

    # -- stand-in ------------------------------------------------------------------------
    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin
        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [BioVidPartA()]


@hookimpl
def emobench_register_protocols():
    return biovid_protocols()
