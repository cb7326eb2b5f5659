"""SIGINT/SIGTERM during a fold: nothing partial is stored, the claim is given
back, the run says how many folds were saved and exits 130/143 (issue 15)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emobench.store import Store

TESTS = Path(__file__).parent


def interrupted_run(tmp_path, model, sig):
    env = {**os.environ, "PYTHONPATH": str(TESTS), "EMOBENCH_CACHE": str(tmp_path / "cache")}
    url = f"sqlite:///{tmp_path}/r.db"
    proc = subprocess.run([sys.executable, str(TESTS / "interrupt_kit.py"), url, model, sig,
                           str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    return proc, url


@pytest.mark.parametrize("model, sig, code", [
    ("mlp-interrupted", "INT", 130),    # scikit-learn swallows KeyboardInterrupt inside fit
    pytest.param("mlp-interrupted", "TERM", 143, marks=pytest.mark.slow),
    ("torch-interrupted", "INT", 130),  # a torch loop: the interrupt propagates
])
def test_interrupted_fold_stores_nothing_and_says_how_to_resume(tmp_path, model, sig, code):
    proc, url = interrupted_run(tmp_path, model, sig)
    assert proc.returncode == code, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == f"interrupted: 0 folds saved in {url}; rerun the same command to resume"
    assert "Traceback" not in proc.stderr
    if model.startswith("mlp"):
        # the library really did swallow it: fit returned a cut-short model ...
        assert (tmp_path / f"{model}.returned").exists()
    # ... and yet no row, not even a failed or running one, is in the store
    assert Store(url).rows(None) == []


@pytest.mark.slow
def test_rerun_after_an_interrupt_completes_the_fold(tmp_path):
    proc, url = interrupted_run(tmp_path, "mlp-interrupted", "INT")
    assert proc.returncode == 130
    (tmp_path / "mlp-interrupted.returned").unlink()
    rerun, _ = interrupted_run(tmp_path, "torch-interrupted", "NONE")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip().splitlines()[-1].startswith("1 cells, 1 folds run, 0 reused, 0 failed")
    rows = Store(url).rows(None)
    assert [(r["model"], r["status"], r["attempts"]) for r in rows] == [("torch-interrupted", "done", 1)]
