"""Eye behaviour: fixations and saccades, pupil size and blinks following the latent state.

Fixation durations are gamma distributed with mean 280 ms shortened by arousal; saccade
amplitudes grow with arousal; negative valence biases gaze downwards and away from the
centre; pupil diameter = 3.5 mm + 0.9 arousal (+ 0.6 pain) + slow noise; blinks are the
same AU45 events the face shows (AU45 > 2 closes the eye; gaze is then NaN).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from .constants import AU_INDEX
from .latent import ou_process
from .rng import as_generator
from .world import Session


@dataclass
class EyeTrace:
    """Gaze (x, y) in 0..1 screen units (NaN during blinks), pupil diameter in mm,
    blink / saccade flags, and the fixation list rows (start_s, end_s, x, y)."""

    time: np.ndarray
    gaze_x: np.ndarray
    gaze_y: np.ndarray
    pupil_mm: np.ndarray
    blink: np.ndarray
    saccade: np.ndarray
    fixations: np.ndarray


def eye_behaviour(session: Session, rate_hz: float = 60.0, *, rng=0) -> EyeTrace:
    """Eye-tracker output for ``session`` at ``rate_hz``."""
    r = as_generator(rng)
    s = session.resample(rate_hz)
    n = s.n
    gx, gy = np.empty(n), np.empty(n)
    sacc = np.zeros(n, bool)
    fix = []
    k, x, y = 0, 0.5, 0.5
    while k < n:
        a, v = s.arousal[k], s.valence[k]
        dur = r.gamma(3.0, 0.28 * (1 - 0.35 * a) / 3.0)
        m = max(1, int(round(dur * rate_hz)))
        end = min(n, k + m)
        gx[k:end] = x + r.normal(0, 0.004, end - k)
        gy[k:end] = y + r.normal(0, 0.004, end - k)
        fix.append((k / rate_hz, end / rate_hz, x, y))
        amp = r.gamma(2.0, 0.08 * (1 + 0.5 * a))
        ang = r.uniform(0, 2 * np.pi)
        cx, cy = 0.5 - 0.1 * min(v, 0) * np.sign(x - 0.5), 0.5 - 0.15 * min(v, 0)
        nx = np.clip(x + amp * np.cos(ang) + 0.3 * (cx - x), 0.02, 0.98)
        ny = np.clip(y + amp * np.sin(ang) + 0.3 * (cy - y), 0.02, 0.98)
        ls = max(1, int(round(0.03 * rate_hz)))
        s_end = min(n, end + ls)
        if s_end > end:
            w = np.linspace(0, 1, s_end - end + 1)[1:]
            gx[end:s_end], gy[end:s_end] = x + (nx - x) * w, y + (ny - y) * w
            sacc[end:s_end] = True
        x, y, k = nx, ny, s_end
    blink = s.aus[:, AU_INDEX["AU45"]] > 2.0
    gx[blink], gy[blink] = np.nan, np.nan
    pupil = 3.5 + 0.9 * s.arousal + 0.6 * s.pain + ou_process(r, n, rate_hz, 3.0, 0.1)
    return EyeTrace(s.time, gx, gy, np.clip(pupil, 1.5, 8.0), blink, sacc, np.asarray(fix))


def fixation_map(trace: EyeTrace, size=(64, 64), sigma: float = 2.0) -> np.ndarray:
    """Duration-weighted fixation density on a (height, width) grid, Gaussian-smoothed with
    ``sigma`` pixels, normalised to sum 1 (float32)."""
    h, w = size
    m = np.zeros((h, w))
    for start, end, x, y in trace.fixations:
        m[min(h - 1, int(y * h)), min(w - 1, int(x * w))] += end - start
    m = gaussian_filter(m, sigma)
    return (m / max(m.sum(), 1e-12)).astype(np.float32)
