import json

import numpy as np
import pytest

from emobench import runner
from emobench.cells import plan
from emobench.export import export_json
from emobench.metrics import ccc
from emobench.profiles import get_profile
from emobench.store import Store


def test_export_carries_predictions_identity_and_metrics(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="linear", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False)
    rows = json.loads(export_json(Store(url)))
    assert rows
    for r in rows:
        p = r["test_predictions"]
        assert set(p) == {"y_true", "y_pred", "subject", "item", "seed"}
        assert r["identity_key"] and r["identity"]["model"] == "linear"
        # the stored metric is recomputed from the exported predictions alone
        assert r["metrics"]["ccc"] == pytest.approx(ccc(np.array(p["y_true"]), np.array(p["y_pred"])))


def test_recompute_script_matches_the_leaderboard(reg, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from emobench import leaderboard as lb

    url = f"sqlite:///{tmp_path}/r.db"
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="*ea*", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False)
    exp = tmp_path / "export.json"
    exp.write_text(export_json(Store(url)))
    script = Path(__file__).resolve().parents[1] / "scripts" / "recompute_from_export.py"
    got = json.loads(subprocess.run([sys.executable, str(script), str(exp)], check=True,
                                    capture_output=True, text=True).stdout)
    for r in json.loads(exp.read_text()):
        for m, v in got["rows"][r["key"]].items():
            assert v == pytest.approx(r["metrics"][m], abs=1e-9, nan_ok=True)
    (table,) = lb.collect(Store(url))
    for e in table.entries:
        ref = got["entries"][f"{e.identity_key}|pooled"]
        assert ref["estimate"] == pytest.approx(e.score, nan_ok=True) and ref["k"] == e.k
        if e.ci.has_interval:
            assert (ref["low"], ref["high"]) == pytest.approx((e.ci.low, e.ci.high))
