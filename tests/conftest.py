import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "thirdparty" / "emobench-example"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Stand-ins written by one test session are shared; results never are."""
    cache = tmp_path_factory.getbasetemp() / "emobench-cache"
    monkeypatch.setenv("EMOBENCH_CACHE", str(cache))
    monkeypatch.delenv("EMOBENCH_DATA", raising=False)
    monkeypatch.delenv("EMOBENCH_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("EMOBENCH_BLOCK_PLUGINS", raising=False)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    """The third-party example package, pip-installed into its own folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(EXAMPLE)],
                   check=True, capture_output=True)
    return target


def run_cli(*args, cwd, env_extra=None, check=True, timeout=600):
    env = {**os.environ, **(env_extra or {})}
    proc = subprocess.run([sys.executable, "-m", "emobench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"emobench {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc
