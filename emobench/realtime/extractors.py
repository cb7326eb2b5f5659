"""Action-unit extractors: the step between a face crop and an AU-series model.

An extractor has a ``name``, the AU ``channels`` it returns, and
``extract(face_crop, t) -> np.ndarray | None`` (one row of intensities at
video time ``t`` seconds, in ``channels`` order, or None when nothing is
available for that time). Extractors that read a file are registered
unconfigured and configured with :meth:`AUExtractor.with_source` (the CLI's
``--au-source``). Plugins register extractors through the
``emobench_register_au_extractors`` hook.

Two built-ins (registered by ``emobench_plugins.au_extractors``):

* :class:`OpenFaceCSVExtractor` (``openface-csv``): rows of an OpenFace
  ``FeatureExtraction`` CSV, possibly still being written by a running
  OpenFace; looked up by timestamp, new rows are read as they appear.
* :class:`SidecarAUExtractor` (``sidecar``): ground-truth AUs of a synthetic
  stand-in video from the sidecar file written with :func:`write_au_sidecar`.
"""

from __future__ import annotations

import bisect
import copy
import csv
import warnings
import io
from pathlib import Path

import numpy as np

__all__ = ["AUExtractor", "OpenFaceCSVExtractor", "SidecarAUExtractor", "write_au_sidecar",
           "available_au_extractors"]


class AUExtractor:
    name: str = ""
    channels: tuple[str, ...] = ()
    needs_source: bool = False

    def __init__(self, source: str | Path | None = None):
        self.source = Path(source) if source is not None else None

    def with_source(self, source: str | Path) -> "AUExtractor":
        """A configured copy reading ``source``."""
        new = copy.copy(self)
        new.__init__(source)
        return new

    def _need_source(self) -> Path:
        if self.source is None:
            raise ValueError(f"AU extractor {self.name!r} needs a source file (--au-source PATH)")
        return self.source

    def extract(self, face_crop: np.ndarray | None, t: float) -> np.ndarray | None:
        raise NotImplementedError


def _lookup(times: list[float], t: float, tolerance: float) -> int | None:
    """Index of the row nearest to ``t`` within ``tolerance`` seconds."""
    if not times:
        return None
    i = bisect.bisect_left(times, t)
    best = min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - t))
    return best if abs(times[best] - t) <= tolerance else None


class OpenFaceCSVExtractor(AUExtractor):
    """AU intensities (``AUxx_r`` columns) from an OpenFace CSV.

    OpenFace writes headers with a leading space (`` timestamp``, `` AU01_r``);
    both spellings are accepted. Rows with ``success`` 0 give None. The file
    may still be growing: when ``t`` lies past the last row read, the new
    complete lines are read (a half-written last line is left for later).
    """

    name = "openface-csv"
    needs_source = True
    tolerance = 0.06  # seconds: a row must lie this close to the requested time

    def __init__(self, source=None):
        super().__init__(source)
        self.channels: tuple[str, ...] = ()
        self._cols: list[int] = []
        self._header: list[str] | None = None
        self._offset = 0
        self._times: list[float] = []
        self._rows: list[np.ndarray | None] = []
        self._line = 0
        self.dropped: list[int] = []  # line numbers of short rows, as read_openface_csv reports them

    def _read_more(self) -> None:
        path = self._need_source()
        if not path.exists():
            raise FileNotFoundError(f"{path}: OpenFace CSV not found (AU extractor {self.name!r})")
        with open(path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        self._offset += end + 1
        lines = chunk[:end + 1].decode("utf-8", "replace").splitlines()
        if self._header is None and lines:
            self._header = [h.strip() for h in next(csv.reader([lines.pop(0)]))]
            self._line = 1
            cols = [(i, h[:-2]) for i, h in enumerate(self._header) if h.startswith("AU") and h.endswith("_r")]
            if "timestamp" not in self._header or not cols:
                raise ValueError(f"{path}: not an OpenFace CSV (needs 'timestamp' and AUxx_r columns)")
            self._cols, self.channels = [i for i, _ in cols], tuple(n for _, n in cols)
        ti = self._header.index("timestamp")
        si = self._header.index("success") if "success" in self._header else None
        for row in csv.reader(io.StringIO("\n".join(lines))):
            self._line += 1
            if len(row) != len(self._header):  # a cut row: dropped and reported, as in every reader
                if not self.dropped:
                    warnings.warn(f"{path}: line {self._line} has {len(row)} of {len(self._header)} "
                                  "cells; short rows are dropped")
                self.dropped.append(self._line)
                continue
            t = float(row[ti])
            ok = si is None or float(row[si]) > 0
            self._times.append(t)
            self._rows.append(np.array([float(row[i]) for i in self._cols], dtype=np.float32) if ok else None)

    def extract(self, face_crop, t):
        if not self._times or t > self._times[-1]:
            self._read_more()
        i = _lookup(self._times, t, self.tolerance)
        return None if i is None else self._rows[i]


def write_au_sidecar(path: str | Path, aus: np.ndarray, rate_hz: float, channels) -> Path:
    """Write ground-truth AUs (T, n) sampled at ``rate_hz`` for a synthetic
    video, for :class:`SidecarAUExtractor` (an ``.npz`` with ``time``, ``aus``,
    ``channels``). ``aus`` may be an :class:`emobench.sim.Session`'s ``aus``."""
    path = Path(path)
    aus = np.asarray(aus, dtype=np.float32)
    if aus.ndim != 2 or aus.shape[1] != len(channels):
        raise ValueError(f"write_au_sidecar: aus {aus.shape} does not match {len(channels)} channels")
    with open(path, "wb") as f:  # an open file keeps numpy from appending ".npz"
        np.savez(f, time=np.arange(len(aus)) / float(rate_hz), aus=aus, channels=np.array(channels, dtype=str))
    return path


class SidecarAUExtractor(AUExtractor):
    """Ground-truth AUs of a stand-in video (the synthetic world's), read from
    the sidecar file given as source; the face crop is ignored."""

    name = "sidecar"
    needs_source = True

    def __init__(self, source=None):
        super().__init__(source)
        self._data = None

    def _load(self):
        if self._data is None:
            path = self._need_source()
            try:
                with np.load(path, allow_pickle=False) as z:
                    self._data = (z["time"].astype(float).tolist(), z["aus"].astype(np.float32),
                                  tuple(str(c) for c in z["channels"]))
            except (OSError, KeyError, ValueError) as exc:
                raise ValueError(f"{path}: not an AU sidecar file ({exc})") from exc
            self.channels = self._data[2]
        return self._data

    def extract(self, face_crop, t):
        times, aus, _ = self._load()
        step = times[1] - times[0] if len(times) > 1 else 1.0
        i = _lookup(times, t, step / 2 + 1e-9)
        return None if i is None else aus[i]


def available_au_extractors() -> dict[str, AUExtractor]:
    """Extractors registered by plugins; the built-ins are always offered."""
    from emobench.plugins import registry

    found = dict(registry().au_extractors)
    for ex in (OpenFaceCSVExtractor(), SidecarAUExtractor()):
        found.setdefault(ex.name, ex)
    return found
