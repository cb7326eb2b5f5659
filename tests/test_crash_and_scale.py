"""Crash safety and distributed execution, end to end with real processes."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emobench.store import Store

from conftest import run_cli
from plugin_kit import install_dist

TESTS = Path(__file__).parent


@pytest.fixture
def kit_env(tmp_path):
    site = install_dist(tmp_path / "site")
    return {"PYTHONPATH": os.pathsep.join([str(site), str(TESTS)]),
            "EMOBENCH_BLOCK_PLUGINS": "sewa,unbc,biovid"}


def leaderboard_tables(tmp_path, db, env) -> str:
    out = tmp_path / f"lb-{Path(db).stem}"
    run_cli("leaderboard", "--store", f"sqlite:///{db}", "--out", str(out), cwd=tmp_path, env_extra=env)
    text = (out / "README.md").read_text()
    return text.split("\n---\n")[0]  # the footer holds the date and commit


def test_kill_9_then_rerun_completes_without_recomputing(tmp_path, kit_env):
    env = {**os.environ, **kit_env, "EMOBENCH_TEST_SLOW": "0.7"}
    args = [sys.executable, "-m", "emobench", "run", "--dataset", "toy", "--model", "slow",
            "--profile", "default", "--seeds", "1", "--no-latency", "--no-progress"]
    killed_db = tmp_path / "killed.db"
    proc = subprocess.Popen(args + ["--store", f"sqlite:///{killed_db}"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    done_before = []
    while time.time() < deadline and proc.poll() is None:
        if killed_db.exists():
            done_before = Store(f"sqlite:///{killed_db}").rows("done")
            if done_before:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed; slow it down"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 1 <= len(done_before) < 3
    finished_at = {r["key"]: r["finished"] for r in Store(f"sqlite:///{killed_db}").rows("done")}

    rerun = run_cli(*args[3:], "--store", f"sqlite:///{killed_db}", cwd=tmp_path, env_extra=env)
    last = rerun.stdout.strip().splitlines()[-1]
    assert f"{3 - len(finished_at)} folds run, {len(finished_at)} reused, 0 failed" in last
    rows = Store(f"sqlite:///{killed_db}").rows(None)
    assert len(rows) == 3 and all(r["status"] == "done" for r in rows)
    for key, t in finished_at.items():  # finished folds were not recomputed
        assert next(r for r in rows if r["key"] == key)["finished"] == t
    n, distinct = sqlite3.connect(killed_db).execute(
        "select count(*), count(distinct key) from results").fetchone()
    assert n == distinct == 3

    clean_db = tmp_path / "clean.db"
    run_cli(*args[3:], "--store", f"sqlite:///{clean_db}", cwd=tmp_path, env_extra=env)
    assert leaderboard_tables(tmp_path, killed_db, kit_env) == leaderboard_tables(tmp_path, clean_db, kit_env)


def test_dask_local_cluster_gives_the_same_results_as_the_local_executor(tmp_path, kit_env):
    common = ["run", "--dataset", "toy", "--model", "[ls][il]*", "--profile", "smoke", "--no-latency",
              "--no-progress"]
    run_cli(*common, "--store", f"sqlite:///{tmp_path}/local.db", cwd=tmp_path, env_extra=kit_env)
    out = run_cli(*common, "--store", f"sqlite:///{tmp_path}/dask.db", "--scheduler", "local",
                  "--jobs", "2", cwd=tmp_path, env_extra=kit_env)
    assert "0 failed" in out.stdout.strip().splitlines()[-1]
    local = {r["key"]: r for r in Store(f"sqlite:///{tmp_path}/local.db").rows()}
    dask = {r["key"]: r for r in Store(f"sqlite:///{tmp_path}/dask.db").rows()}
    assert local.keys() == dask.keys() and len(local) == 6  # linear x 2 tasks + slow x 1 task, 2 folds
    for k in local:
        assert local[k]["metrics"] == pytest.approx(dask[k]["metrics"])
        assert local[k]["best_params"] == pytest.approx(dask[k]["best_params"])
    assert leaderboard_tables(tmp_path, tmp_path / "local.db", kit_env) == \
        leaderboard_tables(tmp_path, tmp_path / "dask.db", kit_env)


def test_two_runners_on_one_store_neither_duplicate_nor_lose_a_fold(tmp_path, kit_env):
    env = {**os.environ, **kit_env, "EMOBENCH_TEST_SLOW": "0.3"}
    db = tmp_path / "shared.db"
    args = [sys.executable, "-m", "emobench", "run", "--dataset", "toy", "--model", "slow",
            "--profile", "default", "--seeds", "1", "--no-latency", "--no-progress", "--store", f"sqlite:///{db}"]
    procs = [subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    ran = sum(int(o.strip().splitlines()[-1].split(" folds run")[0].split(", ")[-1]) for o in outs)
    rows = Store(f"sqlite:///{db}").rows(None)
    assert len(rows) == 3 and all(r["status"] == "done" and r["attempts"] == 1 for r in rows), \
        [(r["status"], r["attempts"], r["owner"], r["error"]) for r in rows]
    assert ran == 3  # every fold computed exactly once across the two runners
