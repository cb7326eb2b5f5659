"""Base class of a model plugin (an architecture or a baseline).

A model is a class; the tuner instantiates it with each trial's
hyper-parameters (constructors only store parameters, as in scikit-learn), fits
it on the training samples with the validation samples for model selection,
and predicts the test samples once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from emobench.data import Modality, Sample, Task


@dataclass
class FitContext:
    """What the harness hands to :meth:`Model.fit` besides the data.

    ``profile`` is the run profile name (``smoke``, ``default``, ``paper``): models
    choose their epoch budget from it. ``report(step, value)`` passes an
    intermediate validation score (higher is better) to the tuner, which may
    raise ``optuna.TrialPruned`` to stop a hopeless trial. ``score(samples,
    preds)`` computes the task's primary metric on those samples, oriented so
    that higher is always better (error metrics are negated): models use it to
    pick their best epoch on the validation samples.
    """

    task: Task
    modalities: dict[str, Modality]
    profile: str = "default"
    seed: int = 0
    device: str = "cpu"
    report: Callable[[int, float], None] = lambda step, value: None
    score: Callable[[list, list], float] = lambda samples, preds: float("nan")
    options: dict[str, Any] = field(default_factory=dict)
    # the model's declared pretraining corpora, resolved for this cell
    # (emobench.pretraining.Corpus: ``.samples(model_cls)`` reads one)
    pretraining: tuple = ()

    @property
    def work(self) -> float:
        """Share of its default work the budget planner gave this cell (1: all of
        it; see emobench/budget.py). Recorded on the row as the job's knobs."""
        return float(dict(self.options.get("knobs") or {}).get("work", 1.0))

    def epochs(self, smoke: int, default: int, paper: int) -> int:
        n = {"smoke": smoke, "default": default, "paper": paper}.get(self.profile, default)
        # the budget cuts epochs, never the paper's
        return n if self.profile == "paper" or self.work >= 1.0 else max(1, round(n * self.work))


def pick_device(requested: str | None = None) -> str:
    """``EMOBENCH_DEVICE`` or the argument overrides; else CUDA when present."""
    requested = requested or os.environ.get("EMOBENCH_DEVICE")
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Streamer:
    """Feed one frame (or feature row) at a time; get a prediction when one is due.

    ``push(x)`` returns ``None`` until the model has enough context, then the
    prediction for the newest position. The default implementation buffers the
    stream and re-predicts offline, which is exact but slow; models override
    it with an incremental version that gives the same outputs.

    A streamer that never decides early may also define ``push_many(xs)``: the
    outputs of ``push`` for each of ``xs`` in order, leaving its state as those
    pushes would, computed in batches (a window classifier's windows at once;
    EmoP3D's due clips, TSM's one causal pass). The online evaluation uses it
    when present (the same trace, without a forward pass per step at batch 1);
    the latency profile always times ``push``.
    """

    def __init__(self, model: "Model", kind: str, task: Task, **spec):
        self.model, self.kind, self.task, self.spec = model, kind, task, spec
        self.buffer: list[np.ndarray] = []

    def push(self, x: np.ndarray):
        self.buffer.append(np.asarray(x))
        return None

    def reset(self) -> None:
        self.buffer.clear()


class Model:
    """Subclass and set the class attributes; implement ``fit`` and ``predict``.

    Attributes:
        name: identifier (kebab-case) used on the command line and in results.
        version: bump when training or architecture changes; part of cache keys.
        paper: the reference this model reproduces ("" for baselines).
        consumes: modality kinds (or dataset modality names) the model reads.
        consumes_any: if True, any one of ``consumes`` suffices (the first the
            dataset provides is used); if False, all are required.
        task_kinds / levels: which tasks it supports.
        paper_params: hyper-parameters of the paper; enqueued as the first trial.
        deterministic: True when training gives the same model whatever the
            seed (a mean, a closed-form fit): each fold then runs once instead of
            once per profile seed.
        realtime: how the model consumes a live stream, for FPS accounting:
            ``{"window": frames per prediction, "hop": frames between predictions,
            "rate": input steps per second or None for the source frame rate}``.
        home_datasets: the corpora the model's paper evaluated on (optional).
            When the time budget cannot hold every cell at its floor, cells on
            other corpora are deferred before these (emobench/budget.py).
        min_work: the least work share the model still learns with (optional;
            the budget cuts to it before deferring cells).
        pretraining: ``(dataset, task)`` pairs of corpora a first training stage
            uses (e.g. a static stage on image corpora), handed to ``fit`` as
            ``ctx.pretraining`` (emobench/pretraining.py: never the cell's own
            corpus, only corpora of the cell's kind, real or stand-in; their
            fingerprints are in the row's identity).
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    paper: ClassVar[str] = ""
    description: ClassVar[str] = ""
    consumes: ClassVar[tuple[str, ...]] = ()
    consumes_any: ClassVar[bool] = False
    task_kinds: ClassVar[tuple[str, ...]] = ("classification", "regression")
    levels: ClassVar[tuple[str, ...]] = ("clip", "frame")
    paper_params: ClassVar[dict[str, Any]] = {}
    deterministic: ClassVar[bool] = False
    realtime: ClassVar[dict[str, Any]] = {"window": 1, "hop": 1, "rate": None}
    home_datasets: ClassVar[tuple[str, ...]] = ()
    pretraining: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, **params):
        self.params = {**self.default_params(), **params}

    # -- declared, inspectable without data -------------------------------
    @classmethod
    def search_space(cls, profile: str = "default") -> dict:
        """Hyper-parameter name -> ``optuna.distributions`` object."""
        return {}

    @classmethod
    def starting_points(cls, profile: str = "default") -> list[dict[str, Any]]:
        """Configurations tried right after the paper's, before the sampler's own
        picks: settings known to work where the paper's do not (e.g. a short CPU
        budget). They count against the same trial budget; every value must lie
        in ``search_space(profile)``."""
        return []

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return dict(cls.paper_params)

    @classmethod
    def param_count(cls, modalities: dict[str, Modality] | None = None,
                    task: Task | None = None) -> int | None:
        """Trainable parameters at the paper configuration (or for the given
        inputs); None when the model has no fixed size (e.g. a lookup)."""
        return None

    @classmethod
    def cost(cls, modalities: dict[str, Modality], task: Task, n_samples: int, knobs: dict,
             n_steps: int = 0) -> dict | None:
        """Declared work of ONE tuning trial (fit, validation and prediction) on a
        fold of ``n_samples`` training recordings holding ``n_steps`` label steps,
        with the planner's ``knobs`` (``work``: share of the default work;
        ``profile``; ``online``: whether the fold also streams its test clips for the
        online protocol): ``{"gflop": float, "efficiency": fraction of this machine's
        fp32 matmul rate the computation reaches, "seconds": fixed seconds}``.
        None: a cheap model (emobench/budget.py charges it a small constant)."""
        return None

    @classmethod
    def shared_cost(cls, knobs: dict) -> dict[str, dict]:
        """Work a job needs that is done once and shared with other jobs (cached,
        e.g. a pretraining stage that depends only on the seed and the pretraining
        corpora): ``{key: cost dict as cost() returns}``, one key per distinct piece of
        work. The planner charges each key once among the cells that stay in the run.
        ``knobs``: ``profile``, ``seed`` and ``pretraining`` (the resolved corpora's
        identities)."""
        return {}

    @classmethod
    def incompatibility(cls, task: Task, modalities: dict[str, Modality]) -> str | None:
        """Why this model cannot serve ``task`` beyond kinds and modalities (e.g. a
        pretrained head whose classes do not match), or None. Shown by
        ``emobench list cells --explain``."""
        return None

    # -- training and inference ------------------------------------------
    def fit(self, train: list[Sample], valid: list[Sample], ctx: FitContext) -> "Model":
        raise NotImplementedError

    def predict(self, samples: list[Sample]) -> list:
        """One prediction per sample: a class index or value (clip level), or a
        1-D array as long as the sample's labels (frame level)."""
        raise NotImplementedError

    # -- real-time ---------------------------------------------------------
    def resolved_params(self) -> dict[str, Any]:
        """After ``fit``: the values that parameters left at "auto" took from the profile
        and that shape the network (input side, width). The row's tuned configuration
        records them, so its profile and parameter count are of the network it trained."""
        return {}

    def torch_module(self, modalities: dict[str, Modality] | None = None, task: Task | None = None):
        """``(module, example_input)`` of the network for profiling, or None."""
        return None

    def streamer(self, kind: str, task: Task, **spec) -> Streamer:
        return Streamer(self, kind, task, **spec)

    # -- helpers shared by many models --------------------------------------
    @classmethod
    def resolve_inputs(cls, modalities: dict[str, Modality]) -> dict[str, str] | None:
        """Map each consumed kind to a dataset modality name, or None when the
        dataset lacks what this model needs."""
        found: dict[str, str] = {}
        for want in cls.consumes:
            name = want if want in modalities else next(
                (n for n, m in modalities.items() if m.kind == want), None)
            if name is not None:
                found[want] = name
                if cls.consumes_any:
                    return found
            elif not cls.consumes_any:
                return None
        return found or None


def load_state_dict(path) -> dict:
    """Tensors from a PyTorch checkpoint, read with ``weights_only=True``.

    A file that carries code (pickled objects beyond tensors) or is no
    checkpoint at all is refused with a ``ValueError`` naming the file. PyTorch's
    own message advises retrying with ``weights_only=False``, i.e. running the
    file's code: that advice is never passed on."""
    import pickle
    import re

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        what = (f"it carries code (a pickled {found.group(1)})" if found
                else "it holds more than tensors or is not a PyTorch checkpoint")
        raise ValueError(f"{path}: checkpoint refused: {what}; emobench loads tensors only "
                         f"(save the model's state_dict)") from None
    except Exception as exc:  # torch's readers fail in many ways on a file that is no checkpoint
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        detail = type(exc).__name__ + (f": {first[:200]}" if first and "weights_only" not in first else "")
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({detail})") from None
