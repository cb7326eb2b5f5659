"""SEWA / AVEC 2019 CES plugin: fixture tree with the package's pitfalls, derived
features against independent computations, doctor on a broken copy, protocols and
the tiny stand-in."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import tree_digest

from emobench.media import default_cache
from emobench.protocols import check_fold
from emobench_plugins.datasets.sewa.features import (FUNCTIONAL_CHANNELS, speech_activity,
                                                      windowed_mean_std)
from emobench_plugins.datasets.sewa.layout import SewaFormatError, read_labels, read_table
from emobench_plugins.datasets.sewa import Sewa, sewa_protocols

FIXTURE = Path(__file__).parent / "fixtures" / "sewa" / "AVEC2019_CES_traindeveltest"
AUS = ["AU01_r", "AU02_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r", "AU12_r",
       "AU14_r", "AU15_r", "AU17_r", "AU20_r", "AU23_r", "AU25_r", "AU26_r", "AU45_r"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def ds():
    return Sewa()


@pytest.fixture
def recs(ds):
    return {r.id: r for r in ds.load(FIXTURE)}


def _rows(path):
    """The file's rows as plain lists (csv module, independent of the loader)."""
    text = path.read_text()
    sep = ";" if text.count(";") > text.count(",") else ","
    rows = list(csv.reader(text.splitlines(), delimiter=sep))
    if not rows[0][1].replace(".", "").isdigit():
        rows = rows[1:]
    return rows


# ------------------------------------------------------------------ fixture


def test_fixture_recordings_partitions_and_groups(recs):
    assert list(recs) == ["Train_DE_01", "Train_HU_01", "Devel_DE_01", "Test_CN_01"]
    assert {i: (r.partition, r.groups["culture"], r.subject) for i, r in recs.items()} == {
        "Train_DE_01": ("train", "DE", "Train_DE_01"), "Train_HU_01": ("train", "HU", "Train_HU_01"),
        "Devel_DE_01": ("devel", "DE", "Devel_DE_01"), "Test_CN_01": ("test", "CN", "Test_CN_01")}
    assert recs["Test_CN_01"].labels == {}  # test labels were never released
    assert set(recs["Train_DE_01"].streams) == {"au_functionals", "au_series", "audio", "face_video"}
    assert set(recs["Train_HU_01"].streams) == {"au_functionals", "au_series"}


@pytest.mark.parametrize("rid, n", [("Train_DE_01", 12), ("Train_HU_01", 10), ("Devel_DE_01", 12)])
def test_labels_match_file_whatever_the_dialect(recs, rid, n):
    rows = _rows(FIXTURE / "labels" / f"{rid}.csv")
    assert len(rows) == n
    want = np.array([[float(c) for c in row[2:5]] for row in rows])
    got = np.column_stack([recs[rid].labels[d] for d in ("arousal", "valence", "liking")])
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert all(row[0] == f"'{rid}'" for row in rows)  # quoted names in the file...
    assert set(read_labels(FIXTURE / "labels" / f"{rid}.csv").names) == {rid}  # ...unquoted


def test_meta_carries_label_delays(ds, recs):
    assert ds.label_delay_s == {"arousal": 4.0, "valence": 2.8}
    for r in recs.values():
        assert r.meta["label_delay_s"] == {"arousal": 4.0, "valence": 2.8}
        assert r.meta["avec_baseline_delay_s"] == 2.0


def test_series_modalities_have_one_row_per_label(ds, recs):
    assert ds.modalities["au_functionals"].channels == FUNCTIONAL_CHANNELS
    assert FUNCTIONAL_CHANNELS[:4] == ("confidence_mean", "confidence_std", "AU01_r_mean", "AU01_r_std")
    assert FUNCTIONAL_CHANNELS[-3:] == ("AU45_r_mean", "AU45_r_std", "turn")
    for r in recs.values():
        if not r.labels:
            continue
        T = len(r.labels["valence"])  # Train_DE_01 has 15 feature rows for 12 labels
        x, s = r.load("au_functionals"), r.load("au_series")
        assert x.shape == (T, 37) and x.dtype == np.float32
        assert s.shape == (T, 17) and s.dtype == np.float32
    # unlabelled test recording: a 10 Hz grid over its 8 feature rows (0.0 .. 0.7 s)
    assert recs["Test_CN_01"].load("au_functionals").shape == (8, 37)


def test_functionals_match_a_direct_computation(recs):
    rows = _rows(FIXTURE / "visual_features" / "Devel_DE_01.csv")  # 10 fps, 12 frames
    vals = np.array([[float(c) for c in row[2:]] for row in rows])
    x = recs["Devel_DE_01"].load("au_functionals")  # window 1.0 s
    for k in range(12):
        # frames with time in [k/10 - 0.5, k/10 + 0.5)
        win = vals[max(0, k - 5):min(12, k + 5)]
        np.testing.assert_allclose(x[k, 0:36:2], win.mean(axis=0), atol=1e-5)
        np.testing.assert_allclose(x[k, 1:36:2], win.std(axis=0), atol=1e-5)
    # a 0.1 s window holds one frame at 10 fps: the mean is the frame itself
    x1 = recs["Devel_DE_01"].load("au_functionals", window_s=0.1)
    np.testing.assert_allclose(x1[:, 0:36:2], vals, atol=1e-5)
    np.testing.assert_allclose(x1[:, 1:36:2], 0.0, atol=1e-6)


def test_headerless_comma_features_resample_to_label_times(recs):
    rows = _rows(FIXTURE / "visual_features" / "Train_HU_01.csv")  # 20 fps, no header
    aus = np.array([[float(c) for c in row[3:]] for row in rows])
    s = recs["Train_HU_01"].load("au_series")
    np.testing.assert_allclose(s, aus[0:20:2], atol=1e-5)  # label k at t = k/10 = frame 2k


def test_windowed_mean_std_against_naive_loop():
    rng = np.random.default_rng(0)
    times = np.arange(137) / 50.0
    vals = rng.normal(3.0, 1.0, (137, 3))
    centres = np.arange(28) / 10.0
    mean, std = windowed_mean_std(times, vals, centres, 1.0)
    for k in range(len(centres)):
        # in frame units the window [k/10 - 0.5, k/10 + 0.5) is [5k - 25, 5k + 25)
        sel = vals[max(0, 5 * k - 25):5 * k + 25]
        np.testing.assert_allclose(mean[k], sel.mean(axis=0), rtol=1e-10)
        np.testing.assert_allclose(std[k], sel.std(axis=0), rtol=1e-8, atol=1e-12)
    # past the end of the features the last frame is repeated
    m2, s2 = windowed_mean_std(times, vals, np.array([10.0]), 0.1)
    np.testing.assert_allclose(m2[0], vals[-1])
    np.testing.assert_allclose(s2, 0.0, atol=1e-6)


def test_turn_flag_follows_the_speech_burst(recs):
    turn = recs["Train_DE_01"].load("au_functionals")[:, -1]  # burst 0.3-0.8 s in the wav
    assert np.all(turn[3:8] == 1.0)
    assert np.all(turn[[0, 1, 10, 11]] == 0.0)
    assert np.all(recs["Train_HU_01"].load("au_functionals")[:, -1] == 0.0)  # no audio
    silence = np.random.default_rng(1).normal(0, 0.01, 16000)
    assert not speech_activity(silence, 16000, np.arange(10) / 10).any()


def test_audio_and_face_video_streams(recs):
    r = recs["Train_DE_01"]
    assert r.load("audio").shape == (int(1.2 * 16000),)  # 8 kHz file resampled to 16 kHz
    assert r.load("audio", rate=8000).shape == (9600,)
    v = r.load("face_video", size=(48, 48), gray=True)
    assert v.shape == (12, 48, 48) and v.dtype == np.uint8


def test_second_load_reads_the_cache(ds):
    first = {r.id: r for r in ds.load(FIXTURE)}
    a = first["Devel_DE_01"].load("au_functionals")
    cache = default_cache()
    cache.reset_stats()
    again = {r.id: r for r in ds.load(FIXTURE)}["Devel_DE_01"].load("au_functionals")
    assert cache.stats()["hits"] == 1 and cache.stats()["misses"] == 0
    np.testing.assert_array_equal(a, again)


# ------------------------------------------------------------------ CSV dialects


@pytest.mark.parametrize("text", [
    "name;timestamp;arousal\n'A';0.0;0.5\n'A';0.1;0.25\n",
    "name,timestamp,arousal,\n'A',0.0,0.5,\n'A',0.1,0.25,\n",
    "'A';0.000000;0.500000\n'A';0.100000;0.250000\n",
    "A,0.0,0.5\r\nA,0.1,0.25\r\n",
])
def test_read_table_dialects(tmp_path, text):
    p = tmp_path / "Train_DE_01.csv"
    p.write_bytes(text.encode())
    t = read_table(p)
    assert list(t.names) == ["A", "A"]
    np.testing.assert_allclose(t.values, [[0.0, 0.5], [0.1, 0.25]])


def test_unreadable_files_name_the_file(tmp_path):
    p = tmp_path / "Train_DE_01.csv"
    p.write_text("name;timestamp;arousal;valence;liking\n'Train_DE_01';0.0;oops;0.1;0.2\n")
    with pytest.raises(SewaFormatError, match="Train_DE_01.csv"):
        read_labels(p)
    p.write_text("")
    with pytest.raises(SewaFormatError, match="empty"):
        read_table(p)


# ------------------------------------------------------------------ doctor


def test_doctor_counts_fixture(ds):
    rep = ds.doctor(FIXTURE)
    assert rep.ok, rep.problems
    assert rep.counts["recordings"] == 4 and rep.counts["labelled"] == 3
    assert rep.counts["label_frames"] == 34 and rep.counts["feature_frames"] == 57
    assert rep.counts["by_partition_culture"] == {"devel/DE": 1, "test/CN": 1, "train/DE": 1,
                                                  "train/HU": 1}


def test_doctor_names_every_broken_file(ds, tmp_path):
    root = tmp_path / "AVEC2019_CES_traindeveltest"
    shutil.copytree(FIXTURE, root)
    (root / "labels" / "Train_HU_01.csv").unlink()  # train without labels
    lab = root / "labels" / "Devel_DE_01.csv"
    lab.write_text(lab.read_text().replace("0.100000;", "0.100000;x", 1))
    feat = root / "visual_features" / "Test_CN_01.csv"
    feat.write_text(feat.read_text().replace("AU12_r;", "", 1))
    (root / "audio" / "Train_DE_01.wav").write_bytes(b"RIFF\x00\x00")
    (root / "video" / "Train_DE_01.avi").write_bytes(b"not a video at all" * 10)
    (root / "labels" / "notes.csv").write_text("hello\n")
    rep = ds.doctor(root)
    assert not rep.ok
    errors = {Path(p.path).name for p in rep.problems if p.severity == "error"}
    assert errors == {"Train_HU_01.csv", "Devel_DE_01.csv", "Test_CN_01.csv", "Train_DE_01.wav",
                      "Train_DE_01.avi"}
    warnings = {Path(p.path).name for p in rep.problems if p.severity == "warning"}
    assert "notes.csv" in warnings
    with pytest.raises(SewaFormatError, match="Devel_DE_01.csv"):
        ds.load(root)


def test_doctor_on_missing_root_reports_instead_of_raising(ds, tmp_path):
    rep = ds.doctor(tmp_path / "nowhere")
    assert not rep.ok and "does not exist" in rep.problems[0].message


# ------------------------------------------------------------------ protocols


def test_protocols_on_fixture(ds):
    recs = ds.load(FIXTURE)
    protos = {p.name: p for p in sewa_protocols()}
    assert tuple(protos) == ds.protocols
    off = protos["sewa-official"].folds(recs)
    assert [(f.name, f.train, f.valid, f.test) for f in off] == [
        ("test=CN", ("Train_DE_01", "Train_HU_01"), ("Devel_DE_01",), ("Test_CN_01",))]
    dev = protos["sewa-devel"].folds(recs)
    assert len(dev) == 1 and dev[0].test == ("Devel_DE_01",)
    assert set(dev[0].train + dev[0].valid) == {"Train_DE_01", "Train_HU_01"}
    cc = protos["sewa-cross-culture"].folds(recs)
    assert [(f.name, f.test) for f in cc] == [("test=HU", ("Train_HU_01",)), ("test=CN", ("Test_CN_01",))]
    for name, p in protos.items():
        for f in p.folds(recs):
            check_fold(f, recs, name)


# ------------------------------------------------------------------ stand-in


_digest = tree_digest


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("sewa") / "AVEC2019_CES_traindeveltest"
    return out, Sewa().write_standin(out, "tiny", 3)


def test_standin_tiny_reads_back_with_written_counts(ds, tiny, tmp_path):
    out, meta = tiny
    assert meta["scale"] == "tiny" and meta["seed"] == 3
    recs = ds.load(out)
    c = meta["counts"]
    assert len(recs) == c["recordings"] == 16
    assert sum(len(r.labels["arousal"]) for r in recs) == c["label_frames"]
    by = {}
    for r in recs:
        key = f"{r.partition}/{r.groups['culture']}"
        by[key] = by.get(key, 0) + 1
    assert by == c["by_partition_culture"]
    assert {r.groups["culture"] for r in recs if r.partition == "test"} == {"DE", "HU", "CN"}
    assert {r.groups["culture"] for r in recs if r.partition != "test"} == {"DE", "HU"}
    for r in recs[:3]:
        T = len(r.labels["valence"])
        assert 200 <= T <= 300
        assert r.load("au_functionals").shape == (T, 37)
        assert np.abs(r.labels["arousal"]).max() <= 1.0
    from emobench.sim.ceilings import reference_key

    for task in ("arousal", "valence", "liking"):
        ref = meta["ceilings"][task]
        assert ref["reference"].startswith("oracle on the latent state")
        # one reference per test set a protocol can use, keyed by its recording ids
        for culture in ("DE", "HU", "CN"):
            ids = [r.id for r in recs if r.partition == "test" and r.groups["culture"] == culture]
            hit = ref["by_test_set"][reference_key(ids)]
            assert hit["test_set"] == f"test/{culture}" and hit["subjects"] == len(ids)
            assert 0.9 < hit["ccc_avec"] <= 1.0
            assert {"ccc_avec", "ccc", "pearson", "rmse", "mae"} <= set(hit)
    assert ds.doctor(out).ok


def test_standin_same_seed_same_bytes(tiny, tmp_path):
    out, meta = tiny
    again = tmp_path / "AVEC2019_CES_traindeveltest"
    assert Sewa().write_standin(again, "tiny", 3) == meta
    assert _digest(again) == _digest(out)
    other = tmp_path / "other"
    Sewa().write_standin(other, "tiny", 4)
    assert _digest(other) != _digest(out)


def test_standin_au_features_carry_the_affect(ds, tiny):
    """The simulated AUs must predict the labels: a linear fit of valence on the
    au_functionals of train recordings generalises to devel recordings."""
    out, _ = tiny
    recs = ds.load(out)
    lag = 28  # valence annotation delay at 10 Hz

    def xy(part):
        xs, ys = [], []
        for r in recs:
            if r.partition == part:
                x, y = r.load("au_functionals"), r.labels["valence"]
                xs.append(x[:-lag]); ys.append(y[lag:])
        return np.vstack(xs), np.concatenate(ys)

    xtr, ytr = xy("train")
    xdv, ydv = xy("devel")
    design = lambda x: np.column_stack([x[:, :-1], np.ones(len(x))])  # noqa: E731
    coef, *_ = np.linalg.lstsq(design(xtr), ytr, rcond=None)
    r = np.corrcoef(design(xdv) @ coef, ydv)[0, 1]
    assert r > 0.3


def test_default_standin_has_ten_subjects_in_every_test_set():
    """The default profile's scale (small): each culture's test set, the DE+HU devel
    set (sewa-devel) and every culture (cross-culture) hold at least 10 subjects."""
    from emobench.profiles import get_profile
    from emobench_plugins.datasets.sewa.standin import SCALES

    counts = SCALES[get_profile("default").scale].counts
    for culture in ("DE", "HU", "CN"):
        assert counts[("test", culture)] >= 10, culture
    assert counts[("devel", "DE")] + counts[("devel", "HU")] >= 10
