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
from emobench.layouts import (DataError, PathEscapeError, ZipMember, dangling_symlinks,  # noqa: F401
                              find_part, inside)

STANDIN_MARKER = "EMOBENCH_STANDIN.json"
SEVERITIES = ("error", "warning")


@dataclass
class Problem:
    """One thing wrong with a corpus tree, reported by ``emobench doctor``."""

    path: str
    message: str
    severity: str = "error"  # "error" (doctor fails, the run refuses it) | "warning"

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"Problem.severity must be one of {SEVERITIES}, got {self.severity!r}")
        self.path = str(self.path)

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
        primary_tasks: optional; the tasks the smoke and default profiles run when
            no ``--task`` is given (empty: every task). The paper profile runs all.
        citation, url: where the corpus comes from.
        title: human-readable corpus name (listings, leaderboard); optional.
        standin_version: version of the stand-in generator's output; optional.
        standin_seconds: measured seconds to write the default-profile stand-in and
            read it the first time (decode, face tracks); optional. The time budget
            charges it to every run of the corpus, so a first run fits too.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    title: ClassVar[str] = ""
    folder: ClassVar[str] = ""
    modalities: ClassVar[dict[str, Modality]] = {}
    tasks: ClassVar[tuple[Task, ...]] = ()
    protocols: ClassVar[tuple[str, ...]] = ()
    primary_tasks: ClassVar[tuple[str, ...]] = ()
    citation: ClassVar[str] = ""
    url: ClassVar[str] = ""
    #: Version of what write_standin writes (optional). When set, the stand-in's
    #: fingerprint is this + scale + seed (+ emobench.sim), so editing the plugin's
    #: other code does not invalidate cached stand-ins; bump it when the written
    #: files change. Unset: the plugin package's source is hashed instead.
    standin_version: ClassVar[str] = ""
    #: Seconds to write the default-profile ("small") stand-in and to read it the
    #: first time: its decoding and face tracks, cached afterwards (optional;
    #: measured on the 2-core EPYC of docs/performance.md). The planner charges it
    #: whether or not the stand-in is already written, so a rerun plans the same
    #: jobs as the first run.
    standin_seconds: ClassVar[float] = 10.0

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
        """Check a tree without training. The default loads it, then opens every
        declared stream of every recording once (decoding it), and reports every
        failure with its own path, continuing past the first. Plugins override it
        (calling :func:`open_every_stream` too) to add corpus-specific checks."""
        root = Path(root)
        report = DoctorReport(self.name, str(root))
        report.problems += tree_problems(root)
        try:
            recs = self.load(root)
        except Exception as exc:  # the point of doctor is to report, not to crash
            report.problems.append(problem_from(exc, root))
            return report
        report.problems += recording_problems(self, recs)
        report.counts = count_recordings(recs, self.tasks)
        report.counts["streams_opened"] = open_every_stream(recs, report.problems)
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


def problem_from(exc: BaseException, fallback: Path | str) -> Problem:
    """A doctor problem for an exception: its own path when it names one."""
    path = getattr(exc, "path", None) or getattr(exc, "filename", None) or fallback
    reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
    return Problem(str(path), str(reason).removeprefix(f"{path}: "))


def tree_problems(root: Path) -> list[Problem]:
    """What any reader would trip on before the plugin's loader: dangling
    symlinks and an unreadable stand-in marker."""
    out = [Problem(str(p), "dangling symlink (its target does not exist)")
           for p in dangling_symlinks(root)] if Path(root).is_dir() else []
    try:
        read_standin_marker(root)
    except DataError as exc:
        out.append(Problem(exc.path, exc.reason))
    return out


def recording_problems(ds: "Dataset", recs: list[Recording]) -> list[Problem]:
    """The checks the run applies too: duplicate ids and labels outside their task
    (emobench.validate), so what doctor calls an error the run refuses."""
    from emobench.validate import label_problems

    out = []
    seen: dict[str, int] = {}
    for r in recs:
        seen[r.id] = seen.get(r.id, 0) + 1
    for rid, n in seen.items():
        if n > 1:
            rec = next(r for r in recs if r.id == rid)
            out.append(Problem(str((rec.meta or {}).get("path") or rid),
                               f"recording id {rid!r} appears {n} times"))
    for lp in label_problems(ds.name, ds.tasks, recs):
        out.append(Problem(lp.file or lp.recording, f"recording {lp.recording!r}, task "
                                                    f"{lp.task!r}: {lp.message}"))
    return out


def checked_doctor(ds: "Dataset", root: Path, check) -> DoctorReport:
    """The doctor of a plugin whose own ``check(root) -> (counts, problems)``
    walks the tree and opens its media: those problems and counts, then the
    checks the run applies to the loaded recordings; it never raises."""
    import warnings

    root = Path(root)
    report = DoctorReport(ds.name, str(root))
    report.problems += tree_problems(root)
    try:
        counts, problems = check(root)
        report.problems += problems
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the files the load skips are problems above
            recs = ds.load(root)
    except Exception as exc:  # the point of doctor is to report, not to crash
        report.problems.append(problem_from(exc, root))
        return report
    report.problems += recording_problems(ds, recs)
    report.counts = {**count_recordings(recs, ds.tasks), **counts}
    return report


def open_every_stream(recs: list[Recording], problems: list[Problem]) -> int:
    """Open every stream of every recording once (default spec), adding a problem
    with the failing file's path for each that raises; returns how many opened."""
    opened = 0
    for r in recs:
        for name, load in (r.streams or {}).items():
            try:
                load()
                opened += 1
            except Exception as exc:
                p = problem_from(exc, (r.meta or {}).get("path") or r.id)
                p.message = f"stream {name!r} of recording {r.id!r}: {p.message}"
                problems.append(p)
    return opened


def read_standin_marker(root: Path) -> dict | None:
    """The stand-in marker written next to a synthetic tree, or None for real data.
    A marker that is not a JSON object is a :class:`DataError` naming the file."""
    p = Path(root) / STANDIN_MARKER
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(p, f"stand-in marker is not valid JSON ({exc}); delete the folder to "
                           "have it written again") from None
    if not isinstance(data, dict):
        raise DataError(p, f"stand-in marker holds a {type(data).__name__}, not a JSON object")
    return data
