"""Timing of the cluster bootstrap on a partition-sized problem.

Run: python tests/bench/bench_metrics.py [n_items] [n_clusters] [n_boot]
Prints wall times; nothing is asserted (timings depend on the machine).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from emobench import metrics


def _best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(n_items: int = 100_000, n_clusters: int = 30, n_boot: int = 1000) -> None:
    rng = np.random.default_rng(0)
    clusters = rng.integers(0, n_clusters, n_items)
    subject_offset = rng.normal(0, 0.3, n_clusters)[clusters]
    y_true = rng.normal(size=n_items) + subject_offset
    pred_a = 0.7 * y_true + rng.normal(0, 0.5, n_items)
    pred_b = pred_a + rng.normal(0, 0.3, n_items)
    labels = rng.integers(0, 7, n_items)
    guesses = np.where(rng.random(n_items) < 0.6, labels, rng.integers(0, 7, n_items))

    print(f"{n_items} items, {n_clusters} clusters, {n_boot} resamples (best of 3)")
    for name in ("ccc", "pearson", "rmse", "mae"):
        sec = _best_of(lambda: metrics.bootstrap_ci(name, y_true, pred_a, clusters, n_boot=n_boot))
        print(f"  {f'bootstrap_ci({name!r})':<42}{sec * 1e3:8.1f} ms")
    for name in ("accuracy", "uar", "macro_f1"):
        sec = _best_of(lambda: metrics.bootstrap_ci(name, labels, guesses, clusters, n_boot=n_boot))
        print(f"  {f'bootstrap_ci({name!r}), 7 classes':<42}{sec * 1e3:8.1f} ms")
    sec = _best_of(lambda: metrics.paired_comparison("ccc", y_true, pred_a, pred_b, clusters,
                                                     n_boot=n_boot))
    print(f"  {'paired_comparison(' + repr('ccc') + ')':<42}{sec * 1e3:8.1f} ms")
    few = max(n_boot // 10, 1)
    sec = _best_of(lambda: metrics.bootstrap_distribution("ccc", y_true, pred_a, clusters,
                                                          n_boot=few, vectorised=False), 1)
    print(f"  item-gathering path for a custom metric (ccc): {sec / few * 1e3:.2f} ms per "
          f"resample -> {sec / few * n_boot:.1f} s for {n_boot}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
