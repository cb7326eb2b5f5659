"""RAF-DB (basic): 15,339 in-the-wild face images, 7 basic-emotion classes.

Official train (12,271) / test (3,068) split from the file-name prefix; the
validation split is carved from train by a fixed, recorded rule (protocol
``rafdb-official``). RAF-DB has no identity labels, so every image is its own
"subject" for the leakage checks. Attributes from the manual annotation
(gender, race, age group) become recording groups when present.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench import hookimpl
from emobench.data import Fold, Modality, Recording, Task
from emobench.dataset import Dataset
from emobench.labelspace import CorpusLabels, declare
from emobench.protocols import Protocol

from . import layout as L

PROTOCOL = "rafdb-official"
VALID_EVERY = 5  # train images whose number is a multiple of 5 form the validation split

declare(CorpusLabels("rafdb", L.CLASSES, note="RAF-DB classes 1-7 in RAF's order"))


def image_loader(path: Path):
    def load(size: tuple[int, int] = (64, 64), gray: bool = False) -> np.ndarray:
        """(H, W[, 3]) uint8 face, resized from the file (aligned faces are 100x100)."""
        import cv2

        from emobench.media import read_image

        img = cv2.resize(read_image(path), (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if gray else img
    return load


def as_clip(load_image):
    """The declared image-to-clip adapter: the still image as a one-frame clip (1, H, W[, 3]),
    so clip models can be scored on an image corpus (the modality says so on every row)."""
    return lambda **spec: load_image(**spec)[None]


@dataclass
class RafOfficial(Protocol):
    """The official train / test split; validation = the training images whose number is
    a multiple of VALID_EVERY (a rule any other codebase can reproduce, seed-free)."""

    name: str = PROTOCOL
    needs: tuple[str, ...] = ("partition",)
    pool_folds: bool = False
    description: str = (f"RAF-DB official train/test; validation = train images numbered "
                        f"0 mod {VALID_EVERY} (about 20%)")
    datasets: tuple[str, ...] = ("rafdb",)
    version: str = "1"

    def folds(self, recordings, seed=0):
        train = [r for r in recordings if r.partition == "train"]
        valid = tuple(r.id for r in train if r.meta["number"] % VALID_EVERY == 0)
        fit = tuple(r.id for r in train if r.meta["number"] % VALID_EVERY != 0)
        test = tuple(r.id for r in recordings if r.partition == "test")
        return [Fold("official", fit, valid, test)]


class RafDb(Dataset):
    name = "rafdb"
    version = "1"
    title = "RAF-DB (basic)"
    folder = "RAF-DB"
    modalities = {"face_image": Modality("face_image", (None, None), None, (),
                                         "aligned face (original when no aligned file); "
                                         "spec size=(H, W), gray="),
                  "face_clip": Modality("face_video", (None, None), None, (),
                                        "adapter: the face image as a one-frame clip")}
    tasks = (Task("emotion", "classification", "clip", classes=L.CLASSES, metric="accuracy",
                  metrics=("accuracy", "uar"),
                  description="7 basic classes in RAF's order; overall and mean class accuracy"),)
    protocols = (PROTOCOL,)
    standin_version = "2"
    # writing the stand-in 1.7 s + first read 0.4 s, face crops at the default models'
    # four sizes (scripts/bench_first_read.py, 2-core EPYC, two corpora at a time as a
    # run writes them, nothing else running)
    standin_seconds = 2
    citation = ("Li S., Deng W., Du J.: Reliable Crowdsourcing and Deep Locality-Preserving "
                "Learning for Expression Recognition in the Wild. CVPR 2017.")
    url = "http://www.whdeng.cn/RAF/model1.html"

    def load(self, root) -> list[Recording]:
        base = L.basic_dir(Path(root))
        label_file = base.joinpath(*L.LABEL_LIST)
        manual = base / "Annotation" / "manual"
        recs = []
        for e in L.read_label_list(label_file):
            img = L.image_path(base, e)
            if img is None:
                stem = e.name.rsplit(".", 1)[0]
                raise L.RafFormatError(base / "Image", f"{label_file.name} line {e.line}: no "
                                       f"aligned/{stem}_aligned.jpg nor original/{e.name}")
            attri = manual / f"{e.name.rsplit('.', 1)[0]}_manu_attri.txt"
            groups = L.read_attributes(attri) if attri.is_file() else {}
            rid = e.name.rsplit(".", 1)[0]
            recs.append(Recording(rid, rid, {"emotion": e.label}, {"face_image": (face := image_loader(img)),
                                                                 "face_clip": as_clip(face)},
                                  groups=groups, partition=e.split,
                                  meta={"path": str(img), "number": e.number, "line": e.line}))
        return recs

    def write_standin(self, out, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin

        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [RafDb()]


@hookimpl
def emobench_register_protocols():
    return [RafOfficial()]
