"""Optuna tuning: one study per (cell, fold), the same trial budget for every model.

The paper's hyper-parameters are enqueued as the first trial, then the model's
declared starting points (``Model.starting_points``; they go first when the
trial budget cannot hold them and the paper's setting); the rest come from a seeded
TPE sampler over the model's declared search space. Models report
per-epoch validation scores through ``FitContext.report``; a median pruner
stops hopeless trials. A trial's value is ``ctx.score(valid, predict(valid))``,
or the model's own out-of-sample validation score ``tuning_score_`` when it
fitted part of itself on the validation split (docs/plugins.md). Only the
validation split is scored here: the best trial's fitted model is kept in
memory and predicts the test split once, afterwards, in the runner. A fold
is tuned once, on its first training seed; the other seeds train the tuned
configuration (emobench.fold).
"""

from __future__ import annotations

import fcntl
import math
from contextlib import contextmanager
from dataclasses import dataclass, replace

import optuna
import optuna.distributions as D

from emobench.layouts import DataError
from emobench.model import FitContext, Model
from emobench.store import StoreError, describe, retry_transient, safe_url

# failed trials are reported by the runner's summary, with the model named
optuna.logging.set_verbosity(optuna.logging.ERROR)
# Trial n of a study tuned with seed s trains with seed s + TRIAL_SEED_STEP x n: the
# fold's other training seeds (s + 1, s + 2, ...) then never repeat a tuning trial.
TRIAL_SEED_STEP = 7919


class TuningError(RuntimeError):
    """No trial of a study produced a usable validation score."""


@dataclass
class TuningResult:
    model: Model
    params: dict
    value: float
    n_trials: int
    n_pruned: int
    n_failed: int


def suggest(trial: optuna.Trial, name: str, dist: D.BaseDistribution):
    if isinstance(dist, D.FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, D.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, D.CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    raise TypeError(f"unsupported distribution for {name!r}: {dist!r}")


# -- storage ------------------------------------------------------------------------
# A fold's study lives in memory unless a shared storage URL was asked for:
# rebuilding an SQLite RDBStorage for every fold cost 0.27-0.45 s, more than a
# cheap cell's fitting. A shared storage is opened once per process and its
# calls retry transient errors (a locked SQLite file, a serialisation conflict
# on PostgreSQL, two processes creating the schema at once).


class OptunaStorageError(StoreError):
    """The Optuna storage cannot be opened; the message names its URL. A
    StoreError, so the command line reports it like a results-store fault."""


class _RetryingRDBStorage(optuna.storages.RDBStorage):
    """RDBStorage whose every call retries transient database errors."""


for _name, _fn in list(vars(optuna.storages.RDBStorage).items()):
    if callable(_fn) and not _name.startswith("_"):
        setattr(_RetryingRDBStorage, _name, retry_transient(_fn))

_OPEN: dict[str, optuna.storages.RDBStorage] = {}


def _open(url: str, *, create: bool) -> optuna.storages.RDBStorage:
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        return retry_transient(_RetryingRDBStorage)(
            url, engine_kwargs=kwargs, skip_table_creation=not create,
            skip_compatibility_check=not create)
    except Exception as exc:
        raise OptunaStorageError(f"Optuna storage {safe_url(url)} cannot be opened: "
                                 f"{describe(exc)}") from None


def prepare_storage(url: str | None) -> None:
    """Create the Optuna schema of a shared storage once, in the driver, before
    any worker starts (workers creating it at once race on ``alembic_version``).
    Nothing to do for ``None`` (each fold's study in memory)."""
    if url:
        with _schema_lock(url):
            _open(url, create=True).engine.dispose()


def _schema_complete(url: str) -> bool:
    """Every Optuna table is there and the schema is stamped, which is the last
    step of its creation. SQLite creates tables one by one outside a
    transaction, so a worker that only asked whether ``studies`` exists could
    start on a half-made schema and fail on a table not there yet."""
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            if not set(models.BaseModel.metadata.tables) <= names or "alembic_version" not in names:
                return False
            return conn.execute(sa.text("SELECT COUNT(*) FROM alembic_version")).scalar() > 0
    except Exception:
        return False
    finally:
        engine.dispose()


@contextmanager
def _schema_lock(url: str):
    """Processes creating an SQLite schema take turns, by a lock file beside
    the database; other databases create theirs in one transaction and a
    collision is retried."""
    import sqlalchemy as sa

    database = sa.engine.make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.schema-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def storage_for(url: str | None):
    """The storage for a fold's study: ``None`` (in memory) without a URL, else
    this process's one retrying RDBStorage for ``url``. The schema is created
    here too when :func:`prepare_storage` was not called (a worker on its own)."""
    if not url:
        return None
    if url not in _OPEN:
        if _schema_complete(url):
            _OPEN[url] = _open(url, create=False)
        else:
            with _schema_lock(url):
                _OPEN[url] = _open(url, create=True)
    return _OPEN[url]


def tune(model_cls: type[Model], train, valid, ctx: FitContext, *, trials: int, seed: int,
         storage=None, study_name: str | None = None) -> TuningResult:
    space = model_cls.search_space(ctx.profile)
    # A model with nothing to tune gets one trial: repeating it would only re-fit.
    n_trials = trials if space else 1
    if storage is not None and study_name:
        try:
            optuna.delete_study(study_name=study_name, storage=storage)
        except KeyError:
            pass
    study = optuna.create_study(
        study_name=study_name, storage=storage, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, n_trials // 3)),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=3))
    paper = {k: v for k, v in model_cls.default_params().items() if k in space}
    points = [{k: v for k, v in p.items() if k in space} for p in model_cls.starting_points(ctx.profile)]
    # Starting points are the settings that work in this profile's budget where the
    # paper's does not: when the trials cannot hold the paper's setting and every
    # starting point, the starting points go first.
    queue = ([paper] if paper else []) + points
    if len(queue) > n_trials and points:
        queue = points + ([paper] if paper else [])
    for point in queue[:n_trials]:
        study.enqueue_trial(point)

    best: dict = {"model": None, "value": -math.inf}
    errors: list[str] = []

    def objective(trial: optuna.Trial) -> float:
        params = {name: suggest(trial, name, dist) for name, dist in space.items()}

        last = [-1]

        def report(step: int, value: float) -> None:
            # a model trained in stages (the AV agent's branches, then its policy)
            # counts its epochs again from 0 in each; Optuna ignores a step it has
            # seen (with a warning), so a later stage's reports go on after the last
            step = max(int(step), last[0] + 1)
            last[0] = step
            if math.isfinite(value):
                trial.report(value, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()

        model = model_cls(**params)
        try:
            model.fit(train, valid, replace(ctx, report=report, seed=seed + TRIAL_SEED_STEP * trial.number))
            # a model that fitted part of itself on the validation split (a
            # post-processing chain) gives its out-of-sample validation score
            honest = getattr(model, "tuning_score_", None)
            value = ctx.score(valid, model.predict(valid)) if honest is None else float(honest)
        except optuna.TrialPruned:
            raise
        except DataError as exc:  # the data is bad, not the model: stop, never retry per trial
            data_error.append(exc)
            trial.study.stop()
            raise
        except Exception as exc:
            errors.append(f"trial {trial.number} ({params}): {type(exc).__name__}: {exc}")
            raise
        if not math.isfinite(value):
            errors.append(f"trial {trial.number} ({params}): validation score is {value}")
            return float("nan")
        if value > best["value"]:
            best.update(model=model, value=value, params=params)
        return value

    data_error: list[DataError] = []
    study.optimize(objective, n_trials=n_trials, catch=(Exception,), gc_after_trial=False)
    if data_error:
        raise data_error[0]
    states = [t.state for t in study.trials]
    if best["model"] is None:
        detail = errors[-1] if errors else "every trial was pruned"
        raise TuningError(f"model {model_cls.name!r}: no trial produced a finite validation "
                          f"score ({len(states)} trials); last error: {detail}")
    return TuningResult(best["model"], {**model_cls.default_params(), **best["params"]},
                        best["value"], len(states),
                        sum(s == optuna.trial.TrialState.PRUNED for s in states),
                        sum(s == optuna.trial.TrialState.FAIL for s in states))
