"""Voice: a source-filter synthesiser whose prosody follows the session's latent state.

Source: a glottal pulse train (band-limited sawtooth, -12 dB/octave tilt) at
f0(t) = f0_subject * 2^((4 a + 1.5 v + emotion offsets + jitter) / 12), plus aspiration
noise; amplitude follows arousal and a syllable envelope at the subject's speech rate
(faster with arousal).  Filter: three formant resonators per syllable (random vowel,
scaled by the subject's vocal-tract factor).  Silence (faint room noise) where
``session.speaking`` is False.

``emotion_prosody=True`` (acted-emotion corpora) adds per-emotion speech rate, level
and glottal spectral tilt, weighted by the emotion activation over time (tables
below), so the emotion is audible beyond pitch; the default keeps the older voice.
:func:`talking_clip` renders a face video and its voice for one acted clip.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from .constants import EMOTION_INDEX
from .rng import as_generator
from .world import Session

_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [530, 1840, 2480],
                    [570, 840, 2410], [300, 870, 2240], [660, 1720, 2410]], float)
#: pitch offset (semitones) and jitter factor per emotion
_EMO_PITCH = {"happy": 2.0, "sad": -2.0, "surprise": 4.0, "fear": 3.0, "anger": 1.5, "disgust": -1.0}
_EMO_JITTER = {"sad": 1.5, "fear": 2.5, "anger": 1.3}
#: with emotion_prosody: speech-rate factor, level (dB) and the shift of the source's
#: tilt pole (0.9; lower = flatter spectrum, a "tense" bright voice; higher = breathy, dark)
_EMO_RATE = {"happy": 1.15, "sad": 0.7, "surprise": 1.0, "fear": 1.35, "anger": 1.2, "disgust": 0.8}
_EMO_LEVEL_DB = {"happy": 2.0, "sad": -6.0, "surprise": 3.0, "fear": -2.0, "anger": 6.0,
                 "disgust": -3.0}
_EMO_TILT = {"happy": -0.05, "sad": 0.07, "surprise": -0.02, "fear": 0.03, "anger": -0.2,
             "disgust": 0.05}


def _resonator(freq: float, bw: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bw / sr)
    c = 2 * r * np.cos(2 * np.pi * freq / sr)
    return np.array([1 - c + r * r]), np.array([1.0, -c, r * r])


def _emotion_weighted(session: Session, table: dict[str, float], neutral: float) -> np.ndarray:
    """(T,) ``neutral + sum_e activation_e(t) * (table[e] - neutral)``."""
    out = np.full(session.n, float(neutral))
    for e, value in table.items():
        out += (value - neutral) * session.emotion_activation[:, EMOTION_INDEX[e]]
    return out


def synth_voice(session: Session, sample_rate: int = 16000, *, rng=0,
                emotion_prosody: bool = False) -> np.ndarray:
    """float32 waveform (about -1..1) of ``session`` at ``sample_rate`` Hz; its length is
    round(duration_s * sample_rate).  Speaking steps come from ``session.speaking``.
    ``emotion_prosody`` adds the per-emotion rate, level and tilt (module docstring)."""
    r = as_generator(rng)
    sr = int(sample_rate)
    n = int(round(session.duration_s * sr))
    t_s = np.arange(n) / sr
    interp = lambda x: np.interp(t_s, session.time, x)  # noqa: E731
    v, a = interp(session.valence), interp(session.arousal)
    emo_st = np.zeros(session.n)
    jit = np.ones(session.n)
    for e, st in _EMO_PITCH.items():
        emo_st += st * session.emotion_activation[:, EMOTION_INDEX[e]]
    for e, f in _EMO_JITTER.items():
        jit += (f - 1) * session.emotion_activation[:, EMOTION_INDEX[e]]
    speak = np.interp(t_s, session.time, session.speaking.astype(float)) > 0.5
    subj = session.subject
    jitter = 0.01 * interp(jit) * r.standard_normal(n // 80 + 2).repeat(80)[:n]  # per ~5 ms period
    semis = 4.0 * a + 1.5 * v + interp(emo_st) + 12 * jitter
    # slow intonation contour (declination + accents)
    semis += 2.0 * np.sin(2 * np.pi * 0.4 * t_s + r.uniform(0, 6.3))
    f0 = subj.voice_f0 * 2 ** (semis / 12)
    phase = np.cumsum(f0 / sr)
    saw = 2 * (phase % 1.0) - 1
    diff = lfilter([1.0, -1.0], [1.0], saw)
    src = lfilter([1.0], [1.0, -0.9], diff)  # pulse-like, tilted spectrum
    if emotion_prosody:  # time-varying tilt: cross-fade towards each active emotion's filter
        for e, shift in _EMO_TILT.items():
            w = interp(session.emotion_activation[:, EMOTION_INDEX[e]])
            if w.max() > 0:
                tilted = lfilter([1.0], [1.0, -(0.9 + shift)], diff)
                src = src + w * (tilted * np.abs(src).max() / (np.abs(tilted).max() + 1e-9) - src)
    src = src / (np.abs(src).max() + 1e-9) + 0.05 * r.standard_normal(n)
    # syllables: rate grows with arousal; each gets a vowel and a raised-sine envelope
    out = np.zeros(n)
    rate = subj.speech_rate * (1 + 0.25 * a)
    if emotion_prosody:
        rate = rate * interp(_emotion_weighted(session, _EMO_RATE, 1.0))
    k = 0
    while k < n:
        syl = max(int(sr / max(rate[k], 1.5)), 64)
        seg = slice(k, min(n, k + syl))
        m = seg.stop - seg.start
        if speak[k]:
            x = src[seg]
            formants = _VOWELS[r.integers(len(_VOWELS))] * subj.formant_scale
            y = np.zeros(m)
            for f, bw in zip(formants, (80, 100, 140)):
                b, aa = _resonator(min(f, 0.45 * sr), bw, sr)
                y += lfilter(b, aa, x)
            env = np.sin(np.pi * np.arange(m) / m) ** 0.7
            out[seg] = y * env
        k += syl
    energy = 0.25 * np.exp(0.8 * a) * (1 + 0.1 * r.standard_normal(n // 400 + 2).repeat(400)[:n])  # shimmer
    if emotion_prosody:
        energy = energy * 10 ** (interp(_emotion_weighted(session, _EMO_LEVEL_DB, 0.0)) / 20)
    # normalise by a high percentile (not the max) so a single formant peak does not mute the voice
    ref = np.percentile(np.abs(out[speak]), 99) if speak.any() else 1.0
    wave = out / (ref + 1e-9) * energy * speak
    wave += 0.001 * r.standard_normal(n)  # faint room noise
    return np.clip(wave, -1, 1).astype(np.float32)


def speaking_indicator(session: Session, rate_hz: float) -> np.ndarray:
    """Speaker-turn feature at ``rate_hz`` (1.0 while speaking, else 0.0), e.g. 10 Hz for SEWA."""
    n = max(1, int(round(session.duration_s * rate_hz)))
    idx = np.clip(np.round(np.arange(n) / rate_hz * session.rate_hz).astype(int), 0, session.n - 1)
    return session.speaking[idx].astype(float)


def talking_clip(world, subject, emotion: str, duration_s: float, fps: float, *,
                 size=(160, 120), sample_rate: int = 16000, rng: int = 0,
                 face_emotion: str | None = None, voice_emotion: str | None = None,
                 lead_s: float = 0.15, tail_s: float = 0.1, landmarks: bool = False):
    """One acted clip: ``(frames (T, H, W, 3) uint8 BGR, voice float32, face session)``.

    The subject speaks from ``lead_s`` to ``duration_s - tail_s`` (silence around it,
    so voice-activity detection has something to find) with emotion prosody. The face
    shows ``face_emotion`` and the voice ``voice_emotion`` (both default to
    ``emotion``); a different value (e.g. ``"neutral"``) makes the two modalities
    disagree. ``rng`` names the clip reproducibly for the subject. ``landmarks=True``
    appends the rendered face's (T, 66, 2) pixel landmarks to the tuple."""
    from dataclasses import replace

    from .rng import derive
    from .video import render_video

    face_e, voice_e = face_emotion or emotion, voice_emotion or emotion
    face = world.episode_clip(subject, face_e, duration_s, fps, rng=rng)
    voice = face if voice_e == face_e else world.episode_clip(
        subject, voice_e, duration_s, fps, rng=rng + 7919)
    t = voice.time
    voice = replace(voice, speaking=(t >= lead_s) & (t < duration_s - tail_s))
    wave = synth_voice(voice, sample_rate, rng=derive(world.seed, "talking_clip", subject.index, rng),
                       emotion_prosody=True)
    frames, lms, _ = render_video(face, fps, size=size,
                                  rng=derive(world.seed, "talking_face", subject.index, rng))
    return (frames, wave, face, lms) if landmarks else (frames, wave, face)
