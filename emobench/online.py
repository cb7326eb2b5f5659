"""Online (early-classification) evaluation of any model that can stream.

Each test clip is fed step by step to the model's :meth:`Model.streamer`; after
``ceil(f * T)`` steps, for every observed fraction ``f``, the clip's prediction
is the mean of the class probabilities the streamer has returned so far (the
offline clip rule of window models; a class index counts as a one-hot vector).
Before the streamer's first output the clip counts as unanswered, i.e. wrong:
a model that needs a long context pays for it. A model that decides when to
stop sets ``decision`` (a class index) on its streamer; its prediction is then
frozen, the decision step is recorded, and a clip it never decides on is
classified at its end (decision fraction 1).

The stream of a sample is ``model.online_stream(sample)`` when the model has
one (e.g. per-window audio-visual pairs), else the array of the first consumed
modality the sample provides, stepped along its first axis.

:func:`evaluate_online` is a pure function of a fitted model and its test
samples; :func:`online_rows` flattens results for a leaderboard table and
:func:`plot_curves` draws earliness-accuracy curves to a PNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .data import Sample
from .metrics import get_metric

FRACTIONS = tuple(round(0.1 * i, 1) for i in range(1, 11))


@dataclass
class OnlineResult:
    model: str
    dataset: str
    task: str
    metric: str
    fractions: tuple[float, ...]
    accuracy: list[float]
    primary: list[float]
    auc: float                      # area under the primary-metric curve over [0, 1]
    decision_fraction: float | None  # mean observed fraction at decision (deciding models)
    decision_accuracy: float | None  # accuracy of the decisions themselves
    n: int
    extra: dict = field(default_factory=dict)


def default_stream(model, sample: Sample) -> np.ndarray:
    own = getattr(model, "online_stream", None)
    if callable(own):
        return own(sample)
    for kind in model.consumes:
        if kind in sample.inputs:
            return sample.x(kind)
    raise ValueError(f"online: model {model.name!r} consumes none of the inputs of sample "
                     f"{sample.id!r} ({', '.join(sample.inputs) or 'none'})")


def _as_proba(out, n_classes: int) -> np.ndarray:
    arr = np.asarray(out)
    if arr.ndim == 0:
        one = np.zeros(n_classes)
        one[int(arr)] = 1.0
        return one
    arr = arr.reshape(-1).astype(np.float64)
    if len(arr) != n_classes:
        raise ValueError(f"online: streamer output has {len(arr)} values, the task has "
                         f"{n_classes} classes")
    return arr


def trace_clip(model, sample: Sample, task, fractions: Sequence[float] = FRACTIONS,
               stream=None) -> tuple[list[int], int | None, int | None, int]:
    """Predictions (-1: none yet) at each fraction, the decided class and step
    (None when the model never decides), and the stream length."""
    steps = list(stream(sample) if stream else default_stream(model, sample))
    n, k = len(steps), len(task.classes)
    if n == 0:
        raise ValueError(f"online: sample {sample.id!r} has an empty stream")
    ends = [max(1, math.ceil(f * n - 1e-9)) for f in fractions]
    streamer = model.streamer("online", task)
    streamer.reset()
    total, count, decided, at = np.zeros(k), 0, None, None
    preds, nxt = [], 0
    for t in range(1, n + 1):
        if decided is None:
            out = streamer.push(steps[t - 1])
            if out is not None:
                total += _as_proba(out, k)
                count += 1
            choice = getattr(streamer, "decision", None)
            if choice is not None:
                decided, at = int(choice), t
        while nxt < len(ends) and ends[nxt] == t:
            preds.append(decided if decided is not None else
                         (int(np.argmax(total)) if count else -1))
            nxt += 1
        if decided is not None and nxt == len(ends):
            break
    while nxt < len(ends):  # stopped early: the decision stands for later fractions
        preds.append(decided)
        nxt += 1
    return preds, decided, at, n


def evaluate_online(model, samples: Sequence[Sample], task, *, dataset: str = "",
                    fractions: Sequence[float] = FRACTIONS, stream=None) -> OnlineResult:
    """Earliness-accuracy curve of a fitted ``model`` on labelled test ``samples``."""
    if task.kind != "classification" or task.level != "clip":
        raise ValueError(f"online: task {task.name!r} must be clip-level classification")
    fractions = tuple(float(f) for f in fractions)
    if not fractions or any(not 0 < f <= 1 for f in fractions) or list(fractions) != sorted(fractions):
        raise ValueError(f"online: fractions must increase within (0, 1], got {fractions}")
    y = np.array([int(s.y) for s in samples])
    table, dec_frac, dec_right = [], [], []
    deciding = hasattr(model.streamer("online", task), "decision")
    for s in samples:
        preds, decided, at, n = trace_clip(model, s.without_labels(), task, fractions, stream)
        table.append(preds)
        final = decided if decided is not None else preds[-1]
        dec_frac.append(at / n if decided is not None else 1.0)
        dec_right.append(final == int(s.y))
    table = np.array(table)
    metric = get_metric(task.primary_metric)
    acc, prim = [], []
    for j in range(len(fractions)):
        p = table[:, j]
        acc.append(float(np.mean(p == y)))
        # unanswered clips: a label no true class has, so they count as wrong
        prim.append(float(metric(y, np.where(p < 0, len(task.classes), p))))
    # trapezoid from (0, chance-free 0) through the measured points
    xs, ys = np.concatenate([[0.0], fractions]), np.concatenate([[0.0], prim])
    auc = float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2))
    return OnlineResult(getattr(model, "name", type(model).__name__), dataset, task.name,
                        task.primary_metric, fractions, acc, prim, auc,
                        float(np.mean(dec_frac)) if deciding else None,
                        float(np.mean(dec_right)) if deciding else None, len(samples))


def online_rows(results: Sequence[OnlineResult]) -> list[dict]:
    """One row per result, ranked by AUC: model, dataset, task, metric, auc,
    curve (list of (fraction, primary)), accuracy_at_end, decision_fraction."""
    rows = [{"model": r.model, "dataset": r.dataset, "task": r.task, "metric": r.metric,
             "auc": r.auc, "curve": list(zip(r.fractions, r.primary)),
             "accuracy_curve": list(zip(r.fractions, r.accuracy)),
             "accuracy_at_end": r.accuracy[-1], "decision_fraction": r.decision_fraction,
             "decision_accuracy": r.decision_accuracy, "n": r.n} for r in results]
    return sorted(rows, key=lambda row: -row["auc"])


def plot_curves(results: Sequence[OnlineResult], path: str | Path, title: str = "") -> Path:
    """Earliness-accuracy curves (primary metric vs observed fraction) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in results:
        label = f"{r.model} (AUC {r.auc:.3f})"
        line, = ax.plot(r.fractions, r.primary, marker="o", label=label)
        if r.decision_fraction is not None:
            ax.axvline(r.decision_fraction, color=line.get_color(), ls="--", lw=0.8)
    ax.set_xlabel("observed fraction of the clip")
    ax.set_ylabel(results[0].metric if results else "metric")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title or "online early classification")
    ax.legend(fontsize=7)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
