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
