"""Leaderboard section: online (early-classification) curves and their ranking.

For every classification table whose entries carry online traces (stored by the
fold through :func:`emobench.online.fold_arrays`), one earliness-accuracy PNG
(the task's primary metric against the observed fraction of the clip, the mean
decision time as a dashed line for models that decide when to stop) and one
Markdown table ranking the entries by the area under that curve. A seed counts
when it covers every fold of its entry with a trace; curves are pooled over the
folds of a seed, then averaged over seeds (the AUC's spread over seeds is shown).
The AUC gets the main tables' 95 % leave-one-subject-out jackknife t-interval
(:func:`emobench.stats.subject_ci`, seed variance added, none below k = ``MIN_K``
test subjects): :func:`auc_interval`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench import online as O
from emobench import stats as S
from emobench.leaderboard import plots
from emobench.leaderboard.collect import ALPHA, MIN_K
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
    ci: S.SubjectCI | None = None  # of the AUC, over test subjects (and seeds)


def auc_interval(y_true, tables, subjects, fractions, metric: str) -> S.SubjectCI:
    """The leave-one-subject-out jackknife t-interval of the online AUC.

    ``tables``: one trace table (clips x fractions, -1 = no answer yet) per seed,
    its rows the clips of ``y_true`` / ``subjects`` in the same order. The AUC is
    not a mean over clips (the metric is taken per fraction), so the statistic
    handed to :func:`emobench.stats.subject_ci` is the whole curve's area: each
    seed's prediction of a clip is coded as its row in the stacked tables, and
    leaving a subject out recomputes the curve of the rows that remain."""
    tables = [np.asarray(t, dtype=np.int64) for t in tables]
    stacked = np.concatenate(tables)
    n = len(np.asarray(y_true).reshape(-1))
    if any(len(t) != n for t in tables):
        raise ValueError(f"online: every seed's trace table needs the {n} clips of y_true")
    codes = np.arange(len(stacked)).reshape(len(tables), n)

    def online_auc(y, rows):
        return O.curve(y, stacked[np.asarray(rows, dtype=np.int64)], fractions, metric)[2]

    online_auc.__name__ = f"online AUC of {metric}"
    return S.subject_ci(online_auc, np.asarray(y_true).reshape(-1), codes, np.asarray(subjects),
                        alpha=ALPHA, min_k=MIN_K)


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
        subject = np.concatenate([np.asarray(p["subject"]) if "subject" in p else
                                  np.full(len(p["y_true"]), f"fold {r['fold_index']}")
                                  for p, r in zip(packs, rows)])
        acc, prim, auc = O.curve(y, pred, fr[0], metric)
        deciding = bool(np.isfinite(dec).all())
        curves.append(dict(fractions=fr[0], acc=acc, prim=prim, auc=auc, n=len(y), y=y, pred=pred,
                           subject=subject,
                           dec=float(np.mean(dec)) if deciding else None,
                           dec_acc=float(np.mean(pred[:, -1] == y)) if deciding else None))
    if not curves:
        return OnlineEntry(e.model, (), [], [], math.nan, [], None, None, 0, len(folds),
                           sorted(set(errors))) if errors else None
    fr = curves[0]["fractions"]
    curves = [c for c in curves if c["fractions"] == fr]
    # seeds trace the same clips in the same order (the folds' test sets)
    curves = [c for c in curves if np.array_equal(c["y"], curves[0]["y"])
              and np.array_equal(c["subject"], curves[0]["subject"])]
    mean = lambda key: [float(v) for v in np.mean([c[key] for c in curves], axis=0)]
    decs = [c["dec"] for c in curves if c["dec"] is not None]
    dacc = [c["dec_acc"] for c in curves if c["dec_acc"] is not None]
    ci = auc_interval(curves[0]["y"], [c["pred"] for c in curves], curves[0]["subject"], fr, metric)
    return OnlineEntry(e.model, fr, mean("prim"), mean("acc"),
                       float(np.mean([c["auc"] for c in curves])), [c["auc"] for c in curves],
                       float(np.mean(decs)) if decs else None,
                       float(np.mean(dacc)) if dacc else None, curves[0]["n"], len(folds),
                       sorted(set(errors)), ci)


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
    head = (["rank", "model", f"AUC of {t.metric}", "95 % interval (k subjects)", "AUC over seeds"]
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
        if c.ci is None:
            interval = "—"
        elif c.ci.has_interval:
            interval = f"[{c.ci.low:.3f}, {c.ci.high:.3f}] (k={c.ci.k})"
        else:
            interval = c.ci.reason
        lines.append("| " + " | ".join([str(rank), c.model, f"{c.auc:.3f}", interval, spread]
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
             "(trapezoid from (0, 0)) ranks the models; its 95 % interval is the main tables' "
             f"leave-one-subject-out jackknife t-interval over the k test subjects (seed variance "
             f"added; none below k = {MIN_K}), each left-out subject's curve recomputed from the "
             "remaining clips. 'mean decision at' is the observed "
             "fraction at which a deciding model stopped (1 for a clip it never decided on). "
             "Protocol: docs/protocols.md, 'Online early classification'.", ""] + blocks)
