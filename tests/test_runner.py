import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from emobench import runner
from emobench.cells import plan
from emobench.metrics import ccc
from emobench.profiles import get_profile
from emobench.store import Store

from conftest import run_cli

TESTS = Path(__file__).parent


def run(reg, tmp_path, model="*", **kw):
    cells, skipped = plan(reg, get_profile("smoke"), dataset="toy", model=model)
    return runner.run(cells, profile="smoke", store_url=f"sqlite:///{tmp_path}/r.db",
                      skipped=skipped, progress=False, **kw)


def test_run_stores_one_row_per_fold_and_rerun_reuses(reg, tmp_path):
    s1 = run(reg, tmp_path, model="linear")
    assert s1.run == 4 and s1.failed == 0  # 2 tasks x 2 folds (smoke caps folds at 2)
    rows = Store(f"sqlite:///{tmp_path}/r.db").rows()
    assert len(rows) == 4 and all(r["status"] == "done" for r in rows)
    row = next(r for r in rows if r["task"] == "level")
    assert row["primary_metric"] == "ccc" and row["n_trials"] == 2
    assert "alpha" in row["best_params"]
    prov = row["provenance"]
    assert prov["fold_checksum"] and prov["protocol_version"] == "1+capped2"  # smoke cap
    # the cap regroups the 5 folds into 2 (all subjects tested): both of the 2 run
    assert (row["n_folds"], row["folds_run"], row["seed"]) == (2, 2, 0)
    assert prov["folds"] == {"run": 2, "total": 2} and row["inputs"] == {"features": "feats"}
    ident = prov["identity"]
    assert ident["model"] == "linear" and ident["model_distribution"] == "emobench"
    assert ident["dataset_distribution"] == "emobench-testkit" and ident["seeds"] == [0]
    assert ident["trials"] == 2 and ident["profile"] == "smoke"
    assert row["identity_key"] == prov["identity_key"]
    assert len({r["identity_key"] for r in rows}) == 2  # one entry per task
    assert "command" in prov and "git_dirty" in prov and prov["config"] == {}
    assert prov["versions"]["numpy"] == np.__version__ and prov["ceiling"] == {"ccc": 0.95}
    # the stored score is the metric of the stored predictions
    preds = Store(f"sqlite:///{tmp_path}/r.db").predictions(row["key"])
    assert row["score"] == pytest.approx(ccc(preds["y_true"], preds["y_pred"]))
    s2 = run(reg, tmp_path, model="linear")
    assert (s2.run, s2.reused) == (0, 4)
    assert s2.line() == "2 cells, 0 folds run, 4 reused, 0 failed, 0 skipped"


def test_failures_are_recorded_not_results_and_retried(reg, tmp_path):
    s = run(reg, tmp_path, model="failing")
    assert s.failed == 4 and s.run == 0
    assert all("deliberate failure inside fit" in m and "failing" in m for m in s.failures)
    store = Store(f"sqlite:///{tmp_path}/r.db")
    assert store.rows("done") == [] and len(store.rows("failed")) == 4
    s2 = run(reg, tmp_path, model="failing")
    assert s2.failed == 4 and s2.reused == 0  # retried, not reused
    assert {r["attempts"] for r in store.rows("failed")} == {2}


def test_non_finite_predictions_fail_the_fold_with_the_model_named(reg, tmp_path):
    s = run(reg, tmp_path, model="nan-loss")
    assert s.failed == 4
    assert all("nan-loss" in m and "non-finite" in m for m in s.failures)


def test_other_cells_continue_after_a_failure(reg, tmp_path):
    s = run(reg, tmp_path, model="[fl]*")  # failing + linear
    assert s.failed == 4 and s.run == 4


def test_dry_run_writes_nothing_and_tells_done_from_to_run(reg, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("EMOBENCH_CACHE", str(cache))
    lines = []
    s = run(reg, tmp_path, model="linear", dry_run=True, log=lines.append)
    # no stand-in, no fold plan, no store: only an estimate from the profile's cap
    assert lines == ["toy: stand-in not written yet: 4 folds to run (estimate)",
                     "dry run: 0 folds done, 0 would run, about 4 more once stand-ins are "
                     "written; nothing written"]
    assert s.run == 0 and s.estimated == 4
    assert not cache.exists() and not Path(f"{tmp_path}/r.db").exists()
    run(reg, tmp_path, model="linear", max_folds=1)  # writes the stand-in, runs fold 1 of each task
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    lines.clear()
    s = run(reg, tmp_path, model="linear", dry_run=True, log=lines.append)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    done = [x for x in lines if x.startswith("done ")]
    todo = [x for x in lines if x.startswith("would run ")]
    # the smoke cap regroups subject-5fold into 2 folds (every subject tested)
    assert len(done) == 2 and all("fold 1/2 (capped=1/2)" in x for x in done)
    assert len(todo) == 2 and all("fold 2/2 (capped=2/2)" in x for x in todo)
    assert lines[-1] == "dry run: 2 folds done, 2 would run; nothing written"
    assert (s.reused, s.run) == (2, 0)


def test_exit_code_is_one_when_a_fold_failed(reg, tmp_path):
    assert run(reg, tmp_path, model="linear").exit_code == 0
    s = run(reg, tmp_path, model="[fl]*")
    assert s.failed == 4 and s.exit_code == 1


def test_third_party_package_is_discovered_and_evaluated_through_the_cli(tmp_path, example_site):
    env = {"PYTHONPATH": str(example_site)}
    out = run_cli("run", "--dataset", "example-*", "--profile", "smoke", "--no-latency",
                  "--store", f"sqlite:///{tmp_path}/r.db", cwd=tmp_path, env_extra=env)
    # one fold per cell (odd/even speakers), whatever built-in models also pair with the corpus
    assert re.match(r"(\d+) cells, \1 folds run, 0 reused, 0 failed", out.stdout.strip().splitlines()[-1])
    listing = json.loads(run_cli("list", "models", "--json", cwd=tmp_path, env_extra=env).stdout)
    (centroid,) = [m for m in listing["models"] if m["name"] == "example-centroid"]
    assert centroid["distribution"] == "emobench-example" and centroid["version"] == "0.2.0"
    run_cli("leaderboard", "--store", f"sqlite:///{tmp_path}/r.db", "--out", str(tmp_path / "lb"),
            cwd=tmp_path, env_extra=env)
    text = (tmp_path / "lb" / "README.md").read_text()
    synthetic = text.split("## Synthetic stand-ins")[1]
    assert "example-centroid" in synthetic and "example-tones / excitement / example-odd-even" in synthetic
    assert "No results yet." in text.split("## Synthetic stand-ins")[0]  # nothing real


def test_store_has_no_duplicate_keys(reg, tmp_path):
    run(reg, tmp_path, model="linear")
    run(reg, tmp_path, model="linear")
    con = sqlite3.connect(f"{tmp_path}/r.db")
    n, distinct = con.execute("select count(*), count(distinct key) from results").fetchone()
    assert n == distinct == 4


def test_a_cell_that_would_end_after_the_budget_does_not_start_and_a_rerun_runs_it(reg, tmp_path):
    import time

    late = run(reg, tmp_path, model="linear", budget_minutes=1.0, started=time.monotonic() - 3600)
    assert late.run == 0 and late.cells == 0
    assert late.skips and all("deferred at run time" in s and "rerun" in s for s in late.skips)
    again = run(reg, tmp_path, model="linear", budget_minutes=1.0)  # the clock starts anew
    assert again.run == 4 and again.failed == 0 and not any("run time" in s for s in again.skips)


def test_a_cell_the_plan_deferred_runs_last_when_the_clock_leaves_room(reg, tmp_path, monkeypatch):
    from emobench import budget

    # every job estimated at 20 s: one of the two cells does not fit a 1-minute plan
    slow = budget.Machine(gflops=100.0, workers=1, threads=1, overhead_s=20.0, source="test")
    monkeypatch.setattr(budget, "machine", lambda workers=1, **kw: slow)
    dry = run(reg, tmp_path, model="linear", budget_minutes=1.0, dry_run=True)
    assert sum("deferred: estimated" in s for s in dry.skips) == 1
    s = run(reg, tmp_path, model="linear", budget_minutes=1.0)
    # the planned cell took well under its estimate: the deferred one ran after it
    assert s.run == 4 and s.cells == 2 and s.failed == 0 and not s.skips
    rows = Store(f"sqlite:///{tmp_path}/r.db").rows()
    works = sorted((r["task"], (r["provenance"]["identity"].get("knobs") or {}).get("work", 1.0))
                   for r in rows)
    assert {w for _, w in works} >= {budget.MIN_SHARE}  # at the least share, on its row
    again = run(reg, tmp_path, model="linear", budget_minutes=1.0)
    assert again.run == 0 and again.reused == 4 and again.cells == 2 and not again.skips
