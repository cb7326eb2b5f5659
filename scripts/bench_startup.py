"""Start-up and no-op rerun times of the ``emobench`` command.

    python scripts/bench_startup.py [--repeat 3] [--rerun "run --dataset ckplus --model linear"]

For each command: the median wall seconds and the median CPU seconds (user +
system of the child, which is what a loaded machine does not inflate) over
``--repeat`` fresh processes, and the load average when measured. With
``--rerun ARGS`` the command ``emobench ARGS --store <tmp> --no-progress`` is
run once to fill a private store (in a private ``EMOBENCH_CACHE`` unless one is
set), then timed again as the rerun with nothing left to compute. Also prints
which heavy libraries each start-up imported (none should, see
tests/test_startup.py). Timing asserts belong here, never in the test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HEAVY = ("torch", "optuna", "sklearn", "matplotlib", "cv2", "sqlalchemy", "pandas", "scipy")


def timed(argv: list[str], env: dict) -> tuple[float, float, int]:
    """(wall s, CPU s of the child, exit code) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rc


def heavy_imports(args: list[str], env: dict) -> list[str]:
    code = ("import sys\nsys.argv = ['emobench', *%r]\nfrom emobench.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(','.join(m for m in %r if m in sys.modules), file=sys.stderr)") % (args, HEAVY)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return [m for m in (out.stderr.strip().splitlines() or [""])[-1].split(",") if m]


def report(label: str, argv: list[str], env: dict, repeat: int) -> None:
    runs = [timed(argv, env) for _ in range(repeat)]
    walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
    load = os.getloadavg()[0]
    rc = {r[2] for r in runs}
    print(f"{label:34s} wall {statistics.median(walls):6.2f} s   cpu {statistics.median(cpus):6.2f} s   "
          f"(median of {repeat}; load {load:.1f}; exit {','.join(map(str, sorted(rc)))})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rerun", default="", help="emobench arguments of a run to time as a no-op rerun")
    a = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    exe = [sys.executable, "-m", "emobench"]
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start", flush=True)
    report("python -c pass (the floor)", [sys.executable, "-c", "pass"], env, a.repeat)
    report("python -c 'import emobench'", [sys.executable, "-c", "import emobench"], env, a.repeat)
    for args in (["--help"], ["list"]):
        report("emobench " + " ".join(args), exe + args, env, a.repeat)
        print(f"{'':34s} heavy modules imported: {', '.join(heavy_imports(args, env)) or 'none'}")
    if a.rerun:
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
            env_run = dict(env)
            env_run.setdefault("EMOBENCH_CACHE", os.path.join(tmp, "cache"))
            store = f"sqlite:///{tmp}/r.db"
            argv = exe + shlex.split(a.rerun) + ["--store", store, "--no-progress"]
            wall, cpu, rc = timed(argv, env_run)
            print(f"{'first run (fills the store)':34s} wall {wall:6.2f} s   cpu {cpu:6.2f} s   (exit {rc})")
            report("no-op rerun", argv, env_run, a.repeat)


if __name__ == "__main__":
    main()
