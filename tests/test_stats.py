"""Subject-level statistics against independent computations, and a short calibration.

The long calibration is tests/bench/bench_calibration.py; its generators are reused
here with fewer simulations and generous (but failing) bounds.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import sklearn.metrics as skm

from emobench import metrics, stats
from emobench.stats import (PermutationResult, SubjectCI, format_p, holm,
                            paired_permutation_test, seed_spread, subject_ci)

_spec = importlib.util.spec_from_file_location(
    "bench_calibration", Path(__file__).parent / "bench" / "bench_calibration.py")
calib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(calib)


def _ccc_np(t, p):
    t, p = np.asarray(t, float), np.asarray(p, float)
    cov = np.mean((t - t.mean()) * (p - p.mean()))
    return 2 * cov / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)


REFERENCE = {
    "ccc": _ccc_np,
    "uar": skm.balanced_accuracy_score,
    "accuracy": skm.accuracy_score,
    "rmse": lambda t, p: math.sqrt(skm.mean_squared_error(t, p)),
}


def _case(name, k, seed=0, seeds=(1, 1)):
    case = calib.regression_case if name in ("ccc", "rmse") else calib.classification_case
    y, a, b, g = case(np.random.default_rng(seed), k, seeds)
    return y, a, b, g


def _swap_stat(ref, y, a, b, g, bits):
    """Brute force: mean over run pairs of ref(A*) - ref(B*) for one swap pattern."""
    sw = np.asarray(bits, bool)[g]
    return np.mean([ref(y, np.where(sw, br, ar)) - ref(y, np.where(sw, ar, br))
                    for ar in a for br in b])


# --------------------------------------------------------------------------- permutation test


@pytest.mark.parametrize("name", list(REFERENCE))
def test_exact_permutation_p_matches_brute_force(name):
    y, a, b, g = _case(name, 6, seed=3)
    ref = REFERENCE[name]
    res = paired_permutation_test(y, a[0], b[0], g, name)
    d = ref(y, a[0]) - ref(y, b[0])
    hits = sum(abs(_swap_stat(ref, y, a, b, g, bits)) >= abs(d) - 1e-12
               for bits in itertools.product([0, 1], repeat=6))
    assert isinstance(res, PermutationResult) and res.exact and res.k == 6
    assert res.diff == pytest.approx(d, abs=1e-12)
    assert res.p == pytest.approx(hits / 64, abs=1e-12)
    assert res.n_perm == 64 and res.p_min == pytest.approx(2 / 64) and res.p_floor == 0.0


def test_random_patterns_p_matches_brute_force():
    y, a, b, g = _case("ccc", 9, seed=5)
    res = paired_permutation_test(y, a[0], b[0], g, "ccc", n_perm=300, seed=7, max_exact=4)
    patterns = np.random.default_rng(7).integers(0, 2, size=(300, 9))
    d = _ccc_np(y, a[0]) - _ccc_np(y, b[0])
    hits = sum(abs(_swap_stat(_ccc_np, y, a, b, g, bits)) >= abs(d) - 1e-12 for bits in patterns)
    assert not res.exact and res.n_perm == 300
    assert res.p == pytest.approx((1 + hits) / 301)
    assert res.p_floor == pytest.approx(1 / 301) == res.p_min


def test_seed_axis_definition_matches_brute_force():
    y, a, b, g = _case("ccc", 5, seed=2, seeds=(3, 2))
    res = paired_permutation_test(y, a, b, g, "ccc", seed_variance=False)
    d = np.mean([_ccc_np(y, r) for r in a]) - np.mean([_ccc_np(y, r) for r in b])
    null = np.array([_swap_stat(_ccc_np, y, a, b, g, bits)
                     for bits in itertools.product([0, 1], repeat=5)])
    assert (res.n_seeds_a, res.n_seeds_b, res.seed_sd) == (3, 2, 0.0)
    assert res.diff == pytest.approx(d, abs=1e-12)
    assert res.p == pytest.approx(np.mean(np.abs(null) >= abs(d) - 1e-12))
    # with the seed variance: the null is d* + sd * sqrt(1/3 + 1/2) * t_3
    with_sv = paired_permutation_test(y, a, b, g, "ccc")
    per_a, per_b = [_ccc_np(y, r) for r in a], [_ccc_np(y, r) for r in b]
    sd = math.sqrt((np.var(per_a) * 3 + np.var(per_b) * 2) / 3)
    scale = sd * math.sqrt(1 / 3 + 1 / 2)
    expected = np.mean(scipy.stats.t.sf((abs(d) - null) / scale, 3)
                       + scipy.stats.t.cdf((-abs(d) - null) / scale, 3))
    assert with_sv.seed_sd == pytest.approx(sd) and with_sv.p == pytest.approx(expected)
    assert with_sv.p > res.p


def test_permutation_detects_a_better_model_and_handles_edges():
    y, a, b, g = _case("ccc", 12, seed=1)
    worse = a[0] + np.random.default_rng(0).normal(0, 1.0, y.size)
    res = paired_permutation_test(y, a[0], worse, g, metrics.METRICS["ccc"])
    assert res.diff > 0 and res.p < 0.01
    err = paired_permutation_test(y, a[0], worse, g, "rmse")
    assert err.diff < 0 and err.p < 0.01  # sign as the metric: A has the lower RMSE
    same = paired_permutation_test(y, a[0], a[0], g, "ccc")
    assert (same.diff, same.p) == (0.0, 1.0)
    one = paired_permutation_test(y, a[0], worse, np.zeros(y.size), "ccc")
    assert one.k == 1 and one.p == 1.0  # one subject: no evidence possible
    with pytest.raises(ValueError, match=r"len\(pred_b\[seed 0\]\)=369"):
        paired_permutation_test(y, a[0], np.stack([worse, worse])[:, :-1], g, "ccc")
    with pytest.raises(ValueError, match="groups has"):
        paired_permutation_test(y, a[0], worse, g[:-1], "ccc")
    with pytest.raises(KeyError, match="unknown metric"):
        paired_permutation_test(y, a[0], worse, g, "concordance")


def test_permutation_with_a_callable_without_fast_path():
    y, a, b, g = _case("uar", 5, seed=4)
    fast = paired_permutation_test(y, a[0], b[0], g, "accuracy")
    slow = paired_permutation_test(y, a[0], b[0], g, lambda t, p: float(np.mean(t == p)))
    assert slow.p == pytest.approx(fast.p) and slow.diff == pytest.approx(fast.diff)


# --------------------------------------------------------------------------- interval


def test_subject_ci_of_a_mean_metric_is_the_t_interval_of_subject_means():
    # equal-sized subjects: MAE is the mean of subject MAEs, whose jackknife SE is the
    # ordinary standard error; the interval is scipy's t interval
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(8), 10)
    y, p = rng.normal(size=80), rng.normal(size=80)
    per_subject = np.array([np.mean(np.abs(y - p)[g == j]) for j in range(8)])
    low, high = scipy.stats.t.interval(0.95, 7, loc=per_subject.mean(),
                                       scale=scipy.stats.sem(per_subject))
    ci = subject_ci("mae", y, p, g)
    assert isinstance(ci, SubjectCI) and ci.method == "jackknife-t" and ci.k == 8
    assert ci.estimate == pytest.approx(per_subject.mean())
    assert (ci.low, ci.high) == pytest.approx((low, high), rel=1e-10)


def test_subject_ci_ccc_matches_a_leave_one_out_loop():
    y, a, _, g = _case("ccc", 7, seed=8)
    theta = np.array([_ccc_np(y[g != j], a[0][g != j]) for j in range(7)])
    z = np.arctanh(theta)
    se = math.sqrt(6 / 7 * np.sum((z - z.mean()) ** 2))
    centre = np.arctanh(_ccc_np(y, a[0]))
    q = scipy.stats.t.ppf(0.975, 6)
    ci = subject_ci("ccc", y, a[0], g)
    assert ci.method == "jackknife-t (Fisher z)" and ci.se == pytest.approx(se)
    assert (ci.low, ci.high) == pytest.approx((np.tanh(centre - q * se), np.tanh(centre + q * se)))


def test_subject_ci_with_seeds_adds_the_seed_variance():
    y, a, _, g = _case("uar", 8, seed=9, seeds=(3, 1))
    per_seed = [skm.balanced_accuracy_score(y, r) for r in a]
    theta = np.array([np.mean([skm.balanced_accuracy_score(y[g != j], r[g != j]) for r in a])
                      for j in range(8)])
    var = 7 / 8 * np.sum((theta - theta.mean()) ** 2) + np.var(per_seed, ddof=1) / 3
    ci = subject_ci("uar", y, a, g)
    assert ci.n_seeds == 3 and ci.estimate == pytest.approx(np.mean(per_seed))
    assert ci.se == pytest.approx(math.sqrt(var))
    half = scipy.stats.t.ppf(0.975, 7) * math.sqrt(var)
    assert (ci.low, ci.high) == pytest.approx((ci.estimate - half, min(1.0, ci.estimate + half)))


def test_subject_ci_below_min_k_gives_a_reason():
    y, a, _, g = _case("ccc", 3, seed=1)
    ci = subject_ci("ccc", y, a[0], g)
    assert ci.reason == "k=3 test subjects: too few for an interval" and not ci.has_interval
    assert math.isnan(ci.low) and math.isnan(ci.high) and ci.estimate == pytest.approx(
        _ccc_np(y, a[0]))
    assert "too few" in str(ci)
    assert subject_ci("ccc", y, a[0], g, min_k=3).has_interval
    perfect = subject_ci("ccc", y, y, g, min_k=2)
    assert (perfect.low, perfect.high) == pytest.approx((1.0, 1.0))


# --------------------------------------------------------------------------- holm, format_p, seeds


def test_holm_hand_example_and_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    rng = np.random.default_rng(0)
    for _ in range(50):
        pv = rng.random(7) ** 3
        adj = holm(pv)
        order = np.argsort(pv)
        for alpha in (0.01, 0.05, 0.1, 0.3):
            reject = np.zeros(7, bool)
            for i, j in enumerate(order):  # Holm's procedure itself: stop at first failure
                if pv[j] > alpha / (7 - i):
                    break
                reject[j] = True
            np.testing.assert_array_equal(adj <= alpha, reject)
    out = holm([0.02, np.nan, 0.5])
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.04) and out[2] == 0.5
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\]"):
        holm([0.5, 1.5])


def test_format_p():
    assert format_p(1 / 10001, 1 / 10001) == "< 0.0001"
    assert format_p(1 / 2001, 1 / 2001) == "< 0.0005"
    assert format_p(0.25, 0.0) == "0.25"  # an exact test's minimum is a real p-value
    assert format_p(0.0625) == "0.0625" and format_p(1.0) == "1"
    assert format_p(3.0517578125e-05) == "3.1e-05"
    assert format_p(0.0123, 1 / 1001) == "0.0123"
    assert format_p(float("nan")) == "–" and format_p(None) == "–"
    y, a, b, g = _case("ccc", 20, seed=1)
    res = paired_permutation_test(y, a[0], a[0] + 5.0, g, "ccc", n_perm=999)
    assert res.p == pytest.approx(1 / 1000) and str(res).endswith("(p < 0.001)")


def test_seed_spread():
    v = [0.61, 0.64, 0.58]
    s = seed_spread(v)
    assert (s.n, s.mean, s.min, s.max) == (3, pytest.approx(np.mean(v)), 0.58, 0.64)
    assert s.std == pytest.approx(np.std(v, ddof=1))
    assert "3 seeds" in str(s)
    one = seed_spread([0.5])
    assert one.n == 1 and math.isnan(one.std) and str(one) == "0.500 (1 seed)"
    with pytest.raises(ValueError, match="not finite"):
        seed_spread([0.1, float("nan")])


def test_metrics_reexports_every_statistic():
    for name in stats.__all__:
        assert getattr(metrics, name) is getattr(stats, name)
        assert name in metrics.__all__
    namespace: dict = {}
    exec("from emobench.metrics import *", namespace)  # noqa: S102 - the star import itself
    assert namespace["paired_permutation_test"] is paired_permutation_test


# --------------------------------------------------------------------------- calibration (short)


@pytest.mark.parametrize("name,k,n_sim", [("ccc", 6, 200), ("ccc", 9, 150), ("ccc", 26, 80),
                                          ("uar", 6, 200), ("uar", 9, 150), ("uar", 26, 80)])
def test_permutation_test_rejects_at_about_alpha(name, k, n_sim):
    # equal models; the exact test's rate is <= 5 %; the paired bootstrap measured
    # 13-14 % at k=6 (docs/metrics.md), which these bounds reject
    case = calib.regression_case if name == "ccc" else calib.classification_case
    rate, _ = calib.rejection(case, name, k, n_sim, with_boot=False, n_perm=300)
    assert rate <= {200: 0.095, 150: 0.10, 80: 0.125}[n_sim]


@pytest.mark.parametrize("name,k", [("ccc", 9), ("ccc", 26), ("uar", 9), ("accuracy", 26)])
def test_subject_ci_covers_at_about_95(name, k):
    if name == "ccc":
        case, target = calib.regression_case, calib.regression_target()
    else:
        case, target = calib.classification_case, calib.classification_target()
    cov = calib.coverage(case, name, target, k, 200, candidates=False)["jackknife-t"]
    # 200 simulations: SE about 1.5 points; the percentile bootstrap covers 84-87 % at k=9
    assert 0.895 <= cov <= 0.995
