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
    mapped by the affine map that is best for ``metric`` (:func:`best_affine`) and scored;
    returns ``{"metric", "score", "delay_s"}`` for the best delay (max for ccc/pcc, min for
    errors).
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
        s = _score(best_affine(x, gold, metric), gold, metric)
        better = best is None or (s > best[0] if metric in ("ccc", "pcc") else s < best[0])
        if better:
            best = (s, d / rate_hz)
    return {"metric": metric, "score": float(best[0]), "delay_s": float(best[1])}


def best_affine(z, y, metric: str) -> np.ndarray:
    """``a * z + b`` with the affine map that scores best on ``(z, y)`` for ``metric``:

    * CCC (any variance convention): ``b`` equalises the means and ``|a| = sd(y) / sd(z)``
      with the sign of ``cov(z, y)``. With equal means CCC(a) = 2 a c / (a^2 v_z + v_y),
      whose derivative vanishes at a^2 v_z = v_y; the CCC is then |Pearson r|. The
      least-squares slope ``c / v_z`` instead shrinks the prediction, which gives
      CCC = 2 r^2 / (1 + r^2) < |r|. Pearson is invariant, so the same map serves it.
    * squared errors (mse, rmse): the least-squares fit;
    * absolute error (mae): the least-absolute-deviation fit.

    A constant ``z`` maps to the mean (median for mae) of ``y``."""
    z, y = np.asarray(z, float).ravel(), np.asarray(y, float).ravel()
    if z.size != y.size:
        raise ValueError(f"best_affine: {z.size} predictions for {y.size} targets")
    metric = metric.lower()
    if np.std(z) == 0:
        return np.full_like(y, np.median(y) if metric == "mae" else y.mean())
    if metric in _CORRELATION:
        sign = 1.0 if np.cov(z, y)[0, 1] >= 0 else -1.0
        return y.mean() + sign * y.std() * (z - z.mean()) / z.std()
    if metric in _SQUARED or metric == "mse":
        design = np.stack([z, np.ones_like(z)], axis=1)
        return design @ np.linalg.lstsq(design, y, rcond=None)[0]
    if metric == "mae":
        return _lad_affine(z, y)
    raise ValueError(f"best_affine: no optimal affine map for metric {metric!r}")


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


# -- references on a test set: oracles on the latent state ---------------------------------

def reference_key(ids) -> str:
    """Key of a test set in a stand-in's references: a hash of its sorted unique sample
    ids, so the leaderboard finds the reference of exactly the items a table shows."""
    import hashlib

    uniq = sorted({str(i) for i in np.asarray(list(ids), dtype=object).ravel()})
    return hashlib.sha256("\n".join(uniq).encode()).hexdigest()[:16]


#: Widths (s) of the Gaussian the continuous oracle smooths the latent with: the raters'
#: own smoothing (0.6 s) combined with their delay jitter (0.5 s) gives about 0.78 s.
ORACLE_WIDTHS_S = (0.3, 0.6, 0.78, 1.0, 1.4)
_CORRELATION = ("ccc", "ccc_avec", "pearson", "pcc")
_SQUARED = ("rmse", "mse")


def _lad_affine(z: np.ndarray, y: np.ndarray, iters: int = 50) -> np.ndarray:
    """Least-absolute-deviation affine fit of y on z (IRLS from the least-squares fit)."""
    design = np.stack([z, np.ones_like(z)], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    for _ in range(iters):
        w = 1.0 / np.maximum(np.abs(y - design @ coef), 1e-6)
        wd = design * w[:, None]
        new = np.linalg.solve(design.T @ wd + 1e-12 * np.eye(2), wd.T @ y)
        if np.allclose(new, coef, atol=1e-10):
            break
        coef = new
    return design @ coef


def regression_reference(latent, labels, rate_hz: float, metrics: dict, *,
                         max_delay_s: float = 6.0, delay_step_s: float = 0.1,
                         widths_s: tuple[float, ...] = ORACLE_WIDTHS_S) -> dict:
    """Reference of a continuous test set: an oracle on the latent state that models the
    raters, i.e. the latent delayed by ``d`` and smoothed with a Gaussian of width ``w``
    (the expected rater response: each rater follows the latent late and smoothed),
    the best (d, w) of the grid on this test set, then mapped affinely for each metric:

    * CCC (and Pearson): matched to the gold standard's mean and sd, the CCC-optimal
      linear map (least-squares shrinkage lowers CCC); the CCC then equals the correlation;
    * RMSE: the least-squares affine fit; MAE: the least-absolute-deviation fit.

    ``latent`` / ``labels``: arrays or lists of per-sequence arrays, scored on the
    concatenation. ``metrics``: name -> fn(y_true, y_pred) (e.g. emobench.metrics).
    Returns ``{name: value, ..., "delay_s", "width_s", "n_sequences", "n_frames"}``."""
    from scipy.ndimage import gaussian_filter1d

    lat = [np.asarray(latent, float)] if np.ndim(latent[0]) == 0 else [np.asarray(a, float) for a in latent]
    lab = [np.asarray(labels, float)] if np.ndim(labels[0]) == 0 else [np.asarray(a, float) for a in labels]
    if len(lat) != len(lab) or any(a.size != b.size for a, b in zip(lat, lab)):
        raise ValueError("regression_reference: latent and labels must have matching sequence lengths")
    gold = np.concatenate(lab)
    if gold.size < 3 or np.std(gold) == 0:
        raise ValueError("regression_reference: need a non-constant gold standard of >= 3 values")
    step = max(1, int(round(delay_step_s * rate_hz)))
    best = (-np.inf, 0, widths_s[0], None)
    for w in widths_s:
        smooth = [gaussian_filter1d(a, w * rate_hz, mode="nearest") if w > 0 else a for a in lat]
        for d in range(0, int(round(max_delay_s * rate_hz)) + 1, step):
            z = np.concatenate([delayed(a, d) for a in smooth])
            if np.std(z) == 0:
                continue
            r = float(np.corrcoef(z, gold)[0, 1])
            if r > best[0]:
                best = (r, d, w, z)
    r, d, w, z = best
    if z is None:
        raise ValueError("regression_reference: the latent is constant on this test set")
    out = {}
    for name, fn in metrics.items():
        out[name] = round(float(fn(gold, best_affine(z, gold, name))), 4)
    out.update(delay_s=round(d / rate_hz, 3), width_s=float(w), n_sequences=len(lat),
               n_frames=int(gold.size))
    return out


def report_median(peak, scale: int) -> np.ndarray:
    """Conditional median of a pain report given the true peak pain (the MAE-optimal
    oracle on the latent state): annotation.pain_reports draws
    ``clip(rint(scale * p + noise), 0, scale)`` with symmetric noise, a monotone map of
    ``scale * p + noise``, whose median is ``scale * p``; so the median report is
    ``clip(rint(scale * p), 0, scale)`` with ``p = clip(peak, 0, 1)``."""
    p = np.clip(np.asarray(peak, float), 0.0, 1.0)
    return np.clip(np.rint(scale * p), 0, scale)


def pain_trajectory_posterior(level: int, peak_pain: float, peak_posterior) -> np.ndarray:
    """P(level | the whole perceived-pain trajectory) of a World.pain_sample window, the
    oracle that is at least as informed as any model (every input of the window is a
    function of that trajectory plus noise independent of the level).

    The trajectory is ``s * (base(T(t)) + offset)`` clipped to [0, 1.2], where the
    stimulus T(t) ramps linearly (2 s) from the baseline to the level's temperature and
    ``base`` is piecewise linear through the level medians: the ramp's slope grows with
    the target temperature, so any window in which pain rises above zero names its
    level (the peak alone does not: the per-trial offset blurs it). A window without
    pain carries only "pain stayed at 0", whose posterior is the peak posterior at
    peak 0 (``pain_level_posterior(0, subject)``, passed as ``peak_posterior``)."""
    post = np.asarray(peak_posterior, float)
    if peak_pain > 1e-12:
        post = np.zeros_like(post)
        post[int(level)] = 1.0
    return post


def item_reference(y_true, oracle, metric: str, fn, kind: str) -> float:
    """Score of a per-item oracle on one test set: a classification oracle's labels as
    they are; a regression oracle's values through the affine map that is best for
    ``metric`` on this very test set (:func:`best_affine`), so the map can only help it."""
    y = np.asarray(y_true)
    o = np.asarray(oracle)
    if kind == "classification":
        return float(fn(y, o.astype(y.dtype) if np.issubdtype(y.dtype, np.number) else o))
    return float(fn(y.astype(float), best_affine(o, y, metric)))
