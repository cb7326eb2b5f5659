"""The one reader of OpenFace-style per-frame CSV files (SEWA, BioVid, the live
AU extractor).

Real OpenFace output differs between builds and between what users did to it:

* separators are ``", "`` on some builds and ``","`` on others; the AVEC 2019
  package uses ``";"`` with quoted instance names (``'Train_DE_01';0.1;...``);
* older headers lack ``face_id``; some files have no header at all;
* a recording that was cut ends mid-row: the last line has fewer fields. That
  row is **dropped and reported** (``OpenFaceTable.dropped``), never read as
  zeros. A short row anywhere else is dropped and reported the same way;
* a cell of ``inf`` or an absurd magnitude (``1e300``) is a
  :class:`~emobench.layouts.DataError` naming the file, line and column.

Empty or non-numeric cells are NaN in :attr:`OpenFaceTable.data`; the caller
decides what they mean (SEWA reads a lost face as 0).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np

from emobench.layouts import DataError, quote, read_bytes

#: A cell above this magnitude is not a measurement (pixels, mm, radians, AU 0-5).
MAX_ABS = 1e7
TIME_NAMES = ("timestamp", "frametime", "time", "frame_time")


@dataclass
class OpenFaceTable:
    """The numeric content of one OpenFace CSV.

    ``columns`` are the header names (spaces and quotes stripped), or ``None``
    for a headerless file; ``data`` is (N, C) float64 with NaN for empty or
    non-numeric cells; ``names`` the first column as text (the AVEC instance
    name; OpenFace's ``frame`` otherwise); ``lines`` the 1-based file line of
    each row; ``dropped`` one message per short row that was left out."""

    source: str
    columns: tuple[str, ...] | None
    data: np.ndarray
    names: np.ndarray
    lines: np.ndarray
    separator: str
    dropped: list[str] = field(default_factory=list)

    def index(self, *wanted: str) -> int | None:
        """Column index of the first of ``wanted`` present (case-insensitive)."""
        if self.columns is None:
            return None
        lower = [c.lower() for c in self.columns]
        for w in wanted:
            if w.lower() in lower:
                return lower.index(w.lower())
        return None

    def select(self, names) -> np.ndarray:
        """(N, len(names)) of the named columns; a :class:`DataError` lists the missing ones."""
        idx = [self.index(n) for n in names]
        missing = [n for n, i in zip(names, idx) if i is None]
        if missing:
            raise DataError(self.source, f"missing OpenFace column(s) {missing[:6]}"
                                         f"{' ...' if len(missing) > 6 else ''}")
        return self.data[:, idx]

    def times(self) -> np.ndarray | None:
        i = self.index(*TIME_NAMES)
        return None if i is None else self.data[:, i]


def _sniff(line: str) -> str:
    semi, comma = line.count(";"), line.count(",")
    if semi == 0 and comma == 0:
        return "\t" if "\t" in line else ","
    return ";" if semi >= comma else ","


def _is_number(cell: str) -> bool:
    try:
        float(cell.strip().strip("'\""))
        return True
    except ValueError:
        return False


def read_openface_csv(src, *, max_abs: float = MAX_ABS, numeric_from: int = 0) -> OpenFaceTable:
    """Parse an OpenFace CSV at ``src`` (a path or a :class:`~emobench.layouts.ZipMember`).

    ``numeric_from``: columns before it are text (the AVEC instance name) and are
    not checked for magnitude. Raises :class:`DataError` for an empty or binary
    file, a row with too many fields, and an inf / huge cell."""
    import pandas as pd
    raw = read_bytes(src)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(src, "not a text CSV file (cannot decode as UTF-8)") from None
    if "\0" in text:
        raise DataError(src, "not a text CSV file (binary content)")
    all_lines = text.splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(all_lines) if ln.strip()]
    if not numbered:
        raise DataError(src, "file is empty")
    sep = _sniff(numbered[0][1])
    first = numbered[0][1].split(sep)
    has_header = not all(_is_number(f) for f in first[1:] if f.strip()) or len(first) < 2
    header = tuple(f.strip().strip("'\"").strip() for f in first) if has_header else None
    width = len(first)
    body = numbered[1:] if has_header else numbered
    counts = np.fromiter((ln.count(sep) + 1 for _, ln in body), dtype=np.int64, count=len(body))
    too_long = np.flatnonzero(counts > width)
    if too_long.size:
        k = int(too_long[0])
        raise DataError(src, f"line {body[k][0]} has {counts[k]} fields, the header "
                             f"{width} ({too_long.size} such row(s))")
    short = np.flatnonzero(counts < width)
    dropped = []
    for k in short[:5]:
        where = "last row" if k == len(body) - 1 else "row"
        dropped.append(f"line {body[k][0]}: {where} has {counts[k]} of {width} fields "
                       "(truncated); dropped")
    if short.size > 5:
        dropped.append(f"{short.size - 5} more short row(s) dropped")
    keep = np.flatnonzero(counts == width)
    kept = [body[k] for k in keep]
    if not kept:
        raise DataError(src, "no complete data rows" + (f" ({dropped[0]})" if dropped else ""))
    df = pd.read_csv(io.StringIO("\n".join(ln for _, ln in kept)), sep=sep, header=None,
                     dtype=str, quoting=csv.QUOTE_NONE, skipinitialspace=True,
                     keep_default_na=False, engine="c")
    names = df.iloc[:, 0].str.strip().str.strip("'\"").to_numpy(dtype=str)
    data = df.apply(lambda c: pd.to_numeric(c.str.strip().str.strip("'\""), errors="coerce")) \
             .to_numpy(dtype=np.float64)
    lines = np.array([n for n, _ in kept], dtype=np.int64)
    # a trailing separator leaves an empty last column
    while data.shape[1] > 1 and header is not None and header[-1] == "" \
            and np.isnan(data[:, -1]).all():
        data, header = data[:, :-1], header[:-1]
    checked = data[:, numeric_from:]
    bad = ~np.isnan(checked) & ~(np.abs(checked) <= max_abs)
    if bad.any():
        r, c = (int(v[0]) for v in np.nonzero(bad))
        c += numeric_from
        col = repr(header[c]) if header and c < len(header) else str(c + 1)
        raise DataError(src, f"line {lines[r]}, column {col}: value {data[r, c]:g} is "
                             f"{'not finite' if not np.isfinite(data[r, c]) else 'out of range'}"
                             f" ({int(bad.sum())} such cell(s))")
    return OpenFaceTable(str(src), header, data, names, lines, sep, dropped)


__all__ = ["OpenFaceTable", "read_openface_csv", "MAX_ABS", "TIME_NAMES"]
