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
    """Frame-level regression and clip-level classification on one features stream."""

    name = "toy"
    folder = "Toy"
    modalities = {"feats": Modality("features", shape=(2,), rate=10.0, channels=("a", "b"))}
    tasks = (Task("level", "regression", "frame", rate=10.0, metric="ccc"),
             Task("kind", "classification", "clip", classes=("lo", "hi"), metric="accuracy"))
    protocols = ("subject-5fold",)

    def load(self, root):
        data = np.load(root / "toy.npz")
        recs = []
        for i in range(len(data["subject"])):
            x, y = data["x"][i], data["y"][i]
            recs.append(Recording(id=f"r{i:03d}", subject=str(data["subject"][i]),
                                  labels={"level": y, "kind": int(y.mean() > 0)},
                                  streams={"feats": lambda x=x, **_: x}))
        return recs

    def write_standin(self, out, scale="small", seed=0):
        rng = np.random.default_rng(seed)
        n = {"tiny": 20, "small": 40, "full": 80}[scale]
        latent = rng.normal(0, 1, (n, 30)).cumsum(1) / 3
        x = np.stack([latent + rng.normal(0, 0.3, latent.shape),
                      rng.normal(0, 1, latent.shape)], -1).astype(np.float32)
        y = latent + rng.normal(0, 0.2, latent.shape)
        out.mkdir(parents=True)
        np.savez(out / "toy.npz", x=x, y=y, subject=np.array([f"s{i % 10}" for i in range(n)]))
        return {"counts": {"recordings": n, "subjects": 10}, "ceilings": {"level": {"ccc": 0.95}}}


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

    @classmethod
    def search_space(cls, profile="default"):
        return {"ridge": D.FloatDistribution(0.01, 100.0, log=True)}

    def fit(self, train, valid, ctx):
        time.sleep(float(os.environ.get("EMOBENCH_TEST_SLOW", "0")))
        x = np.concatenate([s.x("features") for s in train])
        y = np.concatenate([s.y for s in train])
        xtx = x.T @ x + self.params["ridge"] * np.eye(x.shape[1])
        self.w = np.linalg.solve(xtx, x.T @ y)
        return self

    def predict(self, samples):
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
