"""BioVid Heat Pain Part A: subject lists, file layout and the readers of its files.

Everything here follows the distributed tree (see docs/corpora/biovid.md)::

    PartA/samples.csv (or PartA/starting_point/samples.csv, or starting_point.zip)
    PartA/biosignals_filtered/<subject>/<sample>_bio.csv TAB-separated, time in microseconds
                                      (or biosignals_filtered.zip, or doubled folders)
    PartA/video/<subject>/<sample>.mp4                  25 fps, 138 frames
    PartA/openface/<subject>/<sample>.csv               derived extra (not distributed)

The readers strip the leading spaces some copies carry in column names, read
columns by name and fall back to their documented position. Every path built
from a ``samples.csv`` name goes through :func:`emobench.layouts.inside`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import io

import numpy as np

from emobench.layouts import DataError, ZipMember, find_part, inside, read_bytes, zipped_part
from emobench.media.openface import read_openface_csv

CLASSES: tuple[str, ...] = ("BL1", "PA1", "PA2", "PA3", "PA4")
BIO_RATE = 512.0
VIDEO_FPS = 25.0
SAMPLE_SECONDS = 5.5
VIDEO_FRAMES = 138  # 5.5 s at 25 fps, rounded up as in the distributed videos
BIO_ROWS = int(SAMPLE_SECONDS * BIO_RATE)  # 2816
# Part A's six TAB-separated columns are time + these five; an older four-column
# variant lacks the two facial EMG channels (read as 0, reported by doctor).
BIO_CHANNELS: tuple[str, ...] = ("gsr", "ecg", "emg_trapezius", "emg_corrugator",
                                 "emg_zygomaticus")
BIO_CHANNELS_OLD: tuple[str, ...] = BIO_CHANNELS[:3]
SAMPLES_COLUMNS: tuple[str, ...] = (
    "subject_id", "subject_name", "class_id", "class_name", "sample_id", "sample_name")

SAMPLES_FILE = "samples.csv"
STARTING_POINT = "starting_point"
BIO_DIR = "biosignals_filtered"
BIO_DIRS = (BIO_DIR, "biosignals_raw")  # filtered preferred
VIDEO_DIR = "video"
OPENFACE_DIR = "openface"

SUBJECT_RE = re.compile(r"^(\d{6})_([wm])_(\d{2})$")
SAMPLE_RE = re.compile(r"^(?P<subject>\d{6}_[wm]_\d{2})-(?P<cls>BL1|PA[1-4])-(?P<num>\d{3})$")

# -- subject lists (CORPORA.md section 3) ----------------------------------------------

ALL_SUBJECTS: tuple[str, ...] = tuple("""
071309_w_21 071313_m_41 071614_m_20 071709_w_23 071814_w_23 071911_w_24 072414_m_23 072514_m_27
072609_w_23 072714_m_23 073109_w_28 073114_m_25 080209_w_26 080309_m_29 080314_w_25 080609_w_27
080614_m_24 080709_m_24 080714_m_23 081014_w_27 081609_w_40 081617_m_27 081714_m_36 082014_w_24
082109_m_53 082208_w_45 082315_w_60 082414_m_64 082714_m_22 082809_m_26 082814_w_46 082909_m_47
083009_w_42 083013_w_47 083109_m_60 083114_w_55 091809_w_43 091814_m_37 091914_m_46 092009_m_54
092014_m_56 092509_w_51 092514_m_50 092714_m_64 092808_m_51 092813_w_24 100117_w_36 100214_m_50
100417_m_44 100509_w_43 100514_w_51 100909_w_65 100914_m_39 101015_w_43 101114_w_37 101209_w_61
101216_m_40 101309_m_48 101514_w_36 101609_m_36 101809_m_59 101814_m_58 101908_m_61 101916_m_40
102008_w_22 102214_w_36 102309_m_61 102316_w_50 102414_w_58 102514_w_40 110614_m_42 110810_m_62
110909_m_29 111313_m_64 111409_w_63 111609_m_65 111914_w_63 112009_w_43 112016_m_25 112209_m_51
112310_m_20 112610_w_60 112809_w_23 112909_w_20 112914_w_51 120514_w_56 120614_w_61
""".split())

# The 20 "non-expressive" subjects left out of the 67-subject subset (Werner et al.).
NON_EXPRESSIVE: tuple[str, ...] = tuple("""
082315_w_60 082414_m_64 082909_m_47 083009_w_42 083013_w_47 083109_m_60 083114_w_55 091914_m_46
092009_m_54 092014_m_56 092509_w_51 092714_m_64 100514_w_51 100914_m_39 101114_w_37 101209_w_61
101809_m_59 101916_m_40 111313_m_64 120614_w_61
""".split())

EXPRESSIVE_67: tuple[str, ...] = tuple(s for s in ALL_SUBJECTS if s not in NON_EXPRESSIVE)

# The 26 validation subjects of the 61/26 hold-out proposal (Gkikas).
HOLDOUT_26: tuple[str, ...] = tuple("""
100914_m_39 101114_w_37 082315_w_60 083114_w_55 083109_m_60 072514_m_27 080309_m_29 112016_m_25
112310_m_20 092813_w_24 112809_w_23 112909_w_20 071313_m_41 101309_m_48 101609_m_36 091809_w_43
102214_w_36 102316_w_50 112009_w_43 101814_m_58 101908_m_61 102309_m_61 112209_m_51 112610_w_60
112914_w_51 120514_w_56
""".split())

# -- OpenFace-style per-frame features (derived extra) ------------------------------------

OPENFACE_AU_R: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14",
    "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45")
OPENFACE_AU_C: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14",
    "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU28", "AU45")
POSE: tuple[str, ...] = ("pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz")
# The 41 inputs of Tiny EmotioNet's BioVid variant, in this order.
FACE_FEATURES: tuple[str, ...] = (
    POSE + tuple(f"{a}_r" for a in OPENFACE_AU_R) + tuple(f"{a}_c" for a in OPENFACE_AU_C))
OPENFACE_COLUMNS: tuple[str, ...] = ("frame", "face_id", "timestamp", "confidence", "success",
                                     *FACE_FEATURES)


class BioVidFormatError(DataError):
    """A BioVid file that cannot be read as documented; the message names the file.
    Built from ``"<path>: <reason>"`` or from ``(path, reason)``."""

    def __init__(self, message, reason: str | None = None, recording: str | None = None):
        if reason is None:
            message, _, reason = str(message).partition(": ")
        super().__init__(message, reason, recording)


def age_band(age: int) -> str:
    """BioVid recruited three age groups: 18-35, 36-50 and 51-65."""
    if age <= 35:
        return "18-35"
    if age <= 50:
        return "36-50"
    return "51-65"


def subject_groups(subject: str) -> dict[str, str]:
    """``{"sex": "w"|"m", "age_band": ...}`` parsed from ``MMDDYY_<w|m>_<age>``."""
    m = SUBJECT_RE.match(subject)
    if not m:
        return {}
    return {"sex": m.group(2), "age_band": age_band(int(m.group(3)))}


def find_samples(root: Path) -> Path | ZipMember | None:
    """Where the sample list is: ``samples.csv`` at the Part A root, under
    ``starting_point/`` (doubled or not), or inside ``starting_point.zip``."""
    root = Path(root)
    if (root / SAMPLES_FILE).is_file():
        return root / SAMPLES_FILE
    sp, _ = find_part(root, STARTING_POINT)
    if sp is not None and (sp / SAMPLES_FILE).is_file():
        return sp / SAMPLES_FILE
    z = zipped_part(root, STARTING_POINT)
    if z is not None:
        from emobench.layouts import zip_names
        hits = sorted((n for n in zip_names(z[0]) if n.rsplit("/", 1)[-1] == SAMPLES_FILE),
                      key=len)
        if hits:
            return ZipMember(z[0], hits[0])
    return None


def corpus_dir(root: Path) -> Path:
    """The Part A folder: ``root`` itself, or its ``PartA`` child (doubled or not)
    when given the ``BioVid`` folder above it."""
    root = Path(root)
    if find_samples(root) is None:
        part, _ = find_part(root, "PartA")
        if part is not None and find_samples(part) is not None:
            return part
    return root


@dataclass(frozen=True)
class Part:
    """One part of the tree (biosignals, video, openface): a folder (doubled
    folders followed) or a still-zipped archive read in place."""

    name: str
    folder: Path | None = None
    archive: Path | None = None
    prefix: str = ""

    def file(self, root: Path, *parts: str):
        if self.folder is not None:
            return inside(self.folder, *parts, what="name from samples.csv")
        inside(root, *parts, what="name from samples.csv")  # the names' checks only
        return ZipMember(self.archive, self.prefix + "/".join(parts))

    def __str__(self) -> str:
        return str(self.folder if self.folder is not None else self.archive)


def locate(root: Path, *names: str) -> Part | None:
    """The first of ``names`` present as a folder, else as ``<name>.zip``."""
    for name in names:
        folder, _ = find_part(root, name)
        if folder is not None:
            return Part(name, folder=folder)
    for name in names:
        z = zipped_part(root, name)
        if z is not None:
            return Part(name, archive=z[0], prefix=z[1])
    return None


def zipped_videos(root: Path) -> Path | None:
    """A video archive next to a missing ``video/`` folder (OpenCV cannot decode
    from inside a zip, so this one must be unpacked)."""
    if find_part(root, VIDEO_DIR)[0] is not None:
        return None
    z = zipped_part(root, VIDEO_DIR)
    if z is not None:
        return z[0]
    found = sorted(Path(root).glob("*video*.zip"))
    return found[0] if found else None


def bio_path(root: Path, subject: str, sample: str, part: Part | None = None):
    part = part or locate(root, *BIO_DIRS) or Part(BIO_DIR, folder=Path(root) / BIO_DIR)
    return part.file(root, subject, f"{sample}_bio.csv")


def video_path(root: Path, subject: str, sample: str) -> Path:
    folder = find_part(root, VIDEO_DIR)[0] or Path(root) / VIDEO_DIR
    return inside(folder, subject, f"{sample}.mp4", what="name from samples.csv")


def openface_path(root: Path, subject: str, sample: str) -> Path:
    folder = find_part(root, OPENFACE_DIR)[0] or Path(root) / OPENFACE_DIR
    return inside(folder, subject, f"{sample}.csv", what="name from samples.csv")


# -- samples.csv --------------------------------------------------------------------------

@dataclass(frozen=True)
class SampleRow:
    subject_id: str
    subject: str
    class_id: int
    class_name: str
    sample_id: str
    sample: str
    line: int  # 1-based line in samples.csv (the header is line 1)


def _read_table(path, sep: str) -> pd.DataFrame:
    import pandas as pd
    raw = read_bytes(path)
    try:
        return pd.read_csv(io.BytesIO(raw), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BioVidFormatError(path, f"cannot be parsed ({type(exc).__name__}: {exc})") from None


def _pick(df: pd.DataFrame, name: str, position: int, path: Path) -> pd.Series:
    """A column by its (space-stripped) name, else by its documented position."""
    if name in df.columns:
        return df[name]
    if position < df.shape[1]:
        return df.iloc[:, position]
    raise BioVidFormatError(f"{path}: no column {name!r} and fewer than {position + 1} columns")


def read_samples(path: Path) -> list[SampleRow]:
    """Rows of ``samples.csv``. It is TAB-separated; a comma-separated copy is
    accepted too. Raises :class:`BioVidFormatError` naming the file and line."""
    if path is None or not path.is_file():
        raise BioVidFormatError(f"{path}: missing (every Part A copy has samples.csv at its top "
                                "or in starting_point/)")
    df = _read_table(path, "\t")
    if df.shape[1] == 1 and "," in str(df.columns[0]):
        df = _read_table(path, ",")
    df.columns = [str(c).strip() for c in df.columns]
    cols = {name: _pick(df, name, i, path) for i, name in enumerate(SAMPLES_COLUMNS)}
    if len(df) == 0:
        raise BioVidFormatError(path, "header only: no sample is listed")
    rows = []
    for i in range(len(df)):
        get = lambda name: str(cols[name].iloc[i]).strip()  # noqa: E731
        raw_class = get("class_id")
        try:
            class_id = int(float(raw_class))
        except ValueError:
            raise BioVidFormatError(f"{path}: line {i + 2}: class_id {raw_class!r} is not a number")
        rows.append(SampleRow(get("subject_id"), get("subject_name"), class_id, get("class_name"),
                              get("sample_id"), get("sample_name"), i + 2))
    return rows


# -- biosignals -------------------------------------------------------------------------

def read_bio(path) -> tuple[np.ndarray, np.ndarray]:
    """``(time_us, signals)`` of one ``_bio.csv`` (a file or a zip member): time (T,)
    float64 in microseconds and (T, 5) float32 :data:`BIO_CHANNELS`, by name, else
    by position. A four-column file gives zeros for the two facial EMG channels
    (:func:`bio_channels` says which are present). Fewer than ``MIN_SHARE`` of the
    5.5 s is a :class:`BioVidFormatError` (truncated)."""
    time, signals, _ = read_bio_channels(path)
    return time, signals


MIN_SHARE = 0.9  # a sample shorter than this share of 5.5 s is truncated


def read_bio_channels(path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    import pandas as pd
    if not path.is_file():
        raise BioVidFormatError(f"{path}: missing")
    df = _read_table(path, "\t")
    df.columns = [str(c).strip() for c in df.columns]
    named = [c for c in BIO_CHANNELS if c in df.columns]
    if len(named) == len(BIO_CHANNELS) or df.shape[1] >= 1 + len(BIO_CHANNELS):
        present = BIO_CHANNELS
    else:
        present = BIO_CHANNELS_OLD
    names = ("time", *present)
    try:
        cols = [pd.to_numeric(_pick(df, n, i, path), errors="raise") for i, n in enumerate(names)]
    except (ValueError, TypeError) as exc:
        raise BioVidFormatError(f"{path}: non-numeric value ({exc})") from None
    if len(df) < MIN_SHARE * BIO_ROWS:
        raise BioVidFormatError(path, f"truncated: {len(df)} rows, expected about {BIO_ROWS} "
                                      f"({SAMPLE_SECONDS:g} s at {BIO_RATE:g} Hz)")
    time = cols[0].to_numpy(dtype=np.float64, copy=True)
    signals = np.zeros((len(df), len(BIO_CHANNELS)), np.float32)
    for c, name in zip(cols[1:], present):
        signals[:, BIO_CHANNELS.index(name)] = c.to_numpy(dtype=np.float32)
    bad = ~np.isfinite(signals) | (np.abs(signals) > 1e6)
    if bad.any() or not np.all(np.isfinite(time)):
        r, c = (np.argwhere(bad)[0] if bad.any() else (int(np.flatnonzero(~np.isfinite(time))[0]), -1))
        col = "time" if c < 0 else BIO_CHANNELS[c]
        raise BioVidFormatError(path, f"data row {int(r) + 1}, column {col!r}: empty, non-finite "
                                      f"or out-of-range value ({int(bad.sum())} such cell(s))")
    return time, signals, present


def bio_rate(time_us: np.ndarray) -> float:
    """Sampling rate implied by a microsecond time column."""
    step = float(np.median(np.diff(time_us)))
    return 1e6 / step if step > 0 else 0.0


# -- OpenFace-style features --------------------------------------------------------------

def read_openface(path) -> np.ndarray:
    """The 41 :data:`FACE_FEATURES` of an OpenFace CSV as (T, 41) float32, through the
    shared reader (``", "`` or ``","``, with or without ``face_id``; a truncated last
    row is dropped, see :func:`read_openface_table`)."""
    return read_openface_table(path)[0]


def read_openface_table(path) -> tuple[np.ndarray, list[str]]:
    """(features, messages about dropped short rows)."""
    if not path.is_file():
        raise BioVidFormatError(f"{path}: missing")
    try:
        table = read_openface_csv(path)
    except DataError as exc:
        raise BioVidFormatError(exc.path, exc.reason) from None
    if table.columns is None:
        raise BioVidFormatError(path, "OpenFace CSV without a header line")
    try:
        arr = table.select(FACE_FEATURES).astype(np.float32)
    except DataError as exc:
        raise BioVidFormatError(exc.path, exc.reason) from None
    if len(arr) == 0:
        raise BioVidFormatError(f"{path}: no frames")
    if not np.all(np.isfinite(arr)):
        r, c = np.argwhere(~np.isfinite(arr))[0]
        raise BioVidFormatError(path, f"line {table.lines[r]}, column {FACE_FEATURES[c]!r}: "
                                      "empty or non-numeric value")
    return arr, table.dropped


def pspi_from_features(feats: np.ndarray) -> np.ndarray:
    """OpenFace-derived PSPI per frame: AU04_r + max(AU06_r, AU07_r) + max(AU09_r, AU10_r)
    + AU45_c (blink stands in for AU43 eye closure), as in Tiny EmotioNet's BioVid code."""
    col = lambda name: feats[:, FACE_FEATURES.index(name)]  # noqa: E731
    return (col("AU04_r") + np.maximum(col("AU06_r"), col("AU07_r"))
            + np.maximum(col("AU09_r"), col("AU10_r")) + col("AU45_c")).astype(np.float32)
