"""Metrics against independent computations; degenerate inputs; cluster bootstrap."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import sklearn.metrics as skm

from emobench import metrics
from emobench.metrics import (
    CI,
    METRICS,
    Metric,
    PairedResult,
    accuracy,
    bootstrap_ci,
    bootstrap_distribution,
    ccc,
    ccc_avec,
    ccc_per_sequence,
    confusion_matrix,
    get_metric,
    macro_f1,
    mae,
    paired_comparison,
    pearson,
    register_metric,
    rmse,
    uar,
)

# Degenerate cases must not spam warnings: any warning from emobench fails a test.
# Reference computations that warn are wrapped in _quiet().
pytestmark = pytest.mark.filterwarnings("error")

REGRESSION = [name for name, m in METRICS.items() if m.kind == "regression"]
CLASSIFICATION = [name for name, m in METRICS.items() if m.kind == "classification"]


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _ccc_numpy(t, p, ddof):
    """Textbook CCC straight from numpy's var/cov, independent of the module."""
    t, p = np.asarray(t, float), np.asarray(p, float)
    cov = np.cov(t, p, ddof=ddof)[0, 1]
    return 2 * cov / (np.var(t, ddof=ddof) + np.var(p, ddof=ddof) + (t.mean() - p.mean()) ** 2)


@pytest.fixture
def reg_data():
    rng = np.random.default_rng(1)
    t = rng.normal(size=200)
    return t, 0.6 * t + 0.2 + rng.normal(0, 0.7, 200)


@pytest.fixture
def cls_data():
    rng = np.random.default_rng(2)
    names = np.array(["anger", "fear", "joy", "neutral", "sad"])
    t = names[rng.integers(0, 5, 300)]
    wrong = names[rng.integers(0, 5, 300)]
    return t, np.where(rng.random(300) < 0.5, t, wrong)


# --------------------------------------------------------------------------- regression


def test_ccc_hand_worked_example():
    # t = [1, 2, 3, 4], p = [2, 2, 3, 5]
    # mean t = 5/2, mean p = 3; deviations t: -3/2, -1/2, 1/2, 3/2 ; p: -1, -1, 0, 2
    # sum of products = 3/2 + 1/2 + 0 + 3 = 5      -> cov   = 5/4 (ddof=0), 5/3 (ddof=1)
    # sum sq t = 9/4 + 1/4 + 1/4 + 9/4 = 5         -> var t = 5/4,          5/3
    # sum sq p = 1 + 1 + 0 + 4 = 6                  -> var p = 3/2,          2
    # (mean t - mean p)^2 = 1/4
    # ddof=0: 2 * 5/4 / (5/4 + 3/2 + 1/4) = (5/2) / 3        = 5/6
    # ddof=1: 2 * 5/3 / (5/3 + 2 + 1/4)   = (10/3) / (47/12) = 40/47
    t, p = [1, 2, 3, 4], [2, 2, 3, 5]
    assert ccc(t, p) == pytest.approx(float(Fraction(5, 6)), abs=1e-12)
    assert ccc(t, p, ddof=1) == pytest.approx(float(Fraction(40, 47)), abs=1e-12)


def test_ccc_matches_numpy_formula(reg_data):
    t, p = reg_data
    assert ccc(t, p) == pytest.approx(_ccc_numpy(t, p, 0), abs=1e-12)
    assert ccc(t, p, ddof=1) == pytest.approx(_ccc_numpy(t, p, 1), abs=1e-12)
    assert ccc(t, p, ddof=1) != pytest.approx(ccc(t, p), abs=1e-6)


def test_ccc_extremes(reg_data):
    t, _ = reg_data
    assert ccc(t, t) == pytest.approx(1.0)
    centred = t - t.mean()
    assert ccc(centred, -centred) == pytest.approx(-1.0)
    # a constant bias lowers CCC but not Pearson
    assert ccc(t, t + 1.0) < 0.99
    assert pearson(t, t + 1.0) == pytest.approx(1.0)


def test_ccc_avec_matches_the_challenge_formula(reg_data):
    t, p = reg_data
    # AVEC 2019 scoring: covariance / n, variances / (n - 1)
    n = t.size
    cov = np.mean((t - t.mean()) * (p - p.mean()))
    var_t = np.sum((t - t.mean()) ** 2) / (n - 1)
    var_p = np.sum((p - p.mean()) ** 2) / (n - 1)
    expected = 2 * cov / (var_t + var_p + (t.mean() - p.mean()) ** 2)
    assert ccc_avec(t, p) == pytest.approx(expected, abs=1e-12)
    assert ccc_avec(t, p) != pytest.approx(ccc(t, p, ddof=1), abs=1e-6)


def test_ccc_per_sequence_is_mean_of_sequence_cccs():
    rng = np.random.default_rng(3)
    seqs_t = [rng.normal(m, 1, size) for m, size in ((0, 30), (2, 50), (-1, 20))]
    seqs_p = [s * 0.5 + rng.normal(0, 0.5, s.size) for s in seqs_t]
    expected = np.mean([_ccc_numpy(a, b, 0) for a, b in zip(seqs_t, seqs_p)])
    assert ccc_per_sequence(seqs_t, seqs_p) == pytest.approx(expected, abs=1e-12)
    expected1 = np.mean([_ccc_numpy(a, b, 1) for a, b in zip(seqs_t, seqs_p)])
    assert ccc_per_sequence(seqs_t, seqs_p, ddof=1) == pytest.approx(expected1, abs=1e-12)
    # the pooled convention is a different number (between-sequence means help it here)
    pooled = ccc(np.concatenate(seqs_t), np.concatenate(seqs_p))
    assert pooled != pytest.approx(expected, abs=1e-3)


def test_ccc_per_sequence_errors_name_the_sequence():
    with pytest.raises(ValueError, match=r"len\(seqs_true\)=2, len\(seqs_pred\)=1"):
        ccc_per_sequence([[1, 2], [3, 4]], [[1, 2]])
    with pytest.raises(ValueError, match="no sequences"):
        ccc_per_sequence([], [])
    with pytest.raises(ValueError, match="sequence 1: .*y_pred contains 1 non-finite"):
        ccc_per_sequence([[1, 2], [3, 4]], [[1, 2], [3, np.nan]])


def test_pearson_matches_scipy(reg_data):
    t, p = reg_data
    assert pearson(t, p) == pytest.approx(scipy.stats.pearsonr(t, p).statistic, abs=1e-12)
    assert pearson(list(t), pd.Series(p)) == pytest.approx(pearson(t, p), abs=1e-15)


def test_rmse_and_mae_match_sklearn(reg_data):
    t, p = reg_data
    assert rmse(t, p) == pytest.approx(np.sqrt(skm.mean_squared_error(t, p)), abs=1e-12)
    assert mae(t, p) == pytest.approx(skm.mean_absolute_error(t, p), abs=1e-12)
    assert rmse([1, 2], [1, 4]) == pytest.approx(np.sqrt(2.0))
    assert mae([1, 2], [1, 4]) == pytest.approx(1.0)


def test_regression_accepts_pandas_and_column_vectors(reg_data):
    t, p = reg_data
    frame = pd.DataFrame({"t": t, "p": p})
    assert ccc(frame["t"], frame["p"]) == pytest.approx(ccc(t, p))
    assert ccc(t.reshape(-1, 1), frame[["p"]]) == pytest.approx(ccc(t, p))
    assert rmse(pd.array(t, dtype="Float64"), p) == pytest.approx(rmse(t, p))


# --------------------------------------------------------------------------- classification


def test_classification_matches_sklearn(cls_data):
    t, p = cls_data
    assert accuracy(t, p) == pytest.approx(skm.accuracy_score(t, p))
    assert uar(t, p) == pytest.approx(skm.balanced_accuracy_score(t, p))
    assert macro_f1(t, p) == pytest.approx(skm.f1_score(t, p, average="macro"))
    np.testing.assert_array_equal(confusion_matrix(t, p), skm.confusion_matrix(t, p))
    assert uar(t, p) != pytest.approx(accuracy(t, p), abs=1e-6)  # the data are unbalanced


def test_classification_with_integer_labels_and_classes_only_predicted():
    t = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    p = [0, 3, 0, 1, 2, 2, 2, 3, 0]  # class 3 never occurs in t
    assert uar(t, p) == pytest.approx(_quiet(skm.balanced_accuracy_score, t, p))
    assert macro_f1(t, p) == pytest.approx(_quiet(skm.f1_score, t, p, average="macro"))
    assert accuracy(t, p) == pytest.approx(skm.accuracy_score(t, p))
    np.testing.assert_array_equal(confusion_matrix(t, p), skm.confusion_matrix(t, p))
    # by hand: recalls 2/3, 1/2, 2/4 over the 3 true classes
    assert uar(t, p) == pytest.approx((2 / 3 + 1 / 2 + 2 / 4) / 3)


def test_confusion_matrix_with_explicit_labels(cls_data):
    t, p = cls_data
    order = ["sad", "joy", "surprise", "fear", "anger", "neutral"]  # includes an absent class
    np.testing.assert_array_equal(confusion_matrix(t, p, labels=order),
                                  skm.confusion_matrix(t, p, labels=order))
    subset = ["joy", "fear"]  # items outside the labels are left out
    np.testing.assert_array_equal(confusion_matrix(t, p, labels=subset),
                                  skm.confusion_matrix(t, p, labels=subset))
    with pytest.raises(ValueError, match="duplicates"):
        confusion_matrix(t, p, labels=["joy", "joy"])
    with pytest.raises(ValueError, match="labels is empty"):
        confusion_matrix(t, p, labels=[])


def test_one_class_present():
    t = ["pain"] * 5
    assert accuracy(t, t) == 1.0 and uar(t, t) == 1.0 and macro_f1(t, t) == 1.0
    p = ["pain", "no_pain", "pain", "pain", "no_pain"]
    assert accuracy(t, p) == pytest.approx(0.6)
    assert uar(t, p) == pytest.approx(_quiet(skm.balanced_accuracy_score, t, p))
    assert uar(t, p) == pytest.approx(0.6)
    assert macro_f1(t, p) == pytest.approx(_quiet(skm.f1_score, t, p, average="macro"))
    # constant prediction of the one class absent from y_true: nothing right
    assert uar(t, ["no_pain"] * 5) == 0.0
    assert macro_f1(t, ["no_pain"] * 5) == 0.0


def test_classification_rejects_mixed_or_continuous_labels():
    with pytest.raises(ValueError, match="discrete labels"):
        accuracy([1, 2, 3], ["a", "b", "c"])
    with pytest.raises(ValueError, match="discrete labels"):
        uar([0.5, 1.7, 2.2], [0.5, 1.7, 2.2])
    with pytest.raises(ValueError, match="y_true contains 1 missing label"):
        macro_f1(pd.Series(["a", None, "b"]), ["a", "a", "b"])


# --------------------------------------------------------------------------- degenerate input


@pytest.mark.parametrize("name", list(METRICS))
def test_empty_input_is_an_error(name):
    with pytest.raises(ValueError, match="empty"):
        METRICS[name]([], [])


@pytest.mark.parametrize("name", list(METRICS))
def test_length_mismatch_names_both_lengths(name):
    t = [0, 1, 0, 1] if name in CLASSIFICATION else [0.1, 0.5, 0.3, 0.9]
    with pytest.raises(ValueError, match=r"len\(y_true\)=4, len\(y_pred\)=3"):
        METRICS[name](t, t[:3])


@pytest.mark.parametrize("name", REGRESSION)
def test_non_finite_input_names_argument_and_count(name):
    t = [0.1, 0.5, 0.3, 0.9, 0.4]
    with pytest.raises(ValueError, match=r"y_pred contains 2 non-finite value\(s\).* out of 5"):
        METRICS[name](t, [0.1, np.nan, 0.3, np.inf, 0.4])
    with pytest.raises(ValueError, match=r"y_true contains 1 non-finite"):
        METRICS[name]([0.1, 0.5, -np.inf, 0.9, 0.4], t)
    with pytest.raises(ValueError, match=r"y_true contains 1 non-finite"):
        METRICS[name](pd.array([0.1, None, 0.3, 0.9, 0.4], dtype="Float64"), t)


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_rejects_non_numbers_and_matrices(name):
    with pytest.raises(ValueError, match="y_pred must hold numbers"):
        METRICS[name]([1.0, 2.0], ["a", "b"])
    with pytest.raises(ValueError, match=r"y_true must be one-dimensional, got shape \(2, 2\)"):
        METRICS[name]([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0])


def test_ccc_constant_inputs():
    varying = [0.1, 0.4, 0.2, 0.8]
    assert ccc(varying, [0.3] * 4) == 0.0  # constant prediction, varying truth
    assert ccc([0.3] * 4, varying) == 0.0  # constant truth, varying prediction
    assert ccc([0.3] * 4, [0.5] * 4) == 0.0  # both constant, different
    assert np.isnan(ccc([0.3] * 4, [0.3] * 4))  # both the same constant: 0/0
    assert np.isnan(ccc([0.1] * 3, [0.1] * 3, ddof=1))  # rounding-prone constant
    assert ccc_avec(varying, [0.3] * 4) == 0.0


def test_ccc_ddof_limits():
    with pytest.raises(ValueError, match="ddof=1 needs more than 1 item"):
        ccc([1.0], [1.0], ddof=1)
    with pytest.raises(ValueError, match="ddof must be 0 or 1"):
        ccc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ddof=2)
    assert ccc([1.0], [2.0]) == 0.0


def test_pearson_constant_input_is_nan_without_warning():
    assert np.isnan(pearson([0.1, 0.4, 0.2], [0.3, 0.3, 0.3]))
    assert np.isnan(pearson([0.3, 0.3, 0.3], [0.1, 0.4, 0.2]))
    assert np.isnan(pearson([1.0], [2.0]))
    # scipy agrees on the value (but warns, hence _quiet)
    assert np.isnan(_quiet(scipy.stats.pearsonr, [0.1, 0.4, 0.2], [0.3, 0.3, 0.3]).statistic)


# --------------------------------------------------------------------------- registry


def test_registry_contents():
    assert set(METRICS) >= {"ccc", "pearson", "rmse", "mae", "accuracy", "uar", "macro_f1"}
    assert not METRICS["rmse"].greater_is_better and not METRICS["mae"].greater_is_better
    assert all(METRICS[n].greater_is_better for n in ("ccc", "pearson", "accuracy", "uar",
                                                      "macro_f1"))
    assert {METRICS[n].kind for n in ("ccc", "pearson", "rmse", "mae")} == {"regression"}
    assert {METRICS[n].kind for n in ("accuracy", "uar", "macro_f1")} == {"classification"}
    assert all(m.name == name and m.description for name, m in METRICS.items())
    assert get_metric("uar") is METRICS["uar"]
    assert METRICS["ccc"]([1, 2, 3, 4], [2, 2, 3, 5]) == pytest.approx(5 / 6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        METRICS["ccc"].greater_is_better = False


def test_get_metric_unknown_lists_known_names():
    with pytest.raises(KeyError, match="Did you mean 'ccc'.*accuracy, ccc, ccc_avec"):
        get_metric("cccc")


def test_register_metric(monkeypatch):
    monkeypatch.setattr(metrics, "METRICS", dict(METRICS))
    med = Metric("medae", lambda t, p: float(np.median(np.abs(np.subtract(t, p)))), False,
                 "regression", "median absolute error")
    register_metric(med)
    assert metrics.get_metric("medae") is med
    with pytest.raises(ValueError, match="already registered"):
        register_metric(med)
    with pytest.raises(ValueError, match="kind must be"):
        Metric("x", np.mean, True, "ranking", "")


# --------------------------------------------------------------------------- bootstrap


def _clustered_regression(n_subjects=8, per_subject=25, seed=0):
    rng = np.random.default_rng(seed)
    clusters = np.repeat([f"s{i:02d}" for i in range(n_subjects)], per_subject)
    offsets = np.repeat(rng.normal(0, 0.5, n_subjects), per_subject)
    t = rng.normal(size=clusters.size) + offsets
    p = 0.7 * t + rng.normal(0, 0.5, clusters.size)
    return t, p, clusters


def _clustered_labels(n_subjects=8, per_subject=25, seed=0):
    rng = np.random.default_rng(seed)
    clusters = np.repeat(np.arange(n_subjects), per_subject)
    t = rng.integers(0, 4, clusters.size)
    t[clusters == 0] = 4  # a class seen only in one subject: absent from many resamples
    p = np.where(rng.random(clusters.size) < 0.6, t, rng.integers(0, 5, clusters.size))
    return t, p, clusters


@pytest.mark.parametrize("name", list(METRICS))
def test_vectorised_bootstrap_equals_gathering_items(name):
    data = _clustered_labels() if name in CLASSIFICATION else _clustered_regression()
    fast = bootstrap_distribution(name, *data, n_boot=40, seed=5)
    slow = bootstrap_distribution(name, *data, n_boot=40, seed=5, vectorised=False)
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)
    assert np.unique(np.round(fast, 12)).size > 5  # the resamples really differ


def test_vectorised_bootstrap_handles_partial_ddof():
    data = _clustered_regression()
    fn = functools.partial(ccc, ddof=1)
    fast = bootstrap_distribution(fn, *data, n_boot=30, seed=1)
    slow = bootstrap_distribution(fn, *data, n_boot=30, seed=1, vectorised=False)
    np.testing.assert_allclose(fast, slow, rtol=1e-10)
    assert not np.allclose(fast, bootstrap_distribution("ccc", *data, n_boot=30, seed=1))


def test_vectorised_bootstrap_degenerate_resamples():
    # each subject has constant truth and prediction: one-subject resamples are
    # "same constant" (cluster a, CCC nan) or "different constants" (cluster b, CCC 0)
    clusters = np.repeat(["a", "b", "c"], 4)
    t = np.repeat([0.5, 1.0, 2.0], 4)
    p = np.repeat([0.5, 3.0, 1.0], 4)
    for name in ("ccc", "ccc_avec", "pearson"):
        fast = bootstrap_distribution(name, t, p, clusters, n_boot=300, seed=2)
        slow = bootstrap_distribution(name, t, p, clusters, n_boot=300, seed=2,
                                      vectorised=False)
        np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)
    fast = bootstrap_distribution("ccc", t, p, clusters, n_boot=300, seed=2)
    assert np.isnan(fast).any() and (fast == 0.0).any()


def test_bootstrap_resamples_whole_clusters():
    # Every item of cluster j has absolute error c_j and clusters are equal-sized, so a
    # resample's MAE is the mean of n_clusters values drawn from c with replacement:
    # its spread is std(c) / sqrt(n_clusters). Resampling items instead would give a
    # spread near std(items) / sqrt(n_items), ten times smaller here.
    c = np.arange(1.0, 11.0)
    clusters = np.repeat(np.arange(10), 10)
    y_true = np.zeros(100)
    y_pred = c[clusters]
    boot = bootstrap_distribution("mae", y_true, y_pred, clusters, n_boot=4000, seed=0)
    assert np.std(boot) == pytest.approx(np.std(c) / np.sqrt(10), rel=0.08)
    assert np.mean(boot) == pytest.approx(np.mean(c), rel=0.02)
    # each resample is a mean of 10 cluster values: 10 * MAE is a whole number
    np.testing.assert_allclose(10 * boot, np.round(10 * boot), atol=1e-9)


def test_bootstrap_ci_contains_point_and_is_deterministic():
    t, p, clusters = _clustered_regression()
    ci = bootstrap_ci("ccc", t, p, clusters, n_boot=300, seed=7)
    assert isinstance(ci, CI)
    assert ci.point == pytest.approx(ccc(t, p))
    assert ci.low < ci.point < ci.high
    assert (ci.n_boot, ci.n_clusters) == (300, 8)
    assert bootstrap_ci("ccc", t, p, clusters, n_boot=300, seed=7) == ci
    assert bootstrap_ci("ccc", t, p, clusters, n_boot=300, seed=8) != ci
    narrow = bootstrap_ci("ccc", t, p, clusters, n_boot=300, alpha=0.5, seed=7)
    assert ci.low < narrow.low < narrow.high < ci.high


def test_bootstrap_ci_classification_and_custom_callable():
    t, p, clusters = _clustered_labels()
    ci = bootstrap_ci(METRICS["uar"], t, p, clusters, n_boot=200)
    assert ci.low <= ci.point <= ci.high and ci.point == pytest.approx(uar(t, p))
    custom = bootstrap_ci(lambda a, b: float(np.mean(a == b)), t, p, clusters, n_boot=200)
    builtin = bootstrap_ci("accuracy", t, p, clusters, n_boot=200)
    assert (custom.point, custom.low, custom.high) == pytest.approx(
        (builtin.point, builtin.low, builtin.high))


def test_perfect_predictor_ci_collapses():
    t, _, clusters = _clustered_regression()
    ci = bootstrap_ci("ccc", t, t, clusters, n_boot=100)
    assert ci.point == pytest.approx(1.0) and ci.low == pytest.approx(1.0)
    assert ci.high == pytest.approx(1.0)
    err = bootstrap_ci("rmse", t, t, clusters, n_boot=100)
    assert (err.point, err.low, err.high) == (0.0, 0.0, 0.0)
    labels, _, groups = _clustered_labels()
    acc = bootstrap_ci("macro_f1", labels, labels, groups, n_boot=100)
    assert (acc.point, acc.low, acc.high) == (1.0, 1.0, 1.0)


def test_single_cluster_gives_nan_interval():
    t, p, _ = _clustered_regression()
    ci = bootstrap_ci("ccc", t, p, ["s1"] * t.size)
    assert ci.point == pytest.approx(ccc(t, p))
    assert np.isnan(ci.low) and np.isnan(ci.high)
    assert (ci.n_boot, ci.n_clusters) == (0, 1)


def test_undefined_resamples_are_left_out():
    # truth is constant inside each subject; a resample drawing one subject only has
    # constant truth and an undefined Pearson, which the interval must skip
    clusters = np.repeat([0, 1], 5)
    t = np.repeat([0.0, 1.0], 5)
    p = t + np.tile([0.1, -0.1, 0.2, 0.0, -0.2], 2)
    boot = bootstrap_distribution("pearson", t, p, clusters, n_boot=200)
    assert np.isnan(boot).any() and np.isfinite(boot).any()
    ci = bootstrap_ci("pearson", t, p, clusters, n_boot=200)
    assert ci.n_boot == int(np.isfinite(boot).sum()) < 200
    assert np.isfinite(ci.low) and np.isfinite(ci.high)


def test_bootstrap_input_errors():
    t, p, clusters = _clustered_regression()
    with pytest.raises(ValueError, match="clusters has 199 entries but y_true has 200"):
        bootstrap_ci("ccc", t, p, clusters[:-1])
    with pytest.raises(ValueError, match="clusters contains 1 missing id"):
        bootstrap_ci("ccc", t, p, [None] + list(clusters[1:]))
    with pytest.raises(ValueError, match="n_boot must be a positive integer"):
        bootstrap_ci("ccc", t, p, clusters, n_boot=0)
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        bootstrap_ci("ccc", t, p, clusters, alpha=1.5)
    with pytest.raises(KeyError, match="unknown metric"):
        bootstrap_ci("concordance", t, p, clusters)
    with pytest.raises(ValueError, match=r"y_pred contains 1 non-finite"):
        bootstrap_ci("ccc", t, np.r_[p[:-1], np.nan], clusters)


# --------------------------------------------------------------------------- paired comparison


def test_paired_comparison_with_itself():
    t, p, clusters = _clustered_regression()
    res = paired_comparison("ccc", t, p, p, clusters, n_boot=200)
    assert isinstance(res, PairedResult)
    assert res.diff == 0.0 and res.low == 0.0 and res.high == 0.0
    assert res.p_value == 1.0 and res.n_clusters == 8


def test_paired_comparison_detects_a_better_model():
    t, p, clusters = _clustered_regression(n_subjects=12)
    worse = p + np.random.default_rng(9).normal(0, 0.6, p.size)
    res = paired_comparison("ccc", t, p, worse, clusters, n_boot=500)
    assert res.diff == pytest.approx(ccc(t, p) - ccc(t, worse))
    assert res.diff > 0 and 0 < res.low <= res.diff <= res.high
    assert res.p_value < 0.05
    flipped = paired_comparison("ccc", t, worse, p, clusters, n_boot=500)
    assert flipped.diff == pytest.approx(-res.diff) and flipped.p_value < 0.05
    # for an error metric the sign follows metric(a) - metric(b): a has lower RMSE
    err = paired_comparison("rmse", t, p, worse, clusters, n_boot=500)
    assert err.diff < 0 and err.high < 0 and err.p_value < 0.05
    assert paired_comparison("ccc", t, p, worse, clusters, n_boot=500) == res


def test_paired_comparison_of_similar_models_is_not_significant():
    t, p, clusters = _clustered_regression(n_subjects=12)
    rng = np.random.default_rng(4)
    a = t + rng.normal(0, 0.8, t.size)
    b = t + rng.normal(0, 0.8, t.size)
    res = paired_comparison("ccc", t, a, b, clusters, n_boot=500)
    assert res.low < 0 < res.high and res.p_value > 0.05


def test_paired_p_value_follows_the_documented_rule():
    t, p, clusters = _clustered_regression(n_subjects=12)
    rng = np.random.default_rng(6)
    a = t + rng.normal(0, 0.75, t.size)
    b = t + rng.normal(0, 0.8, t.size)
    res = paired_comparison("ccc", t, a, b, clusters, n_boot=400, seed=3)
    # the same seed and number of clusters give the same resamples in every function
    diffs = (bootstrap_distribution("ccc", t, a, clusters, n_boot=400, seed=3)
             - bootstrap_distribution("ccc", t, b, clusters, n_boot=400, seed=3))
    other_side = np.sum(diffs <= 0) if res.diff > 0 else np.sum(diffs >= 0)
    assert 0 < other_side < 200  # a case where the formula is not clipped
    assert res.p_value == pytest.approx(2 * (other_side + 1) / (400 + 1))
    assert (res.low, res.high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])))


def test_paired_comparison_classification_and_names_the_prediction():
    t, p, clusters = _clustered_labels()
    coin = np.random.default_rng(1).integers(0, 5, t.size)
    res = paired_comparison("uar", t, p, coin, clusters, n_boot=300)
    assert res.diff == pytest.approx(uar(t, p) - uar(t, coin))
    assert res.p_value < 0.05
    with pytest.raises(ValueError, match=r"len\(pred_b\)=199"):
        paired_comparison("uar", t, p, coin[:-1], clusters)


def test_paired_comparison_single_cluster():
    t, p, _ = _clustered_regression()
    res = paired_comparison("mae", t, p, p * 0.5, np.zeros(t.size))
    assert res.diff == pytest.approx(mae(t, p) - mae(t, p * 0.5))
    assert np.isnan(res.low) and np.isnan(res.high) and np.isnan(res.p_value)
