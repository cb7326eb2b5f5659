"""AffectNet: about 420K manually annotated web face images, 8 expression codes and
valence / arousal. The test set is not public: everyone reports on the 5,500-image
validation set (500 per code), which is emobench's test set too (protocol
``affectnet-official``). Codes 8-10 (None, Uncertain, Non-Face) are excluded; a
listed image that is missing or not an image is skipped and reported.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench import hookimpl
from emobench.data import Fold, Modality, Recording, Task
from emobench.dataset import Dataset, Problem
from emobench.labelspace import CorpusLabels, declare
from emobench.protocols import Protocol

from . import layout as L

PROTOCOL = "affectnet-official"
VALID_EVERY = 5   # training rows whose line number is a multiple of 5 form the validation split
CLASSES7 = L.CLASSES8[:7]

declare(CorpusLabels("affectnet", L.CLASSES8, note="AffectNet codes 0-7; 8-10 excluded"))


def face_loader(path: Path, box: tuple[int, int, int, int]):
    def load(size: tuple[int, int] = (64, 64), gray: bool = False) -> np.ndarray:
        """(H, W[, 3]) uint8: the listed face box (clipped to the image), resized."""
        import cv2

        from emobench.media import read_image

        img = read_image(path)
        x, y, w, h = box
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(img.shape[1], x + w), min(img.shape[0], y + h)
        if x1 - x0 >= 2 and y1 - y0 >= 2:   # a box outside the image: keep the whole image
            img = img[y0:y1, x0:x1]
        img = cv2.resize(img, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if gray else img
    return load


@dataclass
class AffectNetOfficial(Protocol):
    """Train on training.csv, test on validation.csv (the public stand-in for the hidden
    test set); validation = the training rows on a line number that is a multiple of 5."""

    name: str = PROTOCOL
    needs: tuple[str, ...] = ("partition",)
    pool_folds: bool = False
    description: str = (f"AffectNet training.csv -> validation.csv; tuning on the training rows "
                        f"at line 0 mod {VALID_EVERY}")
    datasets: tuple[str, ...] = ("affectnet",)
    version: str = "1"

    def folds(self, recordings, seed=0):
        train = [r for r in recordings if r.partition == "train"]
        return [Fold("official",
                     tuple(r.id for r in train if r.meta["line"] % VALID_EVERY != 0),
                     tuple(r.id for r in train if r.meta["line"] % VALID_EVERY == 0),
                     tuple(r.id for r in recordings if r.partition == "test"))]


def _classes(name, classes, what):
    return Task(name, "classification", "clip", classes=classes, metric="accuracy",
                metrics=("accuracy", "uar"), description=what)


def _affect(name):
    return Task(name, "regression", "clip", value_range=(-1.0, 1.0), metric="ccc",
                metrics=("ccc", "rmse"), description=f"{name} in [-1, 1]; CCC and RMSE")


class AffectNet(Dataset):
    name = "affectnet"
    version = "1"
    title = "AffectNet (manually annotated)"
    folder = "AffectNet"
    modalities = {
        "face_image": Modality("face_image", (None, None), None, (),
                               "the listed face box, spec size=(H, W), gray="),
        "face_clip": Modality("face_video", (None, None), None, (),
                              "adapter: the face image as a one-frame clip"),
        "landmarks": Modality("landmarks", (None, 2), None, ("x", "y"),
                              "the list's facial_landmarks as one (1, points, 2) step"),
    }
    tasks = (_classes("expression7", CLASSES7, "codes 0-6 (contempt rows unlabelled)"),
             _classes("expression8", L.CLASSES8, "codes 0-7"),
             _affect("valence"), _affect("arousal"))
    protocols = (PROTOCOL,)
    primary_tasks = ("expression7", "expression8", "valence", "arousal")
    standin_version = "2"
    # writing the stand-in 3.4 s + first read 0.5 s, face crops at the default models'
    # four sizes, alone (scripts/bench_first_read.py, 2-core EPYC), times 1.4: what two
    # corpora at a time, as a run writes them, cost the ones measured that way
    standin_seconds = 5
    citation = ("Mollahosseini A., Hasani B., Mahoor M.H.: AffectNet: A Database for Facial "
                "Expression, Valence, and Arousal Computing in the Wild. IEEE TAC 10(1), 2019.")
    url = "http://mohammadmahoor.com/affectnet/"

    def __init__(self):
        self.skipped: list[Problem] = []   # files the last load() left out, and why

    def load(self, root) -> list[Recording]:
        root = Path(root)
        lists, images = L.lists_dir(root), L.images_dir(root)
        self.skipped = []
        recs, seen = [], set()
        for source, fname in L.LIST_FILES.items():
            path = lists / fname
            if not path.is_file():
                if source == "training":
                    self.skipped.append(Problem(path, "training list missing: only the validation "
                                                      "set is loaded", "warning"))
                continue
            for row in L.read_list(path, source):
                if row.expression in L.EXCLUDED:
                    continue
                img = L.resolve_image(images, row.rel)
                why = "listed image not found" if img is None else L.quick_image_check(img)
                if why:
                    self.skipped.append(Problem(img or images / row.rel,
                                                f"{fname} line {row.line}: {why}; skipped", "warning"))
                    continue
                rid = row.rel.rsplit(".", 1)[0].replace("/", "_")
                if rid in seen:
                    self.skipped.append(Problem(img, f"{fname} line {row.line}: {row.rel} listed "
                                                     "again; the duplicate is skipped", "warning"))
                    continue
                seen.add(rid)
                labels = {"expression8": row.expression}
                if row.expression < 7:
                    labels["expression7"] = row.expression
                for task in ("valence", "arousal"):
                    if not math.isnan(getattr(row, task)):
                        labels[task] = getattr(row, task)
                face = face_loader(img, row.box)
                streams = {"face_image": face, "face_clip": lambda face=face, **spec: face(**spec)[None]}
                if row.landmarks is not None:
                    streams["landmarks"] = lambda pts=row.landmarks: pts[None].copy()
                recs.append(Recording(rid, rid, labels, streams,
                                      partition="train" if source == "training" else "test",
                                      meta={"path": str(img), "line": row.line, "list": fname}))
        bad = [p for p in self.skipped if "skipped" in p.message]
        if bad:
            warnings.warn(f"affectnet: skipped {len(bad)} unusable image(s), e.g. {bad[0]}",
                          stacklevel=2)
        return recs

    def doctor(self, root):
        report = super().doctor(root)
        report.problems += self.skipped
        report.counts["skipped"] = len(self.skipped)
        return report

    def write_standin(self, out, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin

        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [AffectNet()]


@hookimpl
def emobench_register_protocols():
    return [AffectNetOfficial()]
