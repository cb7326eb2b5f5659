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


# -- doctor finds what the run trips on (issue 15), through the shared checks ---------

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from emobench import DataError  # noqa: E402

FIX = Path(__file__).parent / "datasets" / "fixtures"


def _errors(report):
    return [p for p in report.problems if p.severity == "error"]


def test_doctor_names_a_dangling_symlink_and_a_corrupt_marker(reg, root):
    toy = reg.dataset("toy")
    (root / "Toy" / "frames" / "gone.csv").symlink_to(root / "nowhere.csv")
    (root / "Toy" / "EMOBENCH_STANDIN.json").write_text("{not json")
    rep = toy.doctor(root / "Toy")
    msgs = {p.path: p.message for p in _errors(rep)}
    assert "dangling symlink" in msgs[str(root / "Toy" / "frames" / "gone.csv")]
    assert "not valid JSON" in msgs[str(root / "Toy" / "EMOBENCH_STANDIN.json")]


def test_doctor_opens_every_stream_and_reports_each_failure(reg, root):
    toy = reg.dataset("toy")
    for rid in ("r001", "r002"):
        (root / "Toy" / "frames" / f"{rid}.csv").write_bytes(b"\x00\xff")
    rep = toy.doctor(root / "Toy")
    bad = [p for p in _errors(rep) if "stream 'feats'" in p.message]
    assert {p.message.split("'")[3] for p in bad} == {"r001", "r002"}
    assert rep.counts["streams_opened"] == rep.counts["recordings"] - 2


def test_doctor_finds_duplicate_recording_ids(reg, root):
    p = root / "Toy" / "labels.csv"
    lines = p.read_text().splitlines()
    p.write_text("\n".join(lines + [lines[1]]) + "\n")
    rep = reg.dataset("toy").doctor(root / "Toy")
    assert any("appears 2 times" in p.message for p in _errors(rep))


@pytest.fixture
def partA(tmp_path):
    dst = tmp_path / "PartA"
    shutil.copytree(FIX / "biovid" / "PartA", dst)
    return dst


def _biovid():
    from emobench_plugins.datasets.biovid import BioVidPartA
    return BioVidPartA()


def test_biovid_header_only_samples_is_an_error(partA):
    p = partA / "samples.csv"
    p.write_text(p.read_text().splitlines()[0] + "\n")
    with pytest.raises(DataError, match="header only"):
        _biovid().load(partA)
    assert any("header only" in p.message for p in _errors(_biovid().doctor(partA)))


def test_biovid_class_name_contradicting_class_id_is_refused_by_run_and_doctor(partA):
    p = partA / "samples.csv"
    p.write_text(p.read_text().replace("\tPA4\t", "\tPA1\t"))
    with pytest.raises(DataError, match="class_name 'PA1' contradicts class_id 4"):
        _biovid().load(partA)
    assert any("does not match class_id" in p.message for p in _errors(_biovid().doctor(partA)))


def test_biovid_truncated_biosignal_file_is_refused_by_run_and_doctor(partA):
    f = partA / "biosignals_filtered" / "071313_m_41" / "071313_m_41-BL1-081_bio.csv"
    f.write_text("\n".join(f.read_text().splitlines()[:500]) + "\n")
    rec = {r.id: r for r in _biovid().load(partA)}["071313_m_41-BL1-081"]
    with pytest.raises(DataError, match="truncated: 499 rows"):
        rec.load("physio")
    assert any(p.path == str(f) and "truncated: 499 rows" in p.message
               for p in _errors(_biovid().doctor(partA)))


@pytest.mark.parametrize("edit, expected", [
    (lambda lines: lines[:50], "49 rows but the video has 138 frames"),
    (lambda lines: lines[:5] + [lines[5].replace("0.98", "inf", 1)] + lines[6:],
     "line 6, column 'confidence'"),
])
def test_biovid_openface_errors(partA, edit, expected):
    f = partA / "openface" / "071313_m_41" / "071313_m_41-PA4-012.csv"
    f.write_text("\n".join(edit(f.read_text().splitlines())) + "\n")
    rep = _biovid().doctor(partA)
    assert any(p.path == str(f) and expected in p.message for p in _errors(rep)), rep.problems


@pytest.mark.parametrize("content, expected", [
    (b"", "file is empty"),
    (b"this is text, not an image", "not a PNG image"),
    ("half", "truncated PNG"),
])
def test_unbc_bad_frames_are_named_errors(tmp_path, content, expected):
    from emobench_plugins.datasets.unbc import Unbc

    root = tmp_path / "UNBC-McMaster"
    shutil.copytree(FIX / "unbc" / "UNBC-McMaster", root)
    frame = sorted((root / "Images").rglob("*.png"))[0]
    frame.write_bytes(frame.read_bytes()[: frame.stat().st_size // 2] if content == "half" else content)
    rep = Unbc().doctor(root)
    assert [p.message for p in _errors(rep) if p.path == str(frame)] == [
        next(p.message for p in _errors(rep) if expected in p.message)]


def test_sewa_inf_openface_cell_is_named(tmp_path):
    from emobench_plugins.datasets.sewa import Sewa

    root = tmp_path / "AVEC2019_CES_traindeveltest"
    shutil.copytree(FIX / "sewa" / root.name, root)
    f = root / "visual_features" / "Train_DE_01.csv"
    lines = f.read_text().splitlines()
    cells = lines[3].split(";")
    cells[4] = "inf"
    lines[3] = ";".join(cells)
    f.write_text("\n".join(lines) + "\n")
    rep = Sewa().doctor(root)
    assert any(p.path == str(f) and "line 4" in p.message and "not finite" in p.message
               for p in _errors(rep)), rep.problems


@pytest.mark.parametrize("corpus", ["unbc", "sewa"])
def test_a_symlink_out_of_the_root_is_not_followed(tmp_path, corpus):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET first line\n")
    if corpus == "unbc":
        from emobench_plugins.datasets.unbc import Unbc

        root = tmp_path / "UNBC-McMaster"
        shutil.copytree(FIX / "unbc" / "UNBC-McMaster", root)
        subj = sorted(d for d in (root / "Images").iterdir() if d.is_dir() and d.name[0] != ".")[0]
        (subj / "zz999t1aaaff").symlink_to(outside, target_is_directory=True)
        rep = Unbc().doctor(root)
        assert any("outside the data root" in p.message for p in _errors(rep))
    else:
        from emobench_plugins.datasets.sewa import Sewa

        root = tmp_path / "AVEC2019_CES_traindeveltest"
        shutil.copytree(FIX / "sewa" / root.name, root)
        (root / "labels" / "Train_DE_02.csv").symlink_to(outside / "secret.txt")
        rep = Sewa().doctor(root)
        assert any("outside the data root" in p.message for p in _errors(rep))
        assert "Train_DE_02" not in {r.id for r in Sewa().load(root)}
    assert not any("TOP SECRET" in str(p) for p in rep.problems)


def test_a_truncated_media_file_is_a_data_error_not_a_tuning_error(tmp_path):
    """Tuning stops at the first DataError (read once, not once per trial) and
    raises it, naming the file; the model is not blamed."""
    from emobench.data import Task
    from emobench.model import FitContext
    from emobench.tuning import tune
    from plugin_kit import Slow

    reads = []

    class Reads(Slow):
        name = "reads"

        def fit(self, train, valid, ctx):
            reads.append(1)
            raise DataError(tmp_path / "clip.mp4", "truncated: decoded 3 of the 138 frames",
                            recording="r1")

    ctx = FitContext(task=Task("t", "regression"), modalities={}, profile="smoke", seed=0,
                     score=lambda s, p: 0.0)
    with pytest.raises(DataError, match=r"clip.mp4: truncated.*recording 'r1'"):
        tune(Reads, [], [], ctx, trials=5, seed=0)
    assert len(reads) == 1


def test_a_standin_copy_whose_marker_was_deleted_is_still_synthetic(tmp_path, reg, monkeypatch):
    from emobench.datasource import resolve

    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    ds = reg.dataset("toy")
    src = resolve(ds, None, "tiny", 0)
    assert src.marker["generator"].startswith("plugin_kit:")  # who generated it, in the marker
    data = tmp_path / "copy"
    shutil.copytree(src.root, data / "Toy")
    (data / "Toy" / "EMOBENCH_STANDIN.json").unlink()
    got = resolve(ds, data, "tiny", 0)
    assert got.synthetic and "SYNTHETIC" in got.notice and "EMOBENCH_STANDIN.json" in got.notice
    (data / "Toy" / "labels.csv").write_text("id,subject,kind\n")  # edited: no longer a copy
    assert not resolve(ds, data, "tiny", 0).synthetic


def test_the_standin_fingerprint_follows_the_declared_generator_version():
    from emobench.datasource import generator_version
    from emobench_plugins.datasets.biovid import BioVidPartA

    ds = BioVidPartA()
    assert ds.standin_version
    before = generator_version(ds)
    generator_version.cache_clear()
    type(ds).standin_version = ds.standin_version + "-test"
    try:
        assert generator_version(ds) != before
    finally:
        type(ds).standin_version = ds.standin_version.removesuffix("-test")
        generator_version.cache_clear()
