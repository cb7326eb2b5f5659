"""Calibration of the subject-level statistics, by simulation (the long version).

Run: python tests/bench/bench_calibration.py [n_sim]        (default 2000; 400 take about 10 min on 2 cores)

Two equally good models on k test subjects (k = 3, 6, 9, 26):
* regression: truth y = z + e, latent z = u_subject + w; each model predicts
  z + v_subject,model + noise with the same variances, so the population CCC of
  both is the same (written out in ``regression_target``);
* classification: 3 classes, subject-specific class mix; an item is right with
  probability expit(a + s_subject + v_subject,model), the same law for both.
It prints the rejection rate at alpha 0.05 of the permutation test and of the
older paired bootstrap, and the coverage of the 95 % intervals (jackknife-t, the
chosen one; percentile and BCa cluster bootstraps for comparison) of the
population value, with and without a seed axis. tests/test_stats.py runs a short
version of the same simulations; docs/metrics.md records these numbers.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import scipy.special
import scipy.stats

from emobench import stats
from emobench.bootstrap import bootstrap_distribution, paired_comparison
from emobench.resampling import ClusterData, cluster_codes, resolve

# variances of the regression generator
SD_U, SD_W, SD_E, SD_V, SD_N, SD_SEED = 0.7, 1.0, 0.5, 0.4, 0.6, 0.3
# classification generator: logit of "item right" = A + subject + model-on-subject
A_LOGIT, SD_S, SD_VC, N_CLASSES = 0.8, 0.8, 0.5, 3


def _sizes(rng, k):
    return rng.integers(15, 45, k)


def regression_case(rng, k, n_seeds=(1, 1)):
    """y_true, predictions of A and B ((n_seeds, n) each), subject ids."""
    sizes = _sizes(rng, k)
    groups = np.repeat(np.arange(k), sizes)
    n = groups.size
    z = rng.normal(0, SD_U, k)[groups] + rng.normal(0, SD_W, n)
    y = z + rng.normal(0, SD_E, n)

    def model(seeds):
        v = rng.normal(0, SD_V, k)[groups]  # how the model does on each subject
        # a training run shifts the whole prediction and does better on some subjects
        runs = [z + v + (rng.normal(0, SD_SEED) + rng.normal(0, SD_SEED, k)[groups]) * (seeds > 1)
                + rng.normal(0, SD_N, n) for _ in range(seeds)]
        return np.stack(runs)

    return y, model(n_seeds[0]), model(n_seeds[1]), groups


def regression_target(seeds: int = 1) -> float:
    """Population CCC of one model (expected over subjects, and over runs if seeds > 1)."""
    cov = SD_U**2 + SD_W**2
    var_y = cov + SD_E**2
    var_p = cov + SD_V**2 + SD_N**2
    if seeds == 1:
        return 2 * cov / (var_y + var_p)
    # a run's global shift d enters as bias d^2; average the run's CCC over d
    d = np.random.default_rng(12345).normal(0, SD_SEED, 2_000_000)
    return float(np.mean(2 * cov / (var_y + var_p + SD_SEED**2 + d * d)))


def classification_case(rng, k, n_seeds=(1, 1)):
    sizes = _sizes(rng, k)
    groups = np.repeat(np.arange(k), sizes)
    n = groups.size
    mix = rng.dirichlet(np.full(N_CLASSES, 2.0), k)
    y = (rng.random(n)[:, None] > np.cumsum(mix, axis=1)[groups, :-1]).sum(axis=1)
    s = rng.normal(0, SD_S, k)

    def model(seeds):
        v = rng.normal(0, SD_VC, k)
        runs = []
        for _ in range(seeds):
            extra = rng.normal(0, 0.3) + rng.normal(0, 0.3, k) if seeds > 1 else 0.0
            right = rng.random(n) < scipy.special.expit(A_LOGIT + s + v + extra)[groups]
            wrong = (y + rng.integers(1, N_CLASSES, n)) % N_CLASSES
            runs.append(np.where(right, y, wrong))
        return np.stack(runs)

    return y, model(n_seeds[0]), model(n_seeds[1]), groups


def classification_target(seeds: int = 1) -> float:
    """P(item right), which is both the population accuracy and UAR."""
    rng = np.random.default_rng(12345)
    extra = SD_VC**2 + (2 * 0.3**2 if seeds > 1 else 0.0)
    x = rng.normal(A_LOGIT, np.sqrt(SD_S**2 + extra), 2_000_000)
    return float(scipy.special.expit(x).mean())


def bootstrap_intervals(metric, y, pred, groups, n_boot=1000, alpha=0.05):
    """Percentile and BCa cluster-bootstrap intervals (candidates, for comparison)."""
    res = resolve(metric)
    est = float(res.fn(y, pred))
    boot = bootstrap_distribution(metric, y, pred, groups, n_boot=n_boot, seed=0)
    boot = boot[np.isfinite(boot)]
    pct = tuple(np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
    codes, k = cluster_codes(groups, y.size)
    jack = ClusterData(res, y, [pred], codes, k).evaluate([(0, 1 - np.eye(k))])
    dj = jack.mean() - jack
    acc = np.sum(dj**3) / (6 * np.sum(dj**2) ** 1.5) if np.any(dj) else 0.0
    z0 = scipy.stats.norm.ppf(np.clip(np.mean(boot < est), 1e-6, 1 - 1e-6))
    zq = scipy.stats.norm.ppf([alpha / 2, 1 - alpha / 2])
    q = scipy.stats.norm.cdf(z0 + (z0 + zq) / (1 - acc * (z0 + zq)))
    return pct, tuple(np.quantile(boot, q))


def rejection(case, metric, k, n_sim, seeds=(1, 1), with_boot=True, n_perm=2000):
    rng = np.random.default_rng(1000 + k)
    perm = boot = 0
    for _ in range(n_sim):
        y, a, b, g = case(rng, k, seeds)
        perm += stats.paired_permutation_test(y, a, b, g, metric, n_perm=n_perm).p <= 0.05
        if with_boot:
            boot += paired_comparison(metric, y, a[0], b[0], g, n_boot=1000).p_value <= 0.05
    return perm / n_sim, (boot / n_sim if with_boot else float("nan"))


def coverage(case, metric, target, k, n_sim, seeds=1, candidates=True):
    rng = np.random.default_rng(2000 + k)
    hit = {"jackknife-t": 0, "percentile": 0, "BCa": 0}
    for _ in range(n_sim):
        y, a, _, g = case(rng, k, (seeds, 1))
        ci = stats.subject_ci(metric, y, a if seeds > 1 else a[0], g)
        hit["jackknife-t"] += ci.low <= target <= ci.high
        if candidates:
            pct, bca = bootstrap_intervals(metric, y, a[0], g)
            hit["percentile"] += pct[0] <= target <= pct[1]
            hit["BCa"] += bca[0] <= target <= bca[1]
    return {m: v / n_sim for m, v in hit.items() if candidates or m == "jackknife-t"}


def main(n_sim: int = 2000) -> None:
    start = time.perf_counter()
    print(f"n_sim={n_sim} per cell; alpha=0.05\n")
    print("Rejection rate, two equally good models (permutation | old paired bootstrap)")
    for name, case, metric in (("regression", regression_case, "ccc"),
                               ("classification", classification_case, "uar"),
                               ("classification", classification_case, "accuracy")):
        for k in (3, 6, 9, 26):
            perm, boot = rejection(case, metric, k, n_sim)
            print(f"  {name:14s} {metric:8s} k={k:2d}: {perm:.3f} | {boot:.3f}")
    print("Rejection rate with seeds (A: 3 seeds; B: 3 seeds, then 1 seed)")
    for case, metric in ((regression_case, "ccc"), (classification_case, "uar")):
        for k in (6, 9, 26):
            for seeds in ((3, 3), (3, 1)):
                perm, _ = rejection(case, metric, k, n_sim // 2, seeds, with_boot=False)
                print(f"  {metric:8s} k={k:2d} seeds {seeds}: {perm:.3f}")
    print("\nCoverage of the 95 % interval of the population value "
          "(jackknife-t | percentile | BCa)")
    for case, metric, target in ((regression_case, "ccc", regression_target()),
                                 (classification_case, "uar", classification_target()),
                                 (classification_case, "accuracy", classification_target())):
        for k in (6, 9, 26):
            cov = coverage(case, metric, target, k, n_sim)
            print(f"  {metric:8s} k={k:2d}: " + " | ".join(f"{v:.3f}" for v in cov.values()))
    print("Coverage with 3 seeds (jackknife-t + seed variance), expected score of a run")
    for case, metric, target in ((regression_case, "ccc", regression_target(3)),
                                 (classification_case, "uar", classification_target(3))):
        for k in (6, 9, 26):
            cov = coverage(case, metric, target, k, n_sim // 2, seeds=3, candidates=False)
            print(f"  {metric:8s} k={k:2d}: {cov['jackknife-t']:.3f}")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
