"""Per-fold cost of the Optuna storage in the harness (issue 22, "harness per fold").

Times ``tuning.tune`` on a model whose fit and predict cost nothing, so what is
left is the study's storage: the old way (a new SQLite RDBStorage built for
every fold), the default now (in memory), and a shared SQLite storage opened
once per process. Prints the median seconds per fold over ``--folds`` folds.

    python scripts/bench_optuna_storage.py [--folds 20] [--trials 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import optuna
import optuna.distributions as D

from emobench.data import Task
from emobench.model import FitContext, Model
from emobench.tuning import prepare_storage, storage_for, tune


class Free(Model):
    name = "free"
    consumes = ("features",)
    paper_params = {"a": 1.0}

    @classmethod
    def search_space(cls, profile="default"):
        return {"a": D.FloatDistribution(0.1, 10.0, log=True)}

    def fit(self, train, valid, ctx):
        return self

    def predict(self, samples):
        return [0.0 for _ in samples]


def per_fold(make_storage, folds: int, trials: int) -> float:
    ctx = FitContext(task=Task("t", "regression", "clip", metric="ccc"), modalities={},
                     score=lambda samples, preds: 0.5)
    times = []
    for i in range(folds):
        t0 = time.perf_counter()
        tune(Free, [1], [1], ctx, trials=trials, seed=0, storage=make_storage(), study_name=f"fold{i}")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=20)
    ap.add_argument("--trials", type=int, default=2)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    per_fold(lambda: None, 2, a.trials)  # warm-up: imports, sampler

    old_url = f"sqlite:///{tmp}/old.db"
    rebuilt = per_fold(lambda: optuna.storages.RDBStorage(
        old_url, engine_kwargs={"connect_args": {"timeout": 60}}), a.folds, a.trials)
    memory = per_fold(lambda: storage_for(None), a.folds, a.trials)
    shared_url = f"sqlite:///{tmp}/shared.db"
    prepare_storage(shared_url)
    shared = per_fold(lambda: storage_for(shared_url), a.folds, a.trials)
    print(f"{a.trials} trials per fold, median of {a.folds} folds:")
    print(f"  SQLite storage rebuilt per fold (before): {rebuilt:.3f} s")
    print(f"  in memory (default now):                  {memory:.3f} s")
    print(f"  shared SQLite, opened once per process:   {shared:.3f} s")


if __name__ == "__main__":
    main()
