
import numpy as np
import pytest

from emobench import leaderboard as lb
from emobench import runner
from emobench.cells import plan
from emobench.dataset import STANDIN_MARKER
from emobench.datasource import write_standin
from emobench.metrics import bootstrap_ci, ccc
from emobench.profiles import get_profile
from emobench.store import Store



def test_real_and_synthetic_rows_never_share_a_table(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="*ea*", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False)          # stand-in
    real = tmp_path / "data"
    write_standin(reg.dataset("toy"), real / "Toy", "tiny", 1)
    (real / "Toy" / STANDIN_MARKER).unlink()                                    # now "real" data
    runner.run(cells, profile="smoke", store_url=url, data_root=real, progress=False)
    text = lb.write(Store(url), tmp_path / "lb", n_boot=200).read_text()
    real_part, synthetic_part = text.split("## Synthetic stand-ins")
    assert "toy / level / subject-5fold" in real_part and "Generator ceiling" not in real_part
    assert "toy / level / subject-5fold" in synthetic_part and "Generator ceiling" in synthetic_part
    tables = lb.collect(Store(url), n_boot=200)
    assert sorted(t.synthetic for t in tables) == [False, True]


def test_ranking_ci_and_paired_test_come_from_the_stored_predictions(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model="*ea*", task="level")
    runner.run(cells, profile="smoke", store_url=url, progress=False)
    (table,) = lb.collect(Store(url), n_boot=300)
    assert [e.model for e in table.entries] == ["linear", "mean"]  # linear learns, mean cannot
    best, other = table.entries
    # independent recomputation: pool the stored folds, CCC, cluster bootstrap by subject
    store = Store(url)
    rows = sorted([r for r in store.rows() if r["model"] == "linear"], key=lambda r: r["fold_index"])
    preds = [store.predictions(r["key"]) for r in rows]
    yt = np.concatenate([p["y_true"] for p in preds])
    yp = np.concatenate([p["y_pred"] for p in preds])
    subj = np.concatenate([p["subject"] for p in preds])
    assert best.score == pytest.approx(ccc(yt, yp))
    ci = bootstrap_ci("ccc", yt, yp, subj, n_boot=300, seed=0)
    assert (best.low, best.high) == pytest.approx((ci.low, ci.high))
    assert best.low <= best.score <= best.high
    assert other.p_vs_best < 0.05 and other.diff_vs_best < 0 and not other.overlaps_best
    md = lb.render_table(table, {})
    assert md.splitlines()[2].split("|")[2].strip() == "linear"
    assert "Generator ceiling" in md and "0.950" in md
