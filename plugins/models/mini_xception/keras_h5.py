"""Read the weights of a Keras 2 HDF5 model file with h5py alone (no TensorFlow).

Keras 2 stores every layer's arrays under
``model_weights/<layer>/<layer>_<n>/<param>:0`` and the architecture as JSON
in the ``model_config`` root attribute; both are enough to rebuild a small
network in torch and to check the rebuild against the stored configuration.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def read_keras_weights(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``{layer name: {param name: array}}`` with the ``:0`` suffix dropped."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: Keras weight file not found")
    out: dict[str, dict[str, np.ndarray]] = {}
    try:
        with h5py.File(path, "r") as f:
            if "model_weights" not in f:
                raise ValueError(f"{path}: no 'model_weights' group (not a Keras 2 model file)")

            def visit(name: str, obj) -> None:
                if isinstance(obj, h5py.Dataset):
                    layer = name.split("/", 1)[0]
                    param = name.rsplit("/", 1)[-1].split(":", 1)[0]
                    out.setdefault(layer, {})[param] = np.array(obj)

            f["model_weights"].visititems(visit)
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from exc
    return out


def read_keras_config(path: str | Path) -> dict[str, dict]:
    """``{layer name: {"class_name", "config", "inputs"}}`` from ``model_config``."""
    import h5py

    with h5py.File(Path(path), "r") as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise ValueError(f"{path}: no 'model_config' attribute")
        cfg = json.loads(raw if isinstance(raw, str) else raw.decode("utf-8"))
    layers = {}
    for layer in cfg["config"]["layers"]:
        nodes = layer.get("inbound_nodes") or []
        inputs = [n[0] for n in nodes[0]] if nodes else []
        layers[layer["config"]["name"]] = {
            "class_name": layer["class_name"], "config": layer["config"], "inputs": inputs}
    return layers


def conv_kernel(k: np.ndarray) -> np.ndarray:
    """Keras Conv2D kernel (kh, kw, in, out) -> torch (out, in, kh, kw)."""
    return np.ascontiguousarray(k.transpose(3, 2, 0, 1))


def depthwise_kernel(k: np.ndarray) -> np.ndarray:
    """Keras depthwise kernel (kh, kw, channels, multiplier) -> torch
    (channels * multiplier, 1, kh, kw) for a grouped convolution."""
    kh, kw, c, m = k.shape
    return np.ascontiguousarray(k.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw))
