"""Renders the results store into a Markdown leaderboard (tabulate).

It reads the store only: it never runs a model. One table per (dataset, task,
protocol, test set), ranked by the primary metric pooled over the folds, with a
subject-level bootstrap 95% CI, the paired difference to the best model, the
tuning budget, size and latency. Stand-in results are in their own section,
titled as synthetic, and never share a table with real-data rows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tabulate import tabulate

from emobench import metrics as M
from emobench.store import Store, unpack_predictions


@dataclass
class Entry:
    model: str
    score: float
    low: float
    high: float
    fold_scores: list[float]
    n_folds: int
    n_folds_planned: int
    trials: int
    params: int | None
    y_true: np.ndarray
    y_pred: np.ndarray
    subject: np.ndarray
    item: np.ndarray
    p_vs_best: float = math.nan
    diff_vs_best: float = math.nan
    overlaps_best: bool = False


@dataclass
class Table:
    synthetic: bool
    dataset: str
    task: str
    protocol: str
    test_set: str
    profile: str
    metric: str
    greater_is_better: bool
    entries: list[Entry] = field(default_factory=list)
    ceiling: float | None = None
    scale: str | None = None

    @property
    def title(self) -> str:
        ts = "" if self.test_set == "pooled" else f", test set {self.test_set.split('=', 1)[-1]}"
        return f"{self.dataset} / {self.task} / {self.protocol}{ts} ({self.profile} profile)"


def collect(store: Store, n_boot: int = 1000, seed: int = 0) -> list[Table]:
    rows = store.rows("done", with_predictions=True)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        test_set = "pooled" if r["pool_folds"] else r["fold"]
        groups[(bool(r["synthetic"]), r["dataset"], r["task"], r["protocol"], test_set,
                r["profile"])].append(r)
    tables = []
    for (syn, ds, task, proto, test_set, profile), grp in sorted(groups.items()):
        metric = M.get_metric(grp[0]["primary_metric"])
        table = Table(syn, ds, task, proto, test_set, profile, metric.name, metric.greater_is_better)
        ceil = (grp[0]["provenance"] or {}).get("ceiling") or {}
        table.ceiling = ceil.get(metric.name)
        table.scale = (grp[0]["provenance"] or {}).get("scale")
        by_model: dict[str, list[dict]] = defaultdict(list)
        for r in grp:
            by_model[r["model"]].append(r)
        for model, mrows in by_model.items():
            table.entries.append(_entry(model, sorted(mrows, key=lambda r: r["fold_index"]),
                                        metric, n_boot, seed))
        _rank(table, metric, n_boot, seed)
        tables.append(table)
    return tables


def _entry(model, mrows, metric, n_boot, seed) -> Entry:
    preds = [unpack_predictions(r["predictions"]) for r in mrows]
    cat = {k: np.concatenate([p[k] for p in preds]) for k in ("y_true", "y_pred", "subject", "item")}
    if len(np.unique(cat["subject"])) >= 2:
        ci = M.bootstrap_ci(metric.name, cat["y_true"], cat["y_pred"], cat["subject"],
                            n_boot=n_boot, seed=seed)
        score, low, high = ci.point, ci.low, ci.high
    else:
        score, low, high = float(metric.fn(cat["y_true"], cat["y_pred"])), math.nan, math.nan
    # a table of one evaluation set (pool_folds False) holds exactly one fold
    planned = mrows[0]["n_folds"] if mrows[0]["pool_folds"] else 1
    return Entry(model, score, low, high, [r["score"] for r in mrows], len(mrows),
                 planned, max(r["n_trials"] or 0 for r in mrows),
                 mrows[0]["param_count"], **cat)


def _rank(table: Table, metric, n_boot, seed) -> None:
    sign = 1 if metric.greater_is_better else -1
    table.entries.sort(key=lambda e: (-sign * _finite(e.score, sign), e.model))
    if not table.entries:
        return
    best = table.entries[0]
    for e in table.entries:
        e.overlaps_best = e is best or (
            not math.isnan(e.low) and not math.isnan(best.low)
            and max(e.low, best.low) <= min(e.high, best.high))
        complete = e.n_folds == e.n_folds_planned and best.n_folds == best.n_folds_planned
        if e is not best and complete and np.array_equal(e.item, best.item) and \
                len(np.unique(e.subject)) >= 2:
            pc = M.paired_comparison(metric.name, e.y_true, e.y_pred, best.y_pred, e.subject,
                                     n_boot=n_boot, seed=seed)
            e.diff_vs_best, e.p_vs_best = pc.diff, pc.p_value


def _finite(x, sign):
    return x if x is not None and math.isfinite(x) else -sign * math.inf


def _fmt(x, nd=3):
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"


def render_table(t: Table, latency: dict) -> str:
    head = ["rank", "model", f"{t.metric} (95% CI)", "fold mean ± sd", "Δ vs best (p)", "folds",
            "trials", "params", "p50 ms", "FPS", "real-time"]
    body = []
    for i, e in enumerate(t.entries, 1):
        mark = " ≈" if e.overlaps_best and i > 1 else ""
        fs = np.array([s for s in e.fold_scores if s is not None], dtype=float)
        fold = f"{_fmt(fs.mean())} ± {_fmt(fs.std())}" if len(fs) > 1 else _fmt(fs.mean() if len(fs) else None)
        ci = f"{_fmt(e.score)} [{_fmt(e.low)}, {_fmt(e.high)}]"
        diff = "–" if math.isnan(e.diff_vs_best) else f"{e.diff_vs_best:+.3f} ({e.p_vs_best:.3f})"
        lat = latency.get((e.model, t.dataset)) or latency.get((e.model, "")) or {}
        fig = lat.get("figures") or {}
        fps = fig.get("source_fps") or fig.get("fps_batch1")
        rt = "–" if fps is None else ("yes" if fps >= fig.get("source_rate", 25.0) else "no")
        body.append([f"{i}{mark}", e.model, ci, fold, diff, f"{e.n_folds}/{e.n_folds_planned}",
                     e.trials, "–" if e.params is None else f"{e.params:,}",
                     _fmt(fig.get("p50_ms"), 2), _fmt(fps, 1), rt])
    out = tabulate(body, head, tablefmt="github", disable_numparse=True)
    if t.ceiling is not None:
        out += f"\n\nGenerator ceiling ({t.metric}, best any model could reach on this stand-in): **{_fmt(t.ceiling)}**"
    return out


LEGEND = """Ranked by the primary metric computed on the predictions of all test folds pooled
(one test set per row group), with a subject-level cluster-bootstrap 95% CI. `≈` marks models
whose CI overlaps the best model's. `Δ vs best (p)` is the paired difference to the best model on
the same test items and its two-sided bootstrap p-value. `folds` is folds run / folds planned by the
profile; `trials` the Optuna budget per fold. Latency columns come from `emobench profile` on this
machine (batch 1); `real-time` means the source frames per second reach the corpus's frame rate."""


def write(store: Store, out: Path, n_boot: int = 1000, seed: int = 0) -> Path:
    from emobench import provenance

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = collect(store, n_boot=n_boot, seed=seed)
    latency = {}
    for (model, inp), row in store.latest_profiles().items():
        # profiles are stored per input ("sewa[1x80x37]"): the corpus is the prefix
        latency[(model, inp.split("[")[0])] = row
    lines = ["# emobench leaderboard", "", LEGEND, ""]
    for synthetic, title in ((False, "Real data"),
                             (True, "Synthetic stand-ins (not comparable to published results)")):
        section = [t for t in tables if t.synthetic == synthetic]
        lines += [f"## {title}", ""]
        if synthetic:
            lines += ["These rows come from stand-in corpora written by emobench's synthetic affect "
                      "world in each corpus's real layout. They test the harness and rank models on "
                      "known generative structure; they say nothing about real-data accuracy. "
                      "See docs/simulation.md.", ""]
        if not section:
            lines += ["No results yet.", ""]
        for t in section:
            scale = f", stand-in scale `{t.scale}`" if t.synthetic and t.scale else ""
            lines += [f"### {t.title}", "", f"Primary metric: `{t.metric}`{scale}.", "",
                      render_table(t, latency), ""]
    plots = _pareto(tables, latency, out)
    if plots:
        lines += ["## Accuracy against speed", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    failed = store.rows("failed")
    if failed:
        lines += ["## Failed folds (retried by the next run)", ""]
        lines += [f"- `{r['dataset']}/{r['task']} x {r['model']} x {r['protocol']}` fold "
                  f"`{r['fold']}`: {(r['error'] or '').splitlines()[0]}" for r in failed]
        lines.append("")
    profiles = sorted({t.profile for t in tables})
    v = provenance.versions()
    lines += ["---", "",
              f"Profiles: {', '.join(profiles) or '–'}. Machine: {provenance.machine()['cpu']} "
              f"({provenance.machine()['cores']} cores). emobench {v.get('emobench')}, torch "
              f"{v.get('torch')}, commit {provenance.git_commit()}. Generated "
              f"{dt.date.today().isoformat()} by `emobench leaderboard`."]
    index = out / "README.md"
    index.write_text("\n".join(lines) + "\n")
    return index


def _pareto(tables, latency, out: Path) -> list[Path]:
    try:
        from emobench.profiling import pareto_plot
    except ImportError:
        return []
    paths = []
    for t in tables:
        pts = []
        for e in t.entries:
            fig = (latency.get((e.model, t.dataset)) or {}).get("figures") or {}
            fps = fig.get("source_fps") or fig.get("fps_batch1")
            if fps and math.isfinite(e.score):
                pts.append({"model": e.model, "score": e.score, "fps": fps})
        if len(pts) >= 2:
            test = "" if t.test_set == "pooled" else "-" + t.test_set.split("=", 1)[-1]
            name = f"pareto-{'synthetic-' if t.synthetic else ''}{t.dataset}-{t.task}-{t.protocol}{test}"
            name = name.replace("/", "_").replace(" ", "_")
            p = out / f"{name}.png"
            pareto_plot(pts, p, title=f"{t.title}: {t.metric} vs FPS")
            paths.append(p)
    return paths
