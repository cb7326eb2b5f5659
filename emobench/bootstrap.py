"""Percentile cluster bootstrap: intervals and a paired comparison (the older method).

A resample draws as many subjects as there are, with replacement, and keeps all
their items; it is fully described by how often each subject was drawn, which
:class:`emobench.resampling.ClusterData` turns into the metric of every resample at
once. ``scipy.stats.bootstrap`` resamples items, not clusters, hence this module.

At few test subjects the percentile interval under-covers and its p-value floors at
``2 / (B + 1)`` (docs/metrics.md measures both); :func:`emobench.stats.subject_ci`
and :func:`emobench.stats.paired_permutation_test` replace them on the leaderboard.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from emobench import metrics as M
from emobench.resampling import ClusterData, Resolved, check_inputs, cluster_codes, resolve

__all__ = ["CI", "PairedResult", "bootstrap_ci", "bootstrap_distribution", "paired_comparison"]


def check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")


def _draw_counts(n_boot: int, n_clusters: int, seed: int | np.random.Generator) -> np.ndarray:
    """How often each cluster was drawn in each resample, (n_boot, n_clusters)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    offsets = (np.arange(n_boot) * n_clusters)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_boot * n_clusters)
    return counts.reshape(n_boot, n_clusters).astype(float)


def _boot_values(res: Resolved, y_true: Any, preds: list[tuple[str, Any]], clusters: Any,
                 n_boot: int, seed: Any, vectorised: bool = True
                 ) -> tuple[list[float], np.ndarray, int]:
    """Point values, resampled values (len(preds), n_boot) and the number of clusters.

    All predictions share the same resamples, which is what makes paired comparison
    paired.
    """
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    t, arrays = check_inputs(res, y_true, preds)
    for (nm, _), arr in zip(preds, arrays, strict=True):
        if arr.shape[0] != 1:
            raise ValueError(f"{nm} must be one-dimensional here, got {arr.shape[0]} seed "
                             f"rows; use emobench.stats.subject_ci for several seeds")
    ps = [arr[0] for arr in arrays]
    points = [float(res.fn(t, pr)) for pr in ps]
    codes, k = cluster_codes(clusters, t.size)
    if k < 2:
        return points, np.full((len(ps), 0), np.nan), k
    counts = _draw_counts(int(n_boot), k, seed)
    engine = res if vectorised else Resolved(res.name, res.fn)
    data = ClusterData(engine, t, ps, codes, k)
    out = np.empty((len(ps), n_boot))
    for start in range(0, n_boot, 4096):
        block = counts[start:start + 4096]
        for i in range(len(ps)):
            out[i, start:start + len(block)] = data.evaluate([(i, block)])
    return points, out, k


def bootstrap_distribution(metric: str | M.Metric | Callable, y_true: ArrayLike,
                           y_pred: ArrayLike, clusters: ArrayLike, *, n_boot: int = 1000,
                           seed: int = 0, vectorised: bool = True) -> np.ndarray:
    """The metric on ``n_boot`` cluster-bootstrap resamples (shape ``(n_boot,)``).

    Each resample draws as many clusters as there are, with replacement, and keeps
    all items of each drawn cluster. ``vectorised=False`` forces the slow path
    that gathers the items of each resample and calls the metric on them; it gives
    the same values (up to rounding) and exists to check the fast path. With a
    single cluster the result is empty. A resample can give ``nan`` where the
    metric is undefined on it (e.g. Pearson when the resample's truth is constant).
    """
    _, values, _ = _boot_values(resolve(metric), y_true, [("y_pred", y_pred)], clusters,
                                n_boot, seed, vectorised)
    return values[0]


@dataclasses.dataclass(frozen=True)
class CI:
    """A point estimate with a percentile bootstrap interval.

    ``n_boot`` is the number of resamples the interval rests on (resamples where
    the metric is undefined are left out; 0 when there was nothing to resample).
    """

    point: float
    low: float
    high: float
    n_boot: int
    n_clusters: int

    def __str__(self) -> str:
        return f"{self.point:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _percentiles(values: np.ndarray, alpha: float) -> tuple[float, float, int]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan"), 0
    low, high = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high), int(finite.size)


def bootstrap_ci(metric: str | M.Metric | Callable, y_true: ArrayLike, y_pred: ArrayLike,
                 clusters: ArrayLike, *, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> CI:
    """Subject-level (cluster) bootstrap confidence interval, percentile method.

    ``metric`` is a registered name, a :class:`Metric` or any ``fn(y_true, y_pred)``.
    ``clusters[i]`` is the subject (or other independent unit) of item ``i``; each
    resample draws subjects with replacement and keeps all their items, so the
    interval reflects variation between subjects rather than between frames.
    ``point`` is the metric on the full data; ``low``/``high`` are the ``alpha/2``
    and ``1 - alpha/2`` quantiles of the resampled values (resamples where the
    metric is undefined are ignored). The same ``seed`` gives the same interval.

    With a single cluster there is nothing to resample: ``low`` and ``high`` are
    ``nan`` and ``n_boot`` is 0. Under-covers at few subjects (docs/metrics.md);
    prefer :func:`emobench.stats.subject_ci`.
    """
    check_alpha(alpha)
    (point,), values, k = _boot_values(resolve(metric), y_true, [("y_pred", y_pred)],
                                       clusters, n_boot, seed)
    low, high, used = _percentiles(values[0], alpha)
    return CI(point, low, high, used, k)


@dataclasses.dataclass(frozen=True)
class PairedResult:
    """``diff = metric(pred_a) - metric(pred_b)`` with a bootstrap interval and p-value."""

    diff: float
    low: float
    high: float
    p_value: float
    n_clusters: int
    n_boot: int = 0


def paired_comparison(metric: str | M.Metric | Callable, y_true: ArrayLike, pred_a: ArrayLike,
                      pred_b: ArrayLike, clusters: ArrayLike, *, n_boot: int = 1000,
                      alpha: float = 0.05, seed: int = 0) -> PairedResult:
    """Compare two models scored on the same items with a paired cluster bootstrap.

    Both models are scored on the same resamples of subjects. ``diff`` is
    ``metric(y_true, pred_a) - metric(y_true, pred_b)`` on the full data (positive
    means A scores higher, which is better only if the metric's
    ``greater_is_better``); ``low``/``high`` is the percentile interval of the
    resampled differences.

    ``p_value`` (two-sided, H0: no difference) counts the resampled differences on
    the other side of zero from ``diff`` (zero included), ``c`` out of ``B`` usable
    resamples, and returns ``min(1, 2 (c + 1) / (B + 1))``. Its floor is about
    ``2 / B`` and it rejects too often at few subjects (docs/metrics.md); prefer
    :func:`emobench.stats.paired_permutation_test`. ``diff == 0`` gives
    ``p_value = 1``. With a single cluster ``low``, ``high`` and ``p_value`` are ``nan``.
    """
    check_alpha(alpha)
    (pa, pb), values, k = _boot_values(resolve(metric), y_true,
                                       [("pred_a", pred_a), ("pred_b", pred_b)],
                                       clusters, n_boot, seed)
    diff = pa - pb
    boot = values[0] - values[1]
    low, high, used = _percentiles(boot, alpha)
    if used == 0 or not np.isfinite(diff):
        p_value = float("nan")
    elif diff == 0:
        p_value = 1.0
    else:
        boot = boot[np.isfinite(boot)]
        crossed = int(np.count_nonzero(boot <= 0 if diff > 0 else boot >= 0))
        p_value = min(1.0, 2.0 * (crossed + 1) / (used + 1))
    return PairedResult(float(diff), low, high, p_value, k, used)
