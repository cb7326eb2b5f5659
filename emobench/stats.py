"""Statistics over test subjects: intervals, paired tests, multiplicity, seed spread.

The unit of independence is the test subject (``groups``): frames or clips of one
person are not independent. Everything here resamples, leaves out or swaps whole
subjects. Definitions, the choices made and the calibration measured by simulation
are in ``docs/metrics.md`` ("Statistics over test subjects"); the short version:

* :func:`paired_permutation_test` - exact subject-level randomisation test of two
  models scored on the same items (all ``2^k`` swap patterns for ``k <= max_exact``);
* :func:`subject_ci` - leave-one-subject-out jackknife t-interval (on Fisher's z
  scale for CCC/Pearson), no interval below ``min_k`` subjects, with a reason;
* :func:`holm` - Holm's step-down adjustment; :func:`format_p` - a p-value for print,
  ``"< x"`` when a Monte Carlo test had no resample as extreme as the data;
* :func:`seed_spread` - spread of a score across training seeds.

Predictions may carry a seed axis: ``(n_seeds, n_items)``. The statistic is then the
mean over seeds of the metric; each model averages its own seeds.

The older percentile-bootstrap functions (:func:`bootstrap_ci`,
:func:`paired_comparison`, :func:`bootstrap_distribution`) live in
:mod:`emobench.bootstrap` and are re-exported here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike

from emobench import metrics as M
from emobench.bootstrap import (CI, PairedResult, bootstrap_ci, bootstrap_distribution,
                                check_alpha, paired_comparison)
from emobench.resampling import ClusterData, check_inputs, cluster_codes, resolve

__all__ = [
    "CI",
    "PairedResult",
    "PermutationResult",
    "SeedSpread",
    "SubjectCI",
    "bootstrap_ci",
    "bootstrap_distribution",
    "format_p",
    "holm",
    "paired_comparison",
    "paired_permutation_test",
    "seed_spread",
    "subject_ci",
]

MetricLike = str | M.Metric | Callable

# absolute tolerance when asking "is this pattern as extreme as the data": the
# fully swapped pattern gives exactly -diff in exact arithmetic, and must count
_TIE = 1e-12
_CHUNK = 4096


# --------------------------------------------------------------------------- permutation test


@dataclasses.dataclass(frozen=True)
class PermutationResult:
    """Outcome of :func:`paired_permutation_test`.

    ``diff = metric(a) - metric(b)`` (mean over seeds on each side); ``p`` two-sided.
    ``n_perm`` patterns were evaluated (``2^k`` when ``exact``). ``p_min`` is the
    smallest p-value the test could give (``2 / 2^k`` exact, ``1 / (n_perm + 1)``
    otherwise). ``p_floor`` is the value at which ``p`` is only a bound: the Monte
    Carlo floor ``1 / (n_perm + 1)`` (print it as ``"< x"``, see :func:`format_p`),
    and 0 for an exact test, whose p-values are exact even at their minimum.
    """

    diff: float
    p: float
    k: int
    n_perm: int
    exact: bool
    p_floor: float
    p_min: float
    metric: str = ""
    n_seeds_a: int = 1
    n_seeds_b: int = 1
    seed_sd: float = 0.0

    def __str__(self) -> str:
        return f"{self.diff:+.3f} (p {format_p(self.p, self.p_floor)})"


def _patterns(k: int, exact: bool, n_perm: int, rng: np.random.Generator):
    """Chunks of 0/1 swap patterns, shape (rows, k); 1 = swap that subject."""
    if exact:
        total = 1 << k
        for start in range(0, total, _CHUNK):
            ids = np.arange(start, min(start + _CHUNK, total), dtype=np.int64)
            yield ((ids[:, None] >> np.arange(k)) & 1).astype(float)
    else:
        for start in range(0, n_perm, _CHUNK):
            yield rng.integers(0, 2, size=(min(_CHUNK, n_perm - start), k)).astype(float)


def paired_permutation_test(y_true: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike,
                            groups: ArrayLike, metric: MetricLike, *, n_perm: int = 10_000,
                            seed: int = 0, max_exact: int = 16,
                            seed_variance: bool = True) -> PermutationResult:
    """Exact subject-level randomisation test of two models on the same items.

    H0: within each test subject the two models' predictions are exchangeable (the
    models are equally good). A pattern swaps the predictions of A and B on a set of
    subjects; the statistic is ``metric(A*) - metric(B*)`` on the pooled items. With
    ``k <= max_exact`` subjects all ``2^k`` patterns are enumerated (the observed one
    and the full swap included) and ``p = #{|d*| >= |d|} / 2^k``; otherwise
    ``n_perm`` random patterns and ``p = (1 + #{|d*| >= |d|}) / (1 + n_perm)``.

    ``diff = metric(y_true, pred_a) - metric(y_true, pred_b)``: positive means A
    scores higher, which is better only if the metric's ``greater_is_better`` (for
    RMSE a negative ``diff`` favours A). The test is two-sided, so the sign does
    not change ``p``.

    Seeds: ``pred_a`` / ``pred_b`` may be ``(n_seeds, n_items)``; the seed counts may
    differ (a deterministic model has one). The statistic is
    ``mean_s metric(A_s) - mean_r metric(B_r)``, which equals the mean over all
    ``(s, r)`` run pairs of ``metric(A_s) - metric(B_r)``; a pattern swaps the chosen
    subjects within every run pair and averages the pairs. Swapping subjects cannot
    randomise what a training run does to all subjects at once, so with
    ``seed_variance`` (default) and more than one seed on either side the null
    distribution is that of ``d* + sd * sqrt(1/n_a + 1/n_b) * T``, ``T`` Student's t
    with ``n_a + n_b - 2`` degrees of freedom and ``sd`` the pooled standard
    deviation of the per-seed scores; ``p`` averages ``P(|d* + ...| >= |d|)`` over the
    patterns (for random patterns ``(1 + sum) / (1 + n_perm)``). ``seed_sd`` reports
    ``sd`` (0 when unused). ``metric`` is a registry name (``"ccc"``, ``"uar"``, ...), a
    Metric or a callable ``fn(y_true, y_pred)``.
    """
    res = resolve(metric)
    if not isinstance(max_exact, (int, np.integer)) or not 0 <= max_exact <= 24:
        raise ValueError(f"max_exact must be an integer in 0..24, got {max_exact!r}")
    if not isinstance(n_perm, (int, np.integer)) or n_perm < 1:
        raise ValueError(f"n_perm must be a positive integer, got {n_perm!r}")
    t, (a, b) = check_inputs(res, y_true, [("pred_a", pred_a), ("pred_b", pred_b)])
    codes, k = cluster_codes(groups, t.size, name="groups")
    na, nb = a.shape[0], b.shape[0]
    data = ClusterData(res, t, [*a, *b], codes, k)
    ones = np.ones((1, k))
    on_all = np.array([data.evaluate([(i, ones)])[0] for i in range(na + nb)])
    d_obs = on_all[:na].mean() - on_all[na:].mean()
    diff = float(np.mean([res.fn(t, row) for row in a]) - np.mean([res.fn(t, row) for row in b]))
    exact = k <= max_exact
    n_eval = (1 << k) if exact else int(n_perm)
    seed_sd, df = 0.0, na + nb - 2
    if seed_variance and df > 0 and np.all(np.isfinite(on_all)):
        ss = np.sum((on_all[:na] - on_all[:na].mean()) ** 2) + \
            np.sum((on_all[na:] - on_all[na:].mean()) ** 2)
        seed_sd = math.sqrt(ss / df)
    spread = seed_sd * math.sqrt(1.0 / na + 1.0 / nb)
    if not np.isfinite(d_obs):
        p = math.nan
    else:
        hits = 0
        for swap in _patterns(k, exact, int(n_perm), np.random.default_rng(seed)):
            keep = 1.0 - swap
            d = np.zeros(swap.shape[0])
            for s in range(na):
                for r in range(na, na + nb):
                    d += (data.evaluate([(s, keep), (r, swap)])
                          - data.evaluate([(s, swap), (r, keep)]))
            d /= na * nb
            if spread > 0:
                tail = scipy.stats.t.sf((abs(d_obs) - d) / spread, df) + \
                    scipy.stats.t.cdf((-abs(d_obs) - d) / spread, df)
                hits += float(np.sum(np.where(np.isfinite(tail), tail, 1.0)))
            else:
                # an undefined pattern counts as extreme: the conservative choice
                hits += int(np.count_nonzero(~(np.abs(d) < abs(d_obs) - _TIE)))
        p = hits / n_eval if exact else (1 + hits) / (1 + n_eval)
    p_min = 2.0 / n_eval if exact else 1.0 / (1 + n_eval)
    return PermutationResult(diff, float(min(p, 1.0)) if np.isfinite(p) else p, k, n_eval,
                             exact, 0.0 if exact else 1.0 / (1 + n_eval), min(p_min, 1.0),
                             res.name, na, nb, seed_sd)


# --------------------------------------------------------------------------- interval


@dataclasses.dataclass(frozen=True)
class SubjectCI:
    """A score over test subjects with its interval, or the reason there is none.

    ``estimate`` is the metric on all items (mean over seeds). ``low``/``high`` are
    ``nan`` when ``reason`` is set. ``se`` is the standard error on the scale the
    interval was built on (Fisher z for CCC/Pearson).
    """

    estimate: float
    low: float
    high: float
    k: int
    method: str
    reason: str = ""
    n_seeds: int = 1
    se: float = math.nan
    alpha: float = 0.05

    @property
    def point(self) -> float:
        return self.estimate

    @property
    def has_interval(self) -> bool:
        return not self.reason

    def __str__(self) -> str:
        if self.reason:
            return f"{self.estimate:.3f} ({self.reason})"
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


# Metrics bounded by +-1 get their interval on Fisher's z scale, where the sampling
# distribution is closer to normal and the back-transformed interval stays in range.
_FISHER = {"ccc", "ccc_avec", "pearson"}
_UNIT = {"accuracy", "uar", "macro_f1"}
_CLIP = 1.0 - 1e-12


def _scale(name: str) -> tuple[Callable, Callable, tuple[float, float]]:
    if name in _FISHER:
        return (lambda x: np.arctanh(np.clip(x, -_CLIP, _CLIP))), np.tanh, (-1.0, 1.0)
    if name in _UNIT:
        return (lambda x: x), (lambda x: x), (0.0, 1.0)
    return (lambda x: x), (lambda x: x), (-math.inf, math.inf)


def subject_ci(metric: MetricLike, y_true: ArrayLike, y_pred: ArrayLike, groups: ArrayLike,
               *, alpha: float = 0.05, n_boot: int = 0, seed: int = 0,
               min_k: int = 5) -> SubjectCI:
    """Leave-one-subject-out jackknife t-interval for a metric over test subjects.

    ``theta_(j)`` is the metric with subject ``j`` left out (every seed),
    ``se^2 = (k-1)/k * sum_j (theta_(j) - mean theta_(.))^2`` and the interval is
    ``g^-1(g(estimate) +- t_{k-1, 1-alpha/2} * se_g)``, ``g`` = Fisher's z for CCC and
    Pearson (computed on that scale), the identity otherwise; the classification
    metrics are clipped to [0, 1]. Chosen over percentile and BCa cluster bootstraps
    by simulation (docs/metrics.md): those cover 84-90 % at 9 subjects.

    Seeds: ``y_pred`` may be ``(n_seeds, n_items)``; ``estimate`` is the mean over
    seeds of the metric, and ``se^2`` adds the seed variance ``var_s(g(theta_s)) /
    n_seeds`` to the jackknife variance, so the interval covers the expected score
    of a training run, not only of these runs.

    Fewer than ``min_k`` subjects: no interval (``low = high = nan``) and ``reason``
    says why. ``n_boot`` and ``seed`` are accepted for a future bootstrap method
    and are unused by the jackknife.
    """
    del n_boot, seed  # the jackknife is deterministic
    check_alpha(alpha)
    res = resolve(metric)
    t, (pred,) = check_inputs(res, y_true, [("y_pred", y_pred)])
    codes, k = cluster_codes(groups, t.size, name="groups")
    n_seeds = pred.shape[0]
    per_seed = np.array([res.fn(t, row) for row in pred], dtype=float)
    estimate = float(per_seed.mean())
    method = "jackknife-t" + (" (Fisher z)" if res.name in _FISHER else "")
    if k < max(min_k, 2):
        return SubjectCI(estimate, math.nan, math.nan, k, "none",
                         f"k={k} test subject{'s' if k != 1 else ''}: too few for an "
                         f"interval", n_seeds, alpha=alpha)
    data = ClusterData(res, t, list(pred), codes, k)
    leave_out = 1.0 - np.eye(k)
    theta = np.mean([data.evaluate([(s, leave_out)]) for s in range(n_seeds)], axis=0)
    if not np.all(np.isfinite(theta)) or not np.isfinite(estimate):
        return SubjectCI(estimate, math.nan, math.nan, k, "none",
                         f"{res.name} is undefined with a subject left out", n_seeds,
                         alpha=alpha)
    g, g_inv, (lo_bound, hi_bound) = _scale(res.name)
    z = g(theta)
    var = (k - 1) / k * float(np.sum((z - z.mean()) ** 2))
    if n_seeds > 1:
        var += float(np.var(g(per_seed), ddof=1)) / n_seeds
    se = math.sqrt(var)
    half = float(scipy.stats.t.ppf(1.0 - alpha / 2.0, k - 1)) * se
    centre = float(g(np.float64(estimate)))
    low = float(np.clip(g_inv(centre - half), lo_bound, hi_bound))
    high = float(np.clip(g_inv(centre + half), lo_bound, hi_bound))
    return SubjectCI(estimate, low, high, k, method, "", n_seeds, se, alpha)


# --------------------------------------------------------------------------- multiplicity, print


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order.

    ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`` over the ascending p-values;
    rejecting where ``adj <= alpha`` controls the family-wise error at ``alpha``.
    ``nan`` entries stay ``nan`` and do not count in ``m``. Written out here
    (statsmodels' ``multipletests(method="holm")`` gives the same numbers, but is
    not a dependency; scipy has no Holm).
    """
    p = np.asarray(pvalues, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p[ok].min()}..{p[ok].max()}")
    m = int(ok.sum())
    if m == 0:
        return out
    idx = np.flatnonzero(ok)[np.argsort(p[ok], kind="stable")]
    adj = np.maximum.accumulate((m - np.arange(m)) * p[idx])
    out[idx] = np.minimum(adj, 1.0)
    return out


def _round_up_1sig(x: float) -> float:
    exp = math.floor(math.log10(x))
    return math.ceil(round(x / 10.0 ** exp, 9)) * 10.0 ** exp


def format_p(p: float | None, p_floor: float | None = 0.0) -> str:
    """A p-value for print; ``"< x"`` when it is only a bound.

    ``p_floor`` is the value at which a Monte Carlo p-value means "no resample was
    as extreme as the data" (``PermutationResult.p_floor``); at or below it this
    returns ``"< x"`` with ``x`` the floor rounded up to one significant digit
    (``"< 0.0001"`` for 10,000 patterns), never the floor as if it were the p-value.
    An exact test has ``p_floor = 0`` and its p-values print as they are. Three
    significant digits; ``nan``/``None`` give ``"–"``.
    """
    if p is None or not np.isfinite(p):
        return "–"
    if p_floor and p <= p_floor * (1.0 + 1e-9):
        x = _round_up_1sig(p_floor)
        return f"< {x:.{max(0, -math.floor(math.log10(x)))}f}" if x >= 1e-6 else f"< {x:.0e}"
    return f"{p:.3g}" if p >= 1e-3 else f"{p:.2g}"


# --------------------------------------------------------------------------- seeds


@dataclasses.dataclass(frozen=True)
class SeedSpread:
    """A score across training seeds: mean, sample std (ddof=1; nan for one seed), range."""

    n: int
    mean: float
    std: float
    min: float
    max: float

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.mean:.3f} (1 seed)"
        return f"{self.mean:.3f} ± {self.std:.3f} ({self.min:.3f}–{self.max:.3f}, {self.n} seeds)"


def seed_spread(values: Sequence[float] | np.ndarray) -> SeedSpread:
    """Spread of a score across training seeds (for the leaderboard's seed column)."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("seed_spread needs at least one value")
    bad = int(np.count_nonzero(~np.isfinite(v)))
    if bad:
        raise ValueError(f"seed_spread: {bad} of {v.size} value(s) are not finite")
    std = float(np.std(v, ddof=1)) if v.size > 1 else math.nan
    return SeedSpread(int(v.size), float(v.mean()), std, float(v.min()), float(v.max()))
