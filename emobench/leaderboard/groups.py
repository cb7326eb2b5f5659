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
before folds recorded groups carry none: their groups are read from the
corpus when the copy found now has the rows' data fingerprint
(:func:`corpus_groups`); otherwise their entries show "no group data".
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


_CORPUS: dict[tuple, dict[str, dict[str, str]] | None] = {}


def corpus_groups(t: Table) -> dict[str, dict[str, str]] | None:
    """group key -> {recording id: value} read from the table's corpus, for rows
    stored before folds recorded groups: only when the copy found now (the data
    root of $EMOBENCH_DATA, else the stand-in of the table's scale, never written
    here) has the rows' data fingerprint, so the groups are those of the scored
    recordings. None when that copy is not there."""
    key = (t.dataset, t.data, t.scale, t.synthetic)
    if key in _CORPUS:
        return _CORPUS[key]
    found = None
    try:
        from emobench import datasource
        from emobench.fold import load_recordings
        from emobench.plugins import registry

        ds = registry().dataset(t.dataset)
        root = None if t.synthetic else datasource.data_root(None)
        if t.synthetic or root is not None:
            src = datasource.resolve(ds, root, t.scale or "small", seed=0, write=False)
            if src.written and src.synthetic == t.synthetic and src.fingerprint == t.data:
                found = {}
                for r in load_recordings(ds, Path(src.root)):
                    for k, v in (r.groups or {}).items():
                        found.setdefault(k, {})[r.id] = str(v)
    except Exception:
        found = None  # no copy, no plugin: the rows' own groups only
    _CORPUS[key] = found
    return found


def breakdowns(t: Table) -> list[Breakdown]:
    """The per-group breakdowns of a table (one per group key worth showing)."""
    per_entry = [(e, _item_groups(e)) for e in t.entries]
    if any(not g for _, g in per_entry):
        extra = corpus_groups(t) or {}
        per_entry = [(e, g or extra) for e, g in per_entry]
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


def _single_values(t: Table) -> dict[str, str]:
    """Group keys on which every test item of the table has one and the same
    value (SEWA's per-culture test sets: culture), with that value."""
    per_entry = [_item_groups(e) for e in t.entries]
    if any(not g for g in per_entry):
        extra = corpus_groups(t) or {}
        per_entry = [g or extra for g in per_entry]
    out: dict[str, str] = {}
    keys = sorted({k for g in per_entry for k in g})
    for key in keys:
        seen = set()
        for e, g in zip(t.entries, per_entry):
            col = _column(e, g.get(key))
            if col is None:
                continue
            seen |= set(col.tolist())
        if len(seen) == 1 and "" not in seen:
            out[key] = seen.pop()
    return out


@dataclass
class Family:
    """Tables of one (dataset, task, protocol, profile) whose test sets are the
    values of one group key (SEWA official: a test set per culture)."""

    tables: list[Table]
    breakdown: Breakdown

    @property
    def first(self) -> Table:
        return self.tables[0]

    @property
    def title(self) -> str:
        t = self.first
        return (f"{t.dataset} / {t.task} / {t.protocol}, test sets by {self.breakdown.key} "
                f"({t.profile} profile)")

    @property
    def slug(self) -> str:
        t = self.first
        name = (f"{'synthetic-' if t.synthetic else ''}{t.dataset}-{t.task}-{t.protocol}-"
                f"{t.profile}-by-{self.breakdown.key}")
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def families(tables: list[Table]) -> list[Family]:
    """Sibling tables (separate test sets of one protocol) whose test sets are
    one group value each: each entry's score per test set side by side, with the
    table's own interval and k, and the largest gap between them."""
    sib: dict[tuple, list[Table]] = {}
    for t in tables:
        if t.test_set != "pooled":
            sib.setdefault((t.synthetic, t.dataset, t.task, t.protocol, t.profile), []).append(t)
    out = []
    for ts in sib.values():
        if len(ts) < 2:
            continue
        singles = [_single_values(t) for t in ts]
        common = set.intersection(*(set(d) for d in singles))
        for key in sorted(common):
            values = [d[key] for d in singles]
            if len(set(values)) != len(values):
                continue
            order = sorted(range(len(ts)), key=lambda i: values[i])
            ts_sorted, values = [ts[i] for i in order], [values[i] for i in order]
            models: dict[str, EntryGroups] = {}
            for t, v in zip(ts_sorted, values):
                for e in t.entries:
                    eg = models.setdefault(e.model, EntryGroups(e))
                    eg.scores[v] = GroupScore(v, e.ci, int(e.item.size))
            sign = 1 if ts_sorted[0].greater_is_better else -1
            rows = sorted(models.values(), key=lambda eg: (
                not eg.entry.complete, -sign * float(np.nanmean(
                    [g.ci.estimate for g in eg.scores.values()] or [np.nan]))
                if any(math.isfinite(g.ci.estimate) for g in eg.scores.values()) else math.inf,
                eg.entry.model))
            bd = Breakdown(key, values, {v: t.k for t, v in zip(ts_sorted, values)}, rows)
            out.append(Family(ts_sorted, bd))
            break  # one key per family: the one the test sets are split by
    return out


def render(title: str, metric: str, greater_is_better: bool, bds: list[Breakdown],
           per_test_set: bool = False) -> str:
    how = ("each test set's own score and interval (the main tables' numbers), side by side"
           if per_test_set else "the primary metric on each group's test items")
    lines = [f"# Per-group results: {title}", "",
             f"Primary metric `{metric}`: {how}, with its 95% leave-one-subject-out jackknife "
             f"t-interval over that group's k test subjects (the main table's rules; no "
             f"interval below k = {MIN_K}). `largest gap` is the difference between the best "
             f"and the worst group's score of the entry (descriptive: the intervals say how sure "
             f"each group's score is). [Back to the leaderboard](README.md).", ""]
    for bd in bds:
        lines += [f"## By {bd.key}", ""]
        head = ["rank", "model"] + [f"{v} (k={bd.k[v]})" for v in bd.values] + ["largest gap"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for rank, eg in enumerate(bd.entries, 1):
            if not eg.scores:
                cells = ["no group data"] * len(bd.values) + ["—"]
            else:
                cells = [_cell(eg.scores.get(v), bd.k[v]) for v in bd.values]
                gap = eg.gap(greater_is_better)
                cells.append("—" if gap is None else _gap_text(gap))
            part = "" if eg.entry.complete else " (partial)"
            lines.append("| " + " | ".join([str(rank), eg.entry.model + part, *cells]) + " |")
        lines.append("")
    return "\n".join(lines)


def _gap_text(gap: tuple[float, str, str]) -> str:
    return f"{gap[0]:.3f} (all equal)" if gap[0] == 0 else f"{gap[0]:.3f} ({gap[1]} worst, {gap[2]} best)"


def _link(title: str, name: str, bds: list[Breakdown], greater_is_better: bool) -> str:
    best = bds[0].entries[0]
    gap = best.gap(greater_is_better)
    note = ("" if gap is None else
            f"; top entry `{best.entry.model}`: largest gap by {bds[0].key} {_gap_text(gap)}")
    keys = ", ".join(f"{bd.key} ({len(bd.values)} groups)" for bd in bds)
    return f"- [{title}]({name}): {keys}{note}"


def section(store, tables, out, written) -> list[str]:
    from emobench.leaderboard.render import _atomic_write

    out = Path(out)
    links = []
    for t in tables:
        bds = breakdowns(t)
        if not bds:
            continue
        path = out / f"{FILE_PREFIX}{t.slug}.md"
        _atomic_write(path, render(t.title, t.metric, t.greater_is_better, bds) + "\n")
        written.add(path.name)
        links.append(_link(t.title, path.name, bds, t.greater_is_better))
    for fam in families(tables):
        t = fam.first
        path = out / f"{FILE_PREFIX}{fam.slug}.md"
        _atomic_write(path, render(fam.title, t.metric, t.greater_is_better, [fam.breakdown],
                                   per_test_set=True) + "\n")
        written.add(path.name)
        links.append(_link(fam.title, path.name, [fam.breakdown], t.greater_is_better))
    for p in out.glob(f"{FILE_PREFIX}*.md"):  # breakdowns of tables that are gone
        if p.name not in written:
            p.unlink(missing_ok=True)
    if not links:
        return []
    return ["## Per-group results", "",
            "For every table whose test recordings fall into groups the corpus records "
            "(culture, session, gender, language, age group...), a breakdown of the primary "
            "metric per group with its interval and k, and the largest gap between groups; "
            "for a protocol with one test set per group (SEWA's per-culture test sets), the "
            "test sets side by side (docs/scoring.md, 'Per-group results').", "", *links, ""]
