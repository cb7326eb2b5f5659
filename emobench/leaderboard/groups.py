"""Leaderboard section: per-group results (culture, session, gender, language...).

Recordings carry groups (``Recording.groups``, seen by models as
``Sample.groups``); every fold row stores them beside its predictions
(``group_<key>`` arrays, :func:`emobench.data.group_columns`). For every table
whose test items fall into two or more values of a group key, this section
writes a linked Markdown breakdown ``groups-<table>.md``: per entry (ranked as in
the main table) the primary metric on each group's items with its interval and
k, by the same rules as the main table (:func:`emobench.stats.subject_ci`:
leave-one-subject-out jackknife t-interval, Fisher z for CCC/Pearson, seed
variance added, no interval below k = ``MIN_K`` subjects), and the largest gap
between two groups' scores, so a model that works for one culture only is seen.

A key is left out when each of its groups is a single test subject (then the
group is the subject and the main table already says it all). Rows stored
before groups were recorded carry none; their entries show "no group data".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench import stats as S
from emobench.data import GROUP_PREFIX
from emobench.leaderboard.collect import ALPHA, MIN_K, Entry, Table
from emobench.store import unpack_predictions

FILE_PREFIX = "groups-"


@dataclass
class GroupScore:
    value: str
    ci: S.SubjectCI | None
    n_items: int


@dataclass
class EntryGroups:
    entry: Entry
    scores: dict[str, GroupScore] = field(default_factory=dict)   # group value -> score

    def gap(self, greater_is_better: bool) -> tuple[float, str, str] | None:
        """(largest gap, worst group, best group) over groups with a finite score."""
        ok = [(g.ci.estimate, v) for v, g in self.scores.items()
              if g.ci is not None and math.isfinite(g.ci.estimate)]
        if len(ok) < 2:
            return None
        ok.sort()
        (lo, lo_v), (hi, hi_v) = ok[0], ok[-1]
        worst, best = (lo_v, hi_v) if greater_is_better else (hi_v, lo_v)
        return hi - lo, worst, best


@dataclass
class Breakdown:
    key: str
    values: list[str]
    k: dict[str, int]                    # test subjects per group (over the table's items)
    entries: list[EntryGroups]


def _item_groups(e: Entry) -> dict[str, dict[str, str]]:
    """group key -> {recording id: value} from the entry's stored rows."""
    out: dict[str, dict[str, str]] = {}
    for r in e.rows:
        blob = r.get("predictions")
        if not blob:
            continue
        p = unpack_predictions(blob)
        for name, arr in p.items():
            if not name.startswith(GROUP_PREFIX):
                continue
            key = name[len(GROUP_PREFIX):]
            out.setdefault(key, {}).update(zip(p["item"].astype(str).tolist(),
                                               arr.astype(str).tolist()))
    return out


def _column(e: Entry, mapping: dict[str, str] | None) -> np.ndarray | None:
    if not mapping:
        return None
    items = e.item.astype(str)
    if not all(i in mapping for i in np.unique(items)):
        return None
    return np.array([mapping[i] for i in items])


def breakdowns(t: Table) -> list[Breakdown]:
    """The per-group breakdowns of a table (one per group key worth showing)."""
    per_entry = [(e, _item_groups(e)) for e in t.entries]
    keys = sorted({k for _, g in per_entry for k in g})
    out = []
    for key in keys:
        columns = [(e, _column(e, g.get(key))) for e, g in per_entry]
        known = [(e, c) for e, c in columns if c is not None]
        if not known:
            continue
        values = sorted({v for _, c in known for v in c.tolist() if v != ""})
        if len(values) < 2:
            continue
        ref_e, ref_c = known[0]
        k = {v: int(np.unique(ref_e.subject[ref_c == v]).size) for v in values}
        if all(n <= 1 for n in k.values()):
            continue  # each group is one subject: the group is the subject
        rows = []
        for e, c in columns:
            eg = EntryGroups(e)
            if c is not None:
                for v in values:
                    m = c == v
                    if not m.any():
                        continue
                    try:
                        ci = S.subject_ci(t.metric, e.y_true[m], e.y_pred[:, m], e.subject[m],
                                          alpha=ALPHA, min_k=MIN_K)
                    except ValueError:
                        ci = None
                    eg.scores[v] = GroupScore(v, ci, int(m.sum()))
            rows.append(eg)
        out.append(Breakdown(key, values, k, rows))
    return out


def _fmt(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "n/a"


def _cell(g: GroupScore | None, k_ref: int) -> str:
    if g is None:
        return "—"
    if g.ci is None:
        return "undefined"
    ci = g.ci
    kk = "" if ci.k == k_ref else f", k={ci.k}"
    if ci.has_interval:
        return f"{_fmt(ci.estimate)} [{_fmt(ci.low)}, {_fmt(ci.high)}]{kk}"
    return f"{_fmt(ci.estimate)} ({ci.reason})"


def render(t: Table, bds: list[Breakdown]) -> str:
    lines = [f"# Per-group results: {t.title}", "",
             f"Primary metric `{t.metric}` on each group's test items, with its 95% "
             f"leave-one-subject-out jackknife t-interval over that group's k test subjects "
             f"(the main table's rules; no interval below k = {MIN_K}). `largest gap` is the "
             f"difference between the best and the worst group's score of the entry "
             f"(descriptive: the intervals say how sure each group's score is). Entries are in "
             f"the main table's order; [back to the leaderboard](README.md).", ""]
    for bd in bds:
        lines += [f"## By {bd.key}", ""]
        head = ["rank", "model"] + [f"{v} (k={bd.k[v]})" for v in bd.values] + ["largest gap"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for rank, eg in enumerate(bd.entries, 1):
            if not eg.scores:
                cells = ["no group data"] * len(bd.values) + ["—"]
            else:
                cells = [_cell(eg.scores.get(v), bd.k[v]) for v in bd.values]
                gap = eg.gap(t.greater_is_better)
                cells.append("—" if gap is None else f"{gap[0]:.3f} ({gap[1]} worst, {gap[2]} best)")
            part = "" if eg.entry.complete else " (partial)"
            lines.append("| " + " | ".join([str(rank), eg.entry.model + part, *cells]) + " |")
        lines.append("")
    return "\n".join(lines)


def section(store, tables, out, written) -> list[str]:
    from emobench.leaderboard.render import _atomic_write

    out = Path(out)
    links = []
    for t in tables:
        bds = breakdowns(t)
        if not bds:
            continue
        path = out / f"{FILE_PREFIX}{t.slug}.md"
        _atomic_write(path, render(t, bds) + "\n")
        written.add(path.name)
        best = next((eg for eg in bds[0].entries if eg.entry.is_best), bds[0].entries[0])
        gap = best.gap(t.greater_is_better)
        note = ("" if gap is None else
                f"; best entry `{best.entry.model}`: largest gap {gap[0]:.3f} by {bds[0].key} "
                f"({gap[1]} worst, {gap[2]} best)")
        keys = ", ".join(f"{bd.key} ({len(bd.values)} groups)" for bd in bds)
        links.append(f"- [{t.title}]({path.name}): {keys}{note}")
    for p in out.glob(f"{FILE_PREFIX}*.md"):  # breakdowns of tables that are gone
        if p.name not in written:
            p.unlink(missing_ok=True)
    if not links:
        return []
    return ["## Per-group results", "",
            "For every table whose test recordings fall into groups the corpus records "
            "(culture, session, gender, language, age group...), a breakdown of the primary "
            "metric per group with its interval and k, and the largest gap between groups "
            "(docs/scoring.md, 'Per-group results').", "", *links, ""]
