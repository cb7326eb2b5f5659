"""The results database: one row per (cell, fold, seed), behind a URL.

SQLite by default; any SQLAlchemy URL (e.g. PostgreSQL) for several machines.
A fold is *claimed* before it runs (status ``running`` with an owner and a
heartbeat), committed as ``done`` or ``failed`` the moment it ends, and a claim
whose heartbeat is older than ``stale_after`` seconds is taken over, so two
runners on one store neither duplicate nor lose a fold. Failed folds are never
results: they are retried by the next run.

Every fault of the database itself (a file that is not a database, a damaged
page, a full disk, a server that does not answer) is a :class:`StoreError`
naming the store and what is wrong, never a bare driver traceback; transient
contention (a lock held by another writer, a serialisation conflict) is retried.
"""

from __future__ import annotations

import functools
import io
import os
import socket
import sqlite3
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

metadata = sa.MetaData()

results = sa.Table(
    "results", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("dataset", sa.String(100), index=True),
    sa.Column("task", sa.String(100)),
    sa.Column("model", sa.String(100), index=True),
    sa.Column("protocol", sa.String(100)),
    sa.Column("fold", sa.String(200)),
    sa.Column("fold_index", sa.Integer),
    sa.Column("n_folds", sa.Integer),
    sa.Column("pool_folds", sa.Boolean),
    sa.Column("seed", sa.Integer),
    sa.Column("profile", sa.String(20)),
    sa.Column("synthetic", sa.Boolean),
    sa.Column("status", sa.String(10), index=True),  # running | done | failed
    sa.Column("owner", sa.String(200)),
    sa.Column("heartbeat", sa.Float),
    sa.Column("primary_metric", sa.String(30)),
    sa.Column("score", sa.Float),
    sa.Column("metrics", sa.JSON),
    sa.Column("best_params", sa.JSON),
    sa.Column("n_trials", sa.Integer),
    sa.Column("param_count", sa.Integer),
    sa.Column("timings", sa.JSON),
    sa.Column("provenance", sa.JSON),  # versions, protocol version + checksum, commit, machine
    sa.Column("predictions", sa.LargeBinary),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, default=0),
    sa.Column("finished", sa.Float),
    # added later; stores that lack them get them on open (_add_missing_columns)
    sa.Column("identity_key", sa.String(32), index=True),  # the leaderboard entry a row belongs to
    sa.Column("folds_run", sa.Integer),                    # folds of n_folds this run covers
    sa.Column("inputs", sa.JSON),                          # model kind -> dataset modality used
)

profiles = sa.Table(
    "profiles", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(100), index=True),
    sa.Column("input", sa.String(200)),
    sa.Column("backend", sa.String(40)),
    sa.Column("threads", sa.Integer),
    sa.Column("batch", sa.Integer),
    sa.Column("figures", sa.JSON),
    sa.Column("machine", sa.JSON),
    sa.Column("created", sa.Float),
)


def default_url() -> str:
    return "sqlite:///" + str(Path(".emobench") / "results.db")


def pack_predictions(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def unpack_predictions(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


class StoreError(RuntimeError):
    """The results store cannot be opened, read or written; the message names
    the store (password hidden) and the reason."""


# Messages of errors that go away when retried: another writer holds the lock,
# a serialisation conflict, or two processes creating the same schema at once.
TRANSIENT = ("database is locked", "database table is locked", "deadlock detected",
             "could not serialize", "alembic_version", "version_info",
             "pg_type_typname_nsp_index", "already exists")


def is_transient(exc: BaseException) -> bool:
    """True for an error, or an error it was raised from, that a retry can cure."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, (sa.exc.OperationalError, sa.exc.IntegrityError,
                            sa.exc.ProgrammingError, sqlite3.OperationalError)):
            text = str(exc).lower()
            if any(t in text for t in TRANSIENT):
                return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def retry_transient(fn=None, *, attempts: int = 6, delay: float = 0.2):
    """Retry ``fn`` on transient database errors with exponential back-off;
    any other error, or one that persists, propagates."""
    def deco(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            for attempt in range(attempts):
                try:
                    return f(*args, **kwargs)
                except Exception as exc:
                    if attempt == attempts - 1 or not is_transient(exc):
                        raise
                    time.sleep(delay * 2 ** attempt)
        return wrapper
    return deco(fn) if fn is not None else deco


def safe_url(url: str) -> str:
    """The URL as it may be printed: any password replaced by ***."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def describe(exc: BaseException) -> str:
    """What is wrong, in the driver's words without SQLAlchemy's boilerplate."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    hints = {"file is not a database": "the file is not an SQLite database",
             "malformed": "the database file is damaged (malformed)",
             "database or disk is full": "the disk or the database is full",
             "unable to open database file": "the database file cannot be opened"}
    for needle, hint in hints.items():
        if needle in text.lower():
            return f"{hint} ({text})"
    return f"{type(orig).__name__}: {text}"


def _named(action: str):
    """Store methods: transient errors retried, every other database or disk
    error raised as a StoreError naming the store and ``action``."""
    def deco(fn):
        retried = retry_transient(fn)

        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            try:
                return retried(self, *args, **kwargs)
            except StoreError:
                raise
            except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
                what = action.format(key=args[0] if args else "")
                raise StoreError(f"results store {safe_url(self.url)}: {what} failed: "
                                 f"{describe(exc)}") from None
        return wrapper
    return deco


class Store:
    """The results database at ``url``. Opening checks that it is usable
    (for SQLite: ``PRAGMA quick_check``) and raises :class:`StoreError` otherwise."""

    def __init__(self, url: str | None = None, stale_after: float = 600.0):
        self.url = url or default_url()
        self.stale_after = stale_after
        try:
            self._open()
        except StoreError:
            raise
        except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise StoreError(f"results store {safe_url(self.url)} cannot be opened: "
                             f"{describe(exc)}") from None
        except ModuleNotFoundError as exc:
            raise StoreError(f"results store {safe_url(self.url)}: its database driver is not "
                             f"installed ({exc}); for PostgreSQL install psycopg[binary] and use "
                             f"a postgresql+psycopg:// URL") from None

    def _open(self) -> None:
        if self.url.startswith("sqlite:///"):
            path = Path(self.url[len("sqlite:///"):])
            if str(path) not in ("", ":memory:"):
                if path.is_dir():
                    raise StoreError(f"results store {self.url}: {path} is a folder, not a database file")
                path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(self.url, connect_args={"timeout": 60})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            retry_transient(self._quick_check)()
        else:
            self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        retry_transient(metadata.create_all)(self.engine)
        retry_transient(self._add_missing_columns)()

    def _add_missing_columns(self) -> None:
        """Migrate a store written before a column existed: ALTER TABLE ADD COLUMN."""
        have = {c["name"] for c in sa.inspect(self.engine).get_columns("results")}
        missing = [c for c in results.columns if c.name not in have]
        if not missing:
            return
        for col in missing:
            kind = col.type.compile(dialect=self.engine.dialect)
            try:
                with self.engine.begin() as conn:
                    conn.exec_driver_sql(f'ALTER TABLE results ADD COLUMN "{col.name}" {kind}')
            except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
                if "duplicate" not in str(exc).lower() and "already exists" not in str(exc).lower():
                    raise  # another process adding the same column at once is harmless

    def _quick_check(self) -> None:
        # quick_check reads every page (not the index cross-checks of
        # integrity_check), so damage in the middle of the file is found at open,
        # not by the fold that happens to read that page
        with self.engine.connect() as c:
            found = [r[0] for r in c.exec_driver_sql("PRAGMA quick_check(5)")]
        if found != ["ok"]:
            raise StoreError(f"results store {self.url}: the database file is damaged "
                             f"(malformed; quick_check: {'; '.join(found)})")

    # -- claims ------------------------------------------------------------
    @_named("claiming fold {key}")
    def claim(self, key: str, owner: str, row: dict) -> str:
        """Try to take the fold ``key``. Returns ``"claimed"``, ``"done"`` or
        ``"busy"`` (a live claim by another owner)."""
        now = time.time()
        with self.engine.begin() as c:
            cur = c.execute(sa.select(results.c.status, results.c.heartbeat, results.c.owner,
                                      results.c.attempts).where(results.c.key == key)).first()
            if cur is None:
                try:
                    # a savepoint: on PostgreSQL a failed statement would abort the
                    # whole transaction, not just this insert
                    with c.begin_nested():
                        c.execute(results.insert().values(key=key, status="running", owner=owner,
                                                          heartbeat=now, attempts=1, **row))
                    return "claimed"
                except sa.exc.IntegrityError:
                    return "busy"
            if cur.status == "done":
                return "done"
            if (cur.status == "running" and cur.owner != owner and not _owner_dead(cur.owner)
                    and now - (cur.heartbeat or 0) < self.stale_after):
                return "busy"
            # failed, or a stale claim: take it over (compare-and-set on the old heartbeat)
            res = c.execute(results.update().where(results.c.key == key)
                            .where(results.c.status == cur.status)
                            .where(results.c.heartbeat == cur.heartbeat)
                            .values(status="running", owner=owner, heartbeat=now, error=None,
                                    attempts=(cur.attempts or 0) + 1, **row))
            return "claimed" if res.rowcount == 1 else "busy"

    @_named("the heartbeat of fold {key}")
    def heartbeat(self, key: str, owner: str) -> None:
        with self.engine.begin() as c:
            c.execute(results.update().where(results.c.key == key).where(results.c.owner == owner)
                      .values(heartbeat=time.time()))

    def finish(self, key: str, owner: str, **values) -> None:
        """Commit a finished fold (``status='done'``) in one transaction."""
        self._close(key, owner, status="done", **values)

    def fail(self, key: str, owner: str, error: str) -> None:
        self._close(key, owner, status="failed", error=error[:20000])

    @_named("writing the result of fold {key}")
    def _close(self, key, owner, **values):
        with self.engine.begin() as c:
            c.execute(results.update().where(results.c.key == key).where(results.c.owner == owner)
                      .values(finished=time.time(), heartbeat=time.time(), **values))

    @_named("releasing fold {key}")
    def release(self, key: str, owner: str) -> None:
        """Give back a claim without a result (e.g. interrupted by the user)."""
        with self.engine.begin() as c:
            c.execute(results.delete().where(results.c.key == key).where(results.c.owner == owner)
                      .where(results.c.status == "running"))

    # -- reading -------------------------------------------------------------
    @_named("reading the status of fold {key}")
    def status(self, key: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(sa.select(results.c.status).where(results.c.key == key)).scalar()

    @_named("reading the tuning of fold {key}")
    def tuning(self, key: str) -> dict | None:
        """The tuned configuration a finished job recorded (``provenance["tuning"]``)."""
        with self.engine.connect() as c:
            prov = c.execute(sa.select(results.c.provenance).where(results.c.key == key)
                             .where(results.c.status == "done")).scalar()
        return prov.get("tuning") if isinstance(prov, dict) else None

    @_named("reading results")
    def rows(self, status: str | None = "done", with_predictions: bool = False) -> list[dict]:
        cols = [c for c in results.c if with_predictions or c.name != "predictions"]
        q = sa.select(*cols)
        if status:
            q = q.where(results.c.status == status)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q.order_by(results.c.key))]

    @_named("reading the predictions of fold {key}")
    def predictions(self, key: str) -> dict[str, np.ndarray]:
        with self.engine.connect() as c:
            blob = c.execute(sa.select(results.c.predictions).where(results.c.key == key)).scalar()
        return unpack_predictions(blob)

    # -- profiling -------------------------------------------------------------
    @_named("writing a latency profile")
    def add_profile(self, model: str, input: str, backend: str, threads: int, batch: int,
                    figures: dict, machine: dict) -> None:
        with self.engine.begin() as c:
            c.execute(profiles.insert().values(model=model, input=input, backend=backend,
                                               threads=threads, batch=batch, figures=figures,
                                               machine=machine, created=time.time()))

    @_named("reading latency profiles")
    def latest_profiles(self) -> dict[tuple[str, str], dict]:
        """The newest profile row per (model, input)."""
        out: dict[tuple[str, str], dict] = {}
        with self.engine.connect() as c:
            for r in c.execute(sa.select(profiles).order_by(profiles.c.created)):
                out[(r.model, r.input)] = dict(r._mapping)
        return out


def _owner_dead(owner: str | None) -> bool:
    """True when the claim's owner is a process of this host that no longer
    exists (e.g. killed with -9): its claim is taken over without waiting."""
    try:
        host, pid, _ = (owner or "").split(":")
        if host != socket.gethostname():
            return False
        os.kill(int(pid), 0)
        return False
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError):
        return False


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()

