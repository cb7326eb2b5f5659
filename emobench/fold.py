"""The worker: one job = one (cell, fold, training seed) -> one stored row.

:func:`execute` claims the job in the store, tunes the model on the fold's
train/validation split, predicts the test split once (through views that
withhold the labels), scores it and commits the row before returning. A fold
interrupted by SIGINT/SIGTERM is released (neither done nor failed), even when
a library swallowed the ``KeyboardInterrupt`` (see :mod:`emobench.interrupts`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
import uuid
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from emobench import interrupts, online, provenance
from emobench.data import Sample, Task, group_columns
from emobench.dataset import read_standin_marker
from emobench.jobs import Job
from emobench.media import content_key
from emobench.model import FitContext, pick_device
from emobench.plugins import registry
from emobench.protocols import check_fold, fold_checksum, for_version
from emobench.store import Store, StoreError, pack_predictions
from emobench.tuning import TuningResult, storage_for, tune
from emobench.validate import LabelProblem, exclude_invalid_labels


@dataclass
class Outcome:
    job: Job
    status: str          # done | reused | failed | busy | interrupted
    seconds: float = 0.0
    message: str = ""
    io: dict = field(default_factory=dict)  # media decoded and cache use inside the job


_RECORDINGS: dict[tuple[str, str], tuple[list, list[LabelProblem]]] = {}


def load_checked(ds, root: Path) -> tuple[list, list[LabelProblem]]:
    """A corpus's recordings, read and label-checked once per process, with the
    labels the check excluded (emobench.validate: the recording leaves that task)."""
    k = (ds.name, str(root))
    if k not in _RECORDINGS:
        recs = ds.load(Path(root))
        ids = [r.id for r in recs]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"dataset {ds.name!r}: duplicate recording ids {dup}")
        if not recs:
            raise ValueError(f"dataset {ds.name!r}: no recordings found under {root}")
        _RECORDINGS[k] = (recs, exclude_invalid_labels(ds.name, ds.tasks, recs))
    return _RECORDINGS[k]


def load_recordings(ds, root: Path) -> list:
    """A corpus's recordings, read once per process (invalid labels excluded)."""
    return load_checked(ds, root)[0]


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def oriented_scorer(task: Task):
    from emobench.metrics import get_metric

    metric = get_metric(task.primary_metric)
    sign = 1.0 if metric.greater_is_better else -1.0

    def score(samples, preds) -> float:
        # every trial ends in a validation score: the safe point to notice an
        # interrupt that the model's library swallowed
        interrupts.check()
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


def store_for(url: str) -> Store:
    if url not in _STORES:
        _STORES[url] = Store(url)
    return _STORES[url]


def _io_counters() -> dict:
    from emobench.media import default_cache, video_stats

    from emobench.media.audio import audio_stats

    return {**video_stats(), **audio_stats(), **default_cache().stats()}


def execute(job: Job) -> Outcome:
    """Run one job and commit its row. Never raises for a bad fold (the failure
    is recorded with its message) nor for an interrupt (the claim is released and
    the outcome says ``interrupted``)."""
    interrupts.install()  # in a pool worker; a no-op in the driver, which installed them
    if interrupts.received():  # this worker was interrupted: take no further job
        return Outcome(job, "interrupted")
    before = _io_counters()
    outcome = _execute(job)
    after = _io_counters()
    outcome.io = {k: after[k] - before.get(k, 0) for k in after}
    return outcome


def _execute(job: Job) -> Outcome:
    t0 = time.time()
    store = store_for(job.store_url)
    owner = owner_id()
    c = job.cell
    row = dict(dataset=c.dataset, task=c.task, model=c.model, protocol=c.protocol, fold=job.fold_name,
               fold_index=job.fold_index, n_folds=job.n_folds, folds_run=job.folds_run,
               pool_folds=job.pool_folds, seed=job.seed, profile=job.profile, synthetic=job.synthetic,
               identity_key=job.identity_key, inputs=job.inputs)
    state = store.claim(job.key, owner, row)
    if state == "done":
        return Outcome(job, "reused")
    if state == "busy":
        return Outcome(job, "busy")
    beat = _Heartbeat(store, job.key, owner)
    beat.start()
    try:
        values = _run_fold(job)
        interrupts.check()  # never commit a fold trained through a swallowed interrupt
        store.finish(job.key, owner, **values)
        return Outcome(job, "done", time.time() - t0)
    except KeyboardInterrupt:
        store.release(job.key, owner)
        return Outcome(job, "interrupted", time.time() - t0)
    except StoreError:
        raise  # the store itself failed (full disk, lost server): stop the run, not this fold
    except Exception as exc:
        if interrupts.received():  # a library turned the interrupt into an error
            store.release(job.key, owner)
            return Outcome(job, "interrupted", time.time() - t0)
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
    proto = for_version(reg.protocol(c.protocol), job.protocol_version)
    recordings, excluded = load_checked(ds, Path(job.root))
    folds = proto.folds(recordings, job.split_seed)
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
                     device=pick_device(), score=score, options={"knobs": dict(job.knobs)},
                     pretraining=tuple(getattr(job, "pretraining", ()) or ()))
    t0 = time.time()
    # Folds that differ only in their test set (one per culture, say) share the
    # tuned model: tuning never sees the test split, so re-tuning would only repeat it.
    tuned_key = content_key(c.dataset, c.task, c.model, model_cls.version, job.fingerprint,
                            job.profile, job.trials, job.seed, bool(job.tuned_by), sorted(fold.train),
                            sorted(fold.valid), dict(job.knobs), [p.identity() for p in ctx.pretraining])
    if _TUNED.get("key") == tuned_key:
        result, tuning = _TUNED["result"], _TUNED["tuning"]
    else:
        _TUNED.clear()
        result, tuning = _tuned(job, model_cls, train, valid, ctx)
        interrupts.check()  # a swallowed interrupt in the last trial must not be cached
        _TUNED.update(key=tuned_key, result=result, tuning=tuning)
    t_tune = time.time() - t0
    t1 = time.time()
    preds = result.model.predict([s.without_labels() for s in test])
    t_pred = time.time() - t1
    try:
        y_true, y_pred, subj, item = flatten(task, test, preds)
    except ValueError as exc:
        raise ValueError(f"model {c.model!r} on the test split: {exc}") from None
    metrics = compute_metrics(task, y_true, y_pred)
    from emobench.metrics import sequence_metrics  # per-sequence CCC (frame-level regression)
    metrics.update(sequence_metrics(task, y_true, y_pred, item))
    for r in recordings:
        r.forget()
    marker = read_standin_marker(Path(job.root)) or {}
    return dict(
        primary_metric=task.primary_metric, score=metrics[task.primary_metric], metrics=metrics,
        best_params=_jsonable({**result.params, **result.model.resolved_params()}),
        n_trials=result.n_trials, param_count=_param_count(model_cls, ds, task, result.model),
        timings={"tune_s": round(t_tune, 3), "predict_s": round(t_pred, 3),
                 "trials_pruned": result.n_pruned, "trials_failed": result.n_failed},
        provenance={"versions": provenance.versions(), "commit": provenance.git_commit(),
                    "machine": provenance.machine(), "protocol_version": job.protocol_version,
                    "fold_checksum": job.fold_checksum, "dataset_version": ds.version,
                    "data": job.fingerprint, "model_version": model_cls.version,
                    "identity": job.identity, "identity_key": job.identity_key,
                    "seed": job.seed, "seeds": job.identity.get("seeds", [job.seed]),
                    "tuning": tuning,
                    "split_seed": job.split_seed,
                    "deterministic": bool(getattr(model_cls, "deterministic", False)),
                    "folds": {"run": job.folds_run, "total": job.n_folds}, "inputs": job.inputs,
                    "excluded_labels": [str(p) for p in excluded if p.task == task.name][:20],
                    **job.run_info,
                    "n_train": len(train), "n_valid": len(valid), "n_test": len(test),
                    "ceiling": (marker.get("ceilings") or {}).get(task.name, {}),
                    "scale": marker.get("scale")},
        predictions=pack_predictions(y_true=y_true, y_pred=y_pred, subject=subj, item=item,
                                     **group_columns(test),  # per-group leaderboard tables
                                     **online.fold_arrays(result.model, test, task, c.dataset)),
    )


def _tuned(job: Job, model_cls, train, valid, ctx: FitContext):
    """The fold's model for this job and how it was configured: tuned here (the
    fold's first seed), or the first seed's tuned configuration trained once with
    this job's seed (``Job.tuned_by``), read from the store; when that job has not
    finished (it failed, or runs elsewhere) it is tuned again here as it would
    tune (its seed, its trials: the same configuration)."""
    space = set(model_cls.search_space(ctx.profile))

    def record(r, seed):
        return {"params": _jsonable({k: v for k, v in r.params.items() if k in space}),
                "trials": r.n_trials, "seed": seed, "value": float(r.value)}

    if not job.tuned_by:
        r = tune(model_cls, train, valid, ctx, trials=job.trials, seed=job.seed,
                 storage=storage_for(job.optuna_url), study_name=job.key)
        return r, record(r, job.seed)
    rec = store_for(job.store_url).tuning(job.tuned_by)
    source = "stored"
    if not rec or not isinstance(rec.get("params"), dict):
        first = (job.identity.get("seeds") or [job.seed])[0]
        rec = record(tune(model_cls, train, valid, replace(ctx, seed=first), trials=job.trials,
                          seed=first), first)
        source = "tuned again"
    model = model_cls(**rec["params"])
    model.fit(train, valid, ctx)  # ctx.seed: this job's training seed
    result = TuningResult(model, {**model_cls.default_params(), **rec["params"]}, float("nan"),
                          int(rec.get("trials") or 0), 0, 0)
    return result, {**rec, "tuned_by": job.tuned_by, "source": source}


def _param_count(model_cls, ds, task, fitted=None):
    """Parameters of the network the row trained when the model exposes it, else the
    model's declared count."""
    try:
        built = fitted.torch_module(ds.modalities, task) if fitted is not None else None
        net = built[0] if built is not None else getattr(fitted, "net_", None)
        if callable(getattr(net, "parameters", None)):  # the trained network (net_, by convention)
            return int(sum(p.numel() for p in net.parameters()))
    except Exception:
        pass
    try:
        n = model_cls.param_count(ds.modalities, task)
        return int(n) if n is not None else None
    except Exception:
        return None


def _jsonable(d: dict) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in d.items()}
