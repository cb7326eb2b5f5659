"""On-disk layout of the UNBC-McMaster Shoulder Pain Expression Archive.

Finds the parts of a tree (tolerating the Kaggle mirror's doubled folders and
missing parts), pairs every image frame with its label files, and parses the
small text formats. Used by the loader (which raises on the first problem) and
by ``doctor`` (which collects every problem with its path).

Real layout (see docs/corpora/unbc.md)::

    Images/042-ll042/ll042t1aaaff/ll042t1aaaff001.png   (or aligned/.../*.jpg)
    Frame_Labels/PSPI/042-ll042/ll042t1aaaff/ll042t1aaaff001_facs.txt
    Frame_Labels/FACS/042-ll042/ll042t1aaaff/ll042t1aaaff001_facs.txt
    AAM_landmarks/042-ll042/ll042t1aaaff/ll042t1aaaff001_aam.txt
    Sequence_Labels/{AFF,OPR,SEN,VAS}/042-ll042/ll042t1aaaff.txt
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench.dataset import Problem

SUBJECT_DIR_RE = re.compile(r"^(\d{3})-([a-z]{2})(\d{3})$")
SEQUENCE_RE = re.compile(r"^([a-z]{2})(\d{3})t([12])a([a-z])(un)?aff$")
FRAME_RE = re.compile(r"^(?P<seq>.+?)(?P<num>\d{3,})$")
SEQUENCE_SCALES = ("AFF", "OPR", "SEN", "VAS")
N_LANDMARKS = 66
PSPI_MAX = 16.0

#: The 14 per-frame FACS columns of Tiny EmotioNet's UNBC input (AU0 is a placeholder).
FACS14_AUS: tuple[int, ...] = (0, 4, 6, 7, 9, 10, 12, 15, 20, 25, 26, 27, 43, 50)
FACS14_CHANNELS: tuple[str, ...] = tuple(f"AU{a}" for a in FACS14_AUS)
BINARY_AUS = (43,)

# Below this size a PNG may be a uniform (black) frame; only those are decoded
# to check, so flagging black frames costs one stat per frame.
BLACK_CANDIDATE_BYTES = 3000
BLACK_MAX_LEVEL = 10


class UnbcTreeError(ValueError):
    """A file of the tree is missing, unreadable or malformed; ``path`` names it."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


def _is_hidden(name: str) -> bool:
    # .DS_Store, ._resource forks, .ipynb_checkpoints ... (macOS zips carry them)
    return name.startswith(".") or name == "__MACOSX"


def _subdirs(path: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return sorted((e for e in it if e.is_dir() and not _is_hidden(e.name)),
                          key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _files(path: Path, suffix: str) -> dict[str, os.DirEntry]:
    """stem (name without ``suffix``) -> entry, for visible files ending in suffix."""
    try:
        with os.scandir(path) as it:
            return {e.name[: -len(suffix)]: e for e in it
                    if e.name.endswith(suffix) and not _is_hidden(e.name) and e.is_file()}
    except (FileNotFoundError, NotADirectoryError):
        return {}


from emobench.layouts import find_part, within_root  # noqa: E402  (shared by every corpus)

#: Frame folders and frame formats: the archive's ``Images/`` of PNGs, or a public
#: copy's ``aligned/`` of JPEGs (same <subject>/<sequence>/<frame> nesting).
IMAGE_PARTS = ("Images", "aligned")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def frame_files(folder: Path) -> dict[str, os.DirEntry]:
    """stem -> entry of the frames in a sequence folder, in the first format present."""
    for suffix in FRAME_SUFFIXES:
        found = _files(folder, suffix)
        if found:
            return found
    return {}


def frame_number(stem: str) -> int:
    m = FRAME_RE.match(stem)
    return int(m.group("num")) if m else -1


@dataclass
class SequenceFiles:
    """One sequence (= one recording): its frames and the label files of each."""

    subject_dir: str
    subject: str
    name: str
    stems: list[str]
    images: list[Path]
    image_sizes: list[int]
    pspi: list[Path] | None  # expected paths, one per frame; None: no such part
    facs: list[Path] | None
    aam: list[Path] | None
    missing: dict[str, list[int]] = field(default_factory=dict)  # kind -> frame indices
    seq_labels: dict[str, Path] = field(default_factory=dict)  # scale -> expected path

    @property
    def n_frames(self) -> int:
        return len(self.stems)


@dataclass
class Tree:
    root: Path
    images_dir: Path
    pspi_dir: Path | None
    facs_dir: Path | None
    aam_dir: Path | None
    seq_dir: Path | None
    nested: bool
    sequences: list[SequenceFiles]
    problems: list[Problem]


def subject_id(subject_dir: str) -> str:
    """``042-ll042`` -> ``ll042`` (initials + number, as Tiny EmotioNet's split lists)."""
    m = SUBJECT_DIR_RE.match(subject_dir)
    return f"{m.group(2)}{m.group(3)}" if m else subject_dir


def scan(root: Path) -> Tree:
    """Pair frames with label files. Structural problems (naming, orphans,
    missing parts) go to ``Tree.problems``; per-frame label files absent from
    their folder are listed in ``SequenceFiles.missing`` for the caller to
    report or raise on."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        raise UnbcTreeError(root, "UNBC-McMaster root folder not found")
    images_dir, n1 = None, False
    for part in IMAGE_PARTS:
        images_dir, n1 = find_part(root, part)
        if images_dir is not None:
            break
    if images_dir is None:
        raise UnbcTreeError(root / "Images", "folder not found (expected "
                            "Images/<NNN-xxNNN>/<sequence>/<frame>.png or "
                            "aligned/<NNN-xxNNN>/<sequence>/<frame>.jpg)")
    pspi_dir, n2 = find_part(root, "Frame_Labels", "PSPI")
    facs_dir, n3 = find_part(root, "Frame_Labels", "FACS")
    aam_dir, n4 = find_part(root, "AAM_landmarks")
    seq_dir, n5 = find_part(root, "Sequence_Labels")
    if pspi_dir is None:
        problems.append(Problem(str(root / "Frame_Labels" / "PSPI"), "folder not found: no PSPI labels"))
    if facs_dir is None:
        problems.append(Problem(str(root / "Frame_Labels" / "FACS"),
                                "folder not found: no facs14 input", "warning"))
    if aam_dir is None:
        problems.append(Problem(str(root / "AAM_landmarks"),
                                "folder not found: no landmarks modality", "warning"))
    if seq_dir is None:
        problems.append(Problem(str(root / "Sequence_Labels"),
                                "folder not found: no vas / opr labels", "warning"))

    sequences: list[SequenceFiles] = []
    seen_seq: set[tuple[str, str]] = set()
    for sdir in _subdirs(images_dir):
        if not SUBJECT_DIR_RE.match(sdir.name):
            problems.append(Problem(sdir.path, "subject folder name is not NNN-xxNNN", "warning"))
        subj = subject_id(sdir.name)
        for qdir in _subdirs(Path(sdir.path)):
            seen_seq.add((sdir.name, qdir.name))
            m = SEQUENCE_RE.match(qdir.name)
            if not m:
                problems.append(Problem(qdir.path, "sequence name is not "
                                        "<initials><id>t<1|2>a<letter>(un)aff", "warning"))
            elif f"{m.group(1)}{m.group(2)}" != subj:
                problems.append(Problem(qdir.path, f"sequence does not belong to subject {subj}",
                                        "warning"))
            if not within_root(qdir.path, root):
                problems.append(Problem(qdir.path, "sequence folder resolves outside the data "
                                        "root (a symlink out of the tree); not followed"))
                continue
            imgs = frame_files(Path(qdir.path))
            if not imgs:
                problems.append(Problem(qdir.path, "sequence folder holds no .png or .jpg frames"))
                continue
            stems = sorted(imgs, key=lambda s: (frame_number(s), s))
            rel = Path(sdir.name) / qdir.name

            missing: dict[str, list[int]] = {}

            def pair(base: Path | None, suffix: str, kind: str):
                # expected paths for every frame; absent ones are listed in `missing`
                if base is None:
                    return None
                found = _files(base / rel, suffix)
                missing[kind] = [i for i, s in enumerate(stems) if s not in found]
                for extra in sorted(set(found) - set(stems)):
                    problems.append(Problem(found[extra].path, "label file without an image frame",
                                            "warning"))
                return [base / rel / f"{s}{suffix}" for s in stems]

            seq = SequenceFiles(
                subject_dir=sdir.name, subject=subj, name=qdir.name, stems=stems,
                images=[Path(imgs[s].path) for s in stems],
                image_sizes=[imgs[s].stat().st_size for s in stems],
                pspi=pair(pspi_dir, "_facs.txt", "pspi"),
                facs=pair(facs_dir, "_facs.txt", "facs"),
                aam=pair(aam_dir, "_aam.txt", "aam"),
                missing=missing,
            )
            if seq_dir is not None:
                for scale in SEQUENCE_SCALES:
                    sd, _ = find_part(seq_dir, scale)
                    seq.seq_labels[scale] = (sd or seq_dir / scale) / sdir.name / f"{qdir.name}.txt"
            sequences.append(seq)

    # label folders for sequences that have no images
    for base, what in ((pspi_dir, "PSPI"), (facs_dir, "FACS"), (aam_dir, "AAM")):
        if base is None:
            continue
        for sdir in _subdirs(base):
            for qdir in _subdirs(Path(sdir.path)):
                if (sdir.name, qdir.name) not in seen_seq:
                    problems.append(Problem(qdir.path, f"{what} labels for a sequence with no "
                                            "Images folder", "warning"))
    if not sequences:
        problems.append(Problem(str(images_dir), "no sequences with .png or .jpg frames found"))
    return Tree(root, images_dir, pspi_dir, facs_dir, aam_dir, seq_dir,
                any((n1, n2, n3, n4, n5)), sequences, problems)


# -- parsers ---------------------------------------------------------------

def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="ascii", errors="strict")
    except FileNotFoundError:
        raise UnbcTreeError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnbcTreeError(path, f"unreadable ({type(exc).__name__}: {exc})") from None


def read_pspi(path: Path) -> float:
    """One float (scientific notation) in 0..16."""
    return _read_one_number(path, "PSPI", PSPI_MAX)


def read_facs(path: Path) -> list[tuple[int, float]]:
    """(AU code, intensity) rows; an empty file means no active AU."""
    rows = []
    for i, line in enumerate(_read_text(path).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise UnbcTreeError(path, f"line {i}: expected 'AU intensity x x', got {line.strip()!r}")
        try:
            au, inten = float(parts[0]), float(parts[1])
        except ValueError:
            raise UnbcTreeError(path, f"line {i}: not numbers: {line.strip()!r}") from None
        if au != int(au) or not 0 <= au <= 100:
            raise UnbcTreeError(path, f"line {i}: {parts[0]!r} is not an AU code")
        if not 0 <= inten <= 5:
            raise UnbcTreeError(path, f"line {i}: AU{int(au)} intensity {inten} outside 0..5")
        rows.append((int(au), inten))
    return rows


def facs_row(rows: list[tuple[int, float]]) -> np.ndarray:
    """The 14 facs14 columns of one frame (codes outside the 14 are dropped)."""
    out = np.zeros(len(FACS14_AUS), np.float32)
    for au, inten in rows:
        if au in FACS14_AUS:
            out[FACS14_AUS.index(au)] = 1.0 if au in BINARY_AUS else inten
    return out


def pspi_from_facs14(x: np.ndarray) -> np.ndarray:
    """PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43 over facs14 rows."""
    c = {a: x[..., FACS14_AUS.index(a)] for a in (4, 6, 7, 9, 10, 43)}
    return c[4] + np.maximum(c[6], c[7]) + np.maximum(c[9], c[10]) + c[43]


def read_aam(path: Path) -> np.ndarray:
    """(66, 2) float32, columns as stored (read as x, y; unverified on real data)."""
    text = _read_text(path)
    try:
        arr = np.array([[float(v) for v in line.split()] for line in text.splitlines() if line.strip()],
                       dtype=np.float32)
    except ValueError:
        raise UnbcTreeError(path, "landmark rows must be numbers") from None
    if arr.shape != (N_LANDMARKS, 2):
        raise UnbcTreeError(path, f"expected {N_LANDMARKS} rows of 2 numbers, got shape {arr.shape}")
    return arr


def read_sequence_label(path: Path, scale: str) -> float:
    """A single number (VAS 0..10, OPR 0..5, AFF/SEN 0..15)."""
    return _read_one_number(path, scale, {"VAS": 10, "OPR": 5, "AFF": 15, "SEN": 15}[scale])


def _read_one_number(path: Path, what: str, hi: float) -> float:
    text = _read_text(path).split()
    if len(text) != 1:
        raise UnbcTreeError(path, f"{what} file must hold one number, found {len(text)} values")
    try:
        v = float(text[0])
    except ValueError:
        raise UnbcTreeError(path, f"{what} value {text[0]!r} is not a number") from None
    if not 0.0 <= v <= hi:
        raise UnbcTreeError(path, f"{what} value {v} outside 0..{hi:g}")
    return v


def black_frames(seq: SequenceFiles) -> list[int]:
    """Indices of pure-black frames (only small PNGs are decoded)."""
    import cv2

    out = []
    for i, (p, size) in enumerate(zip(seq.images, seq.image_sizes)):
        if 0 < size < BLACK_CANDIDATE_BYTES:  # an empty file is doctor's decode error
            img = cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_GRAYSCALE)
            if img is not None and int(img.max()) <= BLACK_MAX_LEVEL:
                out.append(i)
    return out


#: Tiny EmotioNet's subject hold-out lists.
TE_TEST = ("aa048", "ak064", "bg096", "bm049", "bn080", "ch092", "dn124", "dr052", "fn059")
TE_VALID = ("gf097", "hs107", "ib109", "jh043", "jh123", "jk103", "jl047")
TE_TRAIN = ("jy115", "kz120", "ll042", "mg066", "mg101", "nm106", "th108", "tv095", "vw121")
#: The 25 subject folders of the archive.
SUBJECT_FOLDERS = (
    "042-ll042", "043-jh043", "047-jl047", "048-aa048", "049-bm049", "052-dr052", "059-fn059",
    "064-ak064", "066-mg066", "080-bn080", "092-ch092", "095-tv095", "096-bg096", "097-gf097",
    "101-mg101", "103-jk103", "106-nm106", "107-hs107", "108-th108", "109-ib109", "115-jy115",
    "120-kz120", "121-vw121", "123-jh123", "124-dn124",
)
