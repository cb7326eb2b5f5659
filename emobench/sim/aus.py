"""Action-unit intensities (0..5, FACS/OpenFace scale) from the latent state, and PSPI.

    AU(t) = clip( n_s + g_s * x_s * [ P^T (e(t) * eg_s) + M_s f(v, a) + pain(t) p_pain ]
                  + speech(t) + blink(t) + noise(t), 0, 5 )

with n_s the subject's neutral offsets, g_s per-AU gains, x_s expressivity, P the FACS
prototypes (constants.PROTOTYPES), e(t) the emotion activations, eg_s per-emotion display
gains, M_s the subject's valence/arousal map, f = [v+, v-, a+, a-], and noise an AR(1)
(0.5 s) term plus white measurement noise.  AU43 (eyes closed) is binary: 1 while pain
exceeds the subject's closure threshold.  AU45 is blinking.
"""
from __future__ import annotations

import numpy as np

from .constants import AU_INDEX, AU_NAMES, N_AUS, PROTOTYPE_MATRIX, PROTOTYPES
from .latent import blink_train, ou_process
from .subjects import Subject

_SPEECH = np.zeros(N_AUS)
for _au, _w in {"AU25": 1.5, "AU26": 1.2, "AU50": 3.0}.items():
    _SPEECH[AU_INDEX[_au]] = _w


def va_features(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    """(T, 4) rectified features [v+, v-, a+, a-] that the valence/arousal map acts on."""
    v, a = np.asarray(valence, float), np.asarray(arousal, float)
    return np.stack([np.maximum(v, 0), np.maximum(-v, 0), np.maximum(a, 0), np.maximum(-a, 0)], axis=1)


def compose_aus(subject: Subject, rng: np.random.Generator, rate_hz: float, *,
                valence: np.ndarray, arousal: np.ndarray, emotion: np.ndarray | None = None,
                pain: np.ndarray | None = None, speaking: np.ndarray | None = None,
                noise_sd: float = 0.25, measurement_sd: float = 0.12,
                va_gain: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """AU intensities for a latent trajectory.

    Returns ``(aus, aus_clean)``, both (T, N_AUS) float in [0, 5]: ``aus`` includes the
    AR(1) expression noise, white measurement noise and blinks; ``aus_clean`` is the
    noise-free deterministic part (also without blinks), used by ceilings and renderers
    that want a clean reference.
    """
    n = np.asarray(valence).size
    drive = va_gain * va_features(valence, arousal) @ subject.va_map.T
    if emotion is not None:
        drive += (emotion * subject.emotion_gain) @ PROTOTYPE_MATRIX
    if pain is not None:
        drive += np.asarray(pain, float)[:, None] * PROTOTYPES["pain"][None, :]
    clean = subject.neutral_aus + subject.expressivity * subject.au_gain * drive
    if speaking is not None:
        # jaw opening oscillates at the syllable rate while talking
        syl = 0.5 + 0.5 * np.sin(2 * np.pi * subject.speech_rate * np.arange(n) / rate_hz
                                 + rng.uniform(0, 2 * np.pi))
        clean = clean + np.asarray(speaking, float)[:, None] * syl[:, None] * _SPEECH[None, :]
    closure_idx, blink_idx = AU_INDEX["AU43"], AU_INDEX["AU45"]
    clean[:, closure_idx] = 0.0
    clean[:, blink_idx] = 0.0
    if pain is not None:
        # strong pain closes the eyes; threshold scales inversely with expressivity
        thr = 0.55 / max(subject.expressivity, 0.2)
        clean[:, closure_idx] = (np.asarray(pain) > thr).astype(float)
    clean = np.clip(clean, 0.0, 5.0)

    smooth = ou_process(rng, n, rate_hz, 0.5, noise_sd, channels=N_AUS)
    white = rng.normal(0.0, measurement_sd, (n, N_AUS))
    noisy = clean + smooth + white
    bpm = subject.blink_rate_per_min * (1.0 + 0.4 * np.clip(np.asarray(arousal), -1, 1))
    blinks = blink_train(rng, n, rate_hz, bpm)
    noisy[:, blink_idx] = 4.0 * blinks + np.abs(white[:, blink_idx])
    noisy[:, closure_idx] = clean[:, closure_idx]
    return np.clip(noisy, 0.0, 5.0), clean


def pspi(aus: np.ndarray, au_names: tuple[str, ...] | list[str] = AU_NAMES) -> np.ndarray:
    """Prkachin-Solomon Pain Intensity: AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43.

    ``aus`` is (..., n) with columns named by ``au_names``; AU43 is used as given (binary in
    this world and in UNBC, so PSPI ranges 0..16).
    """
    aus = np.asarray(aus, float)
    names = list(au_names)
    missing = [a for a in ("AU04", "AU06", "AU07", "AU09", "AU10", "AU43") if a not in names]
    if missing:
        raise ValueError(f"pspi: au_names lacks {missing}")
    col = lambda a: aus[..., names.index(a)]  # noqa: E731
    return col("AU04") + np.maximum(col("AU06"), col("AU07")) + np.maximum(col("AU09"), col("AU10")) + col("AU43")


def select_aus(aus: np.ndarray, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Columns ``names`` (e.g. constants.OPENFACE_AUS) of a (T, N_AUS) array."""
    unknown = [n for n in names if n not in AU_INDEX]
    if unknown:
        raise ValueError(f"select_aus: unknown action units {unknown}; known: {AU_NAMES}")
    return np.asarray(aus)[..., [AU_INDEX[n] for n in names]]
