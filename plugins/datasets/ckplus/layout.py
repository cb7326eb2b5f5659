"""The CK+ distribution as emobench reads it (docs/corpora/ckplus.md).

Four parts, each an unzipped folder (possibly doubled, ``Emotion_labels/Emotion/``)
or still the archive it ships as::

    cohn-kanade-images/S005/001/S005_001_00000001.png    (cohn-kanade-images.zip)
    Emotion/S005/001/S005_001_00000011_emotion.txt       (Emotion_labels.zip)
    FACS/S005/001/S005_001_00000011_facs.txt             (FACS_labels.zip)
    Landmarks/S005/001/S005_001_00000001_landmarks.txt   (Landmarks.zip)

Files are found by their last three path components (subject/sequence/file), so
any doubling of the top folders and ``.DS_Store`` or ``__MACOSX`` litter is harmless.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench.layouts import DataError, ZipMember, read_bytes, zip_names

#: part -> (folder names it unzips to, archive stem, file-name pattern)
PARTS = {
    "images": (("cohn-kanade-images",), "cohn-kanade-images", r"(S\d{3})_(\d{3})_(\d{8})\.png"),
    "emotion": (("Emotion",), "Emotion_labels", r"(S\d{3})_(\d{3})_(\d{8})_emotion\.txt"),
    "facs": (("FACS",), "FACS_labels", r"(S\d{3})_(\d{3})_(\d{8})_facs\.txt"),
    "landmarks": (("Landmarks",), "Landmarks", r"(S\d{3})_(\d{3})_(\d{8})_landmarks\.txt"),
}
#: CK+ emotion codes, in code order
CODES = ("neutral", "anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")


class CkPlusFormatError(DataError):
    """A CK+ file or tree that does not have the distributed form; names the file."""


@dataclass
class Sequence:
    subject: str
    sequence: str
    frames: list = field(default_factory=list)       # Path | ZipMember, frame order
    landmarks: list = field(default_factory=list)
    emotion: object = None                            # the peak frame's file, when labelled
    facs: object = None
    numbers: list = field(default_factory=list)       # frame numbers of ``frames``, in order
    emotion_number: str | None = None                 # the frame the emotion file names

    @property
    def peak(self) -> int:
        """Index into ``frames`` of the peak frame: the frame the emotion file is named
        after (``S005_001_00000011_emotion.txt`` -> frame 11), else the last frame."""
        if self.emotion_number is None:
            return len(self.frames) - 1
        return self.numbers.index(self.emotion_number)

    @property
    def id(self) -> str:
        return f"{self.subject}_{self.sequence}"


def _files_in_folder(base: Path):
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "__MACOSX"))]
        for name in filenames:
            if not name.startswith("."):
                yield name, Path(dirpath) / name


def _files_in_zip(archive: Path):
    for member in sorted(zip_names(archive)):
        name = member.rsplit("/", 1)[-1]
        if "__MACOSX" not in member and not name.startswith("."):
            yield name, ZipMember(archive, member)


def part_files(root: Path, part: str):
    """(source description, iterator of (file name, Path | ZipMember)) of one part, or None."""
    folders, stem, _ = PARTS[part]
    for cand in [root / f for f in folders] + [root / stem]:
        if cand.is_dir():
            return str(cand), _files_in_folder(cand)
    archive = root / f"{stem}.zip"
    if archive.is_file():
        return str(archive), _files_in_zip(archive)
    return None


def scan(root: Path) -> dict[str, Sequence]:
    """Every sequence of the tree, keyed ``S005_001``, with its files in frame order."""
    root = Path(root)
    found = part_files(root, "images")
    if found is None:
        raise CkPlusFormatError(root, "no cohn-kanade-images/ folder or cohn-kanade-images.zip "
                                      "(expected the CK+ tree of docs/corpora/ckplus.md)")
    seqs: dict[str, Sequence] = {}
    for part in PARTS:
        got = found if part == "images" else part_files(root, part)
        if got is None:
            continue
        pattern = re.compile(PARTS[part][2])
        for name, src in got[1]:
            m = pattern.fullmatch(name)
            if not m:
                continue
            s = seqs.setdefault(f"{m[1]}_{m[2]}", Sequence(m[1], m[2]))
            if part == "images":
                s.frames.append((m[3], src))
            elif part == "landmarks":
                s.landmarks.append((m[3], src))
            elif part == "emotion":
                if s.emotion is not None:
                    raise CkPlusFormatError(src, f"sequence {s.id} has two emotion files "
                                                 f"({s.emotion} and this one)")
                s.emotion, s.emotion_number = src, m[3]
            else:
                s.facs = src
    for s in seqs.values():
        s.numbers = sorted(n for n, _ in s.frames)
        s.frames = [src for _, src in sorted(s.frames, key=lambda t: t[0])]
        s.landmarks = [src for _, src in sorted(s.landmarks, key=lambda t: t[0])]
    for s in seqs.values():
        if not s.frames:
            where = s.emotion or s.facs or (s.landmarks[0] if s.landmarks else s.id)
            raise CkPlusFormatError(where, f"sequence {s.id} has label files but no image frames")
        if s.emotion_number is not None and s.emotion_number not in s.numbers:
            raise CkPlusFormatError(s.emotion, f"sequence {s.id}: the emotion file names frame "
                                               f"{s.emotion_number}, which has no image")
    if not seqs:
        raise CkPlusFormatError(found[0], "no S###_###_########.png frames found")
    return dict(sorted(seqs.items()))


def read_emotion(src) -> int:
    """The code in an emotion file: one float such as ``   3.0000000e+00``."""
    text = read_bytes(src).decode("ascii", errors="replace").split()
    try:
        value = float(text[0]) if len(text) == 1 else None
    except ValueError:
        value = None
    if value is None or value != int(value) or not 0 <= value < len(CODES):
        raise CkPlusFormatError(src, f"expected one emotion code 0-{len(CODES) - 1} "
                                     f"(e.g. 3.0000000e+00), got {' '.join(text)[:60]!r}")
    return int(value)


def read_landmarks(src) -> np.ndarray:
    """(n_points, 2) float32 from rows ``x y`` in scientific notation."""
    try:
        x = np.loadtxt(read_bytes(src).decode("ascii").splitlines(), dtype=np.float32, ndmin=2)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CkPlusFormatError(src, f"landmarks are not rows of two numbers ({exc})") from None
    if x.shape[1] != 2 or not np.isfinite(x).all():
        raise CkPlusFormatError(src, f"landmarks must be finite rows 'x y', got shape {x.shape}")
    return x


def decode_image(src) -> np.ndarray:
    """A frame as (H, W, 3) uint8 BGR (gray PNGs expanded), via the checked reader."""
    from emobench.media import read_image

    if isinstance(src, Path):
        return read_image(src)
    import cv2

    img = cv2.imdecode(np.frombuffer(src.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise CkPlusFormatError(src, "not a readable image (corrupt or unsupported format)")
    return img
