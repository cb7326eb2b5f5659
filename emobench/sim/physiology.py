"""Peripheral physiology for pain (BioVid-style GSR, ECG, trapezius EMG).

GSR (uS): tonic level + phasic skin-conductance responses = driver (positive pain increase
and arousal) convolved with a bi-exponential (tau 0.75 s rise, 2 s decay) after a 1.5 s latency.
ECG (mV): a sum of Gaussian P, Q, R, S, T waves per beat; heart rate = HR0 + 12 arousal +
15 pain with respiratory sinus arrhythmia.  EMG (uV): band-limited noise (20-250 Hz) with
bursts whose envelope follows pain.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

from .latent import ou_process
from .rng import as_generator
from .world import Session

_WAVES = [(-0.2, 0.025, 0.12), (-0.05, 0.01, -0.12), (0.0, 0.01, 1.0), (0.04, 0.012, -0.25), (0.25, 0.05, 0.3)]


def physiology(session: Session, rate_hz: float = 512.0, *, rng=0,
               duration_s: float | None = None) -> dict[str, np.ndarray]:
    """{"time_us", "gsr", "ecg", "emg_trapezius"} at ``rate_hz`` over the session (or its first
    ``duration_s`` seconds, e.g. exactly 5.5 s for BioVid, 2816 rows at 512 Hz)."""
    r = as_generator(rng)
    dur = session.duration_s if duration_s is None else float(duration_s)
    n = max(2, int(round(dur * rate_hz)))
    t = np.arange(n) / rate_hz
    pain = np.interp(t, session.time, session.pain)
    arousal = np.interp(t, session.time, session.arousal)
    subj = session.subject
    # GSR
    drive = np.maximum(np.gradient(pain) * rate_hz, 0) + 0.05 * np.maximum(arousal, 0)
    lat = int(1.5 * rate_hz)
    drive = np.concatenate([np.zeros(lat), drive[:-lat]]) if lat < n else np.zeros(n)
    kt = np.arange(int(12 * rate_hz)) / rate_hz
    kernel = np.exp(-kt / 2.0) - np.exp(-kt / 0.75)
    phasic = np.convolve(drive, kernel, mode="full")[:n] / rate_hz * 2.0 * subj.pain_sensitivity
    gsr = 2.0 + 0.5 * subj.expressivity + ou_process(r, n, rate_hz, 20.0, 0.05) + phasic
    # ECG
    hr = 65 + 10 * (subj.index % 5 - 2) / 2 + 12 * arousal + 15 * pain
    hr = hr * (1 + 0.03 * np.sin(2 * np.pi * 0.25 * t))
    phase = np.cumsum(hr / 60 / rate_hz) + r.uniform()
    beat_t = (phase % 1.0 - 0.5) * 60 / hr  # seconds from the nearest R peak
    ecg = sum(amp * np.exp(-0.5 * ((beat_t - mu) / sd) ** 2) for mu, sd, amp in _WAVES)
    ecg = ecg + 0.02 * r.standard_normal(n) + 0.05 * np.sin(2 * np.pi * 0.2 * t)
    # EMG
    nyq = rate_hz / 2
    sos = butter(4, [20 / nyq, min(250, 0.9 * nyq) / nyq], btype="band", output="sos")
    carrier = sosfilt(sos, r.standard_normal(n))
    env = 2.0 + 25.0 * pain * subj.expressivity * (1 + 0.3 * np.abs(ou_process(r, n, rate_hz, 0.3, 1.0)))
    emg = carrier * env
    return {"time_us": np.round(t * 1e6), "gsr": gsr, "ecg": ecg, "emg_trapezius": emg}
