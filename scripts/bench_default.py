"""Benchmark of the budgeted default run on this machine (issues 16 and 22).

    python scripts/bench_default.py                      # levers, bf16, start-up, the plan
    python scripts/bench_default.py --store sqlite:////tmp/x.db   # + measured seconds per cell

Prints: the machine and its load; EmoP3D's speed levers (the former and the
fused kernels, micro-batches) with the ratio each bought; the fp32/bf16 ratio
and a learning check per conv model; CLI start-up times; the budget plan's
estimate per cell and in total for the registered default matrix (from the
real fold plans: corpora are read, stand-ins written when missing); and, with
``--store``, the measured seconds per cell of the rows there (fit time against
harness time) and the no-op rerun time. Timings are medians; on a loaded
machine read the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np


def _median_ms(fn, reps: int = 3) -> float:
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))


def emop3d_levers() -> list[str]:
    import torch
    from torch.nn import functional as F

    from emobench_plugins.models.emop3d import accumulate_step
    from emobench_plugins.models.emop3d import pyranet as P

    def old_pool(self, x):
        n, f, d, h, w = x.shape
        h2, w2 = h // 2, w // 2
        y = x[..., :h2 * 2, :w2 * 2].reshape(n, f, d, h2, 2, w2, 2).amax(dim=(4, 6))
        dd = y.shape[2] - self.temporal + 1
        y = torch.stack([y.narrow(2, k, dd) for k in range(self.temporal)]).amax(0)
        return F.leaky_relu(y * self.weight + self.bias, P.LEAK)

    def train_ms(batch: int, micro: int | None, old: bool) -> float:
        torch.manual_seed(0)
        saved = (P.standardize, P.PyraPool3D.forward)
        if old:
            P.standardize, P.PyraPool3D.forward = P.standardize_reference, old_pool
        try:
            net = P.EmoP3DNet(2)
            opt = torch.optim.Adam(net.parameters(), 1e-4)
            X = (np.random.default_rng(0).random((batch, 16, 100, 100)) * 255).astype(np.uint8)
            Y = torch.tensor(np.arange(batch) % 2)
            idx = np.arange(batch)

            def step():
                opt.zero_grad()
                accumulate_step(net, X, Y, idx, "cpu", micro or batch)
                opt.step()
            return _median_ms(step) / batch
        finally:
            P.standardize, P.PyraPool3D.forward = saved

    rows = {("old kernels", 16, None): train_ms(16, None, True),
            ("old kernels", 100, None): train_ms(100, None, True),
            ("fused kernels", 16, None): train_ms(16, None, False),
            ("fused kernels", 100, None): train_ms(100, None, False),
            ("fused kernels", 100, 16): train_ms(100, 16, False)}
    base = rows[("old kernels", 100, None)]
    out = ["EmoP3D training step, ms per clip (forward + backward + Adam), 2 classes, 16x100x100:"]
    for (kind, b, m), v in rows.items():
        out.append(f"  {kind:13s} batch {b:3d} micro {m or b:3d}: {v:6.1f} ms/clip  "
                   f"({base / v:4.2f}x vs old kernels at batch 100)")
    return out


def bf16_check() -> list[str]:
    """fp32 against bf16 autocast: step time and the loss after the same steps."""
    import torch
    from torch.nn import functional as F

    from emobench_plugins.models.emop3d.pyranet import EmoP3DNet

    out = ["bf16 autocast against fp32 (EmoP3D, 12 Adam steps of 16 clips on a learnable toy task):"]
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.random((16, 1, 16, 100, 100)).astype(np.float32) * 255)
    Y = torch.tensor(np.arange(16) % 2)
    X[Y == 1, :, :, 40:60, 40:60] += 60.0  # a bright patch marks class 1
    losses, times = {}, {}
    for mode in ("fp32", "bf16"):
        torch.manual_seed(0)
        net = EmoP3DNet(2)
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        hist, t0 = [], time.perf_counter()
        for _ in range(12):
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                loss = F.cross_entropy(net(X), Y)
            loss.float().backward()
            opt.step()
            hist.append(float(loss.detach()))
        times[mode], losses[mode] = time.perf_counter() - t0, hist
    out.append(f"  fp32 {times['fp32']:.1f} s, bf16 {times['bf16']:.1f} s: bf16/fp32 time ratio "
               f"{times['bf16'] / times['fp32']:.2f}")
    out.append(f"  loss first/last: fp32 {losses['fp32'][0]:.3f} -> {losses['fp32'][-1]:.3f}, "
               f"bf16 {losses['bf16'][0]:.3f} -> {losses['bf16'][-1]:.3f}")
    return out


def startup() -> list[str]:
    out = ["CLI start-up (wall seconds, median of 3):"]
    for args in (["--help"], ["list"]):
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "emobench", *args], capture_output=True)
            ts.append(time.perf_counter() - t0)
        out.append(f"  emobench {' '.join(args):7s}: {np.median(ts):.2f} s")
    return out


def plan_lines(minutes: float | None, workers: int) -> list[str]:
    from emobench import budget
    from emobench.cells import plan as plan_cells
    from emobench.jobs import make_jobs
    from emobench.plugins import registry
    from emobench.profiles import get_profile
    from emobench.runner import load_checked

    reg, prof = registry(), get_profile("default")
    cells, _ = plan_cells(reg, prof)
    p = make_jobs(reg, cells, prof, seeds=tuple(range(prof.seeds)), trials=prof.trials, root=None,
                  store_url="sqlite:///:memory:", optuna_url=None, load_recordings=load_checked)
    b = budget.plan(p.jobs, minutes if minutes is not None else prof.budget_minutes,
                    budget.machine(workers), reg)
    return ["Budget plan of the default matrix:", *("  " + ln for ln in budget.describe(b))]


def measured(store_url: str) -> list[str]:
    from emobench.store import Store

    cells: dict = {}
    for r in Store(store_url).rows():
        t = r.get("timings") or {}
        c = cells.setdefault(f"{r['dataset']}/{r['task']} x {r['model']}", [0.0, 0.0, 0])
        c[0] += float(t.get("tune_s", 0)) + float(t.get("predict_s", 0))
        c[1] += float(t.get("wall_s", t.get("tune_s", 0)))
        c[2] += 1
    out = ["Measured per cell (fit = tuning + prediction seconds, from the rows):"]
    for name, (fit, _, n) in sorted(cells.items(), key=lambda kv: kv[1][0]):
        out.append(f"  {fit:8.1f} s fit  {n:3d} rows  {name}")
    out.append(f"  total fit {sum(v[0] for v in cells.values()) / 60:.1f} min")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "emobench", "run", "--all", "--profile", "default",
                    "--store", store_url, "--no-latency"], capture_output=True)
    out.append(f"  no-op rerun against this store: {time.perf_counter() - t0:.1f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", help="a store holding a finished default run")
    ap.add_argument("--budget", type=float, default=None)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--skip", nargs="*", default=[], choices=["levers", "bf16", "startup", "plan"])
    a = ap.parse_args()
    load = os.getloadavg()[0]
    from emobench.profiling import machine_info

    info = machine_info()
    print(f"# {info['cpu']}, {info['cores']} cores, torch {info['torch']}; load (1 min) {load:.2f}")
    parts = [("levers", emop3d_levers), ("bf16", bf16_check), ("startup", startup),
             ("plan", lambda: plan_lines(a.budget, a.workers))]
    for name, fn in parts:
        if name not in a.skip:
            print("\n".join(fn()), flush=True)
    if a.store:
        print("\n".join(measured(a.store)))
    print(f"# load (1 min) at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
