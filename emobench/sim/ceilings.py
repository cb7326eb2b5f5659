"""Best achievable scores on stand-ins, from the known generator.

Regression: a model can at best recover the noise-free latent signal; its ceiling is the
score of that signal, optimally delayed and affinely calibrated, against the annotated gold
standard.  Classification: a model that sees the true state can at best predict the most
probable annotated label, so its expected accuracy is the mean over items of
max_k P(label = k | state) (= 1 - effective label confusion).
"""
from __future__ import annotations

import numpy as np

from .annotation import delayed


def ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's concordance correlation coefficient with n-1 variances (AVEC convention)."""
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.size != y.size or x.size < 2:
        raise ValueError(f"ccc: need two equal-length series of >= 2 values, got {x.size} and {y.size}")
    cov = np.cov(x, y, ddof=1)
    return float(2 * cov[0, 1] / (cov[0, 0] + cov[1, 1] + (x.mean() - y.mean()) ** 2))


def _score(pred: np.ndarray, gold: np.ndarray, metric: str) -> float:
    if metric == "ccc":
        return ccc(pred, gold)
    if metric == "pcc":
        return float(np.corrcoef(pred, gold)[0, 1])
    if metric == "mse":
        return float(np.mean((pred - gold) ** 2))
    if metric == "mae":
        return float(np.mean(np.abs(pred - gold)))
    raise ValueError(f"regression_ceiling: metric must be ccc, pcc, mse or mae, got {metric!r}")


def regression_ceiling(latent, labels, rate_hz: float, *, max_delay_s: float = 6.0,
                       delay_step_s: float | None = None, metric: str = "ccc") -> dict:
    """Best score of the noise-free latent signal against annotated labels.

    ``latent`` and ``labels`` are arrays or lists of per-sequence arrays (scored on the
    concatenation, like AVEC).  For each delay 0..max_delay_s the latent is shifted later,
    affinely fitted to the labels by least squares and scored; returns
    ``{"metric", "score", "delay_s"}`` for the best delay (max for ccc/pcc, min for errors).
    """
    lat = [np.asarray(latent, float)] if np.ndim(latent[0]) == 0 else [np.asarray(a, float) for a in latent]
    lab = [np.asarray(labels, float)] if np.ndim(labels[0]) == 0 else [np.asarray(a, float) for a in labels]
    if len(lat) != len(lab) or any(a.size != b.size for a, b in zip(lat, lab)):
        raise ValueError("regression_ceiling: latent and labels must have matching sequence lengths")
    gold = np.concatenate(lab)
    step = max(1, int(round((delay_step_s or 1.0 / rate_hz) * rate_hz)))
    best = None
    for d in range(0, int(round(max_delay_s * rate_hz)) + 1, step):
        x = np.concatenate([delayed(a, d) for a in lat])
        design = np.stack([x, np.ones_like(x)], axis=1)
        coef, *_ = np.linalg.lstsq(design, gold, rcond=None)
        s = _score(design @ coef, gold, metric)
        better = best is None or (s > best[0] if metric in ("ccc", "pcc") else s < best[0])
        if better:
            best = (s, d / rate_hz)
    return {"metric": metric, "score": float(best[0]), "delay_s": float(best[1])}


def classification_ceiling(distributions, classes: list[int] | None = None) -> float:
    """Expected accuracy of the Bayes classifier that sees the true state.

    ``distributions`` is (N, K): row i = P(annotated label | true state of item i), e.g.
    from annotation.label_distribution / annotate_discrete or Session.state_posterior.
    ``classes`` restricts a task to some columns (e.g. [0, 4] for BioVid BL1 vs PA4),
    renormalising each row."""
    p = np.atleast_2d(np.asarray(distributions, float))
    if classes is not None:
        p = p[:, list(classes)]
    s = p.sum(axis=1, keepdims=True)
    if np.any(s <= 0):
        raise ValueError("classification_ceiling: an item has no probability mass on the task classes")
    return float(np.mean((p / s).max(axis=1)))


def pain_ceiling(sessions, levels: tuple[str, ...] = ("BL1", "PA4")) -> float:
    """Classification ceiling of a BioVid task over pain_sample sessions whose label is in
    ``levels`` (the stimulus level is exact, so only perceived-pain overlap limits it)."""
    items = [s for s in sessions if s.label in levels]
    if not items:
        raise ValueError(f"pain_ceiling: no session labelled in {levels}")
    cols = [items[0].label_set.index(l) for l in levels]
    return classification_ceiling(np.stack([s.state_posterior for s in items]), cols)
