"""Label checks shared by ``emobench run`` and ``emobench doctor``.

Every label a loader returns is checked against its task, in one place: a
classification label must be a whole class index into ``Task.classes``; a
regression label must be finite and, when the task declares
``Task.value_range``, inside it. A frame-level label is checked frame by frame.

The rule (docs/protocols.md, "Label checks"): doctor reports each bad label as
an error of its recording and file; the run excludes that recording from that
task only (its other tasks keep it, and the fold continues without it), and
says so in the run's notices and in the provenance of every row of the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emobench.data import Recording, Task


class LabelError(ValueError):
    """A label outside its task's range or class list (or NaN/inf)."""


@dataclass(frozen=True)
class LabelProblem:
    dataset: str
    recording: str
    task: str
    file: str        # where the label came from, when the loader says so ("" otherwise)
    message: str

    def __str__(self) -> str:
        where = f" ({self.file})" if self.file else ""
        return (f"dataset {self.dataset!r}, recording {self.recording!r}{where}, "
                f"task {self.task!r}: {self.message}")


def label_file(rec: Recording, task: str) -> str:
    """The file a recording's label came from, as far as its loader recorded it:
    ``meta["label_files"][task]``, ``meta["label_file"]`` or ``meta["path"]``."""
    meta = rec.meta or {}
    per_task = meta.get("label_files")
    if isinstance(per_task, dict) and per_task.get(task):
        return str(per_task[task])
    return str(meta.get("label_file") or meta.get("path") or "")


def check_label(task: Task, value) -> str | None:
    """Why ``value`` is not a valid label of ``task``, or None."""
    try:
        arr = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return f"label {value!r} is not a number"
    if task.level == "frame" and arr.size == 0:
        return "frame-level label series is empty"
    if task.level == "clip" and arr.size != 1:
        return f"clip-level label has {arr.size} values, expected one"
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        return f"{int(bad.sum())} non-finite label value(s) (first: {arr[i]} at index {i})"
    if task.kind == "classification":
        n = len(task.classes)
        wrong = (arr != np.round(arr)) | (arr < 0) | (arr >= n)
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            return (f"class index {arr[i]:g} at index {i} is not one of 0..{n - 1} "
                    f"({', '.join(task.classes)})")
    elif task.value_range is not None:
        lo, hi = task.value_range
        wrong = (arr < lo) | (arr > hi)
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            return (f"{int(wrong.sum())} value(s) outside the task's range [{lo:g}, {hi:g}] "
                    f"(first: {arr[i]:g} at index {i})")
    return None


def label_problems(dataset: str, tasks, recordings: list[Recording]) -> list[LabelProblem]:
    """Every invalid label of every recording, with its recording, task and file."""
    out = []
    for rec in recordings:
        for task in tasks:
            if task.name not in rec.labels:
                continue
            why = check_label(task, rec.labels[task.name])
            if why:
                out.append(LabelProblem(dataset, rec.id, task.name, label_file(rec, task.name), why))
    return out


def exclude_invalid_labels(dataset: str, tasks, recordings: list[Recording]) -> list[LabelProblem]:
    """The run's rule: drop each invalid label (the recording leaves that task
    only) and return what was dropped."""
    problems = label_problems(dataset, tasks, recordings)
    by_id = {r.id: r for r in recordings}
    for p in problems:
        by_id[p.recording].labels.pop(p.task, None)
    return problems
