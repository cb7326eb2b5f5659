"""Eye behaviour: fixations and saccades, pupil size and blinks following the felt state.

The felt valence v and arousal a (in -1..1) drive every channel, after the affective
eye-tracking literature:

- fixation durations are gamma distributed (shape 3) with mean
  ``280 ms * exp(-0.35 a - 0.7 v)``: aroused, vigilant viewers scan with short fixations,
  sad / negative viewers dwell (longer fixations, so a lower saccade rate), positive
  viewers explore;
- saccade amplitudes (gamma, shape 2, mean ``0.16 (1 + 0.5 a) (1 + 0.5 v)`` screen units)
  grow with arousal and with positive valence (positive affect broadens the attentional
  scope, negative affect narrows it);
- gaze bias: each saccade is pulled (30 %) towards a valence-dependent target, upwards
  for positive valence, downwards and sideways away from the centre (the stimulus) for
  negative valence (avoidance, downcast eyes): ``y = 0.5 - 0.5 v`` (y grows downwards),
  ``x = 0.5 - 0.3 min(v, 0) sign(x - 0.5)``;
- pupil diameter = 3.5 mm + 0.9 a (+ 0.6 pain): it dilates with arousal for pleasant and
  unpleasant states alike, through a 0.6 s first-order lag (the pupil follows the state
  with a delay), plus slow noise;
- blinks are the same AU45 events the face shows (AU45 > 2 closes the eye; gaze is then NaN).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal import lfilter

from .constants import AU_INDEX
from .latent import ou_process
from .rng import as_generator
from .world import Session

#: fixation duration mean at rest (s) and its log-sensitivity to arousal and valence
FIX_MEAN_S, FIX_AROUSAL, FIX_VALENCE = 0.28, 0.35, 0.7
#: relative growth of saccade amplitude per unit valence
AMP_VALENCE = 0.5
#: gaze bias: vertical shift of the saccade target per unit valence (up for positive),
#: horizontal shift away from the centre per unit negative valence
BIAS_Y, AVOID_X = 0.5, 0.3
#: pupil: dilation (mm) per unit arousal, whatever the valence (Bradley et al. 2008), and
#: its lag behind the state (s)
PUPIL_AROUSAL_MM, PUPIL_LAG_S = 0.9, 0.6


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
        dur = r.gamma(3.0, FIX_MEAN_S * np.exp(-FIX_AROUSAL * a - FIX_VALENCE * v) / 3.0)
        m = max(1, int(round(dur * rate_hz)))
        end = min(n, k + m)
        gx[k:end] = x + r.normal(0, 0.004, end - k)
        gy[k:end] = y + r.normal(0, 0.004, end - k)
        fix.append((k / rate_hz, end / rate_hz, x, y))
        amp = r.gamma(2.0, 0.08 * (1 + 0.5 * a) * (1 + AMP_VALENCE * v))
        ang = r.uniform(0, 2 * np.pi)
        cx, cy = 0.5 - AVOID_X * min(v, 0) * np.sign(x - 0.5), 0.5 - BIAS_Y * v
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
    drive = PUPIL_AROUSAL_MM * s.arousal + 0.6 * s.pain
    lag = float(np.exp(-1.0 / (rate_hz * PUPIL_LAG_S)))
    drive = lfilter([1 - lag], [1, -lag], drive - drive[0]) + drive[0]  # starts settled
    pupil = 3.5 + drive + ou_process(r, n, rate_hz, 3.0, 0.1)
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
