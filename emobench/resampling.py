"""A metric re-evaluated on many reweightings of the test subjects at once.

Every subject-level procedure in :mod:`emobench.stats` evaluates a metric on data
that is made of whole subjects: a bootstrap resample (subject ``j`` drawn ``c_j``
times), a jackknife replicate (subject ``j`` left out) or a permutation pattern
(subject ``j``'s predictions taken from the other model). Each of these is a weight
per (prediction, subject). For the built-in metrics the statistic depends only on
weighted sums of per-subject sufficient statistics (centred moments and min/max for
the regression metrics, confusion matrices for the classification metrics), so all
patterns reduce to one ``(n_patterns x k) @ (k x n_stats)`` product per prediction,
instead of gathering ~10^5 items per pattern. Any other callable falls back to
gathering the items (weights must then be whole numbers).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from emobench import metrics as M

_MOMENT_RULES: dict[Callable, Callable[..., np.ndarray]] = {
    M.ccc: M._ccc_batch,
    M.ccc_avec: M._ccc_avec_batch,
    M.pearson: M._pearson_batch,
    M.rmse: M._rmse_batch,
    M.mae: M._mae_batch,
}
_CONFUSION_RULES: dict[Callable, Callable[[np.ndarray], np.ndarray]] = {
    M.accuracy: M._accuracy_batch,
    M.uar: M._uar_batch,
    M.macro_f1: M._macro_f1_batch,
}


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A metric with its fast evaluation rule, if it has one."""

    name: str
    fn: Callable[[Any, Any], float]
    moment_rule: Callable[..., np.ndarray] | None = None
    confusion_rule: Callable[[np.ndarray], np.ndarray] | None = None
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    metric: M.Metric | None = None

    @property
    def fast(self) -> bool:
        return self.moment_rule is not None or self.confusion_rule is not None


def resolve(metric: str | M.Metric | Callable) -> Resolved:
    """A registry name, a :class:`~emobench.metrics.Metric` or a callable, resolved."""
    registered = None
    if isinstance(metric, str):
        metric = M.get_metric(metric)
    if isinstance(metric, M.Metric):
        registered, name, fn = metric, metric.name, metric.fn
    elif callable(metric):
        fn = metric
        name = getattr(metric, "__name__", repr(metric))
    else:
        raise TypeError(f"metric must be a name, a Metric or a callable, got {metric!r}")
    base, kwargs = fn, {}
    # functools.partial(ccc, ddof=1) keeps the fast path
    if isinstance(fn, functools.partial) and not fn.args:
        base, kwargs = fn.func, dict(fn.keywords)
        name = getattr(base, "__name__", name) if registered is None else name
    if base in _MOMENT_RULES:
        return Resolved(name, fn, moment_rule=_MOMENT_RULES[base], kwargs=kwargs,
                        metric=registered)
    if base in _CONFUSION_RULES and not kwargs:
        return Resolved(name, fn, confusion_rule=_CONFUSION_RULES[base], metric=registered)
    return Resolved(name, fn, metric=registered)


def cluster_codes(clusters: Any, n_items: int, name: str = "clusters") -> tuple[np.ndarray, int]:
    """Subject ids as codes 0..k-1 (first-appearance order) and the number of subjects k."""
    arr = clusters.to_numpy() if isinstance(clusters, (pd.Series, pd.Index)) else np.asarray(clusters)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size != n_items:
        raise ValueError(f"{name} has {arr.size} entries but y_true has {n_items}")
    codes, uniques = pd.factorize(arr)
    missing = int(np.count_nonzero(codes < 0))
    if missing:
        raise ValueError(f"{name} contains {missing} missing id(s) (None/NaN)")
    return codes, len(uniques)


def check_inputs(res: Resolved, y_true: Any, preds: Sequence[tuple[str, Any]]
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    """``y_true`` as 1-D and every prediction as 2-D ``(n_seeds, n_items)``.

    A 1-D prediction (or an ``(n_items, 1)`` column) is one seed. Errors name the
    argument and, for several seeds, the seed row.
    """
    numeric = res.moment_rule is not None
    t = M._as_1d("y_true", y_true, numeric=numeric) if res.fast else np.asarray(y_true)
    if t.size == 0:
        raise ValueError("y_true is empty; a metric needs at least one item")
    out = []
    for nm, pred in preds:
        arr = pred.to_numpy() if isinstance(pred, (pd.Series, pd.DataFrame)) else np.asarray(pred)
        if arr.ndim == 2 and arr.shape == (t.size, 1):
            arr = arr[:, 0]
        if arr.ndim not in (1, 2) or arr.size == 0:
            raise ValueError(f"{nm} must be 1-D (items) or 2-D (seeds x items) and not "
                             f"empty, got shape {arr.shape}")
        rows = [arr] if arr.ndim == 1 else list(arr)
        checked = []
        for s, row in enumerate(rows):
            label = nm if arr.ndim == 1 else f"{nm}[seed {s}]"
            if res.fast:
                checked.append(M._pair(t, row, numeric=numeric, names=("y_true", label))[1])
            elif len(row) != len(t):
                raise ValueError(f"y_true and {label} differ in length: "
                                 f"len(y_true)={len(t)}, len({label})={len(row)}")
            else:
                checked.append(np.asarray(row))
        out.append(np.stack(checked))
    return t, out


class ClusterData:
    """Per-subject sufficient statistics of several predictions of the same items.

    ``evaluate(sources)`` gives the metric on the data in which prediction ``i``'s
    items of subject ``j`` appear with weight ``W[:, j]``, for every row of the
    weight matrices at once; ``sources`` is a list of ``(i, W)`` pairs, ``W`` of
    shape ``(n_patterns, k)``. All predictions share the truth ``t``.
    """

    def __init__(self, res: Resolved, t: np.ndarray, preds: Sequence[np.ndarray],
                 codes: np.ndarray, k: int) -> None:
        self.res, self.t, self.preds, self.codes, self.k = res, t, list(preds), codes, k
        if res.moment_rule is not None:
            if "ddof" in res.kwargs:
                M._check_ddof(res.kwargs["ddof"], 2)
            self._init_moments()
        elif res.confusion_rule is not None:
            self.labels = M._labels(t, *self.preds)
            n_lab = len(self.labels)
            tc = M._codes(t, self.labels) * n_lab
            size = k * n_lab * n_lab
            self.sums = [np.bincount(codes * n_lab * n_lab + tc + M._codes(p, self.labels),
                                     minlength=size).reshape(k, n_lab * n_lab).astype(float)
                         for p in self.preds]
        else:
            order = np.argsort(codes, kind="stable")
            self.members = np.split(order, np.cumsum(np.bincount(codes, minlength=k))[:-1])

    def _per_cluster(self, w: np.ndarray | None) -> np.ndarray:
        return np.bincount(self.codes, weights=w, minlength=self.k)

    def _extreme(self, fn: Callable, x: np.ndarray, init: float) -> np.ndarray:
        out = np.full(self.k, init)
        fn.at(out, self.codes, x)
        return out

    def _init_moments(self) -> None:
        # Centre on shared full-data means so sums of squares keep their precision;
        # CCC and Pearson use differences only, the shift is added back to mean_diff.
        t = self.t
        self.ct = t.mean()
        self.cp = float(np.mean([p.mean() for p in self.preds]))
        tc = t - self.ct
        self.t_lo = self._extreme(np.minimum, t, np.inf)
        self.t_hi = self._extreme(np.maximum, t, -np.inf)
        self.sums, self.p_lo, self.p_hi = [], [], []
        for p in self.preds:
            pc, diff = p - self.cp, t - p
            self.sums.append(np.stack(
                [self._per_cluster(None), self._per_cluster(tc), self._per_cluster(pc),
                 self._per_cluster(tc * tc), self._per_cluster(pc * pc),
                 self._per_cluster(tc * pc), self._per_cluster(diff * diff),
                 self._per_cluster(np.abs(diff))], axis=1))
            self.p_lo.append(self._extreme(np.minimum, p, np.inf))
            self.p_hi.append(self._extreme(np.maximum, p, -np.inf))

    def evaluate(self, sources: Sequence[tuple[int, np.ndarray]]) -> np.ndarray:
        sources = [(i, np.atleast_2d(np.asarray(w, dtype=float))) for i, w in sources]
        if self.res.moment_rule is not None:
            return self.res.moment_rule(self._moments(sources), **self.res.kwargs)
        if self.res.confusion_rule is not None:
            n_lab = len(self.labels)
            cm = sum(w @ self.sums[i] for i, w in sources)
            return self.res.confusion_rule(cm.reshape(-1, n_lab, n_lab))
        return self._gather(sources)

    def _moments(self, sources: Sequence[tuple[int, np.ndarray]]) -> dict[str, np.ndarray]:
        n, st, sp, stt, spp, stp, sse, sae = sum(w @ self.sums[i] for i, w in sources).T
        drawn = sum((w > 0) for _, w in sources) > 0
        r_t_lo = np.where(drawn, self.t_lo, np.inf).min(axis=1)
        r_t_hi = np.where(drawn, self.t_hi, -np.inf).max(axis=1)
        r_p_lo = np.min([np.where(w > 0, self.p_lo[i], np.inf).min(axis=1)
                         for i, w in sources], axis=0)
        r_p_hi = np.max([np.where(w > 0, self.p_hi[i], -np.inf).max(axis=1)
                         for i, w in sources], axis=0)
        t_const, p_const = r_t_lo == r_t_hi, r_p_lo == r_p_hi
        with np.errstate(divide="ignore", invalid="ignore"):
            return {
                "n": n,
                "mean_diff": (st - sp) / n + (self.ct - self.cp),
                "ss_t": np.where(t_const, 0.0, np.maximum(stt - st * st / n, 0.0)),
                "ss_p": np.where(p_const, 0.0, np.maximum(spp - sp * sp / n, 0.0)),
                "sp_tp": np.where(t_const | p_const, 0.0, stp - st * sp / n),
                "sse": sse,
                "sae": sae,
                "t_const": t_const,
                "p_const": p_const,
                "equal_const": t_const & p_const & (r_t_lo == r_p_lo),
            }

    def _gather(self, sources: Sequence[tuple[int, np.ndarray]]) -> np.ndarray:
        n_rows = sources[0][1].shape[0]
        out = np.empty(n_rows)
        for b in range(n_rows):
            t_parts, p_parts = [], []
            for i, w in sources:
                counts = w[b]
                if np.any(counts != np.round(counts)) or np.any(counts < 0):
                    raise ValueError(f"metric {self.res.name!r} has no fast path and "
                                     f"needs whole, non-negative subject weights")
                idx = np.concatenate([np.repeat(self.members[c], int(counts[c]))
                                      for c in range(self.k)] + [np.zeros(0, int)])
                t_parts.append(self.t[idx])
                p_parts.append(self.preds[i][idx])
            out[b] = self.res.fn(np.concatenate(t_parts), np.concatenate(p_parts))
        return out
