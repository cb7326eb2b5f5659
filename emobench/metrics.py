"""Evaluation metrics: definitions, degenerate-input rules and the metric registry.

Every metric takes ``(y_true, y_pred)`` array-likes (lists, numpy arrays, pandas Series)
and returns a Python float. Definitions, conventions (pooled vs per-sequence CCC, ddof)
and the rules for degenerate input are written out in ``docs/metrics.md``; the short
version:

* empty input, inputs of different lengths, NaN/inf in a regression input, missing
  labels in a classification input -> ``ValueError`` naming the argument;
* CCC is 0 when exactly one side is constant or both are constant but different, and
  ``nan`` when both are the same constant (agreement is perfect, correlation undefined);
* Pearson is ``nan`` (silently) when either side is constant;
* classification metrics use the labels present in ``y_true`` or ``y_pred``
  (scikit-learn semantics): UAR averages the recall of the classes present in ``y_true``,
  macro-F1 averages F1 over the classes present in either.

The scalar metrics are written on top of two small cores (centred moments for
regression, the confusion matrix for classification). scikit-learn and scipy offer
the same numbers, and the tests check against them; the cores exist because the
subject-level statistics (:mod:`emobench.stats`, built on :mod:`emobench.resampling`)
re-evaluate each metric from per-subject sufficient statistics for all resamples,
jackknife replicates or swap patterns at once, and sharing the core makes those and
the point estimate the same formula by construction. The statistics' public names
are re-exported from this module.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "CI",
    "METRICS",
    "Metric",
    "PairedResult",
    "PermutationResult",
    "SeedSpread",
    "SubjectCI",
    "accuracy",
    "bootstrap_ci",
    "bootstrap_distribution",
    "ccc",
    "ccc_avec",
    "ccc_per_sequence",
    "ccc_per_sequence_of",
    "confusion_matrix",
    "get_metric",
    "macro_f1",
    "mae",
    "format_p",
    "holm",
    "paired_comparison",
    "paired_permutation_test",
    "pearson",
    "register_metric",
    "rmse",
    "seed_spread",
    "sequence_metrics",
    "subject_ci",
    "uar",
]

MetricKind = Literal["regression", "classification"]


# --------------------------------------------------------------------------- input checks


def _as_1d(name: str, values: Any, *, numeric: bool) -> np.ndarray:
    """One argument as a 1-D array; errors name the argument."""
    import pandas as pd
    if isinstance(values, (pd.DataFrame,)) and values.shape[1] == 1:
        values = values.iloc[:, 0]
    if numeric:
        try:
            if isinstance(values, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
                # Nullable pandas dtypes (Float64, Int64) hold pd.NA, which np.asarray
                # refuses to turn into a float; map it to NaN so the check below reports it.
                arr = values.to_numpy(dtype=float, na_value=np.nan)
            else:
                arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must hold numbers: {err}") from None
    else:
        arr = values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if numeric:
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise ValueError(
                f"{name} contains {bad} non-finite value(s) (NaN or inf) out of {arr.size}")
    elif arr.dtype.kind in "fcO":
        bad = int(np.count_nonzero(pd.isna(arr)))
        if bad:
            raise ValueError(f"{name} contains {bad} missing label(s) (None/NaN) out of {arr.size}")
    return arr


def _pair(y_true: Any, y_pred: Any, *, numeric: bool,
          names: tuple[str, str] = ("y_true", "y_pred")) -> tuple[np.ndarray, np.ndarray]:
    t = _as_1d(names[0], y_true, numeric=numeric)
    p = _as_1d(names[1], y_pred, numeric=numeric)
    if t.size != p.size:
        raise ValueError(f"{names[0]} and {names[1]} differ in length: "
                         f"len({names[0]})={t.size}, len({names[1]})={p.size}")
    if t.size == 0:
        raise ValueError(f"{names[0]} and {names[1]} are empty; a metric needs at least one item")
    return t, p


# --------------------------------------------------------------------------- regression core
#
# Moments are passed around as a dict of arrays so the same formulas serve one data set
# (0-d arrays) and a batch of bootstrap resamples (1-d arrays). Constancy is carried as
# exact flags computed from min/max: a centred sum of squares of a constant array is
# only approximately zero in floating point, and the degenerate-case rules must not
# depend on rounding.


def _moments(t: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    n = t.size
    mt, mp = t.mean(), p.mean()
    dt, dp = t - mt, p - mp
    t_lo, t_hi, p_lo, p_hi = t.min(), t.max(), p.min(), p.max()
    t_const, p_const = t_lo == t_hi, p_lo == p_hi
    diff = t - p
    # Elementwise products with numpy's pairwise sum rather than `@`: a 1-D BLAS dot
    # is less accurate and, multithreaded on a busy machine, erratically slow.
    return {
        "n": np.asarray(float(n)),
        "mean_diff": np.asarray(mt - mp),
        "ss_t": np.asarray(0.0 if t_const else float((dt * dt).sum())),
        "ss_p": np.asarray(0.0 if p_const else float((dp * dp).sum())),
        "sp_tp": np.asarray(0.0 if (t_const or p_const) else float((dt * dp).sum())),
        "sse": np.asarray(float((diff * diff).sum())),
        "sae": np.asarray(float(np.abs(diff).sum())),
        "t_const": np.asarray(t_const),
        "p_const": np.asarray(p_const),
        "equal_const": np.asarray(t_const and p_const and t_lo == p_lo),
    }


def _ccc_from(m: dict[str, np.ndarray], *, ddof_var: int, ddof_cov: int) -> np.ndarray:
    n = m["n"]
    var_t = m["ss_t"] / (n - ddof_var)
    var_p = m["ss_p"] / (n - ddof_var)
    cov = m["sp_tp"] / (n - ddof_cov)
    denom = var_t + var_p + m["mean_diff"] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 2.0 * cov / denom
    return np.where(m["equal_const"], np.nan, out)


def _check_ddof(ddof: int, n: float) -> None:
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
    if n <= ddof:
        raise ValueError(f"ddof={ddof} needs more than {ddof} item(s), got {int(n)}")


def _ccc_batch(m: dict[str, np.ndarray], ddof: int = 0) -> np.ndarray:
    return _ccc_from(m, ddof_var=ddof, ddof_cov=ddof)


def _ccc_avec_batch(m: dict[str, np.ndarray]) -> np.ndarray:
    return _ccc_from(m, ddof_var=1, ddof_cov=0)


def _pearson_batch(m: dict[str, np.ndarray]) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = m["sp_tp"] / np.sqrt(m["ss_t"] * m["ss_p"])
    r = np.clip(r, -1.0, 1.0)  # rounding can push |r| a hair above 1
    return np.where(m["t_const"] | m["p_const"], np.nan, r)


def _rmse_batch(m: dict[str, np.ndarray]) -> np.ndarray:
    return np.sqrt(m["sse"] / m["n"])


def _mae_batch(m: dict[str, np.ndarray]) -> np.ndarray:
    return m["sae"] / m["n"]


def ccc(y_true: ArrayLike, y_pred: ArrayLike, *, ddof: int = 0) -> float:
    """Lin's concordance correlation coefficient on the pooled arrays.

    ``2 cov(t, p) / (var(t) + var(p) + (mean(t) - mean(p))**2)``, with variances and
    covariance divided by ``n - ddof``. ``ddof=0`` is Lin's (population) estimator;
    ``ddof=1`` uses the sample (n-1) variance *and* covariance. For AVEC/SEWA the
    caller concatenates all sequences of a partition before calling this (the
    challenge convention); :func:`ccc_avec` reproduces the AVEC scoring script
    exactly, :func:`ccc_per_sequence` gives the mean over sequences.

    Degenerate input: if exactly one of ``y_true`` / ``y_pred`` is constant, or both
    are constant with different values, the covariance is 0 and so is the CCC. If both
    are the same constant the CCC is 0/0 and this returns ``nan``. ``ddof=1`` needs at
    least two items. Empty, mismatched or non-finite input raises ``ValueError``.
    """
    t, p = _pair(y_true, y_pred, numeric=True)
    _check_ddof(ddof, t.size)
    return float(_ccc_batch(_moments(t, p), ddof=ddof))


def ccc_avec(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """CCC exactly as the AVEC 2019 scoring script computes it.

    That script divides the covariance by ``n`` but both variances by ``n - 1``
    ("consistent with Matlab's nanvar"), so it is neither ``ccc(ddof=0)`` nor
    ``ccc(ddof=1)``: its numerator is smaller than ``ddof=1`` by ``(n-1)/n``. Use it
    only to reproduce published AVEC/SEWA numbers; on a partition of 10^4-10^5 frames
    the three estimators agree to about 1e-4. Unlike the script, NaN input is an
    error rather than silently skipped. Needs at least two items; degenerate
    cases as in :func:`ccc`.
    """
    t, p = _pair(y_true, y_pred, numeric=True)
    _check_ddof(1, t.size)
    return float(_ccc_avec_batch(_moments(t, p)))


def ccc_per_sequence(seqs_true: Sequence[ArrayLike], seqs_pred: Sequence[ArrayLike], *,
                     ddof: int = 0) -> float:
    """Mean over sequences of :func:`ccc` (the per-sequence convention).

    ``seqs_true[i]`` and ``seqs_pred[i]`` are the labels and predictions of sequence
    ``i``. Every sequence counts once whatever its length. A sequence whose CCC is
    undefined (truth and prediction the same constant) makes the mean ``nan``: drop
    such sequences explicitly if the protocol says so (UNBC drops all-zero-PSPI
    sequences). Errors name the offending sequence.
    """
    n_true, n_pred = len(seqs_true), len(seqs_pred)
    if n_true != n_pred:
        raise ValueError(f"seqs_true and seqs_pred differ in number of sequences: "
                         f"len(seqs_true)={n_true}, len(seqs_pred)={n_pred}")
    if n_true == 0:
        raise ValueError("seqs_true and seqs_pred hold no sequences")
    values = []
    for i, (t, p) in enumerate(zip(seqs_true, seqs_pred, strict=True)):
        try:
            values.append(ccc(t, p, ddof=ddof))
        except ValueError as err:
            raise ValueError(f"sequence {i}: {err}") from None
    return float(np.mean(values))


def ccc_per_sequence_of(y_true: ArrayLike, y_pred: ArrayLike, sequences: ArrayLike, *,
                        ddof: int = 0) -> float:
    """Per-sequence CCC of pooled arrays: ``sequences[i]`` names the sequence
    (recording) of item ``i``.

    The mean over sequences of :func:`ccc`, every sequence weighing the same.
    Which sequences count is decided by the truth alone, so it is the same set
    for every model: a sequence with fewer than two items or with a constant
    truth is left out (its CCC is 0 or undefined whatever the prediction, so it
    says nothing about concordance; UNBC's all-zero-PSPI sequences are the
    common case); a kept sequence's CCC is always defined. ``nan`` when no
    sequence is left. Empty, mismatched or non-finite input raises
    ``ValueError``. :func:`ccc_per_sequence` takes the sequences as lists and
    keeps every one of them.
    """
    t, p = _pair(y_true, y_pred, numeric=True)
    seq = np.asarray(sequences)
    if seq.ndim != 1 or seq.size != t.size:
        raise ValueError(f"sequences must be one-dimensional with one entry per item: "
                         f"shape {seq.shape}, {t.size} items")
    _check_ddof(ddof, 2)
    _, inverse = np.unique(seq, return_inverse=True)
    values = []
    for j in range(int(inverse.max()) + 1):
        m = inverse == j
        tj = t[m]
        if tj.size < 2 or tj.min() == tj.max():
            continue
        values.append(float(_ccc_batch(_moments(tj, p[m]), ddof=ddof)))
    return float(np.mean(values)) if values else float("nan")


#: Metrics that need the sequence boundaries, computed by :func:`sequence_metrics`
#: beside a frame-level regression task's pooled metrics (never primary).
SEQUENCE_METRICS = ("ccc_per_sequence",)


def sequence_metrics(task: Any, y_true: ArrayLike, y_pred: ArrayLike,
                     sequences: ArrayLike) -> dict[str, float]:
    """The metrics of :data:`SEQUENCE_METRICS` for a frame-level regression
    ``task`` (anything with ``kind`` and ``level``), from the pooled arrays and
    each item's sequence (its recording id); ``{}`` for other tasks."""
    if getattr(task, "kind", None) != "regression" or getattr(task, "level", None) != "frame":
        return {}
    try:
        value = ccc_per_sequence_of(y_true, y_pred, sequences)
    except ValueError:
        value = float("nan")
    return {"ccc_per_sequence": value}


def pearson(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Pearson's correlation coefficient.

    If either input is constant the coefficient is undefined and this returns
    ``nan`` without a warning (0.0 would claim "no linear relation", which the data
    cannot tell). One item counts as constant. The value agrees with
    ``scipy.stats.pearsonr`` (which warns on constant input and also computes a
    p-value we do not need).
    """
    t, p = _pair(y_true, y_pred, numeric=True)
    return float(_pearson_batch(_moments(t, p)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error, ``sqrt(mean((t - p)**2))``. Lower is better."""
    t, p = _pair(y_true, y_pred, numeric=True)
    d = t - p
    return float(np.sqrt((d * d).mean()))


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error, ``mean(|t - p|)``. Lower is better."""
    t, p = _pair(y_true, y_pred, numeric=True)
    return float(np.abs(t - p).mean())


# --------------------------------------------------------------------------- classification core


def _labels(*arrays: np.ndarray) -> np.ndarray:
    from sklearn.utils.multiclass import unique_labels
    try:
        return unique_labels(*arrays)
    except ValueError as err:
        raise ValueError(f"classification metrics need discrete labels of one type "
                         f"(ints, strings or bools): {err}") from None


def _codes(arr: np.ndarray, labels: np.ndarray) -> np.ndarray:
    import pandas as pd
    return pd.Index(labels).get_indexer(arr)


def _confusion_from_codes(t: np.ndarray, p: np.ndarray, n_labels: int) -> np.ndarray:
    keep = (t >= 0) & (p >= 0)
    flat = t[keep] * n_labels + p[keep]
    return np.bincount(flat, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def _accuracy_batch(cm: np.ndarray) -> np.ndarray:
    return np.trace(cm, axis1=-2, axis2=-1) / cm.sum(axis=(-2, -1))


def _uar_batch(cm: np.ndarray) -> np.ndarray:
    support = cm.sum(axis=-1)
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    present = support > 0
    recall = np.divide(diag, support, out=np.zeros(diag.shape), where=present)
    return recall.sum(axis=-1) / present.sum(axis=-1)


def _macro_f1_batch(cm: np.ndarray) -> np.ndarray:
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    # 2tp + fp + fn = (row sum) + (column sum)
    denom = cm.sum(axis=-1) + cm.sum(axis=-2)
    present = denom > 0
    f1 = np.divide(2.0 * diag, denom, out=np.zeros(diag.shape), where=present)
    return f1.sum(axis=-1) / present.sum(axis=-1)


def _confusion(y_true: Any, y_pred: Any) -> np.ndarray:
    t, p = _pair(y_true, y_pred, numeric=False)
    labels = _labels(t, p)
    return _confusion_from_codes(_codes(t, labels), _codes(p, labels), len(labels))


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of items predicted correctly (weighted average recall, WAR / WA)."""
    return float(_accuracy_batch(_confusion(y_true, y_pred)))


def uar(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Unweighted average recall (UA, balanced accuracy): mean per-class recall.

    The mean runs over the classes present in ``y_true``; a class only ever predicted
    has no recall and is left out (as ``sklearn.metrics.balanced_accuracy_score``
    does, minus its warning). With one class in ``y_true`` this is that class's
    recall: 1.0 if every item is predicted correctly.
    """
    return float(_uar_batch(_confusion(y_true, y_pred)))


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Unweighted mean over classes of ``F1 = 2tp / (2tp + fp + fn)``.

    The classes are those present in ``y_true`` or ``y_pred`` (as
    ``sklearn.metrics.f1_score(average="macro")``). A class only in ``y_pred`` or
    only in ``y_true`` has F1 = 0. With a single class in both and every item right,
    macro-F1 is 1.0.
    """
    return float(_macro_f1_batch(_confusion(y_true, y_pred)))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, labels: ArrayLike | None = None
                     ) -> np.ndarray:
    """Counts ``C[i, j]`` of items with true label ``labels[i]`` predicted as ``labels[j]``.

    ``labels`` fixes the order (and may list classes absent from the data, which
    get rows/columns of zeros); by default it is the sorted union of the labels in
    ``y_true`` and ``y_pred``. Items whose true or predicted label is not in
    ``labels`` are left out, as in ``sklearn.metrics.confusion_matrix``.
    """
    import pandas as pd
    t, p = _pair(y_true, y_pred, numeric=False)
    if labels is None:
        lab = _labels(t, p)
    else:
        lab = _as_1d("labels", labels, numeric=False)
        if lab.size == 0:
            raise ValueError("labels is empty")
        if len(pd.unique(lab)) != lab.size:
            raise ValueError(f"labels contains duplicates: {list(lab)}")
    return _confusion_from_codes(_codes(t, lab), _codes(p, lab), len(lab)).astype(np.int64)


# --------------------------------------------------------------------------- registry


@dataclasses.dataclass(frozen=True)
class Metric:
    """A named scalar metric ``fn(y_true, y_pred) -> float``.

    ``greater_is_better`` tells leaderboards which way to rank; ``kind`` says which
    task kind the metric applies to.
    """

    name: str
    fn: Callable[[Any, Any], float]
    greater_is_better: bool
    kind: MetricKind
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Metric name must be a non-empty string, got {self.name!r}")
        if not callable(self.fn):
            raise TypeError(f"Metric {self.name!r}: fn must be callable, got {self.fn!r}")
        if self.kind not in ("regression", "classification"):
            raise ValueError(f"Metric {self.name!r}: kind must be 'regression' or "
                             f"'classification', got {self.kind!r}")
        if not isinstance(self.greater_is_better, bool):
            raise TypeError(f"Metric {self.name!r}: greater_is_better must be a bool")

    def __call__(self, y_true: ArrayLike, y_pred: ArrayLike) -> float:
        return self.fn(y_true, y_pred)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("ccc", ccc, True, "regression",
               "Lin's concordance correlation coefficient on the pooled items (population "
               "moments)"),
        Metric("ccc_avec", ccc_avec, True, "regression",
               "CCC as the AVEC 2019 scoring script computes it (covariance / n, "
               "variances / (n-1))"),
        Metric("pearson", pearson, True, "regression", "Pearson's correlation coefficient"),
        Metric("rmse", rmse, False, "regression", "root mean squared error"),
        Metric("mae", mae, False, "regression", "mean absolute error"),
        Metric("accuracy", accuracy, True, "classification",
               "fraction of items correct (WA / WAR)"),
        Metric("uar", uar, True, "classification",
               "unweighted average recall over the classes in y_true (UA, balanced "
               "accuracy)"),
        Metric("macro_f1", macro_f1, True, "classification",
               "unweighted mean of per-class F1 over the classes in y_true or y_pred"),
    )
}


def get_metric(name: str) -> Metric:
    """The registered metric called ``name``; ``KeyError`` lists the known names."""
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), list(METRICS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown metric {name!r}.{hint} Known metrics: "
                       f"{', '.join(sorted(METRICS))}") from None


def register_metric(metric: Metric, *, replace: bool = False) -> Metric:
    """Add ``metric`` to :data:`METRICS` (plugins use this for their own metrics).

    A name that is already taken is an error unless ``replace=True``.
    """
    if not isinstance(metric, Metric):
        raise TypeError(f"register_metric needs a Metric, got {type(metric).__name__}")
    if metric.name in METRICS and not replace:
        raise ValueError(f"metric {metric.name!r} is already registered "
                         f"({METRICS[metric.name].description}); pass replace=True to override")
    METRICS[metric.name] = metric
    return metric



# --------------------------------------------------------------------------- statistics
#
# The subject-level statistics live in emobench.stats (and emobench.bootstrap); they
# are re-exported here so that from emobench.metrics import bootstrap_ci keeps
# working. The import is lazy because emobench.stats builds on this module.

_STATS_NAMES = frozenset({
    "CI", "PairedResult", "PermutationResult", "SeedSpread", "SubjectCI", "bootstrap_ci",
    "bootstrap_distribution", "format_p", "holm", "paired_comparison",
    "paired_permutation_test", "seed_spread", "subject_ci",
})


def __getattr__(name: str) -> Any:
    if name in _STATS_NAMES:
        from emobench import stats

        return getattr(stats, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _STATS_NAMES)
