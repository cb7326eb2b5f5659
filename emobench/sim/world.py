"""The synthetic affect world: subjects and their latent-state sessions.

``World(seed)`` is the single entry point for stand-in writers::

    w = World(seed=0)
    subs = w.subjects(4, groups={"culture": "DE"})
    s = w.continuous_session(subs[0], duration_s=60, rate_hz=10, rng=1)
    s.valence, s.arousal, s.aus            # latent state and AU intensities
    clip = w.episode_clip(subs[1], "happy", duration_s=3, rate_hz=25, rng=2)
    pain = w.pain_sample(subs[2], "PA4", rng=3)

Every generator takes ``rng`` (a ``numpy.random.Generator`` or an int seed).  When an int
is given it is combined with the world seed and the subject index, so ``rng=k`` names the
k-th item of a subject reproducibly, independent of generation order.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.stats import norm

from .aus import compose_aus
from .constants import AU_INDEX, AU_NAMES, EMOTIONS, EMOTION_INDEX, EMOTION_VA, PAIN_LEVELS
from .latent import (Episode, PAIN_LEVEL_MEDIAN, emotion_activation, heat_stimulus,
                     heat_temperatures, ou_process, perceived_pain, random_episode, speaking_turns)
from .rng import derive
from .subjects import Subject, make_subject


@dataclass
class Session:
    """A time series of one subject's latent state and what it drives.

    Arrays are indexed by time step ``k`` at ``rate_hz`` (``time[k] = k / rate_hz``):
      valence, arousal (T,) in [-1, 1]; liking (T,) or None;
      emotion_activation (T, 7) per EMOTIONS; pain (T,) in [0, ~1.2];
      stimulus (T,) heat temperature in deg C or None; speaking (T,) bool;
      aus (T, N_AUS) noisy AU intensities 0..5 (columns AU_NAMES), aus_clean without noise.
    ``label`` is the generating class (emotion name or pain level) for clips, and
    ``state_posterior`` the probability of each class of ``label_set`` given the true
    latent state (one-hot unless the state is ambiguous); ceilings are built from it.
    """

    subject: Subject
    rate_hz: float
    time: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    emotion_activation: np.ndarray
    pain: np.ndarray
    speaking: np.ndarray
    aus: np.ndarray
    aus_clean: np.ndarray
    liking: np.ndarray | None = None
    stimulus: np.ndarray | None = None
    episodes: list[Episode] = field(default_factory=list)
    label: str | None = None
    label_set: tuple[str, ...] | None = None
    state_posterior: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    au_names = AU_NAMES

    @property
    def n(self) -> int:
        return int(self.time.size)

    @property
    def duration_s(self) -> float:
        return self.n / self.rate_hz

    def au(self, name: str) -> np.ndarray:
        """Intensity series of one AU, e.g. ``session.au("AU12")``."""
        return self.aus[:, AU_INDEX[name]]

    @property
    def emotion(self) -> np.ndarray:
        """(T,) index into EMOTIONS of the dominant displayed emotion (neutral below 0.2)."""
        act = self.emotion_activation
        idx = act.argmax(axis=1)
        return np.where(act.max(axis=1) < 0.2, EMOTION_INDEX["neutral"], idx)

    def resample(self, rate_hz: float) -> "Session":
        """Same session at another rate: linear interpolation (nearest for booleans)."""
        n = max(1, int(round(self.duration_s * rate_hz)))
        t = np.arange(n) / rate_hz
        lin = lambda x: None if x is None else (  # noqa: E731
            np.interp(t, self.time, x) if x.ndim == 1 else
            np.stack([np.interp(t, self.time, c) for c in x.T], axis=1))
        near = np.clip(np.round(t * self.rate_hz).astype(int), 0, self.n - 1)
        return replace(self, rate_hz=float(rate_hz), time=t, valence=lin(self.valence),
                       arousal=lin(self.arousal), liking=lin(self.liking),
                       emotion_activation=lin(self.emotion_activation), pain=lin(self.pain),
                       stimulus=lin(self.stimulus), speaking=self.speaking[near],
                       aus=lin(self.aus), aus_clean=lin(self.aus_clean))


class World:
    """A seeded generative model of affect; see module docstring."""

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    # subjects ---------------------------------------------------------------------------
    def subject(self, index: int, groups: dict[str, object] | None = None, name: str | None = None,
                *, expressivity: float | None = None) -> Subject:
        """Subject ``index``: identity from (seed, index), group effects from ``groups``."""
        return make_subject(self.seed, index, groups, name, expressivity=expressivity)

    def subjects(self, n: int, groups: dict[str, object] | None = None, *, start: int = 0,
                 names: list[str] | None = None) -> list[Subject]:
        """``n`` subjects with indices ``start .. start+n-1`` sharing ``groups``
        (e.g. ``{"culture": "DE", "corpus": "sewa"}``); ``names`` overrides S000-style names."""
        if names is not None and len(names) != n:
            raise ValueError(f"World.subjects: names has {len(names)} entries, n={n}")
        return [self.subject(start + i, groups, None if names is None else names[i]) for i in range(n)]

    def _rng(self, subject: Subject, kind: str, rng) -> np.random.Generator:
        if isinstance(rng, np.random.Generator):
            return rng
        if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
            return derive(self.seed, kind, subject.index, *sorted(subject.groups.items()), int(rng))
        raise TypeError(f"World.{kind}: rng must be a numpy Generator or an int, got {rng!r}")

    # continuous affect ------------------------------------------------------------------
    def continuous_session(self, subject: Subject, duration_s: float, rate_hz: float = 10.0, *,
                           rng=0, emotions: tuple[str, ...] = EMOTIONS,
                           episodes_per_min: float = 2.0, speaking: bool = True,
                           tau_valence_s: float = 8.0, tau_arousal_s: float = 6.0,
                           sd_valence: float = 0.45, sd_arousal: float = 0.45) -> Session:
        """Free-running affect (e.g. SEWA video chat): OU valence/arousal/liking, sparse
        emotion episodes (from ``emotions``) pulling the state to their circumplex point,
        speech turns, and the AUs they drive."""
        r = self._rng(subject, "continuous_session", rng)
        n = max(2, int(round(duration_s * rate_hz)))
        t = np.arange(n) / rate_hz
        v_ou = np.tanh(ou_process(r, n, rate_hz, tau_valence_s, sd_valence, subject.mood[0]))
        a_ou = np.tanh(ou_process(r, n, rate_hz, tau_arousal_s, sd_arousal, subject.mood[1]))
        pool = [e for e in emotions if e != "neutral"]
        eps: list[Episode] = []
        if pool and episodes_per_min > 0:
            k = r.poisson(episodes_per_min * duration_s / 60.0)
            for onset in np.sort(r.uniform(0, duration_s, k)):
                eps.append(random_episode(r, pool[r.integers(len(pool))], onset, r.uniform(0.4, 1.0),
                                          apex_s=(1.0, 4.0), fall_s=(1.0, 3.0)))
        act = emotion_activation(t, eps)
        valence, arousal = _blend_va(v_ou, a_ou, act)
        liking = np.tanh(0.7 * np.arctanh(np.clip(valence, -0.99, 0.99))
                         + ou_process(r, n, rate_hz, 15.0, 0.3))
        talk = speaking_turns(r, n, rate_hz) if speaking else np.zeros(n, bool)
        aus, clean = compose_aus(subject, r, rate_hz, valence=valence, arousal=arousal,
                                 emotion=act, speaking=talk)
        return Session(subject, float(rate_hz), t, valence, arousal, act, np.zeros(n), talk,
                       aus, clean, liking=liking, episodes=eps)

    # discrete emotion clips ---------------------------------------------------------------
    def episode_clip(self, subject: Subject, emotion: str, duration_s: float = 3.0,
                     rate_hz: float = 25.0, *, rng=0, intensity: float | None = None,
                     mix: dict[str, float] | None = None, end_at_apex: bool = False,
                     label_set: tuple[str, ...] = EMOTIONS) -> Session:
        """A clip showing one emotion episode (onset -> apex -> offset) from a neutral start.

        ``mix`` makes an ambiguous clip: e.g. ``{"happy": 0.6, "surprise": 0.4}`` blends
        episodes with those weights (``emotion`` is ignored and the label is the largest
        weight).  ``end_at_apex`` stops at the apex (CK+-style posed sequences).
        ``state_posterior`` over ``label_set`` equals the mixture weights."""
        r = self._rng(subject, f"episode_clip:{emotion}", rng)
        weights = dict(mix) if mix else {emotion: 1.0}
        bad = [e for e in weights if e not in EMOTION_INDEX or e not in label_set]
        if bad:
            raise ValueError(f"World.episode_clip: emotion(s) {bad} not in label_set {label_set}")
        total = sum(weights.values())
        weights = {e: w / total for e, w in weights.items()}
        n = max(2, int(round(duration_s * rate_hz)))
        t = np.arange(n) / rate_hz
        peak = float(r.uniform(0.2, 0.9) if intensity is None else intensity)
        onset = r.uniform(0.05, 0.25) * duration_s
        rise = r.uniform(0.15, 0.3) * duration_s
        if end_at_apex:
            shape = dict(rise_s=(duration_s - onset, duration_s - onset), apex_s=(1.0, 1.0), fall_s=(0.5, 0.5))
        else:
            shape = dict(rise_s=(rise, rise), apex_s=(0.2 * duration_s, 0.45 * duration_s),
                         fall_s=(0.1 * duration_s, 0.3 * duration_s))
        eps = [random_episode(r, e, onset, peak * w, **shape) for e, w in weights.items() if e != "neutral"]
        act = emotion_activation(t, eps)
        v_ou = np.tanh(ou_process(r, n, rate_hz, 4.0, 0.12, subject.mood[0]))
        a_ou = np.tanh(ou_process(r, n, rate_hz, 4.0, 0.12, subject.mood[1]))
        valence, arousal = _blend_va(v_ou, a_ou, act)
        aus, clean = compose_aus(subject, r, rate_hz, valence=valence, arousal=arousal,
                                 emotion=act, va_gain=0.4)
        post = np.array([weights.get(c, 0.0) for c in label_set])
        label = max(weights, key=weights.get)
        return Session(subject, float(rate_hz), t, valence, arousal, act, np.zeros(n),
                       np.zeros(n, bool), aus, clean, episodes=eps, label=label,
                       label_set=tuple(label_set), state_posterior=post,
                       meta={"intensity": peak, "mix": weights})

    # pain ---------------------------------------------------------------------------------
    def pain_sample(self, subject: Subject, level: str | int, duration_s: float = 5.5,
                    rate_hz: float = 25.0, *, rng=0, window_offset_s: float = 1.0,
                    lag_s: float = 0.8) -> Session:
        """BioVid-style heat-pain window: the stimulus (BL1 baseline or PA1..PA4 ramp, 4 s
        plateau) starts ``window_offset_s`` before the window; perceived pain follows it with
        latency ``lag_s`` through the subject's threshold/tolerance, sensitivity and a
        per-trial offset.  ``state_posterior`` is P(level | perceived pain) over PAIN_LEVELS."""
        li = PAIN_LEVELS.index(level) if level in PAIN_LEVELS else level
        if not isinstance(li, (int, np.integer)) or not 0 <= li < len(PAIN_LEVELS):
            raise ValueError(f"World.pain_sample: level {level!r} not in {PAIN_LEVELS}")
        r = self._rng(subject, f"pain_sample:{li}", rng)
        n = max(2, int(round(duration_s * rate_hz)))
        t = np.arange(n) / rate_hz
        temps = heat_temperatures(subject.heat_threshold_c, subject.heat_tolerance_c)
        stim = heat_stimulus(t, -window_offset_s, temps[li])
        offset = r.normal(0.0, subject.pain_noise)
        pain = perceived_pain(stim, temps, subject.pain_sensitivity, offset, lag_s, rate_hz)
        post = pain_level_posterior(float(pain.max()), subject)
        valence, arousal, act, aus, clean = _pain_affect(subject, r, rate_hz, pain, tau_s=4.0)
        return Session(subject, float(rate_hz), t, valence, arousal, act, pain, np.zeros(n, bool),
                       aus, clean, stimulus=stim, label=PAIN_LEVELS[li], label_set=PAIN_LEVELS,
                       state_posterior=post, meta={"trial_offset": float(offset),
                                                   "temperature_c": float(temps[li])})

    def pain_session(self, subject: Subject, duration_s: float, rate_hz: float = 30.0, *, rng=0,
                     protocol: str = "movement", p_pain: float = 0.45, episodes_per_min: float = 6.0,
                     levels: list[str] | None = None) -> Session:
        """A longer pain recording.

        ``protocol="movement"`` (UNBC-McMaster shoulder tests): with probability ``p_pain``
        the sequence holds painful movements (Poisson, ``episodes_per_min``), each an
        onset/apex/offset pain episode; otherwise no pain at all.
        ``protocol="heat"`` (BioVid part C-like): heat stimuli from ``levels`` (default: the
        four PA levels in random order, repeated) with 4 s plateaus and 8-12 s pauses;
        ``stimulus`` holds the temperature."""
        r = self._rng(subject, f"pain_session:{protocol}", rng)
        n = max(2, int(round(duration_s * rate_hz)))
        t = np.arange(n) / rate_hz
        eps: list[Episode] = []
        stim = None
        if protocol == "movement":
            pain = np.zeros(n)
            if r.random() < p_pain:
                k = max(1, r.poisson(episodes_per_min * duration_s / 60.0))
                for onset in np.sort(r.uniform(0, max(duration_s - 1.0, 0.1), k)):
                    ep = random_episode(r, "pain", onset, min(1.2, r.uniform(0.15, 0.9) * subject.pain_sensitivity),
                                        rise_s=(0.3, 1.5), apex_s=(0.3, 2.0), fall_s=(0.5, 2.5))
                    eps.append(ep)
                    pain = np.maximum(pain, ep.envelope(t))
        elif protocol == "heat":
            temps = heat_temperatures(subject.heat_threshold_c, subject.heat_tolerance_c)
            stim = np.full(n, temps[0])
            pain = np.zeros(n)
            onset = r.uniform(1.0, 4.0)
            seq = list(levels) if levels else []
            i = 0
            while onset < duration_s:
                if seq:
                    lv = seq[i % len(seq)]
                else:
                    lv = PAIN_LEVELS[1 + r.integers(4)]
                if lv not in PAIN_LEVELS:
                    raise ValueError(f"World.pain_session: level {lv!r} not in {PAIN_LEVELS}")
                li = PAIN_LEVELS.index(lv)
                s_k = heat_stimulus(t, onset, temps[li])
                stim = np.maximum(stim, s_k)
                pain = np.maximum(pain, perceived_pain(s_k, temps, subject.pain_sensitivity,
                                                       r.normal(0, subject.pain_noise), 0.8, rate_hz))
                eps.append(Episode(f"heat:{lv}", onset, onset + 2.0, onset + 6.0, onset + 7.5, float(temps[li])))
                onset += 7.5 + r.uniform(8.0, 12.0)
                i += 1
        else:
            raise ValueError(f"World.pain_session: protocol must be 'movement' or 'heat', got {protocol!r}")
        valence, arousal, act, aus, clean = _pain_affect(subject, r, rate_hz, pain, tau_s=6.0)
        return Session(subject, float(rate_hz), t, valence, arousal, act, pain, np.zeros(n, bool),
                       aus, clean, stimulus=stim, episodes=eps, meta={"protocol": protocol})


def _pain_affect(subject: Subject, r, rate_hz: float, pain: np.ndarray, tau_s: float):
    """Mood drifts (OU) pulled by pain: valence down, arousal up; then the AUs."""
    n = len(pain)
    v_ou = np.tanh(ou_process(r, n, rate_hz, tau_s, 0.15, subject.mood[0]))
    a_ou = np.tanh(ou_process(r, n, rate_hz, tau_s, 0.15, subject.mood[1]))
    valence = np.clip(v_ou - 0.6 * pain, -1, 1)
    arousal = np.clip(a_ou + 0.7 * pain, -1, 1)
    act = np.zeros((n, len(EMOTIONS)))
    aus, clean = compose_aus(subject, r, rate_hz, valence=valence, arousal=arousal, pain=pain,
                             emotion=act, va_gain=0.3)
    return valence, arousal, act, aus, clean


def _blend_va(v_ou: np.ndarray, a_ou: np.ndarray, act: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Episodes pull valence/arousal from the OU background towards their circumplex point."""
    va = np.array([EMOTION_VA[e] for e in EMOTIONS])
    w = np.clip(act.sum(axis=1), 0.0, 1.0)
    target = act @ va / np.maximum(act.sum(axis=1, keepdims=True), 1e-9)
    strength = act.max(axis=1, keepdims=True).clip(0, 1)
    v = (1 - w) * v_ou + w * target[:, 0] * strength[:, 0] + w * (1 - strength[:, 0]) * v_ou
    a = (1 - w) * a_ou + w * target[:, 1] * strength[:, 0] + w * (1 - strength[:, 0]) * a_ou
    return np.clip(v, -1, 1), np.clip(a, -1, 1)


def pain_level_posterior(peak_pain: float, subject: Subject, levels: tuple[int, ...] = (0, 1, 2, 3, 4)) -> np.ndarray:
    """P(level | perceived peak pain) under a uniform prior, from the generative model:
    peak = clip(sensitivity * (median[level] + offset), 0, 1.2), offset ~ N(0, pain_noise)."""
    med = PAIN_LEVEL_MEDIAN[list(levels)]
    s, sd = subject.pain_sensitivity, subject.pain_noise
    if peak_pain <= 1e-12:
        like = norm.cdf((0.0 - med) / sd)
    elif peak_pain >= 1.2 - 1e-9:
        like = norm.sf((1.2 / s - med) / sd)
    else:
        like = norm.pdf((peak_pain / s - med) / sd)
    like = np.maximum(like, 1e-300)
    return like / like.sum()
