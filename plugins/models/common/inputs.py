"""Turning samples into arrays, shared by the simple baselines.

Frame-level tasks: the series must have one row per label (datasets align
them); a mismatch is an error naming the recording, never silently resampled.
Clip-level tasks: a series is pooled to its per-channel mean and standard
deviation.
"""

from __future__ import annotations

import numpy as np

SERIES_KINDS = ("features", "au_series", "physio", "eye_movement", "landmarks")


def series(sample, kind: str) -> np.ndarray:
    x = np.asarray(sample.x(kind), dtype=np.float32)
    x = x.reshape(len(x), -1) if x.ndim != 2 else x
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise ValueError(f"recording {sample.id!r}: {bad} non-finite values in its {kind!r} input")
    return x


def frame_matrix(samples, kind: str, with_y: bool = True):
    """Stack the per-frame rows of all samples: (sum T, D), (sum T,), lengths."""
    xs, ys, lengths = [], [], []
    for s in samples:
        n = len(np.atleast_1d(s.y)) if with_y else None
        x = series(s, kind)
        if n is not None and len(x) != n:
            raise ValueError(f"recording {s.id!r}: its {kind!r} input has {len(x)} rows for "
                             f"{n} frame labels (the dataset must align them)")
        xs.append(x)
        lengths.append(len(x))
        if with_y:
            ys.append(np.asarray(s.y, dtype=np.float64))
    y = np.concatenate(ys) if with_y else None
    return np.concatenate(xs), y, lengths


def pooled_matrix(samples, kind: str) -> np.ndarray:
    """One row per sample: per-channel mean and standard deviation over time."""
    rows = []
    for s in samples:
        x = series(s, kind)
        rows.append(np.concatenate([x.mean(0), x.std(0)]))
    return np.stack(rows)


def split_by_lengths(flat: np.ndarray, lengths) -> list[np.ndarray]:
    return np.split(np.asarray(flat), np.cumsum(lengths)[:-1])
