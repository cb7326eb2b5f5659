"""fp32 vs bf16 autocast vs channels_last for the TSM ResNet and EMERT networks (a script).

Run: OMP_NUM_THREADS=1 python tests/bench/bench_tsm_emert.py [--size-tsm 48] [--width-tsm 16]
     [--size-emert 48] [--width-emert 16] [--threads 1] [--steps 60] [--repeats 5]

For each network, at the default profile's input side and width unless told otherwise:
* speed: CPU seconds (time.process_time, this process only, so neighbours' load counts less
  than in wall time) of one training step (forward, VTT / EMERT loss, backward, Adam step)
  and of one inference batch, for fp32, bf16 autocast (``torch.autocast("cpu",
  dtype=torch.bfloat16)``), channels_last fp32 and channels_last + bf16; the variants run
  interleaved (round robin, ``repeats`` rounds, the median per variant) and the ratios to
  fp32 are printed;
* learning: from the same initial weights, ``steps`` training steps per variant on a
  synthetic task whose class is a bright patch's position in the face crop (TSM) or a shift
  of the eye-movement stream (EMERT), then the validation loss and accuracy on held-out
  items of the same task (chance accuracy: 1 / classes).

Print the load average beside the figures (``uptime``); docs/models.md records them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import numpy as np
import torch

from emobench_plugins.models.emert.net import EMERTNet, emert_loss
from emobench_plugins.models.tsm_resnet.net import ResNet18TSM, vtt_loss

VARIANTS = ("fp32", "bf16", "channels_last", "channels_last+bf16")
CLASSES = 4


def _autocast(variant: str):
    if "bf16" in variant:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _layout(x: torch.Tensor, variant: str) -> torch.Tensor:
    if "channels_last" in variant and x.dim() == 5:  # (B, T, C, H, W): frames as the batch
        b, t = x.shape[:2]
        return x.reshape(b * t, *x.shape[2:]).contiguous(memory_format=torch.channels_last).view(x.shape)
    return x


def _prepare(net: torch.nn.Module, variant: str) -> torch.nn.Module:
    return net.to(memory_format=torch.channels_last) if "channels_last" in variant else net


# ------------------------------------------------------------------ synthetic tasks

def tsm_batch(rng: np.random.Generator, n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """4-frame clips of noise with a bright square in one of 4 quadrants (the class)."""
    y = rng.integers(CLASSES, size=n)
    x = rng.uniform(0, 0.3, size=(n, 4, 3, size, size)).astype(np.float32)
    h = size // 2
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, :, :, r * h + h // 4:r * h + 3 * h // 4, q * h + h // 4:q * h + 3 * h // 4] = 0.9
    return torch.from_numpy(x), torch.from_numpy(y)


def emert_batch(rng: np.random.Generator, n: int, size: int):
    y = rng.integers(CLASSES, size=n)
    faces = rng.uniform(0, 1, size=(n, 8, 3, size, size)).astype(np.float32)
    eyes = rng.normal(size=(n, 32, 39)).astype(np.float32)
    eyes[:, :, :4] += 1.5 * np.eye(CLASSES, dtype=np.float32)[y][:, None, :]
    fix = rng.normal(size=(n, 32, 2)).astype(np.float32)
    return (torch.from_numpy(faces), torch.from_numpy(eyes), torch.from_numpy(fix)), torch.from_numpy(y)


def tsm_loss(net, x, y):
    out = net(x)
    return vtt_loss(out.reshape(-1, out.shape[-1]).float(), y.repeat_interleave(out.shape[1]), None), out[:, -1]


def emert_step_loss(net, xs, y):
    res = net(*xs)
    task = torch.nn.functional.cross_entropy(res["out"].float(), y)
    return emert_loss(res, task, 0.1, 0.1, 1.0), res["out"]


# ------------------------------------------------------------------ measurement

def timed(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def speed(make_net, batch, loss_fn, repeats: int) -> dict:
    """Median CPU seconds of a training step and of an inference batch per variant."""
    xs, y = batch
    nets = {v: _prepare(make_net(), v) for v in VARIANTS}
    opts = {v: torch.optim.Adam(nets[v].parameters(), lr=1e-4) for v in VARIANTS}
    inputs = {v: tuple(_layout(x, v) for x in (xs if isinstance(xs, tuple) else (xs,))) for v in VARIANTS}
    pack = (lambda v: inputs[v]) if isinstance(xs, tuple) else (lambda v: inputs[v][0])
    train, infer = {v: [] for v in VARIANTS}, {v: [] for v in VARIANTS}

    def step(v):
        nets[v].train()
        with _autocast(v):
            loss, _ = loss_fn(nets[v], pack(v), y)
        opts[v].zero_grad()
        loss.backward()
        opts[v].step()

    def forward(v):
        nets[v].eval()
        with torch.inference_mode(), _autocast(v):
            loss_fn(nets[v], pack(v), y)

    for v in VARIANTS:  # warm-up (allocations, oneDNN primitive caches)
        step(v)
        forward(v)
    for _ in range(repeats):
        for v in VARIANTS:
            train[v].append(timed(lambda: step(v)))
            infer[v].append(timed(lambda: forward(v)))
    return {v: (statistics.median(train[v]), statistics.median(infer[v])) for v in VARIANTS}


def learning(make_net, draw, loss_fn, steps: int, seed: int = 0) -> dict:
    """Validation loss and accuracy after ``steps`` steps per variant, same start weights."""
    torch.manual_seed(seed)
    start = make_net().state_dict()
    rng = np.random.default_rng(seed)
    valid = draw(np.random.default_rng(seed + 1000), 64)
    out = {}
    for v in VARIANTS:
        net = make_net()
        net.load_state_dict(start)
        net = _prepare(net, v)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        rng = np.random.default_rng(seed)
        cpu = 0.0
        for _ in range(steps):
            xs, y = draw(rng, 16)
            xs = tuple(_layout(x, v) for x in xs) if isinstance(xs, tuple) else _layout(xs, v)
            t0 = time.process_time()
            net.train()
            with _autocast(v):
                loss, _ = loss_fn(net, xs, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            cpu += time.process_time() - t0
        net.eval()
        xs, y = valid
        xs = tuple(_layout(x, v) for x in xs) if isinstance(xs, tuple) else _layout(xs, v)
        with torch.inference_mode():  # validation in fp32 for every variant
            loss, logits = loss_fn(net, xs, y)
        out[v] = (float(loss), float((logits.argmax(-1) == y).float().mean()), cpu)
    return out


def report(name: str, sp: dict, lc: dict, steps: int) -> None:
    base_t, base_i = sp["fp32"]
    print(f"\n{name}")
    print(f"{'variant':20s} {'train step s':>12s} {'x fp32':>7s} {'infer s':>9s} {'x fp32':>7s} "
          f"{'val loss':>9s} {'val acc':>8s} {f'{steps} steps s':>12s}")
    for v in VARIANTS:
        t, i = sp[v]
        loss, acc, cpu = lc[v]
        print(f"{v:20s} {t:12.3f} {t / base_t:7.2f} {i:9.3f} {i / base_i:7.2f} {loss:9.4f} {acc:8.3f} {cpu:12.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-tsm", type=int, default=48)
    ap.add_argument("--width-tsm", type=int, default=16)
    ap.add_argument("--size-emert", type=int, default=48)
    ap.add_argument("--width-emert", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", choices=("tsm", "emert"), default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} thread(s), load average before "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rng = np.random.default_rng(0)
    if a.only in (None, "tsm"):
        make = lambda: ResNet18TSM(CLASSES, width=a.width_tsm)  # noqa: E731
        sp = speed(make, tsm_batch(rng, a.batch, a.size_tsm), tsm_loss, a.repeats)
        lc = learning(make, lambda r, n: tsm_batch(r, n, a.size_tsm), tsm_loss, a.steps)
        report(f"tsm-resnet: batch {a.batch} x 4 frames, {a.size_tsm} px, width {a.width_tsm}", sp, lc, a.steps)
    if a.only in (None, "emert"):
        make = lambda: EMERTNet(CLASSES, "discrete", width=a.width_emert)  # noqa: E731
        sp = speed(make, emert_batch(rng, a.batch, a.size_emert), emert_step_loss, a.repeats)
        lc = learning(make, lambda r, n: emert_batch(r, n, a.size_emert), emert_step_loss, a.steps)
        report(f"emert: batch {a.batch} x 8 faces, {a.size_emert} px, width {a.width_emert}", sp, lc, a.steps)
    print(f"\nload average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
