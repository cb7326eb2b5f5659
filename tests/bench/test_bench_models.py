"""Model speed figures (pytest-benchmark; not part of the default test run).

Run with::

    python -m pytest tests/bench/test_bench_models.py --benchmark-only -p no:cacheprovider -s

Figures go to docs/models.md. No assertion on speed: the machine is shared and
noisy, so these only print and record numbers (in ``extra_info``).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from emobench.data import Modality, Recording, Sample, Task
from emobench.model import FitContext
from emobench_plugins.models import emop3d, tiny_emotionet
from emobench_plugins.models.emop3d.pyranet import EmoP3DNet


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return EmoP3DNet(6).eval()


@pytest.mark.parametrize("batch", [1, 8])
def test_emop3d_forward_latency(benchmark, net, batch):
    x = torch.randint(0, 256, (batch, 1, 16, 100, 100)).float()

    def run():
        with torch.no_grad():
            return net(x)

    benchmark.pedantic(run, rounds=10, warmup_rounds=2)
    med = benchmark.stats.stats.median
    benchmark.extra_info.update({"threads": torch.get_num_threads(), "ms_per_batch": med * 1e3,
                                 "clips_per_s": batch / med})
    print(f"\nemop3d forward batch {batch}: {med * 1e3:.1f} ms ({batch / med:.1f} clips/s, "
          f"{torch.get_num_threads()} threads)")


def test_emop3d_train_step_batch_8(benchmark, net):
    model = EmoP3DNet(6)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randint(0, 256, (8, 1, 16, 100, 100)).float()
    y = torch.randint(0, 6, (8,))

    def run():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    med = benchmark.stats.stats.median
    benchmark.extra_info["s_per_clip"] = med / 8
    print(f"\nemop3d train step batch 8: {med:.2f} s ({med / 8 * 1e3:.0f} ms per clip)")


def _videos(n, frames=40, seed=0):
    task = Task("emotion", "classification", classes=tuple("abcdef"))
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        v = rng.integers(0, 255, size=(frames, 100, 100)).astype(np.uint8)
        rec = Recording(f"v{i}", f"s{i}", labels={"emotion": i % 6},
                        streams={"video": (lambda v=v, **kw: v)})
        out.append(Sample(rec, task, {"face_video": "video"}))
    return task, out


def test_emop3d_epoch_cost(benchmark):
    """One training epoch (+ validation) at paper shapes on 40 videos x 4 clips = 160 clips."""
    task, videos = _videos(48)
    ctx = FitContext(task=task, modalities={}, profile="smoke", seed=0,
                     score=lambda s, p: float(np.mean([x.y == y for x, y in zip(s, p)])))

    def run():
        return emop3d.EmoP3D(epochs=1, batch_size=32).fit(videos[:40], videos[40:], ctx)

    benchmark.pedantic(run, rounds=1, warmup_rounds=0)
    med = benchmark.stats.stats.median
    benchmark.extra_info.update({"train_clips": 160, "s_per_epoch": med})
    print(f"\nemop3d: one epoch on 160 training clips + 32 validation clips: {med:.1f} s")


def test_tiny_emotionet_epoch_cost_sewa_shapes(benchmark):
    """Full-batch epochs at SEWA DE shapes: 34 x 1768 x 37 train, 14 valid sequences."""
    task = Task("arousal", "regression", level="frame", rate=10.0)
    rng = np.random.default_rng(0)

    def sample(i):
        x = rng.random((1768, 37), dtype=np.float32)
        rec = Recording(f"r{i}", f"s{i}", labels={"arousal": rng.normal(size=1768)},
                        streams={"features": (lambda x=x, **kw: x)})
        return Sample(rec, task, {"features": "features"})

    train, valid = [sample(i) for i in range(34)], [sample(100 + i) for i in range(14)]
    from emobench.metrics import ccc

    ctx = FitContext(task=task, modalities={"features": Modality("features", (None, 37))},
                     profile="smoke", seed=0,
                     score=lambda s, p: ccc(np.concatenate([x.y for x in s]), np.concatenate(p)))
    n = 20

    def run():
        return tiny_emotionet.TinyEmotioNet(epochs=n).fit(train, valid, ctx)

    benchmark.pedantic(run, rounds=1, warmup_rounds=0)
    med = benchmark.stats.stats.median
    benchmark.extra_info["s_per_epoch"] = med / n
    print(f"\ntiny-emotionet: {med / n * 1e3:.0f} ms per full-batch epoch incl. validation")
    model = tiny_emotionet.TinyEmotioNet(epochs=1).fit(train[:2], [], ctx)
    st = model.streamer("features", task)
    rows = train[0].x("features")
    t0 = time.perf_counter()
    for row in rows[:400]:
        st.push(row)
    per_row = (time.perf_counter() - t0) / 400
    benchmark.extra_info["stream_ms_per_row"] = per_row * 1e3
    print(f"tiny-emotionet streaming: {per_row * 1e3:.2f} ms per pushed row "
          f"({1 / per_row:.0f} rows/s; the model needs 10 rows/s)")
