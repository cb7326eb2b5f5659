"""Runs the matrix: cells -> folds -> jobs -> workers -> store.

The driver resolves every corpus (real copy or stand-in), computes and checks
each protocol's folds, and turns every (cell, fold) into a :class:`Job` named
by a content key over everything that determines its result. A worker
(:func:`execute`) claims the job in the store, tunes the model on the fold's
train/validation split, predicts the test split once, scores it, and commits
the row before returning. A rerun skips every job already ``done``.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
import traceback
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench import datasource, provenance
from emobench.media import content_key
from emobench.cells import Cell, Skip
from emobench.data import Sample, Task
from emobench.dataset import read_standin_marker
from emobench.model import FitContext, pick_device
from emobench.plugins import Registry, registry
from emobench.profiles import Profile, get_profile
from emobench.protocols import check_fold, fold_checksum
from emobench.store import Store, pack_predictions
from emobench.tuning import storage_for, tune


@dataclass(frozen=True)
class Job:
    key: str
    cell: Cell
    fold_index: int
    fold_name: str
    n_folds: int
    pool_folds: bool
    seed: int
    profile: str
    trials: int
    root: str
    synthetic: bool
    fingerprint: str
    protocol_version: str
    fold_checksum: str
    store_url: str
    optuna_url: str | None


@dataclass
class Outcome:
    job: Job
    status: str          # done | reused | failed | busy
    seconds: float = 0.0
    message: str = ""
    io: dict = field(default_factory=dict)  # media decoded and cache use inside the job


@dataclass
class Summary:
    cells: int = 0
    run: int = 0
    reused: int = 0
    failed: int = 0
    skipped: int = 0
    busy: int = 0
    io: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)

    def line(self) -> str:
        busy = f", {self.busy} busy elsewhere" if self.busy else ""
        return (f"{self.cells} cells, {self.run} folds run, {self.reused} reused, "
                f"{self.failed} failed, {self.skipped} skipped{busy}")

    def io_line(self) -> str:
        g = self.io.get
        return (f"media: {g('videos_decoded', 0)} videos and {g('images_decoded', 0)} images decoded "
                f"({g('frames_decoded', 0)} frames); array cache: {g('hits', 0)} hits, "
                f"{g('misses', 0)} misses, {g('rebuilt', 0)} rebuilt")


# -- planning -----------------------------------------------------------------

def make_jobs(reg: Registry, cells: list[Cell], profile: Profile, *, seed: int, trials: int,
              root: Path | None, store_url: str,
              optuna_url: str | None) -> tuple[list[Job], list[Skip]]:
    jobs, skipped = [], []
    by_dataset: dict[str, list[Cell]] = {}
    for c in cells:
        by_dataset.setdefault(c.dataset, []).append(c)
    for dname, dcells in by_dataset.items():
        ds = reg.dataset(dname)
        try:
            src = datasource.resolve(ds, root, profile.scale, seed=0)
            recordings = load_recordings(ds, src.root)
        except Exception as exc:
            for c in dcells:
                skipped.append(Skip(c.dataset, c.task, c.model, c.protocol,
                                    f"corpus could not be read: {type(exc).__name__}: {exc}"))
            continue
        folds_of: dict[str, tuple] = {}
        for pname in sorted({c.protocol for c in dcells}):
            proto = reg.protocol(pname)
            try:
                unmet = proto.unmet_needs(recordings)
                if unmet:
                    raise ValueError(f"protocol needs {', '.join(unmet)}")
                folds = proto.folds(recordings, seed)
                for f in folds:
                    check_fold(f, recordings, pname)
                folds_of[pname] = (proto, folds, fold_checksum(folds))
            except Exception as exc:
                folds_of[pname] = exc
        for c in dcells:
            entry = folds_of[c.protocol]
            if isinstance(entry, Exception):
                skipped.append(Skip(c.dataset, c.task, c.model, c.protocol,
                                    f"{type(entry).__name__}: {entry}"))
                continue
            proto, folds, checksum = entry
            model_cls = reg.model(c.model)
            chosen = folds[: profile.max_folds] if profile.max_folds else folds
            for i, f in enumerate(chosen):
                key = content_key("job", c.dataset, ds.version, src.fingerprint, c.task,
                                  c.model, model_cls.version, c.protocol, proto.version,
                                  checksum, f.name, seed, profile.name, trials)[:32]
                jobs.append(Job(key, c, i, f.name, len(chosen), proto.pool_folds, seed,
                                profile.name, trials, str(src.root), src.synthetic,
                                src.fingerprint, proto.version, checksum, store_url, optuna_url))
    return jobs, skipped


# -- the worker -----------------------------------------------------------------

_RECORDINGS: dict[tuple[str, str], list] = {}


def load_recordings(ds, root: Path) -> list:
    """A corpus's recordings, read once per process."""
    k = (ds.name, str(root))
    if k not in _RECORDINGS:
        recs = ds.load(Path(root))
        ids = [r.id for r in recs]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"dataset {ds.name!r}: duplicate recording ids {dup}")
        if not recs:
            raise ValueError(f"dataset {ds.name!r}: no recordings found under {root}")
        _RECORDINGS[k] = recs
    return _RECORDINGS[k]


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def oriented_scorer(task: Task):
    from emobench.metrics import get_metric

    metric = get_metric(task.primary_metric)
    sign = 1.0 if metric.greater_is_better else -1.0

    def score(samples, preds) -> float:
        y_true, y_pred, _, _ = flatten(task, samples, preds)
        return sign * float(metric.fn(y_true, y_pred))

    return score


def flatten(task: Task, samples, preds):
    """Pool predictions of a split: one entry per clip, or per frame."""
    if len(preds) != len(samples):
        raise ValueError(f"model returned {len(preds)} predictions for {len(samples)} samples")
    out = _flatten(task, samples, preds)
    bad = int((~np.isfinite(out[1])).sum())
    if bad:
        raise ValueError(f"{bad} of {len(out[1])} predictions are non-finite (NaN or inf)")
    return out


def _flatten(task: Task, samples, preds):
    if task.level == "clip":
        y_true = np.array([s.y for s in samples], dtype=float)
        y_pred = np.array([float(np.asarray(p).reshape(-1)[0]) for p in preds])
        subj = np.array([s.subject for s in samples])
        item = np.array([s.id for s in samples])
        return y_true, y_pred, subj, item
    yt, yp, subj, item = [], [], [], []
    for s, p in zip(samples, preds):
        y = np.asarray(s.y, dtype=float).reshape(-1)
        p = np.asarray(p, dtype=float).reshape(-1)
        if len(p) != len(y):
            raise ValueError(f"recording {s.id!r}: {len(p)} frame predictions for {len(y)} labels")
        yt.append(y)
        yp.append(p)
        subj.append(np.full(len(y), s.subject))
        item.append(np.full(len(y), s.id))
    return np.concatenate(yt), np.concatenate(yp), np.concatenate(subj), np.concatenate(item)


def compute_metrics(task: Task, y_true, y_pred) -> dict[str, float]:
    from emobench.metrics import get_metric

    out = {}
    for name in task.all_metrics:
        try:
            out[name] = float(get_metric(name).fn(y_true, y_pred))
        except ValueError:
            out[name] = float("nan")
    return out


def samples_for(recordings, ids, task: Task, inputs: dict[str, str]) -> list[Sample]:
    by_id = {r.id: r for r in recordings}
    return [Sample(by_id[i], task, inputs) for i in ids if task.name in by_id[i].labels]


class _Heartbeat(threading.Thread):
    def __init__(self, store: Store, key: str, owner: str, every: float = 30.0):
        super().__init__(daemon=True)
        self.store, self.key, self.owner, self.every = store, key, owner, every
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(self.every):
            try:
                self.store.heartbeat(self.key, self.owner)
            except Exception:
                pass


_STORES: dict[str, Store] = {}
_TUNED: dict = {}  # the most recent tuning result of this process


def _store(url: str) -> Store:
    if url not in _STORES:
        _STORES[url] = Store(url)
    return _STORES[url]


def _io_counters() -> dict:
    from emobench.media import default_cache
    from emobench.media import video_stats

    return {**video_stats(), **default_cache().stats()}


def execute(job: Job) -> Outcome:
    """Run one (cell, fold) job and commit its row. Never raises for a bad fold:
    the failure is recorded with its message and the run goes on."""
    before = _io_counters()
    outcome = _execute(job)
    after = _io_counters()
    outcome.io = {k: after[k] - before.get(k, 0) for k in after}
    return outcome


def _execute(job: Job) -> Outcome:
    t0 = time.time()
    store = _store(job.store_url)
    owner = owner_id()
    c = job.cell
    row = dict(dataset=c.dataset, task=c.task, model=c.model, protocol=c.protocol, fold=job.fold_name,
               fold_index=job.fold_index, n_folds=job.n_folds, pool_folds=job.pool_folds,
               seed=job.seed, profile=job.profile, synthetic=job.synthetic)
    state = store.claim(job.key, owner, row)
    if state == "done":
        return Outcome(job, "reused")
    if state == "busy":
        return Outcome(job, "busy")
    beat = _Heartbeat(store, job.key, owner)
    beat.start()
    try:
        values = _run_fold(job)
        store.finish(job.key, owner, **values)
        return Outcome(job, "done", time.time() - t0)
    except KeyboardInterrupt:
        store.release(job.key, owner)
        raise
    except Exception as exc:
        message = f"{c}: fold {job.fold_name}: {type(exc).__name__}: {exc}"
        detail = "".join(traceback.format_exception(exc)[-6:])
        store.fail(job.key, owner, message + "\n" + detail)
        return Outcome(job, "failed", time.time() - t0, message)
    finally:
        beat.stop.set()


def _run_fold(job: Job) -> dict:
    # convergence chatter from short training budgets is expected, not news
    warnings.filterwarnings("ignore", message=".*(converge|Maximum iterations|ill-conditioned).*")
    reg = registry()
    c = job.cell
    ds = reg.dataset(c.dataset)
    task = ds.task(c.task)
    model_cls = reg.model(c.model)
    proto = reg.protocol(c.protocol)
    recordings = load_recordings(ds, Path(job.root))
    folds = proto.folds(recordings, job.seed)
    if fold_checksum(folds) != job.fold_checksum:
        raise RuntimeError(f"protocol {c.protocol!r}: fold assignment changed since planning")
    fold = folds[job.fold_index]
    check_fold(fold, recordings, c.protocol)
    inputs = model_cls.resolve_inputs(ds.modalities)
    train, valid, test = (samples_for(recordings, ids, task, inputs)
                          for ids in (fold.train, fold.valid, fold.test))
    for part, samples in (("train", train), ("valid", valid), ("test", test)):
        if not samples:
            raise ValueError(f"no {part} recordings labelled for task {task.name!r} in fold {fold.name!r}")
    score = oriented_scorer(task)
    ctx = FitContext(task=task, modalities=ds.modalities, profile=job.profile, seed=job.seed,
                     device=pick_device(), score=score)
    t0 = time.time()
    # Folds that differ only in their test set (one per culture, say) share the
    # tuned model: tuning never sees the test split, so re-tuning would only repeat it.
    tuned_key = content_key(c.dataset, c.task, c.model, model_cls.version, job.fingerprint,
                            job.profile, job.trials, job.seed, sorted(fold.train), sorted(fold.valid))
    if _TUNED.get("key") == tuned_key:
        result = _TUNED["result"]
    else:
        _TUNED.clear()
        result = tune(model_cls, train, valid, ctx, trials=job.trials, seed=job.seed,
                      storage=storage_for(job.optuna_url), study_name=job.key)
        _TUNED.update(key=tuned_key, result=result)
    t_tune = time.time() - t0
    t1 = time.time()
    preds = result.model.predict(test)
    t_pred = time.time() - t1
    try:
        y_true, y_pred, subj, item = flatten(task, test, preds)
    except ValueError as exc:
        raise ValueError(f"model {c.model!r} on the test split: {exc}") from None
    metrics = compute_metrics(task, y_true, y_pred)
    for r in recordings:
        r.forget()
    marker = read_standin_marker(Path(job.root)) or {}
    return dict(
        primary_metric=task.primary_metric, score=metrics[task.primary_metric], metrics=metrics,
        best_params=_jsonable(result.params), n_trials=result.n_trials,
        param_count=_param_count(model_cls, ds, task),
        timings={"tune_s": round(t_tune, 3), "predict_s": round(t_pred, 3),
                 "trials_pruned": result.n_pruned, "trials_failed": result.n_failed},
        provenance={"versions": provenance.versions(), "commit": provenance.git_commit(),
                    "machine": provenance.machine(), "protocol_version": job.protocol_version,
                    "fold_checksum": job.fold_checksum, "dataset_version": ds.version,
                    "data": job.fingerprint, "model_version": model_cls.version,
                    "n_train": len(train), "n_valid": len(valid), "n_test": len(test),
                    "ceiling": (marker.get("ceilings") or {}).get(task.name, {}),
                    "scale": marker.get("scale")},
        predictions=pack_predictions(y_true=y_true, y_pred=y_pred, subject=subj, item=item),
    )


def _param_count(model_cls, ds, task):
    try:
        n = model_cls.param_count(ds.modalities, task)
        return int(n) if n is not None else None
    except Exception:
        return None


def _jsonable(d: dict) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in d.items()}


# -- the driver -------------------------------------------------------------------

def run(cells: list[Cell], *, profile: str = "default", seed: int = 0, trials: int | None = None,
        max_folds: int | None = None, data_root=None, store_url: str | None = None, optuna_url: str | None = None,
        jobs: int = 1, scheduler: str | None = None, dry_run: bool = False,
        skipped: list[Skip] = (), progress: bool = True, log=print) -> Summary:
    from emobench import executors
    from emobench.store import default_url

    reg = registry()
    prof = get_profile(profile)
    if max_folds is not None:
        prof = dataclasses.replace(prof, max_folds=max_folds or None)
    trials = trials or prof.trials
    store_url = store_url or default_url()
    if optuna_url is None:
        optuna_url = _optuna_default(store_url)
    root = datasource.data_root(data_root)
    job_list, plan_skips = make_jobs(reg, cells, prof, seed=seed, trials=trials, root=root,
                                     store_url=store_url, optuna_url=optuna_url)
    summary = Summary(cells=len({j.cell for j in job_list}))
    summary.skipped = len(skipped) + len(plan_skips)
    summary.skips = [f"{s.dataset}/{s.task} x {s.model} x {s.protocol}: {s.reason}" for s in plan_skips]
    if dry_run:
        for j in job_list:
            log(f"would run {j.cell} fold {j.fold_index + 1}/{j.n_folds} ({j.fold_name}) key={j.key}")
        return summary
    store = Store(store_url)
    todo = [j for j in job_list if store.status(j.key) != "done"]
    summary.reused = len(job_list) - len(todo)
    if scheduler:
        it = executors.dask(execute, todo, scheduler, max(1, jobs))
    elif jobs > 1:
        it = executors.processes(execute, todo, jobs)
    else:
        it = executors.inline(execute, todo)
    for outcome in _progress(it, todo, progress):
        for k, v in outcome.io.items():
            summary.io[k] = summary.io.get(k, 0) + v
        if outcome.status == "done":
            summary.run += 1
        elif outcome.status == "reused":
            summary.reused += 1
        elif outcome.status == "busy":
            summary.busy += 1
        else:
            summary.failed += 1
            summary.failures.append(outcome.message)
    return summary


def _optuna_default(store_url: str) -> str | None:
    if store_url.startswith("sqlite:///"):
        p = Path(store_url[len("sqlite:///"):])
        return "sqlite:///" + str(p.with_name("optuna.db"))
    return store_url


def _progress(it, todo: list, enabled):
    """``enabled``: True for a plain bar, or a reporter with ``start(jobs)``,
    ``update(outcome)`` and ``close()`` (the CLI's, emobench.cli.progress)."""
    if hasattr(enabled, "update"):
        enabled.start(todo)
        try:
            for outcome in it:
                enabled.update(outcome)
                yield outcome
        finally:
            enabled.close()
        return
    total = len(todo)
    if not enabled or total == 0:
        yield from it
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]folds"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}")) as bar:
        t = bar.add_task("", total=total)
        for outcome in it:
            bar.update(t, advance=1, description=f"{outcome.status}: {outcome.job.cell}")
            yield outcome


def profile_latency(reg: Registry, cells: list[Cell], store_url: str | None) -> list[str]:
    """Profile every model that has a network on each corpus it ran on, once per
    (model, corpus); returns a message per profile that could not be made.
    Latency is a leaderboard column, never a reason to fail a run."""
    from emobench.model import Model
    from emobench.profiling import profile_model
    from emobench.store import default_url

    store = _store(store_url or default_url())
    # stored inputs read "corpus[shape]"; the corpus is the prefix
    done = {(model, inp.split("[")[0]) for model, inp in store.latest_profiles()}
    problems = []
    for ds_name, model_name in sorted({(c.dataset, c.model) for c in cells}):
        ds, cls = reg.dataset(ds_name), reg.model(model_name)
        if (model_name, ds_name) in done or cls.torch_module is Model.torch_module:
            continue  # already profiled, or no network to time (scikit-learn baselines)
        task = next(ds.task(c.task) for c in cells if (c.dataset, c.model) == (ds_name, model_name))
        try:
            profile_model(cls, modalities=ds.modalities, task=task, store=store, input_name=ds_name)
        except Exception as exc:
            problems.append(f"profiling {model_name} on {ds_name} failed: {type(exc).__name__}: {exc}")
    return problems
