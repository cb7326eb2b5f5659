"""Memory layout and batch size of the built-in conv networks on this CPU (a script).

    python tests/bench/bench_layouts.py

Prints, on one thread:

* for each 2-d conv network the models train (frame-cnn, TSM-ResNet, the audio-visual
  branches, mini-Xception): milliseconds of a training step and of a prediction in
  NCHW and in channels-last layout (``conv_layout`` in
  emobench_plugins/models/common/torch_training.py picks channels-last on a CPU);
* for EmoP3D: milliseconds per clip of training and prediction at micro-batches of
  2-16 clips (``EmoP3D.MICRO_BATCH``, ``EmoP3D.INFER_BATCH``).

Figures are machine-dependent: read them as ratios. docs/performance.md has this
machine's output.
"""

from __future__ import annotations

import time

import torch
from torch.nn import functional as F


def _ms(fn, n: int = 6) -> float:
    """Mean milliseconds of ``n`` calls of ``fn()`` after one warm-up call (a training
    step too: emobench.profiling.latency.time_calls times inside inference mode)."""
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e3


def _networks():
    from emobench_plugins.models.av_agent.net import AudioNet, VisualNet
    from emobench_plugins.models.baselines.sequence_nets import _FrameCNNNet
    from emobench_plugins.models.mini_xception.net import MiniXception
    from emobench_plugins.models.tsm_resnet.net import ResNet18TSM

    # (name, constructor, input shape of a default-profile batch, classes)
    return [("frame-cnn", lambda: _FrameCNNNet(7, (16, 32, 64), 0.1), (16, 8, 48, 48), 7),
            ("tsm-resnet (batch 16)", lambda: ResNet18TSM(7, width=16), (16, 4, 3, 48, 48), 7),
            ("tsm-resnet (batch 4)", lambda: ResNet18TSM(7, width=16), (4, 4, 3, 48, 48), 7),
            ("av-visual", lambda: VisualNet(6, 0.25), (32, 3, 48, 48), 6),
            ("av-audio", lambda: AudioNet(6, 0.125, 128), (32, 1, 96, 64), 6),
            ("mini-xception", lambda: MiniXception(7), (32, 1, 48, 48), 7)]


def layouts() -> None:
    print(f"{'network':24s} {'train NCHW':>11s} {'channels-last':>14s} {'ratio':>6s}   "
          f"{'predict NCHW':>12s} {'channels-last':>14s} {'ratio':>6s}")
    for name, make, shape, n in _networks():
        row = []
        for last in (False, True):
            torch.manual_seed(0)
            net = make()
            if last:
                net = net.to(memory_format=torch.channels_last)
            x, y = torch.randn(*shape), torch.arange(shape[0]) % n

            def train():
                net.train()
                net.zero_grad()
                out = net(x)
                out = out if out.dim() == 2 else out.mean(1)
                F.cross_entropy(out, y).backward()

            def predict():
                net.eval()
                with torch.no_grad():
                    net(x)

            row += [_ms(train), _ms(predict)]
        a, b, c, d = row
        print(f"{name:24s} {a:9.1f} ms {c:11.1f} ms {a / c:5.2f}x   {b:10.1f} ms {d:11.1f} ms {b / d:5.2f}x")


def emop3d_batches() -> None:
    from emobench_plugins.models.emop3d.pyranet import EmoP3DNet

    net = EmoP3DNet(6)
    x, y = torch.rand(32, 1, 16, 100, 100) * 255, torch.arange(32) % 6
    print("\nEmoP3D, ms per 16x100x100 clip")
    print(f"{'batch':>6s} {'train':>8s} {'predict':>8s}")
    for bs in (2, 4, 8, 16):
        def train():
            for s in range(0, 32, bs):
                net.zero_grad()
                F.cross_entropy(net(x[s:s + bs]), y[s:s + bs]).backward()

        def predict():
            with torch.no_grad():
                for s in range(0, 32, bs):
                    net(x[s:s + bs])

        print(f"{bs:6d} {_ms(train, 2) / 32:8.2f} {_ms(predict, 2) / 32:8.2f}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread")
    layouts()
    emop3d_batches()
