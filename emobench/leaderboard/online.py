"""Leaderboard section: online (early-classification) curves and their ranking.

For every classification table whose entries carry online traces (stored by the
fold through :func:`emobench.online.fold_arrays`), one earliness-accuracy PNG
(the task's primary metric against the observed fraction of the clip, the mean
decision time as a dashed line for models that decide when to stop) and one
Markdown table ranking the entries by the area under that curve. A seed counts
when it covers every fold of its entry with a trace; curves are pooled over the
folds of a seed, then averaged over seeds (the AUC's spread over seeds is shown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench import online as O
from emobench.leaderboard import plots
from emobench.store import unpack_predictions

SHOWN = (0.2, 0.5, 1.0)  # fractions printed as columns beside the AUC


@dataclass
class OnlineEntry:
    model: str
    fractions: tuple[float, ...]
    primary: list[float]           # mean over seeds, per fraction
    accuracy: list[float]
    auc: float                      # mean over seeds
    auc_seeds: list[float]
    decision_fraction: float | None
    decision_accuracy: float | None
    n: int
    folds: int
    errors: list[str] = field(default_factory=list)


def entry_curve(e, metric: str) -> OnlineEntry | None:
    """The online curve of one leaderboard entry, or None when no seed has a
    trace on every fold (an entry whose streamer failed keeps its messages)."""
    by_seed: dict[int, list[dict]] = {}
    for r in e.rows:
        by_seed.setdefault(r["seed"] or 0, []).append(r)
    folds = sorted({r["fold_index"] for r in e.rows})
    curves, errors = [], []
    for _, rows in sorted(by_seed.items()):
        rows = sorted(rows, key=lambda r: r["fold_index"])
        if [r["fold_index"] for r in rows] != folds:
            continue
        packs = [unpack_predictions(r["predictions"]) for r in rows]
        errors += [str(p["online_error"]) for p in packs if "online_error" in p]
        if not all("online_pred" in p for p in packs):
            continue
        fr = [tuple(np.round(p["online_fractions"], 6)) for p in packs]
        if len(set(fr)) != 1:
            continue
        y = np.concatenate([p["y_true"] for p in packs]).astype(np.int64)
        pred = np.concatenate([p["online_pred"] for p in packs])
        dec = np.concatenate([p["online_decision"] for p in packs])
        acc, prim, auc = O.curve(y, pred, fr[0], metric)
        deciding = bool(np.isfinite(dec).all())
        curves.append(dict(fractions=fr[0], acc=acc, prim=prim, auc=auc, n=len(y),
                           dec=float(np.mean(dec)) if deciding else None,
                           dec_acc=float(np.mean(pred[:, -1] == y)) if deciding else None))
    if not curves:
        return OnlineEntry(e.model, (), [], [], math.nan, [], None, None, 0, len(folds),
                           sorted(set(errors))) if errors else None
    fr = curves[0]["fractions"]
    curves = [c for c in curves if c["fractions"] == fr]
    mean = lambda key: [float(v) for v in np.mean([c[key] for c in curves], axis=0)]
    decs = [c["dec"] for c in curves if c["dec"] is not None]
    dacc = [c["dec_acc"] for c in curves if c["dec_acc"] is not None]
    return OnlineEntry(e.model, fr, mean("prim"), mean("acc"),
                       float(np.mean([c["auc"] for c in curves])), [c["auc"] for c in curves],
                       float(np.mean(decs)) if decs else None,
                       float(np.mean(dacc)) if dacc else None, curves[0]["n"], len(folds),
                       sorted(set(errors)))


def table_curves(t) -> list[OnlineEntry]:
    """Online entries of a leaderboard table, ranked by AUC (highest first;
    for a lower-is-better metric the AUC is still of the metric as stored)."""
    if t.kind != "classification" or t.level != "clip":
        return []
    found = [c for c in (entry_curve(e, t.metric) for e in t.entries) if c is not None]
    sign = 1 if t.greater_is_better else -1
    return sorted(found, key=lambda c: (not math.isfinite(c.auc),
                                        -sign * (c.auc if math.isfinite(c.auc) else 0), c.model))


def _at(c: OnlineEntry, f: float) -> str:
    for x, v in zip(c.fractions, c.primary):
        if abs(x - f) < 1e-6:
            return f"{v:.3f}"
    return "—"


def render(t, curves: list[OnlineEntry]) -> str:
    head = (["rank", "model", f"AUC of {t.metric}", "AUC over seeds"]
            + [f"{t.metric} at {int(round(f * 100))} %" for f in SHOWN]
            + ["mean decision at", "accuracy of decisions", "clips", "folds"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rank = 0
    for c in curves:
        if not math.isfinite(c.auc):
            continue
        rank += 1
        spread = (f"± {np.std(c.auc_seeds, ddof=1):.3f} sd over {len(c.auc_seeds)} seeds"
                  if len(c.auc_seeds) > 1 else "1 seed")
        dec = "—" if c.decision_fraction is None else f"{100 * c.decision_fraction:.0f} % of the clip"
        dacc = "—" if c.decision_accuracy is None else f"{c.decision_accuracy:.3f}"
        lines.append("| " + " | ".join([str(rank), c.model, f"{c.auc:.3f}", spread]
                                        + [_at(c, f) for f in SHOWN]
                                        + [dec, dacc, str(c.n), str(c.folds)]) + " |")
    return "\n".join(lines)


def section(store, tables, out, written) -> list[str]:
    out = Path(out)
    blocks = []
    for t in tables:
        curves = table_curves(t)
        if not curves:
            continue
        block = [f"### {t.title}", ""]
        ok = [c for c in curves if math.isfinite(c.auc)]
        if ok:
            block += [render(t, curves), ""]
            p = plots.online_curves(t, ok, out / f"online-{t.slug}.png")
            written.add(p.name)
            block += [f"Pictures: [earliness-accuracy curves]({p.name}).", ""]
        for c in curves:
            for msg in c.errors:
                block.append(f"- `{c.model}`: no online curve ({msg})")
        if any(c.errors for c in curves):
            block.append("")
        blocks += block
    if not blocks:
        return []
    return (["## Online early classification", "",
             "Each test clip is streamed to the fold's fitted model (the same model as the "
             "table above, no retraining); after every tenth of the clip the prediction so far "
             "(the mean of the streamer's class probabilities, or the decision of a model that "
             "decides when to stop) is scored. A clip with no answer yet counts as wrong. "
             "The area under the curve of the primary metric against the observed fraction "
             "(trapezoid from (0, 0)) ranks the models; 'mean decision at' is the observed "
             "fraction at which a deciding model stopped (1 for a clip it never decided on). "
             "Protocol: docs/protocols.md, 'Online early classification'.", ""] + blocks)
