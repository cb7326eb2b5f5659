"""Measure how a run scales on this machine; prints the tables of docs/scaling.md.

    python scripts/scaling.py [--dataset unbc] [--model 'linear'] [--profile smoke]

Every configuration runs the same fixed matrix into a fresh results store (the
stand-ins are written once beforehand, so only evaluation is timed), then the
script reports wall time and speed-up relative to one local job.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(args: list[str], store: Path, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "emobench", "run", *args, "--store", f"sqlite:///{store}",
                    "--no-latency", "--no-progress"], check=True, env=env, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="unbc")
    ap.add_argument("--model", default="tiny-emotionet*")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--protocol", default="loso")
    opts = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="emobench-scaling-"))
    env = {**os.environ, "EMOBENCH_CACHE": str(work / "cache")}
    base = ["--dataset", opts.dataset, "--model", opts.model, "--profile", opts.profile,
            "--protocol", opts.protocol, "--folds", "4"]
    timed_run(base + ["--dry-run"], work / "warm.db", env)  # writes the stand-in once

    print(f"matrix: {' '.join(base)}\n")
    print("| executor | workers | wall s | speed-up |\n|---|---|---|---|")
    rows = []
    for label, extra in (("local processes", ["--jobs", "1"]), ("local processes", ["--jobs", "2"]),
                         ("Dask LocalCluster", ["--scheduler", "local", "--jobs", "1"]),
                         ("Dask LocalCluster", ["--scheduler", "local", "--jobs", "2"])):
        t = timed_run(base + extra, work / f"{len(rows)}.db", env)
        rows.append(t)
        print(f"| {label} | {extra[-1]} | {t:.1f} | {rows[0] / t:.2f} |", flush=True)

    print("\n| trials per fold | wall s | relative |\n|---|---|---|")
    first = None
    for trials in (1, 2, 4):
        t = timed_run(base + ["--trials", str(trials)], work / f"t{trials}.db", env)
        first = first or t
        print(f"| {trials} | {t:.1f} | {t / first:.2f} |", flush=True)

    print("\n| folds | wall s | relative |\n|---|---|---|")
    first = None
    for folds in (1, 2, 4):
        t = timed_run(base + ["--trials", "1", "--folds", str(folds)], work / f"f{folds}.db", env)  # last --folds wins
        first = first or t
        print(f"| {folds} | {t:.1f} | {t / first:.2f} |", flush=True)

    print("\n| corpus scale (profile) | wall s |\n|---|---|")
    for profile in ("smoke", "default"):
        args = ["--dataset", opts.dataset, "--model", opts.model, "--profile", profile,
                "--protocol", opts.protocol, "--trials", "1", "--folds", "2"]
        timed_run(args + ["--dry-run"], work / f"warm-{profile}.db", env)
        t = timed_run(args, work / f"p-{profile}.db", env)
        print(f"| {profile} | {t:.1f} |", flush=True)


if __name__ == "__main__":
    main()
