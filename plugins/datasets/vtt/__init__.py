"""VTT AnotherMissOh (Korean VTT project / DramaQA): faces of a TV drama's characters with
a 7-class emotion each, per frame.

Every labelled face rectangle in a frame is one recording (an image item). The split
is by episode (``vtt-episodes``): the last three episodes are tested, the one before
them validates, the rest train. Characters recur in every episode, as in the drama, so
the recording's "subject" (the unit of the leakage checks and of the bootstrap) is the
character within an episode, ``Dokyung@AnotherMissOh03``; the character alone is the
group ``character``. The Friends variant's format is not pinned down and is not read.
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

PROTOCOL = "vtt-episodes"
TEST_EPISODES = 3

declare(CorpusLabels("vtt", L.CLASSES, note="DramaQA's seven emotions"))


def face_loader(face: L.Face):
    def load(size: tuple[int, int] = (64, 64), gray: bool = False) -> np.ndarray:
        """(H, W[, 3]) uint8 crop of the face rectangle (clipped to the frame), resized."""
        import cv2

        from emobench.media import read_image

        img = read_image(face.image)
        x0, y0, x1, y1 = face.rect
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(img.shape[1], x1), min(img.shape[0], y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise L.VttFormatError(face.image, f"{face.vid} {face.frame_id} {face.person}: face_rect "
                                               f"{face.rect} lies outside the {img.shape[1]}x"
                                               f"{img.shape[0]} frame")
        crop = cv2.resize(img[y0:y1, x0:x1], (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if gray else crop
    return load


@dataclass
class VttEpisodes(Protocol):
    """Episodes in order: the last TEST_EPISODES test, the one before validates, the rest
    train (one public AnotherMissOh codebase's rule; the official split is unconfirmed)."""

    name: str = PROTOCOL
    needs: tuple[str, ...] = ("groups:episode",)
    pool_folds: bool = False
    description: str = (f"AnotherMissOh episode split: last {TEST_EPISODES} episodes test, the one "
                        "before validation, earlier ones train")
    datasets: tuple[str, ...] = ("vtt",)
    version: str = "1"

    def folds(self, recordings, seed=0):
        episodes = sorted({r.groups["episode"] for r in recordings})
        if len(episodes) < TEST_EPISODES + 2:
            raise ValueError(f"protocol {self.name!r}: needs at least {TEST_EPISODES + 2} episodes, "
                             f"the tree has {len(episodes)} ({', '.join(episodes)})")
        test, valid = set(episodes[-TEST_EPISODES:]), episodes[-TEST_EPISODES - 1]
        pick = lambda keep: tuple(r.id for r in recordings if keep(r.groups["episode"]))  # noqa: E731
        return [Fold("episodes", pick(lambda e: e not in test and e != valid),
                     pick(lambda e: e == valid), pick(lambda e: e in test))]


class Vtt(Dataset):
    name = "vtt"
    version = "2"  # 2: subject = character within an episode
    title = "VTT AnotherMissOh (DramaQA)"
    folder = "AnotherMissOh"
    modalities = {
        "face_image": Modality("face_image", (None, None), None, (),
                               "the face rectangle's crop; spec size=(H, W), gray="),
        "face_clip": Modality("face_video", (None, None), None, (),
                              "adapter: the face crop as a one-frame clip"),
    }
    tasks = (Task("emotion", "classification", "clip", classes=L.CLASSES, metric="accuracy",
                  metrics=("accuracy", "uar"), description="per-face 7-class emotion"),)
    protocols = (PROTOCOL,)
    standin_version = "1"
    # writing the stand-in 0.6 s + first read 0.4 s, face crops at the default models'
    # four sizes, alone (scripts/bench_first_read.py, 2-core EPYC), times 1.4: what two
    # corpora at a time, as a run writes them, cost the ones measured that way
    standin_seconds = 1
    citation = ("Choi S., On K.-W., Heo Y.-J., et al.: DramaQA: Character-Centered Video Story "
                "Understanding with Hierarchical QA. AAAI 2021.")
    url = "https://dramaqa.snu.ac.kr/"

    def load(self, root) -> list[Recording]:
        root = Path(root)
        images, _ = L.find_part(root, L.IMAGES_DIR)
        if images is None:
            raise L.VttFormatError(root, f"no {L.IMAGES_DIR}/ folder")
        recs = []
        for ep, path in L.episode_files(root).items():
            for face in L.read_episode(path, ep, images):
                labels = {} if face.emotion is None else {"emotion": face.emotion}
                load = face_loader(face)
                episode = f"AnotherMissOh{ep:02d}"
                recs.append(Recording(f"{face.vid}_{face.frame_id}_{face.person}",
                                      f"{face.person}@{episode}", labels,
                                      {"face_image": load, "face_clip": lambda load=load, **s: load(**s)[None]},
                                      groups={"episode": episode, "character": face.person},
                                      meta={"path": str(face.image), "json": str(path), "rect": face.rect}))
        return recs

    def write_standin(self, out, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin

        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [Vtt()]


@hookimpl
def emobench_register_protocols():
    return [VttEpisodes()]
