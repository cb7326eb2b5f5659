"""The layouts real copies have (issue 12): each variant is a fixture tree built
from the hand-made fixtures, and doctor reads it with the right counts."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from emobench import DataError, PathEscapeError
from emobench_plugins.datasets.biovid import BioVidPartA
from emobench_plugins.datasets.biovid import layout as BL
from emobench_plugins.datasets.sewa import Sewa
from emobench_plugins.datasets.unbc import Unbc

FIX = Path(__file__).parent / "fixtures"
BIOVID = FIX / "biovid" / "PartA"
SEWA = FIX / "sewa" / "AVEC2019_CES_traindeveltest"
UNBC = FIX / "unbc" / "UNBC-McMaster"


@pytest.fixture
def partA(tmp_path):
    root = tmp_path / "PartA"
    shutil.copytree(BIOVID, root)
    return root


def _zip_folder(folder: Path, archive: Path, inner: str) -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{inner}/{p.relative_to(folder)}")
    shutil.rmtree(folder)


def _doctor_counts(root):
    rep = BioVidPartA().doctor(root)
    assert rep.ok, [str(p) for p in rep.problems if p.severity == "error"]
    return rep.counts


def test_biovid_samples_in_starting_point(partA):
    (partA / "starting_point").mkdir()
    (partA / "samples.csv").rename(partA / "starting_point" / "samples.csv")
    assert len(BioVidPartA().load(partA)) == 3
    c = _doctor_counts(partA)
    assert c["samples"] == 3 and c["bio_files"] == 3 and c["videos"] == 3


def test_biovid_starting_point_zip_and_zipped_biosignals(partA):
    (partA / "starting_point").mkdir()
    (partA / "samples.csv").rename(partA / "starting_point" / "samples.csv")
    _zip_folder(partA / "starting_point", partA / "starting_point.zip", "starting_point")
    _zip_folder(partA / "biosignals_filtered", partA / "biosignals_filtered.zip",
                "biosignals_filtered")
    recs = {r.id: r for r in BioVidPartA().load(partA)}
    x = recs["071313_m_41-PA4-012"].load("physio")
    assert x.shape == (2816, 5)
    np.testing.assert_allclose(x[:, 0], 9 + np.arange(2816) / 512.0, atol=1e-3)
    c = _doctor_counts(partA)
    assert c["samples"] == 3 and c["bio_files"] == 3 and c["bio_part"].endswith(".zip")


def test_biovid_doubled_raw_folder(partA):
    src = partA / "biosignals_filtered"
    (partA / "biosignals_raw").mkdir()
    src.rename(partA / "biosignals_raw" / "biosignals_raw")
    c = _doctor_counts(partA)
    assert c["bio_files"] == 3 and "biosignals_raw/biosignals_raw" in c["bio_part"]


def test_biovid_zipped_videos_say_where_to_unpack(partA):
    _zip_folder(partA / "video", partA / "video.zip", "video")
    with pytest.raises(DataError, match=r"video.zip.*unpack it into .*PartA/video/"):
        BioVidPartA().load(partA)
    rep = BioVidPartA().doctor(partA)
    assert any("video.zip" in p.path and "unpack" in p.message for p in rep.problems)


def test_biovid_six_columns_from_1250_us_in_e_and_g(partA):
    f = partA / "biosignals_filtered" / "071313_m_41" / "071313_m_41-BL1-081_bio.csv"
    n = 2816
    t = 1250 + np.floor(np.arange(n) * 1e6 / 512).astype(int)
    lines = ["time\t gsr\t ecg\t emg_trapezius\t emg_corrugator\t emg_zygomaticus"]
    lines += [f"{t[k]}\t{5 + k / 512:e}\t{0.5:e}\t{0.01:g}\t{0.02 * (k % 2):g}\t{-3e-5:g}"
              for k in range(n)]
    f.write_text("\n".join(lines) + "\n")
    time, x, present = BL.read_bio_channels(f)
    assert present == BL.BIO_CHANNELS and x.shape == (n, 5)
    assert set(np.diff(time[:10])) <= {1953.0, 1954.0} and time[0] == 1250
    np.testing.assert_allclose(x[1::2, 3], 0.02, rtol=1e-6)
    np.testing.assert_allclose(x[:, 4], -3e-5, rtol=1e-6)
    rep = BioVidPartA().doctor(partA)
    four = [p for p in rep.problems if "four-column" in p.message]
    assert rep.ok and len(four) == 2  # the two other fixture files are four-column


@pytest.mark.parametrize("edit, expected", [
    ("../../../../outside/secret", "leaves the data root"),
    ("/etc/passwd", "not a relative name"),
])
def test_biovid_sample_names_cannot_leave_the_root(partA, edit, expected):
    p = partA / "samples.csv"
    p.write_text(p.read_text().replace("082315_w_60-PA2-044", edit))
    with pytest.raises(PathEscapeError, match=expected):
        BioVidPartA().load(partA)
    rep = BioVidPartA().doctor(partA)
    assert not rep.ok and any(expected in p.message for p in rep.problems)


def test_unbc_aligned_jpg_tree(tmp_path):
    root = tmp_path / "UNBC-McMaster"
    shutil.copytree(UNBC, root)
    for png in sorted((root / "Images").rglob("*.png")):
        rel = png.relative_to(root / "Images").with_suffix(".jpg")
        (root / "aligned" / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "aligned" / rel), cv2.imread(str(png)))
    want = Unbc().doctor(UNBC).counts
    shutil.rmtree(root / "Images")
    rep = Unbc().doctor(root)
    assert rep.ok, [str(p) for p in rep.problems]
    assert rep.counts["frames"] == want["frames"] and rep.counts["recordings"] == want["recordings"]
    rec = Unbc().load(root)[0]
    assert rec.load("face_video").shape[0] == rec.meta["n_frames"]


def test_sewa_truncated_last_openface_row_is_dropped_and_reported(tmp_path):
    root = tmp_path / SEWA.name
    shutil.copytree(SEWA, root)
    f = root / "visual_features" / "Train_DE_01.csv"
    n_before = len([ln for ln in f.read_text().splitlines() if ln.strip()])
    f.write_text(f.read_text().rstrip("\n") + "\n'Train_DE_01';99.9;0.9;1.0")
    from emobench_plugins.datasets.sewa.layout import read_openface

    of = read_openface(f)
    assert len(of.times) == n_before - 1 and "truncated" in of.dropped[0]
    rep = Sewa().doctor(root)
    assert any(p.path == str(f) and "truncated" in p.message for p in rep.problems)


def test_sewa_primary_metric_is_the_official_avec_2019_ccc():
    """Worked example against the formula of AVEC 2019's calc_scores.py, written out
    here: covariance = nanmean((x - mx)(y - my)), variances with 1/(n-1)."""
    from emobench.metrics import get_metric

    task = Sewa().task("arousal")
    assert task.primary_metric == "ccc_avec" and "ccc" in task.all_metrics
    x = np.array([0.1, 0.3, -0.2, 0.5, 0.0, 0.4])
    y = np.array([0.2, 0.1, -0.1, 0.6, 0.1, 0.2])
    n = len(x)
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).sum() / n
    vx, vy = ((x - mx) ** 2).sum() / (n - 1), ((y - my) ** 2).sum() / (n - 1)
    official = 2 * cov / (vx + vy + (mx - my) ** 2)
    # by hand: means 1.1/6 both, cov 0.248333/6, var 0.348333/5 and 0.268333/5
    assert official == pytest.approx(2 * 0.248333 / 6 / ((0.348333 + 0.268333) / 5), abs=1e-5)
    assert official == pytest.approx(0.671171, abs=1e-6)
    assert abs(get_metric(task.primary_metric).fn(x, y) - official) < 1e-12
    assert abs(get_metric("ccc").fn(x, y) - official) > 1e-3  # plain CCC differs


def test_sewa_labels_out_of_time_order_are_refused_with_rows(tmp_path):
    root = tmp_path / SEWA.name
    shutil.copytree(SEWA, root)
    f = root / "labels" / "Train_DE_01.csv"
    lines = f.read_text().splitlines()
    lines[3], lines[4] = lines[4], lines[3]
    f.write_text("\n".join(lines) + "\n")
    rep = Sewa().doctor(root)
    (p,) = [p for p in rep.problems if p.path == str(f)]
    assert p.severity == "error" and "not increasing at data row(s) 4 (0.2 s after 0.3 s)" in p.message
