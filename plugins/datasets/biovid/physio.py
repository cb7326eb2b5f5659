"""Biosignals of a stand-in BioVid sample, driven by the simulated perceived pain.

The synthetic world gives the latent pain and arousal of a 5.5 s window; this
module turns them into the three Part A channels at 512 Hz:

* ``gsr``: skin conductance (microsiemens) = subject tonic level + slow drift +
  the pain driver delayed by ``latency`` and convolved with a bi-exponential
  skin-conductance-response kernel (rise 0.75 s, decay 2 s).
* ``ecg``: millivolts; P-QRS-T Gaussian waves placed by integrating a heart
  rate that rises with pain, with respiratory sinus arrhythmia and noise.
* ``emg_trapezius``: millivolts; 20-250 Hz band-limited noise whose envelope
  grows with pain (muscle tension) and arousal.
* ``emg_corrugator`` / ``emg_zygomaticus``: the facial EMG channels, the same
  noise model; the corrugator (brow lowerer) follows pain, the zygomaticus
  (smile) only arousal, weakly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

RATE = 512.0
_EMG_SOS = butter(4, (20.0, 250.0), btype="bandpass", fs=RATE, output="sos")
# (phase centre, amplitude mV, width) of the P, Q, R, S and T waves within one beat
_ECG_WAVES = ((0.16, 0.12, 0.025), (0.285, -0.12, 0.008), (0.30, 1.1, 0.010),
              (0.315, -0.25, 0.008), (0.55, 0.32, 0.045))


@dataclass(frozen=True)
class PhysioTraits:
    """Per-subject physiology: tonic skin conductance, SCR gain, resting heart rate,
    heart-rate pain reactivity, EMG resting level and EMG pain gain."""

    scl: float
    scr_gain: float
    latency_s: float
    hr_rest: float
    hr_gain: float
    emg_rest: float
    emg_gain: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "PhysioTraits":
        return cls(scl=float(rng.uniform(2.0, 12.0)), scr_gain=float(np.exp(rng.normal(0.3, 0.4))),
                   latency_s=float(rng.uniform(1.0, 2.0)), hr_rest=float(rng.uniform(58, 85)),
                   hr_gain=float(rng.uniform(4.0, 12.0)), emg_rest=float(rng.uniform(0.005, 0.02)),
                   emg_gain=float(np.exp(rng.normal(-3.5, 0.4))))


def biosignals(traits: PhysioTraits, time_s: np.ndarray, pain: np.ndarray, arousal: np.ndarray,
               n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 5) float64 gsr, ecg, emg_trapezius, emg_corrugator, emg_zygomaticus at 512 Hz
    from pain/arousal sampled at ``time_s``."""
    t = np.arange(n) / RATE
    p = np.interp(t, time_s, pain)
    a = np.interp(t, time_s, arousal)

    # GSR: delayed pain driver through the SCR kernel, on a drifting tonic level
    lag = int(round(traits.latency_s * RATE))
    driver = np.concatenate([np.zeros(lag), p[:n - lag]]) if lag < n else np.zeros(n)
    k = np.arange(int(8 * RATE)) / RATE
    kernel = np.exp(-k / 2.0) - np.exp(-k / 0.75)
    kernel /= kernel.sum()
    scr = fftconvolve(driver, kernel)[:n] * traits.scr_gain * 3.0
    drift = np.cumsum(rng.normal(0.0, 0.0015, n))
    gsr = traits.scl + rng.normal(0.0, 0.05) * t + drift + scr + rng.normal(0.0, 0.004, n)

    # ECG: beats placed by the integrated heart rate
    resp = 2.0 * np.sin(2 * np.pi * rng.uniform(0.2, 0.33) * t + rng.uniform(0, 2 * np.pi))
    hr = traits.hr_rest + traits.hr_gain * p + 3.0 * a + resp
    phase = rng.uniform(0, 1) + np.cumsum(hr / 60.0 / RATE)
    frac = phase % 1.0
    ecg = np.zeros(n)
    for centre, amp, width in _ECG_WAVES:
        d = (frac - centre + 0.5) % 1.0 - 0.5  # wrapped distance to the wave centre
        ecg += amp * np.exp(-0.5 * (d / width) ** 2)
    ecg += 0.05 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 2 * np.pi)) + rng.normal(0, 0.015, n)

    # EMG: band-limited noise, envelope = rest + pain tension + arousal
    env = traits.emg_rest + traits.emg_gain * (p + 0.3 * np.clip(a, 0, None))
    emg = sosfilt(_EMG_SOS, rng.standard_normal(n)) * env
    # facial EMG: drawn after the three trunk channels so those keep their values
    corr_env = traits.emg_rest + 1.5 * traits.emg_gain * p
    corrugator = sosfilt(_EMG_SOS, rng.standard_normal(n)) * corr_env
    zyg_env = traits.emg_rest + 0.2 * traits.emg_gain * np.clip(a, 0, None)
    zygomaticus = sosfilt(_EMG_SOS, rng.standard_normal(n)) * zyg_env
    return np.stack([gsr, ecg, emg, corrugator, zygomaticus], axis=1)
