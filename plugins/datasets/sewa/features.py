"""Derived SEWA inputs on the 10 Hz label grid: Tiny EmotioNet's 37 AU functionals,
the resampled AU series and the speaker-turn flag from audio energy.

Every function maps per-frame data (OpenFace rows at the video frame rate, audio
samples) onto given label times, so the result has exactly one row per label.
"""

from __future__ import annotations

import numpy as np

from .layout import OPENFACE_COLUMNS

# Tiny EmotioNet's input order, fixed and named: interleaved mean/std per column
# (the reading all its analysis scripts and the 19-input mean-only models imply),
# then the turn flag.
FUNCTIONAL_CHANNELS: tuple[str, ...] = (
    *(f"{c}_{stat}" for c in OPENFACE_COLUMNS for stat in ("mean", "std")), "turn")

_SLACK_S = 1e-6


def window_bounds(times: np.ndarray, centres: np.ndarray, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Row ranges ``[lo, hi)`` of the frames with time in ``[c - w/2, c + w/2)``.

    A window holding no frame (a gap, or label times past the end of the
    features) takes the single nearest frame instead, so every label gets a value:
    past the end that repeats the last frame, as the AVEC tools pad."""
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    # Times read from text (0.3) and computed ones (0.8 - 0.5) differ in the last
    # bit; a microsecond of slack keeps frames on a boundary on the intended side.
    lo = np.searchsorted(times, centres - window_s / 2.0 - _SLACK_S, side="left")
    hi = np.searchsorted(times, centres + window_s / 2.0 - _SLACK_S, side="left")
    empty = hi <= lo
    if empty.any():
        right = np.clip(np.searchsorted(times, centres[empty]), 0, times.size - 1)
        left = np.clip(right - 1, 0, times.size - 1)
        nearest = np.where(np.abs(times[left] - centres[empty]) <= np.abs(times[right] - centres[empty]),
                           left, right)
        lo[empty], hi[empty] = nearest, nearest + 1
    return lo, hi


def windowed_mean_std(times: np.ndarray, values: np.ndarray, centres: np.ndarray,
                      window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) standard deviation of ``values`` rows in a window of
    ``window_s`` seconds centred on each of ``centres``; (T, D) each."""
    values = np.asarray(values, np.float64)
    lo, hi = window_bounds(np.asarray(times, np.float64), np.asarray(centres, np.float64), window_s)
    # Centring first keeps the running-sum variance free of cancellation.
    offset = values.mean(axis=0, keepdims=True)
    x = values - offset
    s1 = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    s2 = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x * x, axis=0)])
    n = (hi - lo)[:, None].astype(np.float64)
    mean = (s1[hi] - s1[lo]) / n
    var = np.maximum((s2[hi] - s2[lo]) / n - mean * mean, 0.0)
    return mean + offset, np.sqrt(var)


def speech_activity(wave: np.ndarray, rate: int, centres: np.ndarray, frame_s: float = 0.1,
                    min_contrast_db: float = 10.0, smooth_steps: int = 5) -> np.ndarray:
    """1.0 where someone speaks, 0.0 elsewhere, from the short-time energy of ``wave``.

    Frames of ``frame_s`` around each centre are compared with the recording's own
    energy range: speech lies above ``floor + 0.35 * (peak - floor)`` (floor = 10th,
    peak = 95th percentile of frame energy in dB). A recording whose range is under
    ``min_contrast_db`` has no detectable turns and gets zeros. A median filter of
    ``smooth_steps`` frames closes the short pauses inside a turn."""
    from scipy.ndimage import median_filter
    x = np.asarray(wave, np.float64)
    if x.size == 0:
        return np.zeros(len(centres), np.float32)
    s2 = np.concatenate([[0.0], np.cumsum(x * x)])
    half = frame_s / 2.0
    lo = np.clip(np.round((np.asarray(centres) - half) * rate).astype(np.int64), 0, x.size)
    hi = np.clip(np.round((np.asarray(centres) + half) * rate).astype(np.int64), 0, x.size)
    n = np.maximum(hi - lo, 1)
    energy_db = 10.0 * np.log10((s2[hi] - s2[lo]) / n + 1e-12)
    inside = hi > lo
    if inside.sum() < 2:
        return np.zeros(len(centres), np.float32)
    floor, peak = np.percentile(energy_db[inside], [10, 95])
    if peak - floor < min_contrast_db:
        return np.zeros(len(centres), np.float32)
    active = (energy_db > floor + 0.35 * (peak - floor)) & inside
    if smooth_steps > 1:
        active = median_filter(active.astype(np.uint8), size=smooth_steps, mode="nearest") > 0
    return active.astype(np.float32)


def au_functionals(times: np.ndarray, values: np.ndarray, centres: np.ndarray, window_s: float,
                   turn: np.ndarray | None = None) -> np.ndarray:
    """The 37 inputs (:data:`FUNCTIONAL_CHANNELS`) at ``centres``: float32 (T, 37)."""
    mean, std = windowed_mean_std(times, values, centres, window_s)
    out = np.empty((len(centres), len(FUNCTIONAL_CHANNELS)), np.float32)
    out[:, 0:-1:2] = mean
    out[:, 1:-1:2] = std
    out[:, -1] = 0.0 if turn is None else turn
    return out


def resample_rows(times: np.ndarray, values: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Linear interpolation of every column at ``centres`` (edge values held): float32 (T, D)."""
    values = np.asarray(values, np.float64)
    return np.stack([np.interp(centres, times, values[:, j]) for j in range(values.shape[1])],
                    axis=1).astype(np.float32)


def pick_frames(n_frames: int, frame_rate: float, centres: np.ndarray) -> np.ndarray:
    """Index of the decoded frame nearest to each label time (held at the ends)."""
    idx = np.round(np.asarray(centres) * frame_rate).astype(np.int64)
    return np.clip(idx, 0, max(n_frames - 1, 0))
