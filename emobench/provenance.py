"""What is stored beside every result so a number can be traced: package
versions, git commit, machine."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("emobench", "torch", "numpy", "scikit-learn", "optuna", "pandas", "opencv-python-headless")


@functools.cache
def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            pass
    return out


@functools.cache
def git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.cache
def git_dirty() -> bool | None:
    """True when the emobench checkout has uncommitted changes to tracked files
    (None outside a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(proc.stdout.strip()) if proc.returncode == 0 else None


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {"host": platform.node(), "system": platform.system(), "machine": platform.machine(),
            "cpu": cpu_model(), "cores": os.cpu_count()}
