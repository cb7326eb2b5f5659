"""UNBC-McMaster Shoulder Pain Expression Archive (Lucey et al., FG 2011).

25 subjects with shoulder pain filmed while moving the affected and the
unaffected arm: 200 sequences, 48,398 FACS-coded frames. One recording is one
sequence; the subject is the person (``ll042`` from folder ``042-ll042``).
There is no official partition.

Tasks: frame-level PSPI regression and pain detection (PSPI > 0), sequence-level
VAS and OPR regression. Inputs: the 14 manual FACS columns used by Tiny
EmotioNet (``facs14``), the 66 AAM landmarks and the face crops of the PNG
frames. PSPI is a deterministic function of the FACS inputs (AU4 + max(AU6,
AU7) + max(AU9, AU10) + AU43), so ``facs14 -> pspi`` is a white-box check of a
model rather than a recognition problem. Layout and pitfalls:
docs/corpora/unbc.md.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench import hookimpl
from emobench.data import Modality, Recording, Task
from emobench.dataset import Dataset, DoctorReport, Problem
from emobench.protocols import SubjectHoldout

from . import layout as L
from .layout import SUBJECT_FOLDERS, TE_TEST, TE_TRAIN, TE_VALID

FRAME_RATE = 30.0  # unverified: the archive does not state the video rate
NATIVE_CROP = (112, 112)

#: Tiny EmotioNet's subject split (name-sorted sequences cut 61 / 68 / 71).


@dataclass
class UnbcHoldout(SubjectHoldout):
    """Tiny EmotioNet's 9 / 7 / 9 subject hold-out (one fold).

    When every subject of the original lists is present the lists are used
    as-is; otherwise (other subject names) the name-sorted subjects are cut
    9 test, 7 valid, 9 train, which is how the original lists arose."""

    name: str = "unbc-holdout-9-7-9"
    counts: tuple[int, int, int] | None = (9, 7, 9)
    ordered: bool = True
    test_subjects: tuple[str, ...] = TE_TEST
    valid_subjects: tuple[str, ...] = TE_VALID
    train_subjects: tuple[str, ...] = TE_TRAIN
    description: str = ("Tiny EmotioNet's UNBC split: 9 test, 7 validation, 9 training subjects "
                        "(the original lists when present, else name-sorted counts).")
    datasets: tuple[str, ...] = ("unbc",)
    version: str = "1"

    def uses_lists(self, recordings) -> bool:
        present = {r.subject for r in recordings}
        return set(self.test_subjects + self.valid_subjects + self.train_subjects) <= present

    def folds(self, recordings, seed=0):
        if self.uses_lists(recordings):
            keep = set(self.train_subjects + self.valid_subjects + self.test_subjects)
            recs = [r for r in recordings if r.subject in keep]
            return SubjectHoldout(name=self.name, test_subjects=self.test_subjects,
                                  valid_subjects=self.valid_subjects).folds(recs, seed)
        return SubjectHoldout(name=self.name, counts=self.counts, ordered=True).folds(recordings, seed)


class Unbc(Dataset):
    name = "unbc"
    version = "1"
    standin_version = "2"  # bump when the stand-in files change
    # writing the stand-in 9.6 s + first read 15.5 s, face crops at the default models'
    # four sizes (scripts/bench_first_read.py, 2-core EPYC, two corpora at a time as a
    # run writes them, nothing else running)
    standin_seconds = 25
    title = "UNBC-McMaster Shoulder Pain Expression Archive"
    folder = "UNBC-McMaster"
    modalities = {
        "facs14": Modality(
            "au_series", (len(L.FACS14_CHANNELS),), FRAME_RATE, L.FACS14_CHANNELS,
            "manual FACS intensities per frame (0-5; AU43 binary; AU0 a zero placeholder), "
            "the 14 columns of Tiny EmotioNet"),
        "landmarks": Modality(
            "landmarks", (L.N_LANDMARKS, 2), FRAME_RATE, (),
            "66-point AAM landmarks per frame, columns read as (x, y) pixels"),
        "face_video": Modality(
            "face_video", (None, None), FRAME_RATE, (),
            "face crops of the PNG frames (Haar detection, tracking; black frames get a "
            "centre crop)"),
    }
    tasks = (
        Task("pspi", "regression", "frame", value_range=(0.0, 16.0), metric="ccc",
             metrics=("ccc", "pearson", "mae", "rmse"), rate=FRAME_RATE,
             description="Prkachin-Solomon pain intensity per frame (0-16); equals a formula "
                         "of the facs14 input", formula_of=("facs14",)),
        Task("pain", "classification", "frame", classes=("no-pain", "pain"), metric="uar",
             metrics=("uar", "macro_f1", "accuracy"), rate=FRAME_RATE,
             description="pain present in the frame (PSPI > 0); about 80% of frames are no-pain",
             formula_of=("facs14",)),
        Task("vas", "regression", "clip", value_range=(0.0, 10.0), metric="mae",
             metrics=("mae", "rmse", "pearson", "ccc"),
             description="sequence-level visual analogue scale self-report (0-10)"),
        Task("opr", "regression", "clip", value_range=(0.0, 5.0), metric="mae",
             metrics=("mae", "rmse", "pearson", "ccc"),
             description="sequence-level observer pain rating (0-5)"),
    )
    protocols = ("unbc-holdout-9-7-9", "loso", "subject-5fold")
    citation = ("P. Lucey, J. F. Cohn, K. M. Prkachin, P. E. Solomon, I. Matthews. Painful data: "
                "The UNBC-McMaster shoulder pain expression archive database. FG 2011.")
    url = "https://www.pitt.edu/~emotion/um-spread.htm"

    # -- loading ----------------------------------------------------------
    def load(self, root: Path) -> list[Recording]:
        tree = L.scan(Path(root))
        fatal = [p for p in tree.problems if p.severity == "error"]
        if fatal:
            raise L.UnbcTreeError(fatal[0].path, fatal[0].message)
        return [self._recording(tree, seq) for seq in tree.sequences]

    def _recording(self, tree: L.Tree, seq: L.SequenceFiles) -> Recording:
        miss = seq.missing.get("pspi")
        if miss:
            raise L.UnbcTreeError(seq.pspi[miss[0]], "PSPI file not found "
                                  f"({len(miss)} frame(s) of sequence {seq.name} lack one)")
        pspi = np.array([L.read_pspi(p) for p in seq.pspi], np.float32)
        labels = {"pspi": pspi, "pain": (pspi > 0).astype(np.int64)}
        meta = {"subject_folder": seq.subject_dir, "n_frames": seq.n_frames,
                "frames": [p.name for p in seq.images], "nested_layout": tree.nested}
        m = L.SEQUENCE_RE.match(seq.name)
        if m:
            meta["test"] = f"t{m.group(3)}"
            meta["shoulder"] = "unaffected" if m.group(5) else "affected"
        for scale, path in seq.seq_labels.items():
            if path.is_file():
                value = L.read_sequence_label(path, scale)
                if scale in ("VAS", "OPR"):
                    labels[scale.lower()] = value
                else:
                    meta[scale.lower()] = value
        meta["black_frames"] = L.black_frames(seq)
        streams = {"face_video": _face_video_loader(seq)}
        if seq.facs is not None:
            streams["facs14"] = _facs_loader(seq)
        if seq.aam is not None:
            streams["landmarks"] = _aam_loader(seq)
        return Recording(id=seq.name, subject=seq.subject, labels=labels, streams=streams,
                         meta=meta)

    # -- stand-in -----------------------------------------------------------
    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin

        return write_standin(Path(out), scale, seed)

    # -- doctor -------------------------------------------------------------
    def doctor(self, root: Path) -> DoctorReport:
        from .doctor import doctor

        report = DoctorReport(self.name, str(root))
        try:
            doctor(Path(root), report)
        except Exception as exc:  # never a traceback from doctor
            report.problems.append(Problem(str(root), f"{type(exc).__name__}: {exc}"))
        return report


# -- stream loaders (lazy; each returns a closure over the sequence's paths) --

def _missing_error(seq: L.SequenceFiles, kind: str, paths: list[Path]) -> None:
    miss = seq.missing.get(kind)
    if miss:
        raise L.UnbcTreeError(paths[miss[0]], f"file not found ({len(miss)} frame(s) of "
                              f"sequence {seq.name} lack a {kind} file)")


def _facs_loader(seq: L.SequenceFiles):
    def load() -> np.ndarray:
        _missing_error(seq, "facs", seq.facs)
        return np.stack([L.facs_row(L.read_facs(p)) for p in seq.facs]).astype(np.float32)
    return load


def _aam_loader(seq: L.SequenceFiles):
    def load() -> np.ndarray:
        _missing_error(seq, "aam", seq.aam)
        return np.stack([L.read_aam(p) for p in seq.aam]).astype(np.float32)
    return load


def _face_video_loader(seq: L.SequenceFiles):
    def load(size=NATIVE_CROP, gray=True, **options) -> np.ndarray:
        import cv2

        from emobench.media import content_key, default_cache
        from emobench.media import (CANONICAL_CROP, PIPELINE_VERSION, FaceClipSpec, preprocess_frames,
                                    read_image, resize_crops)

        size = tuple(int(v) for v in size)
        canonical = (CANONICAL_CROP, CANONICAL_CROP)
        if max(size) <= CANONICAL_CROP and (size, bool(gray)) != (canonical, False):
            # every model's crop size comes from one decode and face track of the
            # sequence (one cached colour crop), as for the video corpora
            return resize_crops(load(canonical, False, **options), size, bool(gray))
        spec = FaceClipSpec(size=size, gray=bool(gray), **options)
        key = content_key("emobench_plugins.unbc.face_video", Unbc.version, PIPELINE_VERSION,
                          cv2.__version__, list(seq.images), spec)

        def compute():
            frames = [read_image(p) for p in seq.images]
            # all frames of a sequence share one size; a stray size would break stacking
            shape = frames[0].shape
            frames = [f if f.shape == shape else cv2.resize(f, (shape[1], shape[0]))
                      for f in frames]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                crops = preprocess_frames(np.stack(frames), spec, source_fps=FRAME_RATE)
            return {"frames": crops}

        return default_cache().get_or_compute(key, compute)["frames"]
    return load


@hookimpl
def emobench_register_datasets():
    return [Unbc()]


@hookimpl
def emobench_register_protocols():
    return [UnbcHoldout()]


__all__ = ["Unbc", "UnbcHoldout", "FRAME_RATE", "TE_TEST", "TE_VALID", "TE_TRAIN",
           "SUBJECT_FOLDERS"]
