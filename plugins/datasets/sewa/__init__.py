"""SEWA / AVEC 2019 Cross-cultural Emotion Sub-challenge (CES).

Reads the AVEC 2019 CES package (folder ``AVEC2019_CES_traindeveltest/``):
``labels/`` gold standards at 10 Hz, ``visual_features/`` per-frame OpenFace AU
intensities, ``audio/`` wav and ``video/`` avi. One recording per instance name
(``Train_DE_01``); recordings are subjects; ``groups["culture"]`` is DE, HU or
CN; the partition is train, devel or test (test labels were never released, so
real test recordings carry no labels). See docs/corpora/sewa.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from emobench import hookimpl
from emobench.data import Fold, Modality, Recording, Task
from emobench.dataset import Dataset, DoctorReport, Problem
from emobench.protocols import OfficialPartition, Protocol

from .features import (FUNCTIONAL_CHANNELS, au_functionals, pick_frames, resample_rows,
                             speech_activity)
from .layout import (FOLDERS, Entry, scan, AU_COLUMNS, CULTURES, DIMENSIONS, LabelFile, RecordingName,
                       SewaFormatError, is_hidden, parse_name, read_labels, read_openface,
                       read_wav)

LABEL_RATE = 10.0
AUDIO_RATE = 16000
FACE_SIZE = (112, 112)
LOADER_VERSION = 2
# Label delay compensation (annotators react late): Tiny EmotioNet's optimum and
# the AVEC 2019 baseline's global shift. Models apply them; the loader never does.
LABEL_DELAY_S = {"arousal": 4.0, "valence": 2.8}
AVEC_BASELINE_DELAY_S = 2.0
FUNCTIONAL_WINDOW_S = 1.0


def _task(name: str, what: str) -> Task:
    return Task(name=name, kind="regression", level="frame", value_range=(-1.0, 1.0),
                metric="ccc_avec", metrics=("ccc_avec", "ccc", "pearson", "rmse", "mae"),
                rate=LABEL_RATE,
                description=f"{what}, continuous gold standard at 10 Hz; CCC on the "
                            "concatenation of a partition's sequences, as the AVEC 2019 "
                            "calc_scores.py computes it (plain CCC beside it)")


# ---------------------------------------------------------------- streams


class _Streams:
    """Lazy loaders of one recording; all series are aligned to its label times."""

    def __init__(self, entry: Entry, times: np.ndarray | None):
        self.files = entry.files
        self._times = times

    def times(self) -> np.ndarray:
        """Label times; for an unlabelled (test) recording, a 10 Hz grid over the
        span of its features, audio or video."""
        if self._times is None:
            self._times = np.arange(self._n_unlabelled()) / LABEL_RATE
        return self._times

    def _n_unlabelled(self) -> int:
        if "visual" in self.files:
            t = read_openface(self.files["visual"]).times
            return int(np.floor(t[-1] * LABEL_RATE + 1e-6)) + 1
        if "audio" in self.files:
            x, sr = read_wav(self.files["audio"])
            return max(1, int(x.size / sr * LABEL_RATE))
        from emobench.media import video_info

        info = video_info(self.files["video"])
        return max(1, int(info["frames"] / (info["fps"] or 25.0) * LABEL_RATE))

    def au_functionals(self, window_s: float = FUNCTIONAL_WINDOW_S) -> np.ndarray:
        from emobench.media import content_key, default_cache
        window_s = float(window_s)
        feat, audio = self.files["visual"], self.files.get("audio")
        times = self.times()
        key = content_key("emobench.sewa.au_functionals", LOADER_VERSION, feat, audio, times,
                          window_s)

        def compute():
            of = read_openface(feat)
            turn = None
            if audio is not None:
                wave, sr = read_wav(audio)
                turn = speech_activity(wave, sr, times)
            return {"x": au_functionals(of.times, of.values, times, window_s, turn)}

        return default_cache().get_or_compute(key, compute)["x"]

    def au_series(self) -> np.ndarray:
        from emobench.media import content_key, default_cache
        feat, times = self.files["visual"], self.times()
        key = content_key("emobench.sewa.au_series", LOADER_VERSION, feat, times)

        def compute():
            of = read_openface(feat)
            return {"x": resample_rows(of.times, of.values[:, 1:], times)}

        return default_cache().get_or_compute(key, compute)["x"]

    def audio(self, rate: int = AUDIO_RATE) -> np.ndarray:
        from emobench.media import content_key, default_cache
        from scipy.signal import resample_poly

        path, rate = self.files["audio"], int(rate)
        wave, sr = read_wav(path)
        if sr == rate:
            return wave
        key = content_key("emobench.sewa.audio", LOADER_VERSION, path, rate)
        g = np.gcd(sr, rate)
        return default_cache().get_or_compute(
            key, lambda: {"x": resample_poly(wave, rate // g, sr // g).astype(np.float32)})["x"]

    def face_video(self, size=FACE_SIZE, gray: bool = False) -> np.ndarray:
        from emobench.media import default_cache
        from emobench.media import FaceClipSpec, face_clip, video_info

        path = self.files["video"]
        fps = video_info(path)["fps"]
        # Decode no denser than needed for 10 Hz; frames are then picked per label.
        step = max(1, int(fps // LABEL_RATE)) if fps > 0 else 1
        clip = face_clip(path, FaceClipSpec(size=tuple(size), gray=bool(gray), frame_step=step),
                         cache=default_cache())
        idx = pick_frames(len(clip.frames), clip.fps or LABEL_RATE, self.times())
        return clip.frames[idx]


# ---------------------------------------------------------------- dataset


class Sewa(Dataset):
    name = "sewa"
    version = "1"
    standin_version = "2"  # bump when the stand-in files change
    # writing the stand-in 9.2 s + first read 11.4 s, face crops at the default models'
    # four sizes, alone (scripts/bench_first_read.py, 2-core EPYC), times 1.4: what two
    # corpora at a time, as a run writes them, cost the ones measured that way
    standin_seconds = 29
    title = "SEWA / AVEC 2019 Cross-cultural Emotion Sub-challenge (CES)"
    folder = "AVEC2019_CES_traindeveltest"
    citation = ("Ringeval et al., AVEC 2019 Workshop and Challenge: State-of-Mind, Detecting "
                "Depression with AI, and Cross-Cultural Affect Recognition, ACM AVEC 2019; "
                "Kossaifi et al., SEWA DB, IEEE TPAMI 2021.")
    url = "https://db.sewaproject.eu/"
    modalities: ClassVar[dict[str, Modality]] = {
        "au_functionals": Modality(
            "features", (len(FUNCTIONAL_CHANNELS),), LABEL_RATE, FUNCTIONAL_CHANNELS,
            "Tiny EmotioNet inputs: windowed mean and std of OpenFace confidence + 17 AU_r "
            "(interleaved), hop 0.1 s, window `window_s` (default 1.0 s), plus a speaker-turn "
            "flag from audio energy (0 without audio); one row per label"),
        "au_series": Modality(
            "au_series", (len(AU_COLUMNS),), LABEL_RATE, AU_COLUMNS,
            "the 17 OpenFace AU intensities linearly resampled to the 10 Hz label times"),
        "audio": Modality("audio", (), float(AUDIO_RATE), (),
                          "mono waveform; spec rate=16000 (resampled from the file)"),
        "face_video": Modality(
            "face_video", (*FACE_SIZE, 3), LABEL_RATE, (),
            "face crops picked at the 10 Hz label times; spec size=(H, W), gray"),
    }
    tasks = (_task("arousal", "Arousal"), _task("valence", "Valence"),
             _task("liking", "Liking"))
    protocols = ("sewa-official", "sewa-devel", "sewa-cross-culture")
    label_delay_s: ClassVar[dict[str, float]] = dict(LABEL_DELAY_S)
    avec_baseline_delay_s: ClassVar[float] = AVEC_BASELINE_DELAY_S
    functional_window_s: ClassVar[float] = FUNCTIONAL_WINDOW_S

    # -- loading --------------------------------------------------------
    def load(self, root: Path) -> list[Recording]:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"sewa: corpus folder {root} does not exist "
                                    f"(expected a folder named {self.folder})")
        entries, _ = scan(root)
        if not entries:
            raise SewaFormatError(root, "no recordings found: expected labels/*.csv and "
                                  "visual_features/*.csv named like Train_DE_01.csv")
        return [self._recording(e) for e in sorted(entries.values(), key=lambda e: e.name.sort_key)]

    def _recording(self, entry: Entry) -> Recording:
        labels: dict[str, np.ndarray] = {}
        times = None
        if "labels" in entry.files:
            lf: LabelFile = read_labels(entry.files["labels"])
            labels, times = dict(lf.values), lf.times
        streams = _Streams(entry, times)
        loaders = {}
        if "visual" in entry.files:
            loaders["au_functionals"] = streams.au_functionals
            loaders["au_series"] = streams.au_series
        if "audio" in entry.files:
            loaders["audio"] = streams.audio
        if "video" in entry.files:
            loaders["face_video"] = streams.face_video
        n = entry.name
        return Recording(
            id=n.id, subject=n.id, labels=labels, streams=loaders,
            groups={"culture": n.culture}, partition=n.partition,
            meta={"label_delay_s": dict(self.label_delay_s),
                  "avec_baseline_delay_s": self.avec_baseline_delay_s,
                  "functional_window_s": self.functional_window_s,
                  "label_rate_hz": LABEL_RATE,
                  "n_labels": None if times is None else int(times.size),
                  "files": {k: str(p) for k, p in entry.files.items()}})

    # -- stand-in -------------------------------------------------------
    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin

        return write_standin(Path(out), scale, seed)

    # -- doctor ---------------------------------------------------------
    def doctor(self, root: Path) -> DoctorReport:
        from .doctor import check

        return check(self, Path(root))


# ---------------------------------------------------------------- protocols


@dataclass
class SewaCrossCulture(Protocol):
    """Tiny EmotioNet's split: train on DE train, select on DE devel, test on the
    DE test partition and on every HU and every CN recording (one fold each)."""

    name: str = "sewa-cross-culture"
    description: str = ("Train DE train, validate DE devel, test DE test / all HU / all CN "
                        "(Tiny EmotioNet).")
    needs: tuple[str, ...] = ("partition", "groups:culture")
    train_culture: str = "DE"
    pool_folds: bool = False
    datasets: tuple[str, ...] = ()
    version: str = "1"

    def folds(self, recordings, seed=0):
        home = [r for r in recordings if r.groups.get("culture") == self.train_culture]
        train = [r.id for r in home if r.partition == "train"]
        valid = tuple(r.id for r in home if r.partition == "devel")
        if valid:
            train = tuple(train)
        else:
            train, valid = self.split_valid(recordings, train, seed)
        tests = {f"test={self.train_culture}": [r.id for r in home if r.partition == "test"]}
        for c in CULTURES:
            if c != self.train_culture:
                tests[f"test={c}"] = [r.id for r in recordings if r.groups.get("culture") == c]
        return [Fold(name, train, valid, tuple(ids)) for name, ids in tests.items() if ids]


@dataclass
class SewaDevel(OfficialPartition):
    """Train on train, validation carved from train subjects, test on devel."""

    def folds(self, recordings, seed=0):
        return [replace(f, name="test=devel") for f in super().folds(recordings, seed)]


def sewa_protocols() -> list[Protocol]:
    return [
        OfficialPartition(
            name="sewa-official", test_by="culture",
            description="AVEC 2019 CES: train DE+HU train, validate DE+HU devel, test DE, HU "
                        "and CN test separately (test labels exist only in stand-ins)."),
        SewaDevel(
            name="sewa-devel", train_parts=("train",), valid_parts=(), test_parts=("devel",),
            pool_folds=True,
            description="Train on train (validation carved from train subjects), test on "
                        "devel: the protocol a real copy can score."),
        SewaCrossCulture(),
    ]


@hookimpl
def emobench_register_datasets():
    return [Sewa()]


@hookimpl
def emobench_register_protocols():
    return sewa_protocols()


__all__ = ["Sewa", "SewaCrossCulture", "sewa_protocols", "LABEL_DELAY_S", "AVEC_BASELINE_DELAY_S",
           "FUNCTIONAL_CHANNELS", "DIMENSIONS", "scan"]
