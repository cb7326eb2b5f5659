"""Base class of a corpus plugin.

A dataset plugin has two halves that meet at the corpus's real on-disk layout:
:meth:`Dataset.load` reads the tree exactly as the corpus is distributed, and
:meth:`Dataset.write_standin` writes a small tree in that same layout from the
synthetic affect world (:mod:`emobench.sim`), so the loader is exercised by
every default run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from emobench.data import Modality, Recording, Task

STANDIN_MARKER = "EMOBENCH_STANDIN.json"


@dataclass
class Problem:
    """One thing wrong with a corpus tree, reported by ``emobench doctor``."""

    path: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"


@dataclass
class DoctorReport:
    dataset: str
    root: str
    counts: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "root": self.root, "ok": self.ok, "counts": self.counts,
                "problems": [vars(p) for p in self.problems]}


class Dataset:
    """Subclass and set the class attributes; implement :meth:`load` and
    :meth:`write_standin`.

    Attributes:
        name: identifier used on the command line and in results (kebab-case).
        version: bump when the loader's output changes; part of every cache key.
        folder: the folder name expected under the data root.
        modalities: modality name -> :class:`Modality`.
        tasks: the prediction tasks.
        protocols: protocol names that apply to this corpus; the first one is the
            corpus's primary protocol (the only one the default profile runs).
        citation, url: where the corpus comes from.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    title: ClassVar[str] = ""
    folder: ClassVar[str] = ""
    modalities: ClassVar[dict[str, Modality]] = {}
    tasks: ClassVar[tuple[Task, ...]] = ()
    protocols: ClassVar[tuple[str, ...]] = ()
    citation: ClassVar[str] = ""
    url: ClassVar[str] = ""

    # -- the two halves -------------------------------------------------
    def load(self, root: Path) -> list[Recording]:
        """Read the corpus tree at ``root`` (the corpus folder itself)."""
        raise NotImplementedError

    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        """Write a stand-in tree in the real layout into ``out`` from the synthetic
        world. Return metadata stored in the stand-in marker: at least
        ``{"ceilings": {task_name: {metric: value}}, "counts": {...}}``."""
        raise NotImplementedError

    # -- optional -------------------------------------------------------
    def doctor(self, root: Path) -> DoctorReport:
        """Check a tree without training. The default loads it and counts; plugins
        override it to report every problem with its path."""
        report = DoctorReport(self.name, str(root))
        try:
            recs = self.load(Path(root))
        except Exception as exc:  # the point of doctor is to report, not to crash
            report.problems.append(Problem(str(root), f"{type(exc).__name__}: {exc}"))
            return report
        report.counts = count_recordings(recs, self.tasks)
        return report

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(f"dataset {self.name!r} has no task {name!r} "
                       f"(tasks: {', '.join(t.name for t in self.tasks)})")


def count_recordings(recs: list[Recording], tasks) -> dict:
    counts = {"recordings": len(recs), "subjects": len({r.subject for r in recs})}
    for t in tasks:
        labelled = [r for r in recs if t.name in r.labels]
        if t.kind == "classification" and t.level == "clip":
            per = {c: 0 for c in t.classes}
            for r in labelled:
                per[t.classes[int(r.labels[t.name])]] += 1
            counts[t.name] = per
        else:
            counts[t.name] = {"labelled": len(labelled)}
    return counts


def read_standin_marker(root: Path) -> dict | None:
    """The stand-in marker written next to a synthetic tree, or None for real data."""
    p = Path(root) / STANDIN_MARKER
    if not p.exists():
        return None
    return json.loads(p.read_text())
