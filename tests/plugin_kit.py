"""Small plugins for the harness's own tests: a toy corpus and models that fail
in controlled ways. ``install_dist`` makes any module an installed distribution
with an ``emobench`` entry point, so subprocess runs discover it too."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import optuna.distributions as D

from emobench import Dataset, Modality, Model, Task, hookimpl
from emobench.data import Recording


class Toy(Dataset):
    """A CSV corpus: ``labels.csv`` (id, subject, kind), per-recording features
    ``frames/<id>.csv`` (columns a, b) and frame labels ``levels/<id>.txt``.
    Frame-level regression of ``level`` and clip-level classification of ``kind``."""

    name = "toy"
    folder = "Toy"
    modalities = {"feats": Modality("features", shape=(2,), rate=10.0, channels=("a", "b"))}
    tasks = (Task("level", "regression", "frame", rate=10.0, metric="ccc"),
             Task("kind", "classification", "clip", classes=("lo", "hi"), metric="accuracy"))
    protocols = ("subject-5fold",)

    def load(self, root):
        index = root / "labels.csv"
        if not index.exists():
            raise FileNotFoundError(f"{index}: label file is missing")
        recs = []
        rows = np.loadtxt(index, delimiter=",", dtype=str, skiprows=1, ndmin=2)
        for line, row in enumerate(rows, start=2):
            rid, subject, kind = (str(v) for v in row)
            if not subject.strip():
                raise ValueError(f"{index}, line {line}: recording {rid!r} has an empty subject")
            if kind not in self.tasks[1].classes:
                raise ValueError(f"{index}, line {line}: unknown class code {kind!r} "
                                 f"(expected one of {self.tasks[1].classes})")
            path = root / "frames" / f"{rid}.csv"
            level = np.loadtxt(root / "levels" / f"{rid}.txt", ndmin=1)
            recs.append(Recording(id=rid, subject=subject,
                                  labels={"level": level, "kind": self.tasks[1].classes.index(kind)},
                                  streams={"feats": lambda path=path, **_: _features(path)}))
        return recs

    def write_standin(self, out, scale="small", seed=0):
        rng = np.random.default_rng(seed)
        n = {"tiny": 20, "small": 40, "full": 80}[scale]
        (out / "frames").mkdir(parents=True)
        (out / "levels").mkdir()
        lines = ["id,subject,kind"]
        for i in range(n):
            latent = rng.normal(0, 1, 30).cumsum() / 3
            x = np.stack([latent + rng.normal(0, 0.3, 30), rng.normal(0, 1, 30)], 1)
            np.savetxt(out / "frames" / f"r{i:03d}.csv", x, delimiter=",", fmt="%.6f",
                       header="a,b", comments="")
            np.savetxt(out / "levels" / f"r{i:03d}.txt", latent + rng.normal(0, 0.2, 30), fmt="%.6f")
            lines.append(f"r{i:03d},s{i % 10},{'hi' if latent.mean() > 0 else 'lo'}")
        (out / "labels.csv").write_text("\n".join(lines) + "\n")
        return {"counts": {"recordings": n, "subjects": 10}, "ceilings": {"level": {"ccc": 0.95}}}


def _features(path):
    try:
        return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2).astype(np.float32)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable features: {exc}") from None


class Failing(Model):
    name = "failing"
    consumes = ("features",)

    def fit(self, train, valid, ctx):
        raise RuntimeError("deliberate failure inside fit")


class NaNLoss(Model):
    name = "nan-loss"
    consumes = ("features",)

    def fit(self, train, valid, ctx):
        return self

    def predict(self, samples):
        return [np.full(len(np.atleast_1d(s.y)), np.nan) if s.task.level == "frame" else np.nan
                for s in samples]


class Slow(Model):
    """Deterministic per-frame least squares that takes its time (for kill tests)."""

    name = "slow"
    consumes = ("features",)
    levels = ("frame",)
    task_kinds = ("regression",)
    paper_params = {"ridge": 1.0}
    window = 5  # frames the model needs per recording

    @classmethod
    def search_space(cls, profile="default"):
        return {"ridge": D.FloatDistribution(0.01, 100.0, log=True)}

    def _check(self, samples):
        for s in samples:
            n = len(s.x("features"))
            if n < self.window:
                raise ValueError(f"recording {s.id!r} has {n} frames, fewer than model "
                                 f"{self.name!r} needs (window={self.window})")

    def fit(self, train, valid, ctx):
        time.sleep(float(os.environ.get("EMOBENCH_TEST_SLOW", "0")))
        self._check(train)
        x = np.concatenate([s.x("features") for s in train])
        y = np.concatenate([s.y for s in train])
        xtx = x.T @ x + self.params["ridge"] * np.eye(x.shape[1])
        self.w = np.linalg.solve(xtx, x.T @ y)
        return self

    def predict(self, samples):
        self._check(samples)
        return [s.x("features") @ self.w for s in samples]


@hookimpl
def emobench_register_datasets():
    return [Toy()]


@hookimpl
def emobench_register_models():
    return [Failing, NaNLoss, Slow]


def install_dist(site: Path, name: str = "emobench-testkit", module: str = "plugin_kit") -> Path:
    """Register ``module`` (importable from tests/) as an installed distribution."""
    dist = site / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[emobench]\ntestkit = {module}\n")
    return site
