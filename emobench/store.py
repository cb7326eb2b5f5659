"""The results database: one row per (cell, fold, seed), behind a URL.

SQLite by default; any SQLAlchemy URL (e.g. PostgreSQL) for several machines.
A fold is *claimed* before it runs (status ``running`` with an owner and a
heartbeat), committed as ``done`` or ``failed`` the moment it ends, and a claim
whose heartbeat is older than ``stale_after`` seconds is taken over, so two
runners on one store neither duplicate nor lose a fold. Failed folds are never
results: they are retried by the next run.
"""

from __future__ import annotations

import functools
import io
import os
import socket
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


def _retry_locked(fn):
    """Retry a write when SQLite reports a transient lock (several processes
    committing at once); any other error, or a lock that persists, propagates."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for attempt in range(6):
            try:
                return fn(*args, **kwargs)
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 5:
                    raise
                time.sleep(0.2 * 2 ** attempt)
    return wrapper


class Store:
    def __init__(self, url: str | None = None, stale_after: float = 600.0):
        self.url = url or default_url()
        self.stale_after = stale_after
        if self.url.startswith("sqlite:///"):
            path = Path(self.url[len("sqlite:///"):])
            if str(path) not in ("", ":memory:"):
                path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(self.url, connect_args={"timeout": 60})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        self._create_tables()

    def _create_tables(self) -> None:
        # create_all checks, then creates: two processes opening a new store at
        # once can both see "missing"; the loser's "already exists" is harmless.
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                return
            except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
                if "already exists" not in str(exc) or attempt == 2:
                    raise

    # -- claims ------------------------------------------------------------
    @_retry_locked
    def claim(self, key: str, owner: str, row: dict) -> str:
        """Try to take the fold ``key``. Returns ``"claimed"``, ``"done"`` or
        ``"busy"`` (a live claim by another owner)."""
        now = time.time()
        with self.engine.begin() as c:
            cur = c.execute(sa.select(results.c.status, results.c.heartbeat, results.c.owner,
                                      results.c.attempts).where(results.c.key == key)).first()
            if cur is None:
                try:
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

    @_retry_locked
    def heartbeat(self, key: str, owner: str) -> None:
        with self.engine.begin() as c:
            c.execute(results.update().where(results.c.key == key).where(results.c.owner == owner)
                      .values(heartbeat=time.time()))

    def finish(self, key: str, owner: str, **values) -> None:
        """Commit a finished fold (``status='done'``) in one transaction."""
        self._close(key, owner, status="done", **values)

    def fail(self, key: str, owner: str, error: str) -> None:
        self._close(key, owner, status="failed", error=error[:20000])

    @_retry_locked
    def _close(self, key, owner, **values):
        with self.engine.begin() as c:
            c.execute(results.update().where(results.c.key == key).where(results.c.owner == owner)
                      .values(finished=time.time(), heartbeat=time.time(), **values))

    @_retry_locked
    def release(self, key: str, owner: str) -> None:
        """Give back a claim without a result (e.g. interrupted by the user)."""
        with self.engine.begin() as c:
            c.execute(results.delete().where(results.c.key == key).where(results.c.owner == owner)
                      .where(results.c.status == "running"))

    # -- reading -------------------------------------------------------------
    def status(self, key: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(sa.select(results.c.status).where(results.c.key == key)).scalar()

    def rows(self, status: str | None = "done", with_predictions: bool = False) -> list[dict]:
        cols = [c for c in results.c if with_predictions or c.name != "predictions"]
        q = sa.select(*cols)
        if status:
            q = q.where(results.c.status == status)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q.order_by(results.c.key))]

    def predictions(self, key: str) -> dict[str, np.ndarray]:
        with self.engine.connect() as c:
            blob = c.execute(sa.select(results.c.predictions).where(results.c.key == key)).scalar()
        return unpack_predictions(blob)

    # -- profiling -------------------------------------------------------------
    @_retry_locked
    def add_profile(self, model: str, input: str, backend: str, threads: int, batch: int,
                    figures: dict, machine: dict) -> None:
        with self.engine.begin() as c:
            c.execute(profiles.insert().values(model=model, input=input, backend=backend,
                                               threads=threads, batch=batch, figures=figures,
                                               machine=machine, created=time.time()))

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

