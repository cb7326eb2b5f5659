"""Latent affective state over time: OU valence/arousal, emotion episodes, pain, speech turns.

All functions are vectorised over time and take an explicit ``numpy.random.Generator``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from .constants import EMOTIONS, EMOTION_INDEX


def ou_process(rng: np.random.Generator, n: int, rate_hz: float, tau_s: float, sd: float,
               mean: float = 0.0, x0: float | None = None, *, channels: int | None = None) -> np.ndarray:
    """Ornstein-Uhlenbeck path sampled exactly at ``rate_hz``.

    x[k+1] = mean + phi (x[k] - mean) + sd sqrt(1 - phi^2) eps[k],  phi = exp(-1 / (rate tau)),
    so ``sd`` is the stationary standard deviation and ``tau_s`` the correlation time.
    Shape (n,), or (n, channels) independent paths when ``channels`` is given.
    """
    phi = float(np.exp(-1.0 / (rate_hz * tau_s)))
    shape = (n,) if channels is None else (n, channels)
    eps = rng.standard_normal(shape) * sd * np.sqrt(1.0 - phi * phi)
    eps[0] = rng.normal(0.0, sd, shape[1:]) if x0 is None else x0 - mean
    # AR(1) as an IIR filter: y[k] = phi y[k-1] + eps[k]
    return lfilter([1.0], [1.0, -phi], eps, axis=0) + mean


@dataclass(frozen=True)
class Episode:
    """An expression episode: rises from ``onset`` to ``apex_start``, holds until ``apex_end``,
    decays until ``offset`` (seconds).  ``peak`` is the activation at apex (0..1+)."""

    kind: str          # an emotion name or "pain"
    onset: float
    apex_start: float
    apex_end: float
    offset: float
    peak: float

    def envelope(self, t: np.ndarray) -> np.ndarray:
        """Activation at times ``t``: raised-cosine rise and decay around a flat apex."""
        env = np.zeros_like(t, dtype=float)
        rise = (t >= self.onset) & (t < self.apex_start)
        if self.apex_start > self.onset:
            u = (t[rise] - self.onset) / (self.apex_start - self.onset)
            env[rise] = 0.5 - 0.5 * np.cos(np.pi * u)
        env[(t >= self.apex_start) & (t <= self.apex_end)] = 1.0
        fall = (t > self.apex_end) & (t < self.offset)
        if self.offset > self.apex_end:
            u = (t[fall] - self.apex_end) / (self.offset - self.apex_end)
            env[fall] = 0.5 + 0.5 * np.cos(np.pi * u)
        return env * self.peak


def random_episode(rng: np.random.Generator, kind: str, onset: float, peak: float,
                   rise_s=(0.3, 1.2), apex_s=(0.5, 3.0), fall_s=(0.5, 2.0)) -> Episode:
    """Episode with random rise / apex / decay durations (uniform in the given ranges, s)."""
    a = onset + rng.uniform(*rise_s)
    b = a + rng.uniform(*apex_s)
    c = b + rng.uniform(*fall_s)
    return Episode(kind, float(onset), float(a), float(b), float(c), float(peak))


def emotion_activation(t: np.ndarray, episodes: list[Episode]) -> np.ndarray:
    """(T, 7) activation per emotion (columns in EMOTIONS order); overlapping episodes add."""
    act = np.zeros((t.size, len(EMOTIONS)))
    for ep in episodes:
        if ep.kind in EMOTION_INDEX:
            act[:, EMOTION_INDEX[ep.kind]] += ep.envelope(t)
    return act


def speaking_turns(rng: np.random.Generator, n: int, rate_hz: float, mean_turn_s: float = 3.5,
                   mean_pause_s: float = 2.5, p_start: float = 0.5) -> np.ndarray:
    """Boolean speaking indicator from an alternating renewal process (gamma durations)."""
    out = np.zeros(n, dtype=bool)
    k, speaking = 0, bool(rng.random() < p_start)
    while k < n:
        mean = mean_turn_s if speaking else mean_pause_s
        length = max(1, int(round(rng.gamma(2.0, mean / 2.0) * rate_hz)))
        out[k:k + length] = speaking
        k += length
        speaking = not speaking
    return out


def blink_train(rng: np.random.Generator, n: int, rate_hz: float, blinks_per_min: np.ndarray | float,
                duration_s: float = 0.25) -> np.ndarray:
    """Blink closure (0..1) per step: inhomogeneous Poisson onsets, triangular closure."""
    bpm = np.broadcast_to(np.asarray(blinks_per_min, float), (n,))
    onsets = rng.random(n) < bpm / 60.0 / rate_hz
    half = max(duration_s * rate_hz / 2.0, 0.5)
    width = int(np.ceil(half)) 
    kernel = np.clip(1.0 - np.abs(np.arange(-width, width + 1)) / (half + 1e-9), 0.0, 1.0)
    if kernel.max() <= 0:
        kernel = np.ones(1)
    kernel = kernel / kernel.max()
    closure = np.convolve(onsets.astype(float), kernel, mode="same")
    return np.clip(closure, 0.0, 1.0)


# BioVid-style heat stimulation ------------------------------------------------------------
BASELINE_TEMP_C = 32.0


def heat_temperatures(threshold_c: float, tolerance_c: float) -> np.ndarray:
    """Stimulus temperatures of BL1, PA1..PA4: baseline, threshold, two equidistant steps, tolerance."""
    return np.array([BASELINE_TEMP_C, *np.linspace(threshold_c, tolerance_c, 4)])


def heat_stimulus(t: np.ndarray, onset_s: float, temp_c: float, ramp_s: float = 2.0,
                  plateau_s: float = 4.0, fall_s: float = 1.5) -> np.ndarray:
    """Temperature trace: baseline, linear ramp to ``temp_c``, ``plateau_s`` hold, return."""
    ep = Episode("stimulus", onset_s, onset_s + ramp_s, onset_s + ramp_s + plateau_s,
                 onset_s + ramp_s + plateau_s + fall_s, 1.0)
    # linear ramps (thermode) rather than cosine: reuse the envelope's breakpoints
    env = np.interp(t, [ep.onset, ep.apex_start, ep.apex_end, ep.offset], [0, 1, 1, 0], left=0, right=0)
    return BASELINE_TEMP_C + (temp_c - BASELINE_TEMP_C) * env


#: Median perceived pain (0..1) per heat level before subject sensitivity; BL1 is below zero so
#: that almost no baseline trial is perceived as painful, PA1 (threshold) is barely painful.
PAIN_LEVEL_MEDIAN = np.array([-0.35, 0.08, 0.32, 0.56, 0.8])


def perceived_pain(temp: np.ndarray, temps: np.ndarray, sensitivity: float, trial_offset: float,
                   lag_s: float, rate_hz: float) -> np.ndarray:
    """Pain (0..1) following the stimulus with latency ``lag_s``: piecewise-linear in temperature
    through the level medians, scaled by sensitivity, shifted by a per-trial offset, rectified."""
    base = np.interp(temp, temps, PAIN_LEVEL_MEDIAN)
    base = np.where(temp <= temps[0] + 1e-9, PAIN_LEVEL_MEDIAN[0], base)
    raw = sensitivity * (base + trial_offset)
    lag = int(round(lag_s * rate_hz))
    if lag > 0:
        raw = np.concatenate([np.full(lag, raw[0]), raw[:-lag]])
    return np.clip(raw, 0.0, 1.2)
