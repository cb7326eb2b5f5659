"""One corpus, one model and one protocol, registered through the ``emobench``
entry-point group exactly as docs/plugins.md describes."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna.distributions as D

from emobench import (DataError, Dataset, DoctorReport, Fold, Modality, Model, Problem, Protocol,
                      Recording, Task, hookimpl, inside, open_every_stream)

CLASSES = ("calm", "excited")


class ToneCorpus(Dataset):
    """Per-recording CSV files of 3 prosody features; excited speakers are louder."""

    name = "example-tones"
    version = "1"
    title = "Example tones (third-party plugin)"
    folder = "ExampleTones"
    modalities = {"prosody": Modality("features", shape=(3,), rate=10.0,
                                      channels=("pitch", "energy", "rate"))}
    tasks = (Task("excitement", "classification", "clip", classes=CLASSES, metric="uar"),)
    protocols = ("example-odd-even", "subject-5fold")

    def load(self, root: Path) -> list[Recording]:
        recs = []
        with open(root / "labels.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                path = inside(root, "features", f"{row['id']}.csv", what="id in labels.csv")
                recs.append(Recording(
                    id=row["id"], subject=row["speaker"],
                    labels={"excitement": CLASSES.index(row["label"])},
                    streams={"prosody": lambda path=path, **_: np.loadtxt(path, delimiter=",",
                                                                          dtype=np.float32)}))
        return recs

    def doctor(self, root: Path) -> DoctorReport:
        """The base doctor's checks plus one of this corpus: every speaker has
        both classes."""
        report = DoctorReport(self.name, str(root))
        try:
            recs = self.load(root)
        except (DataError, OSError, KeyError, ValueError) as exc:
            report.problems.append(Problem(str(getattr(exc, "path", root)), str(exc)))
            return report
        report.counts = {"recordings": len(recs)}
        report.counts["streams_opened"] = open_every_stream(recs, report.problems)
        for spk in sorted({r.subject for r in recs}):
            kinds = {r.labels["excitement"] for r in recs if r.subject == spk}
            if len(kinds) < 2:
                report.problems.append(Problem(str(root / "labels.csv"),
                                               f"speaker {spk} has one class only", "warning"))
        return report

    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        rng = np.random.default_rng(seed)
        n_speakers = {"tiny": 6, "small": 10, "full": 20}[scale]
        (out / "features").mkdir(parents=True)
        rows = []
        for s in range(n_speakers):
            offset = rng.normal(0, 0.5, 3)
            for k in range(6):
                label = k % 2
                x = rng.normal(0, 1, (40, 3)) + offset + label * np.array([0.5, 1.0, 0.3])
                rid = f"spk{s:02d}_utt{k}"
                np.savetxt(out / "features" / f"{rid}.csv", x, delimiter=",", fmt="%.5f")
                rows.append({"id": rid, "speaker": f"spk{s:02d}", "label": CLASSES[label]})
        with open(out / "labels.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["id", "speaker", "label"])
            w.writeheader()
            w.writerows(rows)
        return {"counts": {"recordings": len(rows), "subjects": n_speakers}, "ceilings": {}}


class NearestCentroid(Model):
    """Classifies a clip by the nearest class centroid of its mean feature vector."""

    name = "example-centroid"
    version = "1"
    paper = "a textbook nearest-centroid classifier"
    consumes = ("features",)
    task_kinds = ("classification",)
    levels = ("clip",)
    paper_params = {"shrink": 0.0}

    @classmethod
    def search_space(cls, profile="default"):
        return {"shrink": D.FloatDistribution(0.0, 0.9)}

    @classmethod
    def param_count(cls, modalities=None, task=None):
        return 6

    def fit(self, train, valid, ctx):
        x = np.stack([s.x("features").mean(0) for s in train])
        y = np.array([s.y for s in train])
        grand = x.mean(0)
        self.centroids = np.stack([
            (1 - self.params["shrink"]) * x[y == c].mean(0) + self.params["shrink"] * grand
            for c in range(len(ctx.task.classes))])
        return self

    def predict(self, samples):
        x = np.stack([s.x("features").mean(0) for s in samples])
        return list(np.argmin(((x[:, None] - self.centroids[None]) ** 2).sum(-1), axis=1))


@dataclass
class OddEvenSpeakers(Protocol):
    """Even-numbered speakers train, odd-numbered speakers test (one fold)."""

    name: str = "example-odd-even"
    version: str = "1"
    description: str = "Even speakers train (validation carved from them), odd speakers test."

    def folds(self, recordings, seed=0):
        speakers = sorted({r.subject for r in recordings})
        test = {s for i, s in enumerate(speakers) if i % 2}
        train_ids = [r.id for r in recordings if r.subject not in test]
        train, valid = self.split_valid(recordings, train_ids, seed)
        return [Fold("odd-speakers", train, valid,
                     tuple(r.id for r in recordings if r.subject in test))]


@hookimpl
def emobench_register_datasets():
    return [ToneCorpus()]


@hookimpl
def emobench_register_models():
    return [NearestCentroid]


@hookimpl
def emobench_register_protocols():
    return [OddEvenSpeakers()]
