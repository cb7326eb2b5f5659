"""The live annotation pipeline behind ``emobench annotate``.

For every frame of a video file (or a camera)::

    decode (OpenCV) -> FaceTracker (Haar every ``detect_every`` frames)
      -> crop_face (the model's size / gray / margin from ``Model.realtime``)
      -> [AU extractor, for models that read action units]
      -> model streamer (``Model.streamer(kind, task)``) -> prediction when due

and writes per-frame records and per-second records
``{"type": "emotion", "class": ..., "seconds": ...}`` (regression models:
``"value"``), with the time spent in each stage. Frames without a face are
not fed to the model; their records say ``"face": false`` and a second
without any face gets ``"class": null, "status": "no face"``.

See docs/realtime.md for the record format and docs/performance.md for
measured speeds.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from emobench.data import Modality, Recording, Sample, Task
from emobench.model import Model, Streamer, load_state_dict
from emobench.realtime.main_face import SETTLE_FRAMES, ReplayDetector, choose_main_track

__all__ = ["annotate_video", "AnnotateError", "default_task", "prepare_model", "OfflineStreamer",
           "STAGES"]

STAGES = ("decode", "detect", "preprocess", "extract", "model")
FACE_KINDS = ("face_video", "face_image")
AU_KINDS = ("au_series",)
BASIC_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


class AnnotateError(RuntimeError):
    """The pipeline cannot run with this model / source / option."""


# ------------------------------------------------------------------ model setup


def default_task(model_cls: type[Model]) -> Task:
    """The task a model annotates when none is given: its own ``realtime_task``
    if it declares one, else the basic emotions (classifiers) or frame-level
    arousal at the model's input rate (regressors)."""
    own = getattr(model_cls, "realtime_task", None)
    if isinstance(own, Task):
        return own
    if "classification" in model_cls.task_kinds:
        return Task("emotion", "classification", "clip", classes=BASIC_EMOTIONS)
    rate = (model_cls.realtime or {}).get("rate") or 10.0
    return Task("arousal", "regression", "frame", value_range=(-1.0, 1.0), rate=float(rate))


def _resolve_task(model_cls, task) -> Task:
    if task is None:
        return default_task(model_cls)
    if isinstance(task, Task):
        return task
    if isinstance(task, str) and ":" in task:
        from emobench.plugins import registry

        ds_name, task_name = task.split(":", 1)
        ds = registry().dataset(ds_name)
        for t in ds.tasks:
            if t.name == task_name:
                return t
        raise AnnotateError(f"dataset {ds_name!r} has no task {task_name!r} "
                            f"(has: {', '.join(t.name for t in ds.tasks)})")
    raise AnnotateError(f"task must be a Task or 'dataset:task', got {task!r}")


def _stream_kind(model_cls) -> str:
    for kind in model_cls.consumes:
        if kind in FACE_KINDS or kind in AU_KINDS:
            return kind
    raise AnnotateError(f"model {model_cls.name!r} consumes {', '.join(model_cls.consumes)}: "
                        "the live pipeline feeds face crops or action units only")


def prepare_model(model, *, task=None, weights: str | Path | None = None,
                  modalities: dict[str, Modality] | None = None) -> tuple[Model, Task, str]:
    """Instantiate ``model`` (name, class or instance), resolve its task and
    load ``weights``. Returns (model, task, status) where status is
    ``pretrained``, ``weights`` or ``untrained``.

    Weights: a state dict saved by the harness, read with
    ``torch.load(weights_only=True)``; a model may implement
    ``load_weights(path, modalities, task)``, otherwise the state dict is
    loaded into the network returned by ``torch_module(modalities, task)``.
    """
    if isinstance(model, str):
        from emobench.plugins import registry

        model = registry().model(model)
    m = model() if isinstance(model, type) else model
    task = _resolve_task(type(m), task)
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise AnnotateError(f"{path}: weights file not found")
        if hasattr(m, "load_weights"):
            m.load_weights(path, modalities=modalities, task=task)
        else:
            import torch

            got = m.torch_module(modalities, task)
            if got is None:
                raise AnnotateError(f"model {m.name!r} has no torch network to load {path} into")
            try:
                state = load_state_dict(path)
            except ValueError as exc:  # names the file; never relays "weights_only=False"
                raise AnnotateError(str(exc)) from None
            try:
                got[0].load_state_dict(state)
            except Exception as exc:
                raise AnnotateError(f"{path}: cannot load into model {m.name!r}: {exc}") from exc
            _adopt(m, got[0])
        return m, task, "weights"
    if getattr(m, "pretrained", False):
        return m, task, "pretrained"
    got = m.torch_module(modalities, task)
    if got is not None:
        _adopt(m, got[0])
    return m, task, "untrained"


def _adopt(m: Model, module) -> None:
    # Models keep their fitted network in ``net_`` (scikit-learn's trailing
    # underscore convention); their streamers read it from there.
    if getattr(m, "net_", None) is None:
        m.net_ = module.eval()


class OfflineStreamer(Streamer):
    """For models without a streaming interface: keep the last ``window``
    steps and re-run ``Model.predict`` on them every ``hop`` steps (exact, slow)."""

    def __init__(self, model, kind, task, **spec):
        super().__init__(model, kind, task, **spec)
        rt = model.realtime or {}
        self.window, self.hop = int(rt.get("window") or 1), int(rt.get("hop") or 1)
        self.seen = 0

    def push(self, x):
        self.buffer.append(np.asarray(x))
        self.buffer = self.buffer[-self.window:]
        self.seen += 1
        if len(self.buffer) < self.window or (self.seen - self.window) % self.hop:
            return None
        arr = np.stack(self.buffer)
        rec = Recording(id="live", subject="live", streams={self.kind: lambda **spec: arr})
        pred = self.model.predict([Sample(rec, self.task, {self.kind: self.kind})])[0]
        return pred[-1] if np.ndim(pred) else pred


def accelerate_network(m: Model, backend: str = "auto", modalities=None, task=None) -> str | None:
    """Swap the model's fitted network ``net_`` for a faster backend that gives
    the same outputs (checked on a random input shaped like the model's
    ``torch_module`` example); returns the backend used, or None when the
    model keeps its own. ``auto`` prefers onnxruntime (low per-call overhead,
    insensitive to other busy processes), then jit."""
    import torch

    from emobench.profiling import BackendMismatch, BackendUnavailable, _checked

    net = getattr(m, "net_", None)
    if backend == "eager" or not isinstance(net, torch.nn.Module) or (
            _Accelerated is not None and isinstance(net, _Accelerated)):
        return None
    got = m.torch_module(None, task)
    example = got[1] if got is not None else None
    if not isinstance(example, torch.Tensor):
        return None
    x = torch.rand_like(example)
    with torch.inference_mode():
        reference = net.eval()(x)
    for name in (("onnx", "jit") if backend == "auto" else (backend,)):
        try:
            fn = _checked(name, net, x, reference, torch.get_num_threads(), 1e-4)
        except (BackendUnavailable, BackendMismatch, ValueError):
            continue
        m.net_ = _accelerated(net, fn, name)
        return name
    return None


def _accelerated(inner, fn, backend: str):
    """A module that keeps the original (its parameters and device) but runs ``fn``;
    defined on first use so that importing this module does not import torch."""
    import torch

    global _Accelerated
    if _Accelerated is None:
        class _Accelerated(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module, fn, backend: str):
                super().__init__()
                self.inner, self.fn, self.backend = inner, fn, backend

            def forward(self, *xs):
                y = self.fn(*xs)
                return y if isinstance(y, torch.Tensor) else torch.from_numpy(np.asarray(y))

    return _Accelerated(inner, fn, backend)


_Accelerated = None


def _make_streamer(m: Model, kind: str, task: Task, spec: dict) -> Streamer:
    if type(m).streamer is Model.streamer:
        return OfflineStreamer(m, kind, task, **spec)
    return m.streamer(kind, task, **spec)


def needs_fit_message(name: str, status: str, exc: BaseException) -> str:
    return (f"model {name!r} cannot annotate as it is ({status}): its predictions need state that "
            f"only fit() creates ({type(exc).__name__}: {exc}). Annotate with a pretrained model "
            "(e.g. mini-xception-fer), or give --weights to a model that loads everything it needs "
            "from them (Model.load_weights); see docs/realtime.md")


def _probe(streamer: Streamer, size, gray: bool, rt: dict) -> None:
    """Push one window of noise crops through a throwaway streamer, so a model
    that cannot predict without fit() fails before the video is read."""
    rng = np.random.default_rng(0)
    shape = tuple(size) if gray else (*size, 3)
    for _ in range(int(rt.get("window") or 1) + int(rt.get("hop") or 1)):
        if streamer.push(rng.integers(0, 256, shape, dtype=np.uint8)) is not None:
            return


# ------------------------------------------------------------------ predictions


def _interpret(pred, task: Task) -> dict:
    """A streamer output -> {"class", "score", "probs"} or {"value"}."""
    if task.kind == "regression":
        return {"value": float(np.asarray(pred, dtype=float).reshape(-1)[-1])}
    arr = np.asarray(pred)
    if arr.ndim == 1 and len(arr) == len(task.classes) and arr.dtype.kind == "f":
        i = int(arr.argmax())
        return {"class": task.classes[i], "score": float(arr[i]), "probs": arr.astype(float)}
    i = int(arr.reshape(-1)[-1])
    return {"class": task.classes[i], "score": None, "probs": None}


def _second_record(second: int, preds: list[dict], n_frames: int, n_face: int, task: Task) -> dict:
    rec: dict[str, Any] = {"type": "emotion", "seconds": float(second), "task": task.name,
                           "frames": n_frames, "face_frames": n_face}
    if not preds:
        key = "value" if task.kind == "regression" else "class"
        rec[key] = None
        rec["status"] = "no face" if n_face == 0 else "warming up"
        return rec
    rec["predictions"] = len(preds)
    if task.kind == "regression":
        rec["value"] = float(np.mean([p["value"] for p in preds]))
        return rec
    probs = [p["probs"] for p in preds if p.get("probs") is not None]
    if len(probs) == len(preds):  # mean probabilities over the second
        mean = np.mean(probs, axis=0)
        i = int(mean.argmax())
        rec["class"], rec["score"] = task.classes[i], float(mean[i])
    else:  # majority vote of class decisions
        name, count = Counter(p["class"] for p in preds).most_common(1)[0]
        rec["class"], rec["score"] = name, count / len(preds)
    return rec


# ------------------------------------------------------------------ sources


def _open_source(source):
    """(frame iterator, info) for a file path or a camera index."""
    import cv2

    from emobench.media import MediaError, iter_frames, video_info

    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        cap = cv2.VideoCapture(int(source))
        if not cap.isOpened():
            raise AnnotateError(f"camera {source}: cannot be opened")
        info = {"fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0, "frames": 0,
                "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}

        def frames():
            try:
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        return
                    yield frame
            finally:
                cap.release()

        return frames(), info, f"camera:{int(source)}"
    path = Path(source)
    try:
        info = video_info(path)
    except MediaError:
        raise
    if not info["fps"]:
        info["fps"] = 30.0
    return iter_frames(path), info, str(path)


# ------------------------------------------------------------------ pipeline


def annotate_video(source, model, *, task=None, weights=None, out: str | Path | None = None,
                   every_second: bool = False, detect_every: int = 5, detect_scale: float = 0.5,
                   min_face: int = 40, au_extractor: str | None = None, au_source: str | Path | None = None,
                   max_frames: int | None = None, threads: int | None = None, backend: str = "auto",
                   settle_frames: int = SETTLE_FRAMES, progress: Callable[[dict], None] | None = None, progress_every: float = 1.0,
                   jsonl: str | Path | None = None) -> dict:
    """Annotate a video file (path) or camera (int index) with ``model``.

    Returns a dict with ``source``, ``model``, ``task``, ``status``
    (pretrained / weights / untrained), ``au_extractor``, ``video`` info,
    ``frames`` (per-frame records; omitted when ``every_second``), ``seconds``
    (per-second records), ``summary`` and ``timing`` (ms per frame and share
    of each stage, end-to-end FPS). With ``out`` the same dict is written as
    JSON. ``progress(state)`` is called about every ``progress_every`` seconds.
    ``jsonl``: also write the VTT system's line format, one JSON object per line:
    per frame with a face and a prediction ``{"type": "emotion", "class", "seconds",
    "frames", "coordinates": [x1, y1, x2, y2], "id": 0}``, or with ``every_second`` the
    per-second records (``class`` null in a second without prediction).
    ``backend`` is passed to the model's streamer in its spec (models that
    support it pick an inference backend: ``auto``, ``eager``, ``onnx``...).
    """
    import torch

    from emobench.media import FaceDetector, FaceTracker, crop_face

    if threads:
        torch.set_num_threads(int(threads))
    frames_iter, info, label = _open_source(source)
    src_fps = info["fps"]

    model_cls = model if isinstance(model, type) else (type(model) if isinstance(model, Model) else None)
    if model_cls is None:
        from emobench.plugins import registry

        model_cls = registry().model(model)
    kind = _stream_kind(model_cls)
    rt = dict(model_cls.realtime or {})
    size = tuple(rt.get("size") or (112, 112))
    gray = bool(rt.get("gray", False))
    margin = float(rt.get("margin", 0.2))

    extractor = None
    if kind in AU_KINDS:
        from emobench.realtime.extractors import available_au_extractors

        table = available_au_extractors()
        name = au_extractor or ("sidecar" if au_source and str(au_source).endswith(".npz") else "openface-csv")
        if name not in table:
            raise AnnotateError(f"no AU extractor named {name!r} (known: {', '.join(sorted(table))})")
        extractor = table[name]
        if au_source is not None:
            extractor = extractor.with_source(au_source)
        elif getattr(extractor, "needs_source", False):
            raise AnnotateError(f"model {model_cls.name!r} reads action units: AU extractor {name!r} "
                                "needs --au-source (an OpenFace CSV or a stand-in sidecar .npz)")
        au_rate = float(rt.get("rate") or src_fps)
        modalities = {kind: Modality(kind, shape=(len(getattr(extractor, "channels", ())) or None,),
                                     rate=au_rate, channels=tuple(getattr(extractor, "channels", ())))}
    else:
        shape = size if gray else (*size, 3)
        modalities = {kind: Modality(kind, shape=tuple(shape), rate=src_fps if kind == "face_video" else None)}

    m, task, status = prepare_model(model if not isinstance(model, str) else model_cls, task=task,
                                    weights=weights, modalities=modalities)
    accelerated = accelerate_network(m, backend, modalities, task)
    spec = {"size": size, "gray": gray, "backend": backend}
    try:
        streamer = _make_streamer(m, kind, task, spec)
        if kind in FACE_KINDS:
            _probe(_make_streamer(m, kind, task, spec), size, gray, rt)
    except (RuntimeError, AttributeError, NotImplementedError, KeyError, TypeError) as exc:
        raise AnnotateError(needs_fit_message(m.name, status, exc)) from exc

    acc = dict.fromkeys(STAGES, 0.0)
    t_start = last_report = time.perf_counter()
    # main face: the track found on most of the first frames (emobench.realtime.main_face)
    it = iter(frames_iter)
    detector = FaceDetector(detect_scale=detect_scale, min_size=min_face)
    head = list(itertools.islice(it, settle_frames if max_frames is None else min(settle_frames, max_frames)))
    t1 = time.perf_counter()
    main = choose_main_track([detector.detect(f) for f in head])
    acc["decode"] += t1 - t_start
    acc["detect"] += time.perf_counter() - t1
    replay = ReplayDetector(detector, head, main)
    tracker = FaceTracker(replay, detect_every=detect_every)
    it = itertools.chain(head, it)  # ``head`` stays referenced: the replay matches frames by identity
    frame_recs: list[dict] = []
    vtt_lines: list[dict] = []
    per_second: dict[int, list[dict]] = defaultdict(list)
    frames_in_second: Counter = Counter()
    faces_in_second: Counter = Counter()
    current: dict | None = None
    n_pred = n = 0
    next_au_t = 0.0
    while max_frames is None or n < max_frames:
        t0 = time.perf_counter()
        frame = next(it, None)
        t1 = time.perf_counter()
        if frame is None:
            break
        acc["decode"] += t1 - t0
        t_video = n / src_fps
        box, found = tracker.update(frame)
        t2 = time.perf_counter()
        acc["detect"] += t2 - t1
        fresh = False
        second = int(math.floor(t_video + 1e-9))
        frames_in_second[second] += 1
        if found:
            faces_in_second[second] += 1
            crop = crop_face(frame, box, margin=margin, size=size, gray=gray)
            t3 = time.perf_counter()
            acc["preprocess"] += t3 - t2
            x = crop
            if extractor is not None:
                x = None
                if t_video + 1e-9 >= next_au_t:  # sample the AU stream at the model's rate
                    next_au_t += 1.0 / au_rate
                    x = extractor.extract(crop, t_video)
                t4 = time.perf_counter()
                acc["extract"] += t4 - t3
                t3 = t4
            if x is not None:
                try:
                    pred = streamer.push(x)
                except (RuntimeError, AttributeError, ValueError) as exc:
                    raise AnnotateError(f"model {m.name!r} ({status}) failed on frame {n}: "
                                        f"{type(exc).__name__}: {exc}") from exc
                t5 = time.perf_counter()
                acc["model"] += t5 - t3
                if pred is not None:
                    current, fresh = _interpret(pred, task), True
                    n_pred += 1
                    per_second[second].append(current)
        if jsonl is not None and not every_second and found and current is not None:
            key = "value" if task.kind == "regression" else "class"
            x0, y0, bw, bh = (int(v) for v in box)
            vtt_lines.append({"type": "emotion", key: current[key], "seconds": round(t_video, 4),
                              "frames": n, "coordinates": [x0, y0, x0 + bw, y0 + bh], "id": 0})
        if not every_second:
            rec = {"type": "frame", "frame": n, "seconds": round(t_video, 4), "face": bool(found),
                   "box": [int(v) for v in box] if found else None}
            if current is not None and found:
                key = "value" if task.kind == "regression" else "class"
                rec[key] = current[key]
                rec["fresh"] = fresh
            frame_recs.append(rec)
        n += 1
        if n == len(head):
            replay.forget()
        now = time.perf_counter()
        if progress is not None and now - last_report >= progress_every:
            progress({"frame": n, "fps": n / (now - t_start), "current": current, "face": bool(found)})
            last_report = now
    total = time.perf_counter() - t_start
    if n == 0:
        raise AnnotateError(f"{label}: no frame could be read")

    seconds = [_second_record(s, per_second.get(s, []), frames_in_second[s], faces_in_second[s], task)
               for s in sorted(frames_in_second)]
    labelled = [r for r in seconds if r.get("class") is not None or r.get("value") is not None]
    summary: dict[str, Any] = {"frames": n, "face_frames": int(sum(faces_in_second.values())),
                               "predictions": n_pred, "seconds": len(seconds), "labelled_seconds": len(labelled)}
    if task.kind == "classification":
        counts = Counter(r["class"] for r in labelled)
        summary["class_counts"] = dict(counts.most_common())
        summary["majority_class"] = counts.most_common(1)[0][0] if counts else None
    else:
        summary["mean_value"] = float(np.mean([r["value"] for r in labelled])) if labelled else None
    if summary["face_frames"] == 0:
        summary["note"] = "no face was found in any frame: no prediction was made"
    staged = sum(acc.values())
    timing = {f"{k}_ms": 1e3 * v / n for k, v in acc.items()}
    timing.update({f"{k}_share": (v / staged if staged else 0.0) for k, v in acc.items()})
    timing.update({"total_ms": 1e3 * total / n, "fps": n / total if total else float("inf"),
                   "other_ms": 1e3 * max(0.0, total - staged) / n, "detections": detector.n_detections,
                   "threads": torch.get_num_threads()})
    result = {
        "source": label, "model": m.name, "task": task.name, "task_kind": task.kind,
        "classes": list(task.classes), "status": status, "weights": str(weights) if weights else None,
        "stream": kind, "backend": accelerated or getattr(streamer, "backend", None), "au_extractor": getattr(extractor, "name", None),
        "crop": {"size": list(size), "gray": gray, "margin": margin},
        "detector": {"detect_every": detect_every, "detect_scale": detect_scale, "min_face": min_face,
                     "settle_frames": len(head),
                     "main_face": [int(v) for v in main.boxes[min(main.boxes)]] if main else None},
        "video": info, "summary": summary, "timing": timing, "seconds": seconds,
    }
    if not every_second:
        result["frames"] = frame_recs
    if out is not None:
        Path(out).write_text(json.dumps(result, indent=1))
    if jsonl is not None:
        lines = seconds if every_second else vtt_lines
        Path(jsonl).write_text("".join(json.dumps(r) + "\n" for r in lines))
    return result
