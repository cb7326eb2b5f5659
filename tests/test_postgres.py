"""A real PostgreSQL server as the shared results store and Optuna storage.

Needs ``EMOBENCH_TEST_PG_URL`` (a database the tests may create databases
beside); ``.ci/run`` starts a throwaway server with ``scripts/ci_postgres.sh``
and sets it. Each test works in a fresh database of its own.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa

from emobench.store import Store

from plugin_kit import install_dist

TESTS = Path(__file__).parent
PG_URL = os.environ.get("EMOBENCH_TEST_PG_URL")


def _server_error() -> str | None:
    if not PG_URL:
        return ("no PostgreSQL server: set EMOBENCH_TEST_PG_URL "
                "(.ci/run starts one with scripts/ci_postgres.sh)")
    try:
        with sa.create_engine(PG_URL).connect() as c:
            c.exec_driver_sql("select 1")
    except Exception as exc:
        return f"PostgreSQL at EMOBENCH_TEST_PG_URL does not answer: {type(exc).__name__}: {exc}"
    return None


_SKIP = _server_error()
pytestmark = pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")


@pytest.fixture
def pg_url():
    """A fresh, empty database on the test server, dropped afterwards."""
    name = f"emobench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def kit_env(tmp_path):
    site = install_dist(tmp_path / "site")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(TESTS)]),
            "EMOBENCH_BLOCK_PLUGINS": "sewa,unbc,biovid"}


def _runner(tmp_path, env, url, *extra, model="[ls][il]*"):
    args = [sys.executable, "-m", "emobench", "run", "--dataset", "toy", "--model", model,
            "--profile", "smoke", "--no-latency", "--no-progress", "--store", url,
            "--optuna-storage", url, *extra]
    return subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _studies(url) -> dict[str, int]:
    """Completed trials per Optuna study (one study per fold key)."""
    out = {}
    for s in optuna.get_all_study_summaries(url):
        trials = optuna.load_study(study_name=s.study_name, storage=url).trials
        out[s.study_name] = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    return out


@pytest.mark.slow
def test_two_runners_and_a_dask_cluster_compute_each_fold_once(tmp_path, pg_url, kit_env):
    env = {**kit_env, "EMOBENCH_TEST_SLOW": "0.3"}  # slow enough that the three overlap
    procs = [_runner(tmp_path, env, pg_url), _runner(tmp_path, env, pg_url),
             _runner(tmp_path, env, pg_url, "--scheduler", "local", "--jobs", "2")]
    results = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    rows = Store(pg_url).rows(None)
    # linear x 2 tasks + slow x 1 task, 2 folds each in the smoke profile
    assert len(rows) == 6, [(r["model"], r["task"], r["fold"]) for r in rows]
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in rows), \
        [(r["key"], r["status"], r["attempts"], r["owner"], r["error"]) for r in rows]
    assert len({r["owner"] for r in rows}) >= 2  # the work was really shared
    studies = _studies(pg_url)
    assert set(studies) == {r["key"] for r in rows}
    assert all(studies[r["key"]] == r["n_trials"] for r in rows)  # each study tuned once


@pytest.mark.slow
def test_kill_9_of_one_runner_loses_nothing(tmp_path, pg_url, kit_env):
    env = {**kit_env, "EMOBENCH_TEST_SLOW": "0.5"}
    victim, other = _runner(tmp_path, env, pg_url), _runner(tmp_path, env, pg_url)
    store = Store(pg_url)
    deadline = time.time() + 120
    while time.time() < deadline and not any(r["owner"].split(":")[1] == str(victim.pid)
                                             for r in store.rows("done")):
        assert victim.poll() is None, victim.communicate()
        time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate()
    finished = {r["key"]: r["finished"] for r in store.rows("done")}
    assert finished, "the victim finished no fold before it was killed"
    out, err = other.communicate(timeout=240)
    assert other.returncode == 0, err

    rerun = _runner(tmp_path, env, pg_url)
    out, err = rerun.communicate(timeout=240)
    assert rerun.returncode == 0, err
    rows = store.rows(None)
    assert len(rows) == 6 and all(r["status"] == "done" for r in rows)
    for key, t in finished.items():  # nothing finished before the kill was recomputed
        assert next(r for r in rows if r["key"] == key)["finished"] == t
    with store.engine.connect() as c:
        n, distinct = c.exec_driver_sql("select count(*), count(distinct key) from results").one()
    assert n == distinct == 6
    studies = _studies(pg_url)
    assert all(studies[r["key"]] == r["n_trials"] for r in rows)
