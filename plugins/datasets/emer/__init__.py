"""EMER (Liu et al.): facial expressions and eye behaviour, with felt (ER) and shown (FER) labels.

1,303 samples from 121 participants: face video, a 32 x 39 eye-movement
sequence and a 32 x 2 fixation stream per sample; 3- and 7-class labels for
the felt emotion (ER) and for the facial expression (FER), valence and arousal
in [-1, 1], intensity in [0, 3]. The corpus's loader is sent only on approval,
so emobench reads the documented tree of :mod:`.layout` (docs/corpora/emer.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emobench import hookimpl
from emobench.data import Modality, Recording, Task
from emobench.dataset import Dataset
from emobench.labelspace import CorpusLabels, declare
from emobench.metrics import Metric, confusion_matrix, register_metric

from . import layout as L

# the facial-expression labels (fer7) map into the shared space; er7 has the same classes
declare(CorpusLabels("emer", L.CLASSES7, task="fer7", note="EMER facial-expression labels (FER), 7 classes"))


def weighted_f1(y_true, y_pred) -> float:
    """F1 per class weighted by the class's support in y_true (scikit-learn's "weighted"),
    on emobench's confusion matrix so input errors read like every other metric's."""
    cm = confusion_matrix(y_true, y_pred).astype(float)
    tp, support, predicted = np.diag(cm), cm.sum(1), cm.sum(0)
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float((f1 * support).sum() / support.sum())


if "weighted_f1" not in __import__("emobench.metrics", fromlist=["METRICS"]).METRICS:  # once per process
    register_metric(Metric("weighted_f1", weighted_f1, True, "classification",
                           "F1 averaged over classes weighted by their support (scikit-learn)"))


def _classes(name: str, classes: tuple[str, ...], what: str) -> Task:
    return Task(name, "classification", "clip", classes=classes, metric="accuracy",
                metrics=("accuracy", "uar", "weighted_f1"),
                description=f"{what}; WAR (accuracy), UAR and weighted F1 pooled over the test set")


def _regression(name: str, lo: float, hi: float, what: str) -> Task:
    return Task(name, "regression", "clip", value_range=(lo, hi), metric="mae",
                metrics=("mae", "rmse", "ccc"), description=f"{what}; MAE, RMSE, CCC pooled")


def _face_loader(folder: Path):
    def load(size: tuple[int, int] = (112, 112), gray: bool = False) -> np.ndarray:
        """(8, H, W[, 3]) uint8 face crops, evenly spaced over the sample's frames."""
        import cv2

        from emobench.media import read_image

        frames = L.face_frames(folder)
        pick = np.linspace(0, len(frames) - 1, L.FACE_FRAMES).round().astype(int)
        out = []
        for i in pick:
            img = read_image(frames[i])
            if img.ndim == 2:
                img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
            img = cv2.resize(img, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
            out.append(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if gray else img)
        return np.stack(out)
    return load


def _matrix_loader(path: Path, columns: int):
    return lambda: L.read_matrix(path, columns)


class Emer(Dataset):
    name = "emer"
    version = "1"
    title = "EMER: facial expressions and eye behaviours"
    folder = "EMER"
    modalities = {
        "face_video": Modality("face_video", (None, None), None, (),
                               "8 face crops of face/<sample>/; spec size=(H, W), gray="),
        "eye_movement": Modality("eye_movement", (len(L.EYE_FEATURES),), None, L.EYE_FEATURES,
                                 "eye/<sample>/movement.csv: 32 steps x 39 features"),
        "fixation": Modality("fixations", (2,), None, ("x", "y"),
                             "eye/<sample>/fixation.csv: 32 steps of the fixation point"),
    }
    tasks = (
        _classes("er7", L.CLASSES7, "felt emotion, 7 classes"),
        _classes("er3", L.CLASSES3, "felt emotion, positive / negative / neutral"),
        _classes("fer7", L.CLASSES7, "facial expression, 7 classes"),
        _classes("fer3", L.CLASSES3, "facial expression, positive / negative / neutral"),
        _regression("valence", -1.0, 1.0, "felt valence"),
        _regression("arousal", -1.0, 1.0, "felt arousal"),
        _regression("intensity", 0.0, 3.0, "intensity of the felt emotion"),
    )
    protocols = ("subject-5fold",)
    # the budgeted profiles run the felt and the shown emotion and felt valence: the
    # pair that shows EMER's point (eyes vs face) and one regression
    primary_tasks = ("er7", "fer7", "valence")
    # bump with standin.GENERATOR_VERSION when the stand-in's content changes
    standin_version = "2"
    # writing the stand-in 8.3 s + first read 3.8 s, face crops at the default models'
    # four sizes (scripts/bench_first_read.py, 2-core EPYC, two corpora at a time as a
    # run writes them, nothing else running)
    standin_seconds = 12
    citation = ("Liu Y., Wei L., Liu K., Zhan Y., Chen Z., Chen Z., Shan S.: Smile upon the Face but "
                "Sadness in the Eyes: Emotion Recognition based on Facial Expressions and Eye "
                "Behaviors. arXiv 2411.05879, 2024.")
    url = "https://github.com/kejun1/EMER"

    def load(self, root: Path) -> list[Recording]:
        base = L.corpus_dir(Path(root))
        recs = []
        seen = set()
        for row in L.read_labels(base / L.LABELS_FILE):
            if row.sample in seen:
                raise L.EmerFormatError(f"{base / L.LABELS_FILE}: line {row.line}: sample "
                                        f"{row.sample!r} listed twice")
            seen.add(row.sample)
            face, eye = base / "face" / row.sample, base / "eye" / row.sample
            streams = {}
            if face.is_dir():
                streams["face_video"] = _face_loader(face)
            if (eye / "movement.csv").is_file():
                streams["eye_movement"] = _matrix_loader(eye / "movement.csv", len(L.EYE_FEATURES))
            if (eye / "fixation.csv").is_file():
                streams["fixation"] = _matrix_loader(eye / "fixation.csv", 2)
            if not streams:
                raise L.EmerFormatError(f"{base}: sample {row.sample!r} has neither face/{row.sample}/ "
                                        f"nor eye/{row.sample}/")
            recs.append(Recording(row.sample, row.subject, dict(row.labels), streams,
                                  meta={"line": row.line}))
        return recs

    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin

        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [Emer()]
