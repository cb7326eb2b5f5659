"""``emobench export``: every result row as JSON with its identity, metrics and
test predictions (y_true, y_pred, subject, item, seed), so a reader can
recompute every number without emobench (scripts/recompute_from_export.py)."""

from __future__ import annotations

import json

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
