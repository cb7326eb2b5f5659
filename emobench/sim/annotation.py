"""Labels as human raters produce them.

Continuous: each of ``n_raters`` follows the latent signal with their own reaction delay
(around ``delay_s``, per dimension), gain, bias, slow tracking noise and smoothing; the gold
standard is their mean (as in AVEC/SEWA).  Discrete: the label is drawn from
``state_posterior @ C`` where C is a confusion matrix that confuses similar classes
(nearby on the valence/arousal circumplex, or adjacent ordinal levels).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .constants import EMOTION_VA
from .latent import ou_process
from .rng import as_generator
from .world import Session

#: Default annotation delays in seconds (arousal is judged later than valence in AVEC work).
DEFAULT_DELAYS_S = {"arousal": 3.0, "valence": 2.4, "liking": 2.4}


@dataclass
class ContinuousAnnotation:
    """Gold-standard traces ``gold[dim]`` (T,) and individual ``raters[dim]`` (R, T) at the
    session's ``rate_hz``; ``delay_s[dim]`` is the mean rater delay used."""

    time: np.ndarray
    rate_hz: float
    gold: dict[str, np.ndarray]
    raters: dict[str, np.ndarray]
    delay_s: dict[str, float]


def delayed(x: np.ndarray, delay_steps: int) -> np.ndarray:
    """x shifted later by ``delay_steps`` samples (y[k] = x[k - d]), padding with x[0]."""
    if delay_steps <= 0:
        return np.asarray(x, float).copy()
    d = min(delay_steps, x.size)
    return np.concatenate([np.full(d, x[0]), x[: x.size - d]])


def annotate_continuous(session: Session, rng, *, n_raters: int = 6,
                        delay_s: float | dict[str, float] | None = None, delay_jitter_s: float = 0.5,
                        noise_sd: float = 0.12, bias_sd: float = 0.08, gain_sd: float = 0.15,
                        smoothing_s: float = 0.6,
                        dims: tuple[str, ...] = ("arousal", "valence", "liking")) -> ContinuousAnnotation:
    """Simulated continuous ratings of ``session`` (see module docstring).

    ``delay_s`` is a float for all dimensions or a dict per dimension (defaults:
    DEFAULT_DELAYS_S).  Rater r of dimension x reports
    ``clip(g_r * x(t - d_r) + b_r + OU_r(t), -1, 1)`` smoothed with a Gaussian of
    ``smoothing_s``; d_r ~ N(delay, delay_jitter_s), g_r ~ logN(0, gain_sd),
    b_r ~ N(0, bias_sd), OU with 2 s correlation time and sd ``noise_sd``."""
    r = as_generator(rng)
    if n_raters < 1:
        raise ValueError(f"annotate_continuous: n_raters must be >= 1, got {n_raters}")
    delays = dict(DEFAULT_DELAYS_S)
    if isinstance(delay_s, dict):
        delays.update(delay_s)
    elif delay_s is not None:
        delays = {k: float(delay_s) for k in delays}
    gold, raters, used = {}, {}, {}
    for dim in dims:
        x = getattr(session, dim, None)
        if x is None:
            raise ValueError(f"annotate_continuous: session has no {dim!r} trace")
        d = float(delays.get(dim, 2.5))
        traces = []
        for _ in range(n_raters):
            dr = max(0.0, r.normal(d, delay_jitter_s))
            y = np.exp(r.normal(0, gain_sd)) * delayed(x, int(round(dr * session.rate_hz)))
            y = y + r.normal(0, bias_sd) + ou_process(r, x.size, session.rate_hz, 2.0, noise_sd)
            if smoothing_s > 0:
                y = gaussian_filter1d(y, smoothing_s * session.rate_hz, mode="nearest")
            traces.append(np.clip(y, -1.0, 1.0))
        raters[dim] = np.stack(traces)
        gold[dim] = raters[dim].mean(axis=0)
        used[dim] = d
    return ContinuousAnnotation(session.time.copy(), session.rate_hz, gold, raters, used)


def confusion_matrix(classes: tuple[str, ...], rate: float) -> np.ndarray:
    """Row-stochastic P(annotated | true) with ``1 - rate`` on the diagonal; errors go to
    similar classes: nearby on the circumplex for emotions, adjacent levels otherwise."""
    k = len(classes)
    if k == 1:
        return np.ones((1, 1))
    if all(c in EMOTION_VA for c in classes):
        pts = np.array([EMOTION_VA[c] for c in classes])
        dist = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    else:
        idx = np.arange(k)
        dist = np.abs(idx[:, None] - idx[None]).astype(float)
    w = np.exp(-dist / 0.5)
    np.fill_diagonal(w, 0.0)
    w = w / w.sum(axis=1, keepdims=True)
    return (1 - rate) * np.eye(k) + rate * w


def label_distribution(session: Session, classes: tuple[str, ...] | None = None,
                       confusion: float = 0.06) -> np.ndarray:
    """P(annotated label | true state) over ``classes`` (default: session.label_set)."""
    if session.state_posterior is None or session.label_set is None:
        raise ValueError("label_distribution: session has no discrete label (use episode_clip / pain_sample)")
    classes = tuple(session.label_set if classes is None else classes)
    unknown = [c for c in classes if c not in session.label_set]
    if unknown:
        raise ValueError(f"label_distribution: classes {unknown} not in {session.label_set}")
    p = np.array([session.state_posterior[session.label_set.index(c)] for c in classes])
    if p.sum() <= 0:
        raise ValueError(f"label_distribution: true state {session.label!r} has no mass on {classes}")
    p = p / p.sum()
    return p @ confusion_matrix(classes, confusion)


def annotate_discrete(session: Session, rng, *, classes: tuple[str, ...] | None = None,
                      confusion: float = 0.06) -> tuple[str, np.ndarray]:
    """One annotated class for a clip and the distribution it was drawn from
    (feed the distributions to ceilings.classification_ceiling)."""
    r = as_generator(rng)
    classes = tuple(session.label_set if classes is None else classes)
    dist = label_distribution(session, classes, confusion)
    return classes[int(r.choice(len(classes), p=dist))], dist


def annotate_facs(aus: np.ndarray, rng, *, noise_sd: float = 0.35) -> np.ndarray:
    """Manual FACS coding: integer intensities 0..5 (A..E) of the AUs after coder noise;
    binary AUs (AU43) stay 0/1.  Input and output are (T, N_AUS)."""
    from .constants import AU_INDEX
    r = as_generator(rng)
    coded = np.clip(np.rint(np.asarray(aus, float) + r.normal(0, noise_sd, np.shape(aus))), 0, 5)
    coded[..., AU_INDEX["AU43"]] = (np.asarray(aus)[..., AU_INDEX["AU43"]] > 0.5)
    coded[..., AU_INDEX["AU45"]] = np.clip(np.rint(np.asarray(aus)[..., AU_INDEX["AU45"]]), 0, 5)
    return coded


def pain_reports(session: Session, rng) -> dict[str, int]:
    """Sequence-level self/observer pain reports (UNBC Sequence_Labels) from peak pain:
    VAS 0..10, OPR 0..5, AFF and SEN 0..15, each with rater noise."""
    r = as_generator(rng)
    p = float(np.clip(session.pain.max() if session.pain.size else 0.0, 0, 1))
    rep = lambda scale, sd: int(np.clip(np.rint(scale * p + r.normal(0, sd * scale)), 0, scale))  # noqa: E731
    return {"VAS": rep(10, 0.12), "OPR": rep(5, 0.12), "AFF": rep(15, 0.15), "SEN": rep(15, 0.15)}
