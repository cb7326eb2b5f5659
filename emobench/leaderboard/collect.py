"""Entries and tables of the leaderboard, from the results store only.

An *entry* is the rows of one identity (dataset + version, data fingerprint, task,
protocol + version + fold checksum, model + version + providing distribution,
profile, trial budget, seed set): rows of different identities are never pooled.
Rows written before the identity was stored get one derived from their provenance
(:func:`row_identity`), with the row's seed in it, so old stores do not pool a
version bump, a second ``--seed`` or another ``--trials`` either.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from emobench import metrics as M
from emobench import stats as S
from emobench.media import content_key
from emobench.store import Store, unpack_predictions

ALPHA = 0.05
MIN_K = 5


def row_identity(r: dict) -> tuple[str, dict]:
    """(identity key, identity dict) of a row: the stored one, else one derived
    from the provenance fields every row has had (model_version, data,
    fold_checksum, protocol_version, profile, n_trials) plus the row's seed."""
    prov = r.get("provenance") or {}
    if r.get("identity_key") and prov.get("identity"):
        return r["identity_key"], prov["identity"]
    ident = {"dataset": r["dataset"], "dataset_version": prov.get("dataset_version"),
             "data": prov.get("data"), "task": r["task"], "protocol": r["protocol"],
             "protocol_version": prov.get("protocol_version"),
             "fold_checksum": prov.get("fold_checksum"), "model": r["model"],
             "model_version": prov.get("model_version"), "profile": r["profile"],
             "trials": r.get("n_trials"), "seeds": [r.get("seed")], "derived": True}
    return r.get("identity_key") or "old-" + content_key("identity", ident)[:12], ident


@dataclass
class Entry:
    model: str
    identity_key: str
    identity: dict
    score: float                    # primary metric, mean over seeds
    ci: S.SubjectCI
    seeds: list[int]
    seed_scores: list[float]
    deterministic: bool
    folds_run: int
    folds_total: int
    complete: bool
    partial_reason: str
    trials: int
    params: int | None
    inputs: dict
    finished: float
    y_true: np.ndarray
    y_pred: np.ndarray              # (n_seeds, n_items)
    subject: np.ndarray
    item: np.ndarray
    rows: list[dict] = field(repr=False, default_factory=list)
    per_sequence_ccc: float = math.nan
    diff_vs_best: float = math.nan
    p_vs_best: float = math.nan
    p_floor: float = 0.0
    p_holm: float = math.nan
    near_best: bool = False         # not significantly different from the best (Holm)
    compared: bool = False
    is_best: bool = False
    note: str = ""

    @property
    def low(self) -> float:
        return self.ci.low

    @property
    def high(self) -> float:
        return self.ci.high

    @property
    def k(self) -> int:
        return self.ci.k


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
    kind: str = "regression"
    level: str = "clip"
    white_box: bool = False
    entries: list[Entry] = field(default_factory=list)
    # the stand-in's reference for this table's test set (see test_set_reference):
    # {"value", "metric", "scope", "reference", ...} or {"none": reason}; empty for real copies
    reference: dict = field(default_factory=dict)
    scale: str | None = None
    data: str | None = None
    older_data: str = ""            # set on a table of data a newer copy replaced

    @property
    def title(self) -> str:
        ts = "" if self.test_set == "pooled" else f", test set {self.test_set.split('=', 1)[-1]}"
        old = f" [older data {self.older_data}]" if self.older_data else ""
        return f"{self.dataset} / {self.task} / {self.protocol}{ts} ({self.profile} profile){old}"

    @property
    def slug(self) -> str:
        test = "" if self.test_set == "pooled" else "-" + self.test_set.split("=", 1)[-1]
        old = f"-data-{self.older_data}" if self.older_data else ""
        name = f"{'synthetic-' if self.synthetic else ''}{self.dataset}-{self.task}-{self.protocol}{test}{old}"
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)

    @property
    def k(self) -> int:
        return max((e.k for e in self.entries if e.complete), default=max(
            (e.k for e in self.entries), default=0))


def _task_info(dataset: str, task: str) -> dict:
    """kind/level/white-box of a task from the registry, when the plugin is installed."""
    try:
        from emobench.plugins import registry

        t = registry().dataset(dataset).task(task)
        return {"kind": t.kind, "level": t.level, "formula_of": tuple(getattr(t, "formula_of", ()))}
    except Exception:
        return {}


def collect(store: Store, n_boot: int = 1000, seed: int = 0, *, all_versions: bool = False,
            n_perm: int = 10_000) -> list[Table]:
    """The leaderboard's tables: per (real/synthetic, dataset, task, protocol, test
    set, profile, data fingerprint; the newest data only unless ``all_versions``),
    one entry per identity (the newest per model unless
    ``all_versions``), ranked, with intervals and paired tests against the best."""
    del n_boot  # the jackknife interval and the permutation test need no bootstrap
    rows = store.rows("done", with_predictions=True)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        test_set = "pooled" if r["pool_folds"] else r["fold"]
        # the data fingerprint is part of the table: entries on another copy or
        # stand-in of the corpus are other test items, never ranked together
        groups[(bool(r["synthetic"]), r["dataset"], r["task"], r["protocol"], test_set,
                r["profile"], (r["provenance"] or {}).get("data") or "")].append(r)
    newest_data: dict[tuple, tuple] = {}
    for key, grp in groups.items():
        when = max(r["finished"] or 0 for r in grp)
        if key[:-1] not in newest_data or when > newest_data[key[:-1]][0]:
            newest_data[key[:-1]] = (when, key)
    newest_keys = {key for _, key in newest_data.values()}
    if not all_versions:  # the newest data per table; older copies with --all-versions
        groups = {key: groups[key] for key in newest_keys}
    tables = []
    for key, grp in sorted(groups.items()):
        syn, ds, task, proto, test_set, profile, data = key
        metric = M.get_metric(grp[0]["primary_metric"])
        info = _task_info(ds, task)
        t = Table(syn, ds, task, proto, test_set, profile, metric.name, metric.greater_is_better,
                  kind=info.get("kind", metric.kind), level=info.get("level", "clip"))
        if key not in newest_keys:  # an older copy's table: its own title and files
            t.older_data = content_key("data", data)[:8]
        prov0 = grp[0]["provenance"] or {}
        t.scale, t.data = prov0.get("scale"), prov0.get("data")
        by_ident: dict[str, list[dict]] = defaultdict(list)
        idents = {}
        for r in grp:
            key, ident = row_identity(r)
            by_ident[key].append(r)
            idents[key] = ident
        entries = [_entry(key, idents[key], rs, metric) for key, rs in by_ident.items()]
        if not all_versions:
            newest: dict[str, Entry] = {}
            for e in entries:
                if e.model not in newest or e.finished > newest[e.model].finished:
                    newest[e.model] = e
            entries = list(newest.values())
        formula = info.get("formula_of", ())
        t.white_box = bool(formula) and any(
            v in formula for e in entries for v in (e.inputs or {}).values())
        t.entries = entries
        _rank(t, metric, n_perm, seed)
        best = next((e for e in t.entries if e.is_best), None)
        if syn and best is not None:
            t.reference = test_set_reference(prov0.get("ceiling") or {}, best, metric, t.kind)
        tables.append(t)
    return tables


def _entry(key: str, ident: dict, rows: list[dict], metric) -> Entry:
    rows = sorted(rows, key=lambda r: (r["fold_index"], r["seed"] or 0))
    by_seed: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by_seed[r["seed"] or 0].append(r)
    folds = sorted({r["fold_index"] for r in rows})
    pooled = bool(rows[0]["pool_folds"])
    prov = rows[-1]["provenance"] or {}
    total = (prov.get("folds") or {}).get("total") or rows[0]["n_folds"] or len(folds)
    total = total if pooled else 1  # a table of one test set holds exactly one fold
    run = len(folds) if pooled else 1
    total = max(total, run)
    # seeds that cover every fold of this entry, in the same item order
    arrays, seeds, first = [], [], None
    for s, srows in sorted(by_seed.items()):
        if sorted(r["fold_index"] for r in srows) != folds:
            continue
        preds = [unpack_predictions(r["predictions"]) for r in srows]
        cat = {k: np.concatenate([p[k] for p in preds]) for k in ("y_true", "y_pred", "subject", "item")}
        if first is None:
            first = cat
        elif not (np.array_equal(first["item"], cat["item"])
                  and np.array_equal(first["y_true"], cat["y_true"])):
            continue
        arrays.append(cat["y_pred"].astype(float))
        seeds.append(s)
    planned = [x for x in (ident.get("seeds") or []) if x is not None]
    reasons = []
    if run < total:
        reasons.append(f"{run} of {total} folds")
    if planned and not ident.get("derived") and len(seeds) < len(planned):
        reasons.append(f"{len(seeds)} of {len(planned)} seeds")
    y_pred = np.vstack(arrays)
    ci = S.subject_ci(metric.name, first["y_true"], y_pred, first["subject"], alpha=ALPHA, min_k=MIN_K)
    seed_scores = [float(metric.fn(first["y_true"], row)) for row in y_pred]
    e = Entry(model=rows[0]["model"], identity_key=key, identity=ident, score=ci.estimate, ci=ci,
              seeds=seeds, seed_scores=seed_scores,
              deterministic=bool(prov.get("deterministic")), folds_run=run, folds_total=total,
              complete=not reasons, partial_reason=", ".join(reasons),
              trials=max(r["n_trials"] or 0 for r in rows), params=rows[-1]["param_count"],
              inputs=rows[-1].get("inputs") or prov.get("inputs") or {},
              finished=max(r["finished"] or 0.0 for r in rows), y_true=first["y_true"],
              y_pred=y_pred, subject=first["subject"], item=first["item"], rows=rows)
    e.per_sequence_ccc = _per_sequence_ccc(e) if metric.kind == "regression" else math.nan
    return e


def _per_sequence_ccc(e: Entry) -> float:
    """Mean over seeds of the per-sequence CCC (emobench.metrics.ccc_per_sequence_of:
    recordings with one frame or a constant truth left out), for frame-level rows."""
    vals = [v for v in (M.ccc_per_sequence_of(e.y_true, row, e.item) for row in e.y_pred)
            if math.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan


def _order(e: Entry, sign: int):
    s = e.score if math.isfinite(e.score) else -sign * math.inf
    return (not e.complete, -sign * s, e.model, e.identity_key)


def _rank(t: Table, metric, n_perm: int, seed: int) -> None:
    """Sort (complete entries first), pick the best complete entry, test every
    other complete entry on the same items against it, Holm over the table."""
    sign = 1 if metric.greater_is_better else -1
    t.entries.sort(key=lambda e: _order(e, sign))
    # the best entry among the most complete ones; an entry on other items (a
    # partial run of other folds) is not compared, and never removes the others' Δ
    best = next((e for e in t.entries if math.isfinite(e.score)), None)
    if best is None:
        return
    best.is_best = True
    compared = []
    for e in t.entries:
        if e is best:
            continue
        if not (np.array_equal(e.item, best.item) and np.array_equal(e.y_true, best.y_true)):
            e.note = "other test items: not compared"
            continue
        if e.k < 2:
            e.note = f"k={e.k}: no paired test"
            continue
        res = S.paired_permutation_test(e.y_true, e.y_pred, best.y_pred, e.subject, metric.name,
                                        n_perm=n_perm, seed=seed)
        e.diff_vs_best, e.p_vs_best, e.p_floor, e.compared = res.diff, res.p, res.p_floor, True
        compared.append(e)
    if compared:
        adj = S.holm([e.p_vs_best for e in compared])
        for e, p in zip(compared, adj):
            e.p_holm = float(p)
            e.near_best = bool(np.isfinite(p) and p > ALPHA)


def test_set_reference(ceiling: dict, e: Entry, metric, kind: str = "regression") -> dict:
    """The reference of the test set entry ``e`` was scored on, from what the stand-in
    writer recorded for the task (the row's ``provenance["ceiling"]``):

    * ``by_test_set``: values per test set keyed by
      :func:`emobench.sim.ceilings.reference_key` of its sample ids;
    * ``oracle_items``: an oracle's prediction per sample id, scored here against the
      entry's truth with the table's metric (a regression oracle after the affine map
      best for that metric on this test set: :func:`emobench.sim.ceilings.item_reference`);
    * ``exact``: the label is a deterministic function of what the oracle sees, so the
      metric's perfect score holds on every test set;
    * ``none``: the writer's reason for giving no reference.

    A value over all recordings of the stand-in is not a statement about a table's test
    set and is never used. Returns ``{"value", "metric", "scope", "reference", ...}``, or
    ``{"none": reason}`` when there is no valid reference for this test set."""
    from emobench.sim.ceilings import item_reference, reference_key

    name = metric.name
    label = ceiling.get("reference") or ceiling.get("oracle") or "oracle on the latent state"
    if ceiling.get("none"):
        return {"none": str(ceiling["none"])}
    if ceiling.get("exact"):
        best = 1.0 if metric.greater_is_better else 0.0
        if name in ("mae", "rmse", "mse") or name in _PERFECT_ONE:
            return {name: best, "value": best, "metric": name, "scope": "every test set",
                    "reference": f"exact: {ceiling['exact']}"}
        return {"none": f"the label is exact ({ceiling['exact']}) but {name} has no known perfect score"}
    by_set = ceiling.get("by_test_set") or {}
    if by_set:
        hit = by_set.get(reference_key(e.item))
        if hit and hit.get(name) is not None:
            return {name: float(hit[name]), "value": float(hit[name]), "metric": name,
                    "scope": "test set", "reference": label,
                    **{k: hit[k] for k in ("test_set", "subjects", "delay_s", "width_s") if k in hit}}
        return {"none": "the stand-in gives no reference for exactly this test set"}
    oracle = ceiling.get("oracle_items") or {}
    if oracle:
        ids = [str(i) for i in e.item]
        missing = sum(i not in oracle for i in ids)
        if missing:
            return {"none": f"the stand-in's oracle does not cover {missing} of the {len(ids)} test items"}
        pred = np.array([oracle[i] for i in ids], dtype=float)
        try:
            v = item_reference(e.y_true, pred, name, metric.fn, kind)
        except ValueError as err:
            return {"none": f"the oracle cannot be scored with {name}: {err}"}
        return {name: v, "value": v, "metric": name, "scope": "test set", "reference": label}
    if ceiling:
        return {"none": "the stand-in gives a value over all its recordings only, not for this test set"}
    return {"none": "the stand-in gives no reference for this task"}


#: metrics whose perfect score is 1 (what an exact oracle reaches)
_PERFECT_ONE = ("accuracy", "uar", "macro_f1", "weighted_f1", "f1", "ccc", "ccc_avec", "pearson",
                "balanced_accuracy")
