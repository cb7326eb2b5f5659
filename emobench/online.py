"""Online (early-classification) evaluation of any model that can stream.

Each test clip is fed step by step to the model's :meth:`Model.streamer`; after
``ceil(f * T)`` steps, for every observed fraction ``f``, the clip's prediction
is the mean of the class probabilities the streamer has returned so far (the
offline clip rule of window models; a class index counts as a one-hot vector),
or its newest output when the streamer sets ``cumulative = True`` (each output
already summarises the whole stream so far, e.g. a recurrent state).
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

Inside ``emobench run``, :func:`fold_arrays` is the fold's hook: for a model that
streams, on a clip-level classification task of a corpus in :data:`CORPORA`, it
traces the fold's fitted model on the test clips (labels withheld) and returns
arrays the fold stores beside its offline predictions (``online_fractions``,
``online_pred`` (clips x fractions, -1 = no answer yet), ``online_decision``
(observed fraction at the decision, nan for a model that does not decide)).
The leaderboard (:mod:`emobench.leaderboard.online`) pools them over folds and
seeds with :func:`curve`. No extra training: the curve is of the very model
whose offline score the leaderboard reports.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .data import Sample
from .metrics import get_metric

FRACTIONS = tuple(round(0.1 * i, 1) for i in range(1, 11))
# corpora whose folds are evaluated online inside ``emobench run`` (audio-visual
# clips that unfold over time); ``EMOBENCH_ONLINE`` overrides: "all", "none" or
# a comma-separated list of corpus names
CORPORA = ("rml", "enterface", "baum1s", "iemocap")


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
    cumulative = bool(getattr(streamer, "cumulative", False))
    # a window streamer's outputs in one batch (Streamer.push_many); a deciding one
    # is pushed step by step, since it may stop before the end
    batched = getattr(streamer, "push_many", None)
    outs = list(batched(steps)) if callable(batched) and not hasattr(streamer, "decision") else None
    if outs is not None and len(outs) != n:
        raise ValueError(f"online: push_many of {type(streamer).__name__} gave {len(outs)} outputs "
                         f"for {n} steps of sample {sample.id!r}")
    total, count, decided, at = np.zeros(k), 0, None, None
    preds, nxt = [], 0
    for t in range(1, n + 1):
        if decided is None:
            out = outs[t - 1] if outs is not None else streamer.push(steps[t - 1])
            if out is not None:
                proba = _as_proba(out, k)
                total = proba if cumulative else total + proba
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


def streams(model) -> bool:
    """True when the model overrides the base :meth:`Model.streamer` (whose
    default never answers)."""
    from .model import Model

    cls = model if isinstance(model, type) else type(model)  # a model or its class
    return getattr(cls, "streamer", Model.streamer) is not Model.streamer


def _check(task, fractions) -> tuple[float, ...]:
    if task.kind != "classification" or task.level != "clip":
        raise ValueError(f"online: task {task.name!r} must be clip-level classification")
    fractions = tuple(float(f) for f in fractions)
    if not fractions or any(not 0 < f <= 1 for f in fractions) or list(fractions) != sorted(fractions):
        raise ValueError(f"online: fractions must increase within (0, 1], got {fractions}")
    return fractions


def trace_table(model, samples: Sequence[Sample], task, fractions: Sequence[float] = FRACTIONS,
                stream=None) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(pred, decision, deciding)``: class index (-1: none yet) per clip and
    fraction, the observed fraction at each clip's decision (1 for a clip never
    decided on; nan throughout when the model does not decide), and whether it decides."""
    fractions = _check(task, fractions)
    deciding = hasattr(model.streamer("online", task), "decision")
    table, dec = [], []
    for s in samples:
        preds, decided, at, n = trace_clip(model, s, task, fractions, stream)
        table.append(preds)
        dec.append((at / n if decided is not None else 1.0) if deciding else math.nan)
    return (np.array(table, dtype=np.int64).reshape(len(samples), len(fractions)),
            np.array(dec, dtype=np.float64), deciding)


def curve(y_true, pred: np.ndarray, fractions: Sequence[float], metric: str,
          n_classes: int | None = None) -> tuple[list[float], list[float], float]:
    """Accuracy and ``metric`` per fraction of a trace table, and the area under
    the metric's curve (trapezoid from (0, 0) through the measured points).
    Unanswered clips (-1) get a label no true class has, so they count as wrong."""
    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    pred = np.asarray(pred).astype(np.int64).reshape(len(y), -1)
    fill = int(n_classes) if n_classes is not None else int(max(y.max(), pred.max())) + 1
    fn = get_metric(metric)
    acc, prim = [], []
    for j in range(pred.shape[1]):
        p = pred[:, j]
        acc.append(float(np.mean(p == y)))
        prim.append(float(fn(y, np.where(p < 0, fill, p))))
    xs, ys = np.concatenate([[0.0], np.asarray(fractions, float)]), np.concatenate([[0.0], prim])
    auc = float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2))
    return acc, prim, auc


def evaluate_online(model, samples: Sequence[Sample], task, *, dataset: str = "",
                    fractions: Sequence[float] = FRACTIONS, stream=None) -> OnlineResult:
    """Earliness-accuracy curve of a fitted ``model`` on labelled test ``samples``."""
    fractions = _check(task, fractions)
    y = np.array([int(s.y) for s in samples])
    table, dec, deciding = trace_table(model, [s.without_labels() for s in samples], task,
                                       fractions, stream)
    acc, prim, auc = curve(y, table, fractions, task.primary_metric, len(task.classes))
    right = np.array([row[-1] == yy for row, yy in zip(table, y)])
    return OnlineResult(getattr(model, "name", type(model).__name__), dataset, task.name,
                        task.primary_metric, fractions, acc, prim, auc,
                        float(np.mean(dec)) if deciding else None,
                        float(np.mean(right)) if deciding else None, len(samples))


def wanted(model, task, dataset: str) -> bool:
    """Whether a fold of ``dataset`` evaluates ``model`` (an instance or its class)
    online (see :data:`CORPORA`)."""
    if task.kind != "classification" or task.level != "clip" or not streams(model):
        return False
    env = os.environ.get("EMOBENCH_ONLINE", "").strip().lower()
    if env in ("none", "0", "off"):
        return False
    if env == "all":
        return True
    names = [x.strip() for x in env.split(",") if x.strip()] if env else CORPORA
    return dataset.lower() in names


def fold_arrays(model, test: Sequence[Sample], task, dataset: str) -> dict[str, np.ndarray]:
    """The fold's hook: arrays to store beside the offline predictions (in the
    order of ``test``), or ``{}`` when this cell is not evaluated online. A model
    whose streamer fails gets ``online_error`` (its message) instead: the
    offline result is kept and the leaderboard says why the curve is missing."""
    if not wanted(model, task, dataset):
        return {}
    try:
        pred, dec, _ = trace_table(model, [s.without_labels() for s in test], task)
    except Exception as exc:  # an interrupt (BaseException) still stops the fold
        return {"online_error": np.array(f"{type(exc).__name__}: {exc}"[:500])}
    return {"online_fractions": np.array(FRACTIONS, dtype=np.float64), "online_pred": pred,
            "online_decision": dec}


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
