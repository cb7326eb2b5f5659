"""Broken inputs: each gives a message naming the file, plugin or parameter;
the affected fold is recorded as failed (or the corpus skipped, when it cannot
be read at all); the rest of the run continues; nothing finished is lost."""

import re

import pytest

from emobench import runner
from emobench.cells import plan
from emobench.datasource import DataRootError, write_standin
from emobench.profiles import get_profile
from emobench.store import Store



@pytest.fixture
def root(tmp_path, reg):
    data = tmp_path / "data"
    write_standin(reg.dataset("toy"), data / "Toy", "tiny", 0)
    return data


def run(reg, tmp_path, root, model="linear", task="*"):
    cells, skipped = plan(reg, get_profile("smoke"), dataset="toy", model=model, task=task)
    return runner.run(cells, profile="smoke", data_root=root, store_url=f"sqlite:///{tmp_path}/r.db",
                      skipped=skipped, progress=False)


def test_a_data_root_that_does_not_exist_is_named(reg, tmp_path):
    with pytest.raises(DataRootError, match="nowhere.*does not exist"):
        run(reg, tmp_path, tmp_path / "nowhere")


def test_missing_label_file_skips_the_corpus_with_its_path(reg, tmp_path, root):
    (root / "Toy" / "labels.csv").unlink()
    s = run(reg, tmp_path, root)
    assert s.run == 0 and s.skipped >= 2
    assert all("labels.csv: label file is missing" in m for m in s.skips)


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("r001,s1,", "r001,,"), "line 3: recording 'r001' has an empty subject"),
    (lambda t: t.replace("r002,s2,hi", "r002,s2,meh").replace("r002,s2,lo", "r002,s2,meh"),
     "unknown class code 'meh'"),
])
def test_bad_label_rows_are_named_with_file_and_line(reg, tmp_path, root, edit, expected):
    p = root / "Toy" / "labels.csv"
    p.write_text(edit(p.read_text()))
    s = run(reg, tmp_path, root)
    assert s.run == 0 and s.skips and all(expected in m and "labels.csv" in m for m in s.skips)


def _fold_with(store, recording):
    return [r for r in store.rows(None) if recording in str(r.get("error") or "")]


def test_nan_and_inf_in_features_fail_only_the_affected_folds(reg, tmp_path, root):
    p = root / "Toy" / "frames" / "r003.csv"
    lines = p.read_text().splitlines()
    lines[2] = "nan,inf"
    p.write_text("\n".join(lines) + "\n")
    s = run(reg, tmp_path, root, model="*ea*", task="level")
    assert s.failed == 2 and s.run == 2  # linear reads the features and fails; mean still runs ("*ea*")
    assert all("recording 'r003'" in m and "non-finite" in m and "linear" in m for m in s.failures)
    store = Store(f"sqlite:///{tmp_path}/r.db")
    assert _fold_with(store, "r003") and all(r["status"] == "failed" for r in _fold_with(store, "r003"))


def test_mismatched_feature_and_label_lengths_name_the_recording(reg, tmp_path, root):
    p = root / "Toy" / "levels" / "r004.txt"
    p.write_text(p.read_text() + "0.5\n0.5\n")
    s = run(reg, tmp_path, root, model="*ea*", task="level")
    assert s.failed == 2 and s.run == 2
    # in a training split the model's input check names it; in a test split the harness does
    assert all(re.search(r"recording 'r004'.*30 (rows|frame predictions) for 32", m) for m in s.failures)


def test_unreadable_feature_file_names_its_path(reg, tmp_path, root):
    (root / "Toy" / "frames" / "r005.csv").write_bytes(b"\x00\xff garbage,\n1,2,3,4\n")
    s = run(reg, tmp_path, root, model="*ea*", task="level")
    assert s.failed == 2 and s.run == 2
    assert all("r005.csv: unreadable features" in m for m in s.failures)


def test_recording_too_short_for_the_model_window(reg, tmp_path, root):
    for name in ("frames/r006.csv", "levels/r006.txt"):
        p = root / "Toy" / name
        lines = p.read_text().splitlines()
        p.write_text("\n".join(lines[: 4 if name.startswith("frames") else 3]) + "\n")
    s = run(reg, tmp_path, root, model="slow", task="level")
    assert s.failed >= 1
    assert any("recording 'r006' has 3 frames" in m and "window=5" in m and "'slow'" in m
               for m in s.failures)


def test_finished_folds_survive_a_later_failure(reg, tmp_path, root):
    first = run(reg, tmp_path, root, task="level")
    assert first.run == 2
    p = root / "Toy" / "frames" / "r007.csv"
    p.write_text(p.read_text().replace("\n", "\nnan,nan\n", 1))
    again = run(reg, tmp_path, root, task="level")
    # the data changed, so the jobs are new keys; the earlier results are still stored
    store = Store(f"sqlite:///{tmp_path}/r.db")
    assert len(store.rows("done")) >= 2 and again.failed >= 1
