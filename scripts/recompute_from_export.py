#!/usr/bin/env python
"""Recompute every metric and interval of an `emobench export` JSON with numpy,
scipy and scikit-learn only (no emobench import).

    python scripts/recompute_from_export.py export.json

Prints one JSON object: per row key its metrics (with the per-sequence CCC of a
frame-level row), and per leaderboard entry
(identity key + test set) the pooled primary metric (mean over seeds) with the
leave-one-subject-out jackknife t-interval (Fisher z for CCC/Pearson; no interval
below 5 subjects), the rules of docs/metrics.md.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict

import numpy as np
import scipy.stats
from sklearn import metrics as skm


def ccc(t, p):
    mt, mp = t.mean(), p.mean()
    return 2 * np.mean((t - mt) * (p - mp)) / (t.var() + p.var() + (mt - mp) ** 2)


METRICS = {
    "ccc": ccc,
    "pearson": lambda t, p: scipy.stats.pearsonr(t, p)[0],
    "rmse": lambda t, p: float(np.sqrt(skm.mean_squared_error(t, p))),
    "mae": skm.mean_absolute_error,
    "accuracy": skm.accuracy_score,
    "uar": skm.balanced_accuracy_score,
    "macro_f1": lambda t, p: skm.f1_score(t, p, average="macro"),
}
FISHER = {"ccc", "pearson"}


def per_sequence_ccc(t, p, items):
    """Mean CCC over recordings (``items``); a recording with fewer than two
    frames or a constant truth is left out (docs/metrics.md)."""
    items = np.asarray(items)
    vals = [ccc(t[items == i], p[items == i]) for i in dict.fromkeys(items.tolist())
            if (items == i).sum() >= 2 and np.ptp(t[items == i]) > 0]
    return float(np.mean(vals)) if vals else float("nan")


def jackknife(name, t, preds, subj, alpha=0.05, min_k=5):
    fn = METRICS[name]
    est = float(np.mean([fn(t, p) for p in preds]))
    ids = np.unique(subj)
    k = len(ids)
    if k < min_k:
        return {"estimate": est, "k": k, "low": None, "high": None}
    g = np.arctanh if name in FISHER else (lambda x: x)
    gi = np.tanh if name in FISHER else (lambda x: x)
    theta = np.array([np.mean([fn(t[subj != s], p[subj != s]) for p in preds]) for s in ids])
    z = g(np.clip(theta, -1 + 1e-12, 1 - 1e-12)) if name in FISHER else theta
    var = (k - 1) / k * np.sum((z - z.mean()) ** 2)
    if len(preds) > 1:
        per = np.array([fn(t, p) for p in preds])
        per = g(np.clip(per, -1 + 1e-12, 1 - 1e-12)) if name in FISHER else per
        var += np.var(per, ddof=1) / len(preds)
    half = scipy.stats.t.ppf(1 - alpha / 2, k - 1) * np.sqrt(var)
    c = g(np.clip(est, -1 + 1e-12, 1 - 1e-12)) if name in FISHER else est
    low, high = float(gi(c - half)), float(gi(c + half))
    if name in ("accuracy", "uar", "macro_f1"):
        low, high = max(low, 0.0), min(high, 1.0)
    return {"estimate": est, "k": k, "low": low, "high": high}


def main(path):
    rows = [r for r in json.load(open(path)) if r.get("status") == "done"]
    out = {"rows": {}, "entries": {}}
    entries = defaultdict(lambda: defaultdict(list))
    for r in rows:
        p = r["test_predictions"]
        t, y = np.asarray(p["y_true"], float), np.asarray(p["y_pred"], float)
        out["rows"][r["key"]] = {m: float(METRICS[m](t, y)) for m in r["metrics"] if m in METRICS}
        if "ccc_per_sequence" in r["metrics"]:
            out["rows"][r["key"]]["ccc_per_sequence"] = per_sequence_ccc(t, y, p["item"])
        test_set = "pooled" if r["pool_folds"] else r["fold"]
        entries[(r["identity_key"], test_set, r["primary_metric"])][r["seed"]].append(r)
    for (ikey, test_set, metric), by_seed in entries.items():
        preds, first = [], None
        for seed in sorted(by_seed):
            rs = sorted(by_seed[seed], key=lambda r: r["fold_index"])
            cat = {k: np.concatenate([np.asarray(r["test_predictions"][k]) for r in rs])
                   for k in ("y_true", "y_pred", "subject")}
            first = first or cat
            preds.append(cat["y_pred"].astype(float))
        out["entries"][f"{ikey}|{test_set}"] = jackknife(
            metric, first["y_true"].astype(float), preds, first["subject"])
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), indent=1))
