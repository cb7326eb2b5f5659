"""``emobench export``: every result row as JSON with its identity, metrics and
test predictions (y_true, y_pred, subject, item, seed), so a reader can
recompute every number without emobench (scripts/recompute_from_export.py)."""

from __future__ import annotations

import json

import numpy as np

from emobench.leaderboard.collect import row_identity
from emobench.store import Store, unpack_predictions


def export_rows(store: Store, *, failed: bool = False, predictions: bool = True) -> list[dict]:
    """Rows of ``store`` (done, plus failed ones when asked) ready for JSON."""
    rows = store.rows("done", with_predictions=predictions)
    rows += store.rows("failed") if failed else []
    out = []
    for r in rows:
        r = dict(r)
        key, ident = row_identity(r)
        r["identity_key"], r["identity"] = key, ident
        blob = r.pop("predictions", None)
        if predictions and blob:
            p = unpack_predictions(blob)
            r["test_predictions"] = {k: v.tolist() for k, v in p.items()}
            r["test_predictions"]["seed"] = r.get("seed")
        out.append(r)
    return out


def export_json(store: Store, *, failed: bool = False, predictions: bool = True) -> str:
    return json.dumps(export_rows(store, failed=failed, predictions=predictions), indent=1,
                      default=str)


def export_predictions(store: Store, out, *, registry=None) -> list[dict]:
    """Write every done entry's test predictions in the layout ``emobench score``
    reads (emobench.score.write_predictions): one submission folder per
    (identity, training seed) under ``out/<table>/<model>/<identity>-seed<seed>/``,
    and ``out/index.json`` listing them with the ``emobench score`` command that
    scores each. Scoring a folder gives the leaderboard row back exactly."""
    from collections import defaultdict
    from pathlib import Path

    from emobench.score import _safe, write_predictions

    if registry is None:
        from emobench.plugins import registry as load

        registry = load()
    out = Path(out)
    by_sub: dict[tuple, list[dict]] = defaultdict(list)
    for r in store.rows("done", with_predictions=True):
        key, _ = row_identity(r)
        by_sub[(key, r["seed"] or 0)].append(r)
    index = []
    for (key, seed), rows in sorted(by_sub.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        rows = sorted(rows, key=lambda r: r["fold_index"])
        r0 = rows[0]
        entry = {"dataset": r0["dataset"], "task": r0["task"], "protocol": r0["protocol"],
                 "profile": r0["profile"], "synthetic": bool(r0["synthetic"]), "model": r0["model"],
                 "identity_key": key, "seed": seed, "folds": [r["fold"] for r in rows],
                 "n_folds": r0["n_folds"]}
        try:
            task = registry.dataset(r0["dataset"]).task(r0["task"])
        except Exception as exc:  # the corpus's plugin is not installed here
            index.append({**entry, "skipped": f"{type(exc).__name__}: {exc}"})
            continue
        preds = [unpack_predictions(r["predictions"]) for r in rows]
        item = np.concatenate([p["item"] for p in preds])
        y_pred = np.concatenate([p["y_pred"] for p in preds])
        table = f"{'synthetic-' if r0['synthetic'] else ''}{r0['dataset']}-{r0['task']}-" \
                f"{r0['protocol']}-{r0['profile']}"
        folder = out / _safe(table) / _safe(r0["model"]) / f"{key}-seed{seed}"
        try:
            files = write_predictions(folder, task, item, y_pred)
        except ValueError as exc:
            index.append({**entry, "skipped": str(exc)})
            continue
        partial = len({r["fold_index"] for r in rows}) < (r0["n_folds"] or 0)
        entry["path"] = str(folder.relative_to(out))
        entry["files"] = len(files)
        entry["command"] = (f"emobench score --dataset {r0['dataset']} --task {r0['task']} "
                            f"--protocol {r0['protocol']} --profile {r0['profile']}"
                            f"{' --partial' if partial else ''} {folder}")
        index.append(entry)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return index
