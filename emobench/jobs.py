"""Planning: cells -> folds -> jobs, each named by what determines its result.

A job is one (cell, fold, training seed). A fold is tuned once, by the job of
its first seed; the jobs of the other seeds train the configuration it chose
(``Job.tuned_by``), so a fold costs ``trials + seeds - 1`` fits, not
``trials x seeds``. Its key is a content key over the
leaderboard *identity* of its entry (:func:`identity`), the fold's name and the
training seed, so two rows share a key only when they would be the same
number, and a rerun skips every job already ``done``.

Folds are computed with a fixed split seed (:data:`SPLIT_SEED`): training seeds
change the model's initialisation and sampling only, so the rows of one fold
under different seeds are paired. A profile that caps folds counts folds that
share train and validation and differ only in the test set (SEWA's per-culture
test sets) as one, so a cap never drops a test set.

The fold plan of a (corpus fingerprint, protocol) pair (fold names, the
checksum, which tasks each test set has labels for) is cached as a small JSON
file under ``$EMOBENCH_CACHE/plans``: a rerun whose jobs are all in the store
plans without reading the corpus.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from emobench import datasource, pretraining, provenance
from emobench.cells import Cell, Skip
from emobench.media import content_key
from emobench.plugins import Registry
from emobench.profiles import Profile
from emobench.protocols import capped, check_fold, fold_checksum
from emobench.validate import exclude_invalid_labels

SPLIT_SEED = 0      # fold assignment; never varied by --seed or the seed count
PLAN_FORMAT = "2"   # bump when the cached fold plan's content changes
# how a multi-seed fold is tuned; in the identity, so rows tuned otherwise never pool
TUNING = "first seed, then each seed trains the tuned configuration"


@dataclass(frozen=True)
class Job:
    key: str
    cell: Cell
    fold_index: int
    fold_name: str
    n_folds: int          # the protocol's total fold count
    folds_run: int        # how many of them this run covers (the profile's cap)
    pool_folds: bool
    seed: int             # the training seed of this row
    split_seed: int
    profile: str
    trials: int
    root: str
    synthetic: bool
    fingerprint: str
    protocol_version: str
    fold_checksum: str
    store_url: str
    optuna_url: str | None
    identity_key: str = ""
    identity: dict = field(default_factory=dict, hash=False, compare=False)
    inputs: dict = field(default_factory=dict, hash=False, compare=False)
    run_info: dict = field(default_factory=dict, hash=False, compare=False)
    # the fold's labelled recordings {"n_train", "n_valid", "n_test"} for the budget's cost model
    size: dict = field(default_factory=dict, hash=False, compare=False)
    # knobs the budget planner chose (emobench/budget.py), e.g. {"work": 0.5}; in the identity
    knobs: dict = field(default_factory=dict, hash=False, compare=False)
    # the model's pretraining corpora for this cell (emobench.pretraining.Corpus)
    pretraining: tuple = field(default=(), hash=False, compare=False)
    # a later training seed: the key of its fold's first-seed job, whose tuned
    # configuration it trains once with its own seed ("" : this job tunes)
    tuned_by: str = field(default="", hash=False, compare=False)
    # keys of the work this job shares with other jobs and computes if it comes first
    # (Model.shared_cost, e.g. a pretraining stage): set by the budget planner
    shared_work: tuple = field(default=(), hash=False, compare=False)


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    unplanned: dict[str, int] = field(default_factory=dict)  # dataset -> estimated jobs (dry run)


def training_seeds(base: int, n: int) -> tuple[int, ...]:
    return tuple(base + i for i in range(max(1, n)))


def run_info(run_config: dict | None) -> dict:
    """What produced the rows of this run: its configuration, the exact command
    line and whether the emobench checkout was dirty."""
    return {"config": _jsonable(run_config or {}), "command": shlex.join(sys.argv),
            "git_dirty": provenance.git_dirty()}


def identity(reg: Registry, cell: Cell, ds, model_cls, proto, src_fingerprint: str,
             checksum: str, profile: str, trials: int, seeds: tuple[int, ...]) -> dict:
    """A leaderboard entry's identity: rows with different identities are never pooled."""
    def origin(kind, name):
        o = reg.origins.get((kind, name))
        return (o.distribution, o.version) if o else ("?", "?")

    mdist, mver = origin("model", cell.model)
    ddist, dver = origin("dataset", cell.dataset)
    return {"dataset": cell.dataset, "dataset_version": ds.version, "data": src_fingerprint,
            "dataset_distribution": ddist, "dataset_distribution_version": dver,
            "task": cell.task, "protocol": cell.protocol, "protocol_version": proto.version,
            "fold_checksum": checksum, "model": cell.model, "model_version": model_cls.version,
            "model_distribution": mdist, "model_distribution_version": mver,
            "profile": profile, "trials": trials, "seeds": list(seeds)}


def identity_key(ident: dict) -> str:
    return content_key("identity", ident)[:16]


# -- the fold plan ---------------------------------------------------------------

def _plan_path(ds, src, pname: str, proto, split_seed: int) -> Path:
    params = dataclasses.asdict(proto) if dataclasses.is_dataclass(proto) else repr(proto)
    key = content_key("fold-plan", PLAN_FORMAT, ds.name, ds.version, src.fingerprint, pname,
                      proto.version, type(proto).__qualname__, params, split_seed)[:24]
    return datasource.cache_root() / "plans" / f"{ds.name}-{pname}-{key}.json"


def compute_fold_plan(ds, proto, pname: str, recordings, split_seed: int) -> dict:
    unmet = proto.unmet_needs(recordings)
    if unmet:
        raise ValueError(f"protocol needs {', '.join(unmet)}")
    folds = proto.folds(recordings, split_seed)
    for f in folds:
        check_fold(f, recordings, pname)
    by_id = {r.id: r for r in recordings}
    groups: dict[tuple, int] = {}
    out = []
    for f in folds:
        g = groups.setdefault((tuple(sorted(f.train)), tuple(sorted(f.valid))), len(groups))
        labelled = {t.name: [sum(t.name in by_id[i].labels for i in ids)
                             for ids in (f.train, f.valid, f.test)] for t in ds.tasks}
        out.append({"name": f.name, "group": g, "labelled": labelled})
    return {"checksum": fold_checksum(folds), "folds": out}


def _read_plan(path: Path) -> dict | None:
    try:
        plan = json.loads(path.read_text())
        return plan if isinstance(plan, dict) and "checksum" in plan and "folds" in plan else None
    except (OSError, ValueError):
        return None  # absent or damaged: recompute


def _write_plan(path: Path, plan: dict) -> None:
    """Atomic, and a failure only costs the next run a corpus read."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(plan, fh)
        os.replace(tmp, path)
    except OSError:
        pass


def chosen_folds(folds: list[dict], max_folds: int | None) -> list[int]:
    """Indices of the folds a cap keeps: whole groups of folds that share
    train/valid (one test set each), the first ``max_folds`` groups."""
    if not max_folds:
        return list(range(len(folds)))
    keep = sorted({f["group"] for f in folds})[:max_folds]
    return [i for i, f in enumerate(folds) if f["group"] in keep]


def _unlabelled_reason(cell: Cell, ds, folds: list[dict], idx: list[int]) -> str | None:
    bare = [folds[i]["name"] for i in idx if folds[i]["labelled"].get(cell.task, [0, 0, 0])[2] == 0]
    if not bare:
        return None
    others = [p for p in ds.protocols if p != cell.protocol]
    hint = (f"; run a protocol whose test set is labelled, e.g. --protocol {others[0]}"
            if others else "")
    return (f"the test recordings of fold(s) {', '.join(bare)} carry no {cell.task!r} labels "
            f"(test labels withheld, as challenges distribute them){hint}")


# -- jobs ----------------------------------------------------------------------

def make_jobs(reg: Registry, cells: list[Cell], profile: Profile, *, seeds: tuple[int, ...],
              trials: int, root: Path | None, store_url: str, optuna_url: str | None,
              dry_run: bool = False, explicit_datasets=(), run_config: dict | None = None,
              load_recordings=None, workers: int = 1) -> Plan:
    plan = Plan()
    info = run_info(run_config)
    first_stage: dict = {}
    by_dataset: dict[str, list[Cell]] = {}
    for c in cells:
        by_dataset.setdefault(c.dataset, []).append(c)
    if not dry_run:
        # and the stand-ins a stand-in cell's model pretrains on (a real cell uses real copies)
        wanted = set(by_dataset) | {name for c in cells
                                    for name, _ in getattr(reg.model(c.model), "pretraining", ())
                                    if name in reg.datasets
                                    and datasource.find_corpus(reg.dataset(c.dataset), root) is None}
        write_standins(reg, sorted(wanted), root, profile.scale, workers)
    for dname, dcells in by_dataset.items():
        ds = reg.dataset(dname)
        try:
            src = datasource.resolve(ds, root, profile.scale, seed=0, write=not dry_run,
                                     strict=dname in set(explicit_datasets))
        except datasource.CorpusNotFoundError:
            raise  # the user named this corpus: no stand-in in its place
        except Exception as exc:
            plan.skips += [Skip(c.dataset, c.task, c.model, c.protocol,
                                f"corpus could not be read: {type(exc).__name__}: {exc}") for c in dcells]
            continue
        if src.notice:
            plan.notices.append(src.notice)
        recordings = None
        fold_plans: dict[str, dict | Exception | None] = {}
        for pname in sorted({c.protocol for c in dcells}):
            proto = capped(reg.protocol(pname), profile.max_folds)
            path = _plan_path(ds, src, pname, proto, SPLIT_SEED)
            cached = _read_plan(path)
            if cached is not None:
                fold_plans[pname] = cached
                continue
            if not src.written:  # a dry run never writes the stand-in to read it
                fold_plans[pname] = None
                continue
            if recordings is None:
                try:
                    recordings, excluded = load_recordings(ds, src.root)
                except Exception as exc:
                    recordings = _Unreadable(f"corpus could not be read: {type(exc).__name__}: {exc}")
                else:
                    if excluded:
                        plan.notices.append(f"dataset {dname!r}: {len(excluded)} invalid label(s) "
                                            f"excluded (the recording leaves that task); first: "
                                            f"{excluded[0]}")
            if isinstance(recordings, _Unreadable):
                fold_plans[pname] = recordings
                continue
            try:
                fp = compute_fold_plan(ds, proto, pname, recordings, SPLIT_SEED)
                if not dry_run:
                    _write_plan(path, fp)
                fold_plans[pname] = fp
            except Exception as exc:
                fold_plans[pname] = exc
        for c in dcells:
            entry = fold_plans[c.protocol]
            if entry is None:
                n = (profile.max_folds or 1) * len(seeds)
                plan.unplanned[dname] = plan.unplanned.get(dname, 0) + n
                continue
            if isinstance(entry, Exception):
                why = str(entry) if isinstance(entry, _Unreadable) else f"{type(entry).__name__}: {entry}"
                plan.skips.append(Skip(c.dataset, c.task, c.model, c.protocol, why))
                continue
            if (c.model, dname) not in first_stage:  # resolved once per model and corpus
                first_stage[c.model, dname] = pretraining.for_cell(
                    reg, reg.model(c.model), ds, src, root, profile.scale, write=not dry_run)
            corpora, notices = first_stage[c.model, dname]
            plan.notices += [n for n in notices if n not in plan.notices]
            plan.jobs += _cell_jobs(reg, c, ds, src, entry, profile, seeds, trials, store_url,
                                    optuna_url, info, plan.skips, corpora)
    return plan


def _cell_jobs(reg, c: Cell, ds, src, fp: dict, profile: Profile, seeds, trials, store_url,
               optuna_url, info, skips, corpora=()) -> list[Job]:
    proto, model_cls = capped(reg.protocol(c.protocol), profile.max_folds), reg.model(c.model)
    folds = fp["folds"]
    idx = chosen_folds(folds, profile.max_folds if proto.pool_folds else None)
    why = _unlabelled_reason(c, ds, folds, idx)
    if why:
        skips.append(Skip(c.dataset, c.task, c.model, c.protocol, why))
        idx = [i for i in idx if folds[i]["labelled"].get(c.task, [0, 0, 0])[2] > 0]
    cell_seeds = seeds[:1] if getattr(model_cls, "deterministic", False) else seeds
    ident = identity(reg, c, ds, model_cls, proto, src.fingerprint, fp["checksum"], profile.name,
                     trials, cell_seeds)
    if corpora:  # only then: the identities of models without a first stage stay as they were
        ident["pretraining"] = [p.identity() for p in corpora]
    if len(cell_seeds) > 1:
        # the fold is tuned once, on its first seed; the other seeds train that
        # configuration, so the seeds' spread is the training seed's alone
        ident["tuning"] = TUNING
    ikey = identity_key(ident)
    inputs = model_cls.resolve_inputs(ds.modalities) or {}
    out = []
    for i in idx:
        first = ""
        for seed in cell_seeds:
            key = content_key("job", ident, folds[i]["name"], seed)[:32]
            out.append(Job(key, c, i, folds[i]["name"], len(folds), len(idx), proto.pool_folds, seed,
                           SPLIT_SEED, profile.name, trials, str(src.root), src.synthetic,
                           src.fingerprint, proto.version, fp["checksum"], store_url, optuna_url,
                           ikey, ident, dict(inputs), info,
                           {**dict(zip(("n_train", "n_valid", "n_test"),
                                       folds[i]["labelled"].get(c.task, [0, 0, 0]))),
                            "group": folds[i]["group"]}, pretraining=tuple(corpora), tuned_by=first))
            first = first or key
    return out


def write_standins(reg: Registry, names: list[str], root: Path | None, scale: str, workers: int) -> None:
    """Write the stand-ins that are missing, ``workers`` at a time, costliest first
    (each is one corpus's generator: a serial write of 13 took 3 minutes). A write
    that fails here is left to the serial :func:`datasource.resolve` after it,
    which reports it against its cells."""
    if workers < 2:
        return
    missing = []
    for name in names:
        ds = reg.dataset(name)
        if callable(getattr(ds, "resolve_source", None)) or datasource.find_corpus(ds, root) is not None:
            continue  # a pairing writes through its corpora; a real copy is read, not written
        path = datasource.standin_path(ds, scale, 0)
        if not (path.exists() and datasource.read_standin_marker(path) is not None):
            missing.append((float(getattr(ds, "standin_seconds", 10.0)), name))
    if len(missing) < 2:
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from emobench.executors import _init_worker

    ctx = mp.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(min(workers, len(missing)), mp_context=ctx, initializer=_init_worker,
                             initargs=(threads, os.getpid())) as pool:
        futures = [pool.submit(_write_standin, name, scale) for _, name in sorted(missing, reverse=True)]
        for fut in futures:
            try:
                fut.result()
            except Exception:
                pass


def _write_standin(name: str, scale: str) -> None:
    from emobench.plugins import registry

    try:
        datasource.resolve(registry().dataset(name), None, scale, seed=0, write=True)
    finally:
        loky = sys.modules.get("joblib.externals.loky.reusable_executor")
        if getattr(loky, "_executor", None) is not None:
            # a generator that used joblib leaves loky's idle workers behind, and
            # this pool process would wait for their 5-minute idle timeout to exit
            loky._executor.shutdown(wait=True, kill_workers=True)


class _Unreadable(Exception):
    """The corpus failed to load: every cell of it is skipped with this reason."""


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))
