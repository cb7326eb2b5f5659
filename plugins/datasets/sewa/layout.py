"""Reading the files of the AVEC 2019 CES package (SEWA): names, CSV tables, wav.

The package's CSV files come in several dialects: ``;`` or ``,`` separators, with
or without a header line, the instance name in single quotes
(``'Train_DE_01';0.100000;...``). :func:`read_table` sniffs all of these and
returns the numeric part; errors are :class:`SewaFormatError` naming the file.
"""

from __future__ import annotations

import csv
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench.dataset import Problem
from emobench.layouts import within_root

# Official instance names: {Train|Devel|Test}_{DE|HU|CN}_{NN}.
ID_RE = re.compile(r"^(Train|Devel|Test)_(DE|HU|CN)_(\d+)$")
PARTITIONS = {"Train": "train", "Devel": "devel", "Test": "test"}
PARTITION_ORDER = {"train": 0, "devel": 1, "test": 2}
CULTURES = ("DE", "HU", "CN")

# OpenFace 1.0 intensity AUs in the order of the AVEC 2019 baseline LLD header.
AU_COLUMNS: tuple[str, ...] = (
    "AU01_r", "AU02_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r", "AU12_r",
    "AU14_r", "AU15_r", "AU17_r", "AU20_r", "AU23_r", "AU25_r", "AU26_r", "AU45_r",
)
OPENFACE_COLUMNS: tuple[str, ...] = ("confidence", *AU_COLUMNS)
OPENFACE_HEADER: tuple[str, ...] = ("name", "frameTime", *OPENFACE_COLUMNS)
LABEL_HEADER: tuple[str, ...] = ("name", "timestamp", "arousal", "valence", "liking")
DIMENSIONS: tuple[str, ...] = ("arousal", "valence", "liking")
_TIME_NAMES = ("frametime", "timestamp", "time", "frame_time")


class SewaFormatError(ValueError):
    """A file of the SEWA tree that cannot be read; the message names the file."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class RecordingName:
    id: str
    partition: str  # train | devel | test
    culture: str  # DE | HU | CN
    number: int

    @property
    def sort_key(self) -> tuple:
        return (PARTITION_ORDER[self.partition], CULTURES.index(self.culture), self.number)


def parse_name(stem: str) -> RecordingName | None:
    """The recording named by a file stem (``Train_DE_01``), or None."""
    m = ID_RE.match(stem.strip().strip("'\""))
    if not m:
        return None
    part, culture, num = m.groups()
    return RecordingName(f"{part}_{culture}_{num}", PARTITIONS[part], culture, int(num))


def is_hidden(path: Path) -> bool:
    """OS droppings (``.DS_Store``, ``._Train_DE_01.csv``, ``Thumbs.db``) that are never data."""
    return path.name.startswith(".") or path.name in ("Thumbs.db", "desktop.ini")


@dataclass
class Table:
    """A CSV file of the package: ``header`` (None when the file has none), the
    unquoted instance names of column 0 and the numeric columns 1.. as float64
    (NaN where a cell is not a number)."""

    path: Path
    header: tuple[str, ...] | None
    names: np.ndarray
    values: np.ndarray
    separator: str

    def column(self, wanted: tuple[str, ...] | str) -> int | None:
        """Index into ``values`` of the first header column named like ``wanted``
        (case-insensitive, quotes and spaces ignored); None when absent."""
        if self.header is None:
            return None
        wanted = (wanted,) if isinstance(wanted, str) else wanted
        lower = [h.lower() for h in self.header]
        for w in wanted:
            if w.lower() in lower:
                i = lower.index(w.lower())
                return i - 1 if i > 0 else None
        return None


def _clean(cell: str) -> str:
    return cell.strip().strip("'\"").strip()


def _is_number(cell: str) -> bool:
    try:
        float(_clean(cell))
        return True
    except ValueError:
        return False


def sniff_separator(line: str, path: Path) -> str:
    """``;`` or ``,``, whichever splits the line into more fields."""
    n_semi, n_comma = line.count(";"), line.count(",")
    if n_semi == 0 and n_comma == 0:
        raise SewaFormatError(path, "first line has neither ';' nor ',' separators: "
                              f"{line.strip()[:80]!r}")
    return ";" if n_semi >= n_comma else ","


def read_table(path: str | Path) -> Table:
    """Read one label or feature CSV of the package in any of its dialects."""
    import pandas as pd
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
            while first and not first.strip():
                first = fh.readline()
    except OSError as exc:
        raise SewaFormatError(path, f"cannot read: {exc}") from None
    except UnicodeDecodeError:
        raise SewaFormatError(path, "not a text CSV file (cannot decode as UTF-8)") from None
    if not first.strip():
        raise SewaFormatError(path, "file is empty")
    sep = sniff_separator(first, path)
    fields = first.rstrip("\r\n").split(sep)
    # A header line has a non-numeric second field ("timestamp", "frameTime").
    has_header = len(fields) < 2 or not all(_is_number(f) for f in fields[1:] if f.strip())
    try:
        df = pd.read_csv(path, sep=sep, header=None, skiprows=1 if has_header else 0,
                         dtype=str, quoting=csv.QUOTE_NONE, skip_blank_lines=True,
                         encoding="utf-8-sig", keep_default_na=False)
    except pd.errors.EmptyDataError:
        df = pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SewaFormatError(path, f"malformed CSV: {exc}") from None
    header = tuple(_clean(f) for f in fields) if has_header else None
    # A trailing separator leaves an empty last column in every row.
    while df.shape[1] > 1 and (df.iloc[:, -1].str.strip() == "").all():
        df = df.iloc[:, :-1]
    if header is not None:
        while header and header[-1] == "":
            header = header[:-1]
    if df.shape[0] == 0:
        raise SewaFormatError(path, "no data rows")
    if df.shape[1] < 2:
        raise SewaFormatError(path, f"expected a name column and numeric columns separated by "
                              f"{sep!r}, found {df.shape[1]} column(s)")
    names = df.iloc[:, 0].map(_clean).to_numpy(dtype=str)
    values = (df.iloc[:, 1:].apply(lambda c: pd.to_numeric(c.map(_clean), errors="coerce"))
              .to_numpy(dtype=np.float64, copy=True))
    return Table(path, header, names, values, sep)


@dataclass
class LabelFile:
    times: np.ndarray  # (T,) seconds
    values: dict[str, np.ndarray]  # dimension -> (T,) float32
    names: np.ndarray  # instance names per row


def read_labels(path: str | Path) -> LabelFile:
    """A gold-standard file: ``name;timestamp;arousal;valence;liking`` at 10 Hz.

    Headerless files are read in that column order. Rows with a non-numeric
    cell raise :class:`SewaFormatError`."""
    t = read_table(path)
    if t.header is not None:
        time_col = t.column(_TIME_NAMES)
        cols = {d: t.column(d) for d in DIMENSIONS}
        cols = {d: c for d, c in cols.items() if c is not None}
        if time_col is None:
            raise SewaFormatError(path, f"header {list(t.header)} has no timestamp column")
        if not cols:
            raise SewaFormatError(path, f"header {list(t.header)} names none of "
                                  f"{list(DIMENSIONS)}")
    else:
        if t.values.shape[1] < 2:
            raise SewaFormatError(path, "headerless label file needs at least name;timestamp;"
                                  f"arousal, found {t.values.shape[1] + 1} columns")
        time_col = 0
        cols = {d: i + 1 for i, d in enumerate(DIMENSIONS) if i + 1 < t.values.shape[1]}
    used = [time_col, *cols.values()]
    bad = np.flatnonzero(np.isnan(t.values[:, used]).any(axis=1))
    if bad.size:
        raise SewaFormatError(path, f"{bad.size} row(s) with a missing or non-numeric value "
                              f"(first at data row {bad[0] + 1})")
    times = t.values[:, time_col]
    back = np.flatnonzero(np.diff(times) <= 0)
    if back.size:
        # Rule (docs/corpora/sewa.md): labels out of time order are refused, never
        # silently sorted: the file was edited or concatenated and its rows may
        # belong to another sequence.
        rows = ", ".join(f"{k + 2} ({times[k + 1]:g} s after {times[k]:g} s)" for k in back[:3])
        raise SewaFormatError(path, f"timestamps are not increasing at data row(s) {rows}"
                              f"{f' and {back.size - 3} more' if back.size > 3 else ''}; "
                              "emobench refuses label files out of time order")
    return LabelFile(times=t.values[:, time_col].copy(),
                     values={d: t.values[:, c].astype(np.float32) for d, c in cols.items()},
                     names=t.names)


@dataclass
class OpenFaceFile:
    times: np.ndarray  # (N,) seconds, strictly increasing
    values: np.ndarray  # (N, 18) float64: confidence + 17 AU_r (OPENFACE_COLUMNS)
    n_missing: int  # cells that were empty or not numbers (set to 0)
    dropped: list = None  # messages about short (truncated) rows left out


def read_openface(path: str | Path) -> OpenFaceFile:
    """Per-frame OpenFace AU intensities ``name;frameTime;confidence;AU01_r;...``,
    through the shared reader (:func:`emobench.media.openface.read_openface_csv`).

    With a header the columns are found by name (OpenFace's leading spaces and any
    extra columns are fine); without one the AVEC baseline order is assumed.
    Empty or non-numeric cells become 0, as OpenFace reports a lost face; a short
    (truncated) row is dropped and listed in ``dropped``; inf or absurd values are
    an error naming the line and column."""
    from emobench.layouts import DataError
    from emobench.media.openface import read_openface_csv

    try:
        t = read_openface_csv(path, numeric_from=1)
    except DataError as exc:
        raise SewaFormatError(exc.path, exc.reason) from None
    if t.columns is not None:
        time_col = t.index(*_TIME_NAMES)
        if time_col is None:
            raise SewaFormatError(path, f"header has no frameTime column: {list(t.columns)[:6]}...")
        idx = [t.index(c) for c in OPENFACE_COLUMNS]
        missing = [c for c, i in zip(OPENFACE_COLUMNS, idx) if i is None]
        if missing:
            raise SewaFormatError(path, f"header lacks OpenFace column(s) {missing}")
    else:
        need = len(OPENFACE_COLUMNS) + 2
        if t.data.shape[1] < need:
            raise SewaFormatError(path, f"headerless feature file has {t.data.shape[1]} "
                                  f"columns, expected {need} (name;frameTime;confidence;"
                                  "17 AU_r)")
        time_col, idx = 1, list(range(2, need))
    times = t.data[:, time_col].copy()
    if np.isnan(times).any():
        raise SewaFormatError(path, f"frameTime column has {int(np.isnan(times).sum())} "
                              "non-numeric value(s)")
    if times.size > 1 and not np.all(np.diff(times) > 0):
        k = int(np.flatnonzero(np.diff(times) <= 0)[0])
        raise SewaFormatError(path, f"frameTime is not increasing at line {t.lines[k + 1]} "
                              f"({times[k]} then {times[k + 1]})")
    values = t.data[:, idx]
    bad = np.isnan(values)
    return OpenFaceFile(times, np.where(bad, 0.0, values), int(bad.sum()), t.dropped)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 waveform in [-1, 1] and its sample rate."""
    from scipy.io import wavfile

    path = Path(path)
    try:
        sr, data = wavfile.read(path)
    except (ValueError, OSError, EOFError, struct.error) as exc:
        raise SewaFormatError(path, f"unreadable wav: {exc or type(exc).__name__}") from None
    if data.size == 0:
        raise SewaFormatError(path, "wav has no samples")
    if data.dtype.kind == "i":
        x = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    elif data.dtype.kind == "u":  # 8-bit wav is unsigned around 128
        x = (data.astype(np.float32) - 128.0) / 128.0
    else:
        x = data.astype(np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    return np.ascontiguousarray(x, dtype=np.float32), int(sr)


# Which folder holds which kind of file, and the extensions accepted there.
FOLDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "labels": ("labels", (".csv",)),
    "visual": ("visual_features", (".csv",)),
    "audio": ("audio", (".wav",)),
    "video": ("video", (".avi", ".mp4")),
}


# ---------------------------------------------------------------- scanning


@dataclass
class Entry:
    name: RecordingName
    files: dict[str, Path]


def scan(root: Path) -> tuple[dict[str, Entry], list[Problem]]:
    """Recording entries by id, and problems with the file names found."""
    entries: dict[str, Entry] = {}
    problems: list[Problem] = []
    for kind, (folder, exts) in FOLDERS.items():
        d = root / folder
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if is_hidden(p):
                continue
            if not within_root(p, root):
                problems.append(Problem(str(p), "resolves outside the data root (a symlink out "
                                        "of the tree); not followed"))
                continue
            if not p.is_file() or p.suffix.lower() not in exts:
                problems.append(Problem(str(p), f"unexpected entry in {folder}/ "
                                        f"(expected {' or '.join(exts)} files)", "warning"))
                continue
            name = parse_name(p.stem)
            if name is None:
                problems.append(Problem(str(p), "file name is not an instance name like "
                                        "Train_DE_01 / Devel_HU_14 / Test_CN_70", "warning"))
                continue
            entry = entries.setdefault(name.id, Entry(name, {}))
            if kind in entry.files:
                problems.append(Problem(str(p), f"second {kind} file for {name.id} "
                                        f"(also {entry.files[kind].name}); ignored", "warning"))
                continue
            entry.files[kind] = p
    return entries, problems
