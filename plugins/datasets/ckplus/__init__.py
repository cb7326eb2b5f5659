"""CK+ (Extended Cohn-Kanade): posed sequences from a neutral face to the expression's apex.

593 sequences from 123 subjects; 327 carry an emotion code, on the peak (last)
frame only. emobench reads the four distributed parts, zipped or unzipped
(:mod:`.layout`), and evaluates 10-fold subject-independent cross-validation.
Every sequence is one recording; unlabelled sequences are kept (doctor and the
face models see them) but carry no task label. The 8-class task adds one
neutral recording per labelled subject (``<subject>_neutral``): the first
(neutral) frame of the subject's first labelled sequence, held for as many
frames as that sequence's clip has, so clip length says nothing about the class.

Besides the clip, every recording has its peak frame as a still image
(``face_image``: the frame the emotion file is named after, the last frame of an
unlabelled sequence, the first frame of a neutral item), which is how the field
scores image models on CK+, and the same image as a one-frame clip
(``face_clip``), the adapter RAF-DB declares, so a pairing trained on RAF-DB's
stills tests on CK+'s apex images rather than on neutral-to-apex clips.
"""

from __future__ import annotations

import numpy as np

from emobench import hookimpl
from emobench.data import Modality, Recording, Task
from emobench.dataset import Dataset
from emobench.labelspace import CorpusLabels, declare
from emobench.protocols import SubjectKFold

from . import layout as L

#: the seven labelled CK+ classes (codes 1-7), named as in the shared label space
CLASSES7 = ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
#: the six basic emotions (contempt sequences are left unlabelled for this task)
CLASSES6 = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
#: CK+ codes 0-7 in code order: neutral (first frames) and the seven peak classes
CLASSES8 = L.CODES
MAX_FRAMES = 16
PROTOCOL = "ckplus-10fold"
NEUTRAL_SUFFIX = "_neutral"

declare(CorpusLabels("ckplus", CLASSES8, note="CK+ codes 0-7: neutral from first frames, seven "
                                                "peak classes (contempt is an extra class)"))


def _pick(n: int) -> np.ndarray:
    """Frame indices of a clip: at most MAX_FRAMES spread over the sequence, first and last kept."""
    return np.unique(np.linspace(0, n - 1, min(MAX_FRAMES, n)).round().astype(int))


def _video_loader(seq: L.Sequence, neutral: bool = False):
    def load(size: tuple[int, int] = (64, 64), gray: bool = False) -> np.ndarray:
        """(T, H, W[, 3]) uint8: at most MAX_FRAMES frames spread from neutral to apex,
        always including the first and the last (peak) frame; ``neutral``: the first
        frame held for the same number of frames."""
        import cv2

        pick = _pick(len(seq.frames))
        pick = np.zeros_like(pick) if neutral else pick
        out = []
        for i in pick:
            img = cv2.resize(L.decode_image(seq.frames[i]), (int(size[1]), int(size[0])),
                             interpolation=cv2.INTER_AREA)
            out.append(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if gray else img)
        return np.stack(out)
    return load


def _image_loader(seq: L.Sequence, neutral: bool = False):
    def load(size: tuple[int, int] = (64, 64), gray: bool = False) -> np.ndarray:
        """(H, W[, 3]) uint8: the sequence's peak frame (the first frame for ``neutral``)."""
        import cv2

        src = seq.frames[0 if neutral else seq.peak]
        img = cv2.resize(L.decode_image(src), (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if gray else img
    return load


def _as_clip(load_image):
    """The declared image-to-clip adapter: the still as a one-frame clip (1, H, W[, 3])."""
    return lambda **spec: load_image(**spec)[None]


def _streams(seq: L.Sequence, neutral: bool = False) -> dict:
    image = _image_loader(seq, neutral)
    streams = {"face_video": _video_loader(seq, neutral), "face_image": image,
               "face_clip": _as_clip(image)}
    if seq.landmarks:
        streams["landmarks"] = _landmark_loader(seq, neutral)
    return streams


def _landmark_loader(seq: L.Sequence, neutral: bool = False):
    def load() -> np.ndarray:
        files = [seq.landmarks[0]] * len(seq.landmarks) if neutral else seq.landmarks
        pts = [L.read_landmarks(p) for p in files]
        if len({p.shape for p in pts}) > 1:
            raise L.CkPlusFormatError(seq.landmarks[0], f"sequence {seq.id}: landmark files "
                                                        "hold different numbers of points")
        return np.stack(pts)
    return load


class CkPlus(Dataset):
    name = "ckplus"
    version = "3"
    title = "CK+ (Extended Cohn-Kanade)"
    folder = "CK+"
    modalities = {
        "face_video": Modality("face_video", (None, None), None, (),
                               "<= 16 frames from the neutral first to the peak last frame; "
                               "spec size=(H, W), gray="),
        "face_image": Modality("face_image", (None, None), None, (),
                               "the peak frame (the one the emotion file names; first frame "
                               "of a neutral item); spec size=(H, W), gray="),
        "face_clip": Modality("face_video", (None, None), None, (),
                              "adapter: the peak frame as a one-frame clip"),
        "landmarks": Modality("landmarks", (None, 2), None, ("x", "y"),
                              "Landmarks part: one (points, 2) row set per frame"),
    }
    tasks = (
        Task("emotion7", "classification", "clip", classes=CLASSES7, metric="accuracy",
             metrics=("accuracy", "uar"), description="the 7 labelled CK+ classes, peak label per sequence"),
        Task("emotion6", "classification", "clip", classes=CLASSES6, metric="accuracy",
             metrics=("accuracy", "uar"),
             description="six basic emotions (contempt sequences excluded); FER-2013 compatible"),
        Task("emotion8", "classification", "clip", classes=CLASSES8, metric="accuracy",
             metrics=("accuracy", "uar"),
             description="CK+ codes 0-7: the seven peak classes and neutral (one per labelled "
                         "subject: the first frame of its first labelled sequence, held for the "
                         "clip's length)"),
    )
    protocols = (PROTOCOL,)
    primary_tasks = ("emotion7", "emotion6")
    standin_version = "1"
    # writing the stand-in 2.5 s + first read 1.8 s, face crops at the default models'
    # four sizes, alone (scripts/bench_first_read.py, 2-core EPYC), times 1.4: what two
    # corpora at a time, as a run writes them, cost the ones measured that way
    standin_seconds = 6
    citation = ("Lucey P., Cohn J.F., Kanade T., Saragih J., Ambadar Z., Matthews I.: The Extended "
                "Cohn-Kanade Dataset (CK+). CVPR Workshops 2010.")
    url = "https://www.jeffcohn.net/Resources/"

    def load(self, root) -> list[Recording]:
        recs, neutral = [], {}
        for seq in L.scan(root).values():
            labels = {}
            if seq.emotion is not None:
                code = L.read_emotion(seq.emotion)
                if code == 0:
                    raise L.CkPlusFormatError(seq.emotion, "code 0 (neutral) on a peak frame")
                labels["emotion7"] = code - 1
                labels["emotion8"] = code
                cls = L.CODES[code]
                if cls in CLASSES6:
                    labels["emotion6"] = CLASSES6.index(cls)
                first = neutral.get(seq.subject)
                if first is None or seq.sequence < first.sequence:
                    neutral[seq.subject] = seq
            recs.append(Recording(seq.id, seq.subject, labels, _streams(seq),
                                  meta={"path": str(seq.frames[0]), "frames": len(seq.frames),
                                        "peak_frame": str(seq.frames[seq.peak]),
                                        "emotion_file": str(seq.emotion) if seq.emotion else None}))
        for subject, seq in sorted(neutral.items()):
            recs.append(Recording(subject + NEUTRAL_SUFFIX, subject, {"emotion8": 0},
                                  _streams(seq, neutral=True),
                                  meta={"path": str(seq.frames[0]), "frames": len(seq.frames),
                                        "peak_frame": str(seq.frames[0]),
                                        "neutral_of": seq.id}))
        return recs

    def write_standin(self, out, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin

        return write_standin(out, scale, seed)


@hookimpl
def emobench_register_datasets():
    return [CkPlus()]


@hookimpl
def emobench_register_protocols():
    return [SubjectKFold(name=PROTOCOL, k=10, datasets=("ckplus",),
                         description="CK+ 10-fold subject-independent cross-validation "
                                     "(GroupKFold over subjects, shuffled by seed)")]
