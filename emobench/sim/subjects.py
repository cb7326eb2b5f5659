"""Subjects of the synthetic world: identity, expressivity, idiosyncrasies and group effects.

A :class:`Subject` is fully determined by ``(world seed, index, groups)``.  Identity (face
geometry, skin tone, voice) and expressivity come from the index alone; each group key/value
(``culture="DE"``, ``language="de"``, ``session="lab"``, ``corpus=...``) adds a
:class:`GroupEffect` derived from ``(world seed, key, value)``, shared by every subject of
that group.  Group effects change display rules (AU and emotion gains), the mapping from
valence/arousal to AUs and the neutral face, so a model trained on one culture meets a
shifted mapping in another: cross-group protocols are harder than within-group ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .constants import AU_INDEX, N_AUS, EMOTIONS, VA_MAP
from .rng import derive

#: How strongly each group kind perturbs the expression mapping (culture is the strongest).
GROUP_STRENGTH: dict[str, float] = {"culture": 1.0, "language": 0.35, "session": 0.3, "corpus": 0.5}
DEFAULT_GROUP_STRENGTH = 0.3


@dataclass(frozen=True)
class GroupEffect:
    """Shared shift of one group (e.g. culture DE).  Arrays are over AU_NAMES / EMOTIONS."""

    key: str
    value: str
    au_gain: np.ndarray          # (N_AUS,) multiplicative display-rule gain per AU
    emotion_gain: np.ndarray     # (7,) multiplicative display-rule gain per emotion
    va_map_offset: np.ndarray    # (N_AUS, 4) additive change of the valence/arousal -> AU map
    neutral_offset: np.ndarray   # (N_AUS,) additive neutral-face AU offset
    mood: np.ndarray             # (2,) shift of mean valence, arousal
    pitch_semitones: float       # voice pitch shift
    speech_rate: float           # multiplicative speech-rate factor
    lighting: float              # recording brightness factor (renderers)


def group_effect(seed: int, key: str, value: object) -> GroupEffect:
    """The effect of group ``key=value`` in world ``seed`` (same inputs -> same effect)."""
    s = GROUP_STRENGTH.get(key, DEFAULT_GROUP_STRENGTH)
    r = derive(seed, "group", key, value)
    return GroupEffect(
        key=key,
        value=str(value),
        au_gain=np.exp(r.normal(0.0, 0.3 * s, N_AUS)),
        emotion_gain=np.exp(r.normal(0.0, 0.3 * s, len(EMOTIONS))),
        va_map_offset=r.normal(0.0, 0.45 * s, (N_AUS, 4)) * (0.4 + (VA_MAP > 0)),
        neutral_offset=np.abs(r.normal(0.0, 0.35 * s, N_AUS)),
        mood=r.normal(0.0, 0.12 * s, 2),
        pitch_semitones=float(r.normal(0.0, 1.5 * s)),
        speech_rate=float(np.exp(r.normal(0.0, 0.1 * s))),
        lighting=float(np.exp(r.normal(0.0, 0.12 * s))),
    )


@dataclass(frozen=True)
class FaceGeometry:
    """Identity of the face, in units of the face half-width (renderer scales to pixels)."""

    aspect: float        # face height / width
    eye_spacing: float   # half distance between eye centres
    eye_height: float    # eye centre above face centre
    eye_size: float      # eye half-width
    brow_gap: float      # brow above eye
    brow_thickness: float
    nose_length: float
    nose_width: float
    mouth_width: float   # mouth half-width
    mouth_height: float  # mouth centre below face centre
    lip_thickness: float
    jaw_width: float     # jaw width relative to cheek width
    skin_bgr: tuple[int, int, int]
    hair_bgr: tuple[int, int, int]
    iris_bgr: tuple[int, int, int]


@dataclass(frozen=True)
class Subject:
    """One simulated person (identity + expressivity + idiosyncrasies + group effects).

    Attributes used by generators:
      ``expressivity``: overall expression gain (log-normal around 1; low = "non-expressive").
      ``au_gain``: per-AU gain including group display rules.
      ``emotion_gain``: per-emotion gain including group display rules.
      ``va_map``: (N_AUS, 4) matrix mapping [v+, v-, a+, a-] to AU intensities.
      ``neutral_aus``: idiosyncratic neutral-face AU intensities.
      ``mood``: personal mean (valence, arousal).
      ``pain_sensitivity``, ``pain_noise``: gain and trial-to-trial spread of perceived pain.
      ``heat_threshold_c``, ``heat_tolerance_c``: personal heat pain threshold / tolerance (PA1 / PA4).
      ``voice_f0``: mean speaking pitch in Hz; ``speech_rate``: syllables per second.
    """

    name: str
    index: int
    groups: dict[str, str]
    sex: str
    age: int
    geometry: FaceGeometry
    expressivity: float
    au_gain: np.ndarray
    emotion_gain: np.ndarray
    va_map: np.ndarray
    neutral_aus: np.ndarray
    mood: np.ndarray
    blink_rate_per_min: float
    pain_sensitivity: float
    pain_noise: float
    heat_threshold_c: float
    heat_tolerance_c: float
    voice_f0: float
    formant_scale: float
    speech_rate: float
    lighting: float
    effects: tuple[GroupEffect, ...] = field(default=())

    def __hash__(self) -> int:  # arrays are unhashable; name + index + groups identify a subject
        return hash((self.name, self.index, tuple(sorted(self.groups.items()))))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Subject) and (self.name, self.index, self.groups) == (
            other.name, other.index, other.groups)


_SKIN = np.array([[92, 134, 188], [120, 163, 214], [150, 190, 232], [70, 105, 160],
                  [105, 150, 205], [140, 180, 225], [60, 90, 135]], float)  # BGR anchors


def make_subject(seed: int, index: int, groups: dict[str, object] | None = None,
                 name: str | None = None, *, expressivity: float | None = None) -> Subject:
    """Build subject ``index`` of world ``seed``; see :meth:`emobench.sim.World.subjects`."""
    groups = {str(k): str(v) for k, v in (groups or {}).items()}
    r = derive(seed, "subject", index)
    sex = "w" if r.random() < 0.5 else "m"
    age = int(r.integers(18, 66))
    a, b = r.integers(0, len(_SKIN), 2)
    t = r.random()
    skin = (1 - t) * _SKIN[a] + t * _SKIN[b]
    hair = np.clip(r.normal([30, 38, 50], 15), 5, 120)
    if r.random() < 0.2:  # some lighter (blond/grey) hair
        hair = np.clip(r.normal([90, 130, 160], 20), 40, 220)
    iris = np.clip(r.normal([60, 70, 80], 25), 10, 160)
    geo = FaceGeometry(
        aspect=float(r.uniform(1.22, 1.42)),
        eye_spacing=float(r.uniform(0.36, 0.44)),
        eye_height=float(r.uniform(0.12, 0.22)),
        eye_size=float(r.uniform(0.15, 0.19)),
        brow_gap=float(r.uniform(0.15, 0.22)),
        brow_thickness=float(r.uniform(0.045, 0.08) * (1.2 if sex == "m" else 1.0)),
        nose_length=float(r.uniform(0.36, 0.48)),
        nose_width=float(r.uniform(0.13, 0.19)),
        mouth_width=float(r.uniform(0.26, 0.34)),
        mouth_height=float(r.uniform(0.52, 0.62)),
        lip_thickness=float(r.uniform(0.04, 0.07)),
        jaw_width=float(r.uniform(0.7, 0.88)),
        skin_bgr=tuple(int(round(c)) for c in skin),
        hair_bgr=tuple(int(round(c)) for c in hair),
        iris_bgr=tuple(int(round(c)) for c in iris),
    )
    expr = float(np.exp(r.normal(0.0, 0.35))) if expressivity is None else float(expressivity)
    au_gain = np.exp(r.normal(0.0, 0.2, N_AUS))
    emo_gain = np.exp(r.normal(0.0, 0.15, len(EMOTIONS)))
    va_map = VA_MAP * np.exp(r.normal(0.0, 0.15, VA_MAP.shape))
    neutral = np.abs(r.normal(0.0, 0.25, N_AUS)) * (r.random(N_AUS) < 0.5)
    neutral[AU_INDEX["AU43"]] = 0.0  # eye closure is binary and event-driven
    neutral[AU_INDEX["AU45"]] = 0.0
    mood = r.normal(0.0, 0.1, 2)
    blink = float(np.clip(r.normal(16.0, 5.0), 5.0, 32.0))
    pain_sens = float(np.exp(r.normal(0.0, 0.3)))
    pain_noise = float(r.uniform(0.08, 0.2))
    heat_thr = float(np.clip(r.normal(43.0, 1.3), 40.0, 46.0))
    heat_tol = float(min(heat_thr + r.uniform(3.0, 5.5), 50.5))
    f0 = float(r.normal(210.0, 20.0) if sex == "w" else r.normal(120.0, 14.0))
    formant = float(r.uniform(1.0, 1.15) if sex == "w" else r.uniform(0.88, 1.0))
    rate = float(r.uniform(3.6, 5.2))
    lighting = 1.0
    effects = tuple(group_effect(seed, k, v) for k, v in sorted(groups.items()))
    pitch_st = 0.0
    for e in effects:
        au_gain = au_gain * e.au_gain
        emo_gain = emo_gain * e.emotion_gain
        va_map = np.maximum(va_map + e.va_map_offset, 0.0)
        neutral = neutral + e.neutral_offset
        mood = mood + e.mood
        pitch_st += e.pitch_semitones
        rate *= e.speech_rate
        lighting *= e.lighting
    neutral[AU_INDEX["AU43"]] = 0.0
    neutral[AU_INDEX["AU45"]] = 0.0
    return Subject(
        name=name if name is not None else f"S{index:03d}",
        index=int(index), groups=groups, sex=sex, age=age, geometry=geo,
        expressivity=expr, au_gain=au_gain, emotion_gain=emo_gain, va_map=va_map,
        neutral_aus=neutral, mood=mood, blink_rate_per_min=blink,
        pain_sensitivity=pain_sens, pain_noise=pain_noise,
        heat_threshold_c=heat_thr, heat_tolerance_c=heat_tol,
        voice_f0=f0 * 2 ** (pitch_st / 12), formant_scale=formant, speech_rate=rate,
        lighting=lighting, effects=effects,
    )
