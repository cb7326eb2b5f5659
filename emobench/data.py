"""The data vocabulary shared by datasets, protocols and models.

* :class:`Modality` - one stream a corpus provides (kind, per-step shape, rate).
* :class:`Task` - what is predicted (classification or regression, clip or frame level).
* :class:`Recording` - one recorded unit with subject, groups, partition, labels and
  lazily loaded streams.
* :class:`Sample` - a recording seen through one task (what a model receives).
* :class:`Fold` - train / validation / test recording ids produced by a protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

# Every modality kind emobench knows, with the array layout a loader returns.
MODALITY_KINDS: dict[str, str] = {
    "face_video": "(T, H, W) or (T, H, W, 3) uint8 frames at `rate` fps",
    "face_image": "(H, W) or (H, W, 3) uint8 image",
    "au_series": "(T, n_aus) float action-unit intensities at `rate` Hz",
    "features": "(T, D) float pre-computed features at `rate` Hz",
    "audio": "(n_samples,) float32 waveform at `rate` Hz",
    "eye_movement": "(T, k) float gaze / pupil / blink series at `rate` Hz",
    "fixations": "(n, k) fixation events or (H, W) fixation map",
    "physio": "(T, channels) float physiological signals at `rate` Hz",
    "landmarks": "(T, n_points, 2) float facial landmarks at `rate` Hz",
}

TaskKind = Literal["classification", "regression"]
TaskLevel = Literal["clip", "frame"]


@dataclass(frozen=True)
class Modality:
    """One stream of a corpus.

    ``shape`` is the shape of one time step (or of the whole item for images);
    ``None`` marks a variable dimension. ``channels`` names the columns where that
    means something (action-unit names, physiological channels).
    """

    kind: str
    shape: tuple[int | None, ...] = ()
    rate: float | None = None
    channels: tuple[str, ...] = ()
    description: str = ""

    def problems(self) -> list[str]:
        out = []
        if self.kind not in MODALITY_KINDS:
            out.append(f"unknown modality kind {self.kind!r} (known: {', '.join(MODALITY_KINDS)})")
        if self.rate is not None and not self.rate > 0:
            out.append(f"rate must be positive, got {self.rate!r}")
        if any(d is not None and (not isinstance(d, int) or d <= 0) for d in self.shape):
            out.append(f"shape entries must be positive ints or None, got {self.shape!r}")
        if self.channels and self.shape and self.shape[-1] not in (None, len(self.channels)):
            out.append(f"{len(self.channels)} channel names for a last dimension of {self.shape[-1]}")
        return out


@dataclass(frozen=True)
class Task:
    """A prediction target of a corpus.

    Clip-level tasks have one label per recording; frame-level tasks have one label
    per time step at ``rate`` Hz. ``metric`` is the primary metric (a name from
    :data:`emobench.metrics.METRICS`), ``metrics`` the others reported beside it.
    """

    name: str
    kind: TaskKind
    level: TaskLevel = "clip"
    classes: tuple[str, ...] = ()
    value_range: tuple[float, float] | None = None
    metric: str = ""
    metrics: tuple[str, ...] = ()
    rate: float | None = None
    description: str = ""
    # input modalities of which the label is a deterministic formula (UNBC PSPI of
    # facs14): the leaderboard shows such rows as white-box checks
    formula_of: tuple[str, ...] = ()

    @property
    def primary_metric(self) -> str:
        if self.metric:
            return self.metric
        return "ccc" if self.kind == "regression" else "uar"

    @property
    def all_metrics(self) -> tuple[str, ...]:
        default = ("ccc", "pearson", "rmse", "mae") if self.kind == "regression" else (
            "accuracy", "uar", "macro_f1")
        names = (self.primary_metric, *(self.metrics or default))
        return tuple(dict.fromkeys(names))

    def problems(self) -> list[str]:
        from emobench.metrics import METRICS

        out = []
        if self.kind not in ("classification", "regression"):
            out.append(f"kind must be 'classification' or 'regression', got {self.kind!r}")
        if self.level not in ("clip", "frame"):
            out.append(f"level must be 'clip' or 'frame', got {self.level!r}")
        if self.kind == "classification" and len(self.classes) < 2:
            out.append("a classification task needs at least two classes")
        if self.kind == "regression" and self.classes:
            out.append("a regression task has no classes")
        if self.level == "frame" and not (self.rate and self.rate > 0):
            out.append("a frame-level task needs a positive label rate")
        for m in self.all_metrics:
            if m not in METRICS:
                out.append(f"unknown metric {m!r}")
            elif METRICS[m].kind != self.kind:
                out.append(f"metric {m!r} is for {METRICS[m].kind}, task is {self.kind}")
        return out


Loader = Callable[..., np.ndarray]


@dataclass(eq=False)
class Recording:
    """One recorded unit (a sequence, a video, a sample window, an image).

    ``labels`` maps a task name to a scalar (clip level; a class index for
    classification) or a 1-D array (frame level). A missing key means the
    recording has no label for that task. ``streams`` maps a modality name to a
    loader ``fn(**spec) -> np.ndarray``; loaders are called lazily, and the result
    for a given spec is kept for the life of the recording object.
    """

    id: str
    subject: str
    labels: dict[str, Any] = field(default_factory=dict)
    streams: dict[str, Loader] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    partition: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    _loaded: dict = field(default_factory=dict, repr=False)

    def load(self, modality: str, **spec) -> np.ndarray:
        if modality not in self.streams:
            raise KeyError(f"recording {self.id!r} has no stream {modality!r} "
                           f"(has: {', '.join(self.streams) or 'none'})")
        key = (modality, tuple(sorted(spec.items())))
        if key not in self._loaded:
            self._loaded[key] = self.streams[modality](**spec)
        return self._loaded[key]

    def forget(self) -> None:
        """Drop decoded streams (they stay in the on-disk cache)."""
        self._loaded.clear()


@dataclass(eq=False)
class Sample:
    """A recording seen through one task: what :meth:`Model.fit` and
    :meth:`Model.predict` receive. ``inputs`` maps the modality kinds the model
    consumes to the dataset's modality names that provide them."""

    recording: Recording
    task: Task
    inputs: dict[str, str]

    @property
    def id(self) -> str:
        return self.recording.id

    @property
    def subject(self) -> str:
        return self.recording.subject

    @property
    def y(self):
        return self.recording.labels[self.task.name]

    @property
    def groups(self) -> dict[str, str]:
        """The recording's groups (``{"culture": "DE"}``, ``{"session": "3"}``,
        ``{"gender": "f"}``): optional facts a corpus knows about each recording,
        empty when it knows none. The leaderboard breaks the primary metric down
        by them (emobench.leaderboard.groups); protocols may split by them."""
        return self.recording.groups

    @property
    def n_labels(self) -> int:
        """How many label steps a prediction must have (1 at clip level): known
        at test time, unlike the labels themselves."""
        if self.task.level == "clip":
            return 1
        return len(np.atleast_1d(self.recording.labels[self.task.name]))

    def x(self, kind: str, **spec) -> np.ndarray:
        """The array of the modality of ``kind`` (or name) this model consumes."""
        name = self.inputs.get(kind, kind)
        return self.recording.load(name, **spec)

    def without_labels(self) -> "UnlabelledSample":
        return UnlabelledSample(self.recording, self.task, self.inputs)


class LabelsWithheld(KeyError):
    """A model read ``.y`` of a test sample: test labels never reach ``predict``."""


@dataclass(eq=False)
class UnlabelledSample(Sample):
    """A test sample as :meth:`Model.predict` sees it: streams, ids and the label
    count (``n_labels``), but ``.y`` raises :class:`LabelsWithheld` (a KeyError,
    as for a recording that has no label for the task)."""

    @property
    def y(self):
        raise LabelsWithheld(f"recording {self.id!r}: test labels are withheld from Model.predict "
                             f"(use Sample.n_labels for the number of label steps)")


@dataclass(frozen=True)
class Fold:
    """Recording ids of one split. ``valid`` is always disjoint from ``test``:
    tuning and model selection never see the test recordings."""

    name: str
    train: tuple[str, ...]
    valid: tuple[str, ...]
    test: tuple[str, ...]


GROUP_PREFIX = "group_"


def group_columns(samples) -> dict[str, np.ndarray]:
    """Per-prediction group columns of a split, aligned with the pooled
    predictions (one entry per clip, or per frame at frame level):
    ``{"group_culture": array([...])}``, ``""`` where a recording lacks the key.
    Stored beside y_true/y_pred so the leaderboard reads groups from the store."""
    keys = sorted({k for s in samples for k in s.groups})
    out = {}
    for k in keys:
        col = [np.full(s.n_labels, str(s.groups.get(k, ""))) for s in samples]
        out[GROUP_PREFIX + k] = np.concatenate(col) if col else np.array([], dtype=str)
    return out
