"""Faults of the results store, the Optuna storage and the array cache: each one
is named (store URL, what is wrong), transient ones are retried, and a full
disk never loses a finished fold or fails a fold over a cache write."""

import errno
import multiprocessing as mp
import os
import sqlite3
import warnings

import numpy as np
import optuna
import pytest
import sqlalchemy as sa

from emobench import tuning
from emobench.media.cache import ArrayCache
from emobench.store import Store, StoreError, is_transient, retry_transient

OWNER = "testhost:1:abc"


def _fill(store, n, blob=20000, start=0):
    for i in range(start, start + n):
        assert store.claim(f"k{i}", OWNER, {"dataset": "d"}) == "claimed"
        store.finish(f"k{i}", OWNER, score=float(i), predictions=os.urandom(blob))


def _checkpoint(path):
    """Fold the WAL into the main file, so byte damage hits real pages."""
    c = sqlite3.connect(path)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()


# -- opening ---------------------------------------------------------------------

def test_garbage_file_is_named_not_a_database(tmp_path):
    db = tmp_path / "results.db"
    db.write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(StoreError) as e:
        Store(f"sqlite:///{db}")
    msg = str(e.value)
    assert str(db) in msg and "not an SQLite database" in msg
    assert "Traceback" not in msg and len(msg) < 300


def test_damaged_middle_page_is_found_at_open(tmp_path):
    db = tmp_path / "results.db"
    store = Store(f"sqlite:///{db}")
    _fill(store, 30)
    store.engine.dispose()
    _checkpoint(db)
    data = bytearray(db.read_bytes())
    pages = len(data) // 4096
    assert pages > 20
    mid = pages // 2 * 4096
    data[mid:mid + 4096] = np.random.default_rng(1).bytes(4096)
    db.write_bytes(bytes(data))
    # the header and the results table's root page are intact: the damage is
    # only visible to a check that reads every page
    assert sqlite3.connect(db).execute("select count(*) from sqlite_master").fetchone()[0] > 0
    with pytest.raises(StoreError) as e:
        Store(f"sqlite:///{db}")
    assert str(db) in str(e.value) and "malformed" in str(e.value)


def test_a_folder_in_place_of_the_database_is_named(tmp_path):
    (tmp_path / "results.db").mkdir()
    with pytest.raises(StoreError, match="is a folder"):
        Store(f"sqlite:///{tmp_path}/results.db")


def test_an_unreachable_server_is_named_without_its_password():
    with pytest.raises(StoreError) as e:
        Store("postgresql+psycopg://bench:s3cret@127.0.0.1:9/emobench?connect_timeout=2")
    msg = str(e.value)
    assert "127.0.0.1:9/emobench" in msg and "s3cret" not in msg and "***" in msg


# -- a full disk ---------------------------------------------------------------------

def test_full_database_raises_store_error_and_keeps_finished_folds(tmp_path):
    db = tmp_path / "results.db"
    store = Store(f"sqlite:///{db}")
    _fill(store, 2)
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    # every new connection of this engine may not grow the file any further:
    # SQLite then fails the write exactly as on a full disk (SQLITE_FULL)
    sa.event.listen(store.engine, "connect",
                    lambda conn, _: conn.execute(f"PRAGMA max_page_count={pages + 1}"))
    store.engine.dispose()
    with pytest.raises(StoreError) as e:
        _fill(store, 5, start=2)
    msg = str(e.value)
    assert str(db) in msg and "full" in msg and "writing the result of fold" in msg
    again = Store(f"sqlite:///{db}")  # reopens cleanly: quick_check passes
    done = {r["key"]: r["score"] for r in again.rows("done")}
    assert done == {"k0": 0.0, "k1": 1.0}
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- transient errors ------------------------------------------------------------------

def test_transient_errors_are_told_apart_from_real_ones():
    locked = sa.exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    full = sa.exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("database or disk is full"))
    race = sa.exc.IntegrityError("INSERT INTO alembic_version", {}, Exception("UNIQUE constraint failed: alembic_version.version_num"))
    wrapped = optuna.exceptions.StorageInternalError("commit failed")
    wrapped.__cause__ = locked
    assert is_transient(locked) and is_transient(race) and is_transient(wrapped)
    assert not is_transient(full) and not is_transient(ValueError("database is locked"))


def test_a_held_lock_is_waited_out(tmp_path):
    db = tmp_path / "results.db"
    store = Store(f"sqlite:///{db}")
    calls = []

    @retry_transient(delay=0.01)
    def write():
        calls.append(1)
        if len(calls) < 3:
            raise sa.exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
        return store.claim("k", OWNER, {"dataset": "d"})

    assert write() == "claimed" and len(calls) == 3


# -- Optuna storage -------------------------------------------------------------------------

def test_no_url_means_an_in_memory_study():
    assert tuning.storage_for(None) is None and tuning.storage_for("") is None


def test_a_shared_storage_is_opened_once_per_process(tmp_path):
    url = f"sqlite:///{tmp_path}/optuna.db"
    tuning.prepare_storage(url)
    first = tuning.storage_for(url)
    assert tuning.storage_for(url) is first
    optuna.create_study(study_name="s", storage=first).optimize(lambda t: t.suggest_float("x", 0, 1),
                                                                n_trials=2)
    assert len(optuna.load_study(study_name="s", storage=url).trials) == 2


def _open_fresh_storage(url, barrier, errors):
    barrier.wait()
    try:
        storage = tuning.storage_for(url)
        optuna.create_study(study_name=f"s{os.getpid()}", storage=storage).optimize(
            lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    except Exception as exc:  # the whole chain: Optuna's own message hides the database's
        chain = []
        while exc is not None and len(chain) < 5:
            chain.append(f"{type(exc).__name__}: {exc}")
            exc = exc.__cause__ or exc.__context__
        errors.put(" <- ".join(chain))


def test_workers_opening_a_fresh_storage_at_once_do_not_fail(tmp_path):
    # issue 15: IntegrityError on alembic_version in 3 of 4 tries with --jobs 2
    url = f"sqlite:///{tmp_path}/optuna.db"
    ctx = mp.get_context("fork")
    barrier, errors = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_fresh_storage, args=(url, barrier, errors)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    found = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert found == [] and all(p.exitcode == 0 for p in procs)
    assert len(optuna.get_all_study_names(url)) == 4


def test_a_half_made_schema_is_completed_not_used(tmp_path):
    # SQLite creates Optuna's tables one at a time: a worker arriving between two
    # of them saw ``studies`` and failed later on a table not made yet
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    url = f"sqlite:///{tmp_path}/optuna.db"
    engine = sa.create_engine(url)
    tables = models.BaseModel.metadata.sorted_tables  # in the order create_all makes them
    made = [t for t in tables if not t.name.startswith("trial")]
    models.BaseModel.metadata.create_all(engine, tables=made)
    engine.dispose()
    storage = tuning.storage_for(url)
    optuna.create_study(study_name="s", storage=storage).optimize(lambda t: t.suggest_float("x", 0, 1),
                                                                n_trials=2)
    assert len(optuna.load_study(study_name="s", storage=url).trials) == 2


def test_an_unusable_optuna_storage_is_named(tmp_path):
    bad = tmp_path / "optuna.db"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(tuning.OptunaStorageError) as e:
        tuning.prepare_storage(f"sqlite:///{bad}")
    assert str(bad) in str(e.value) and "not an SQLite database" in str(e.value)


# -- the array cache on a full disk -----------------------------------------------------------

class _FullDisk:
    def __init__(self, fd):
        os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_cache_that_cannot_be_written_warns_once_and_runs_uncached(tmp_path, monkeypatch):
    cache = ArrayCache(tmp_path / "arrays")
    monkeypatch.setattr("emobench.media.cache.os.fdopen", lambda fd, mode: _FullDisk(fd))
    computed = []

    def compute(i):
        computed.append(i)
        return {"x": np.full(3, i)}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = [cache.get_or_compute(f"key{i}", lambda i=i: compute(i))["x"] for i in range(3)]
    assert [a.tolist() for a in out] == [[0, 0, 0], [1, 1, 1], [2, 2, 2]] and computed == [0, 1, 2]
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages
    assert str(tmp_path / "arrays") in messages[0] and "No space left on device" in messages[0]
    assert cache.stats()["writes"] == 0
    assert not [p for p in (tmp_path / "arrays").rglob("*") if p.is_file()]  # no temp file left
    monkeypatch.undo()  # the disk has room again: the next miss is stored
    cache.get_or_compute("key0", lambda: compute(0))
    assert cache.stats()["writes"] == 1 and "key0" in cache


def test_a_model_trained_in_stages_reports_every_stage_to_the_pruner(tmp_path, recwarn):
    # the AV agent counts epochs from 0 in each stage; Optuna dropped the later
    # stages' reports (step already reported) with a warning per report
    from emobench.data import Task
    from emobench.model import FitContext
    from plugin_kit import Slow

    class Staged(Slow):
        name = "staged"

        def fit(self, train, valid, ctx):
            for stage in range(2):
                for epoch in range(3):
                    ctx.report(epoch, 0.1 * (3 * stage + epoch))
            return self

        def predict(self, samples):
            return [0.0 for _ in samples]

    url = f"sqlite:///{tmp_path}/optuna.db"
    ctx = FitContext(task=Task("t", "regression"), modalities={}, profile="smoke", seed=0,
                     score=lambda s, p: 0.0)
    tuning.tune(Staged, [], [], ctx, trials=1, seed=0, storage=tuning.storage_for(url), study_name="s")
    (trial,) = optuna.load_study(study_name="s", storage=url).trials
    assert sorted(trial.intermediate_values) == list(range(6))
    assert trial.intermediate_values[5] == pytest.approx(0.5)
    assert not [w for w in recwarn if "already reported" in str(w.message)]
