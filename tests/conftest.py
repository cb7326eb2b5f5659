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
    monkeypatch.setenv("EMOBENCH_JOBS", "1")  # tests ask for worker pools explicitly
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


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: a second intra-op thread only adds synchronisation."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tree_digest(root: Path) -> str:
    """SHA-256 over the relative paths and bytes of every file below ``root``."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def ccc_ref(a, b):
    """Lin's CCC written out independently of emobench.metrics (population moments)."""
    import numpy as np

    a, b = np.asarray(a, float), np.asarray(b, float)
    cov = np.mean((a - a.mean()) * (b - b.mean()))
    return 2 * cov / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)


@pytest.fixture
def reg(monkeypatch):
    """The registry the runner sees in these tests: the built-in protocols and
    baselines (through their entry points) plus the test kit (tests/plugin_kit.py)."""
    from importlib.metadata import entry_points

    import emobench.plugins as P
    import plugin_kit
    from emobench import runner

    eps = [e for e in entry_points(group="emobench") if e.name in ("protocols", "baselines")]
    monkeypatch.setattr("emobench.plugins.entry_points", lambda group: eps)
    r = P.load_registry([(plugin_kit, P.Origin("testkit", "emobench-testkit", "1.0"))])
    monkeypatch.setattr(P, "_REGISTRY", r)
    runner._RECORDINGS.clear()
    return r
