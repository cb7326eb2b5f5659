"""The leaderboard's "above the majority baseline" summary.

For every table: does any complete entry's 95% interval lie wholly on the
better side of the `mean` baseline's score (the majority class for
classification, the training mean for regression)? A table whose best entries
cannot be told apart from predicting the prior says so in one line, which is
what a reader scanning thirty tables needs before reading any ranking.
"""

from __future__ import annotations

import math

from tabulate import tabulate

BASELINE = "mean"


def above(table) -> tuple[float | None, list[str]]:
    """(the baseline's score, the models whose interval excludes it on the better side)."""
    base = next((e for e in table.entries if e.model == BASELINE and e.complete), None)
    if base is None or not math.isfinite(base.score):
        return None, []
    wins = []
    for e in table.entries:
        if e.model == BASELINE or not e.complete or not e.ci.has_interval:
            continue
        if (e.ci.low > base.score) if table.greater_is_better else (e.ci.high < base.score):
            wins.append(e.model)
    return base.score, wins


def section(store, tables, out, written) -> list[str]:
    body = []
    for t in tables:
        if t.white_box:
            continue
        base, wins = above(t)
        if base is None:
            verdict = "no complete `mean` baseline"
        elif wins:
            verdict = f"yes: {', '.join(wins)}"
        elif all(not e.ci.has_interval for e in t.entries if e.model != BASELINE):
            verdict = "no interval (k too small)"
        else:
            verdict = "no"
        body.append([("synthetic: " if t.synthetic else "") + t.title, t.metric,
                     "n/a" if base is None else f"{base:.3f}", verdict])
    if not body:
        return []
    return ["## Above the majority baseline", "",
            "Per table: the `mean` baseline's score (majority class or training mean) and the "
            "entries whose 95% interval excludes it on the better side. White-box checks are "
            "left out.", "",
            tabulate(body, ["table", "metric", "baseline", "interval excludes baseline"],
                     tablefmt="github", disable_numparse=True), ""]
