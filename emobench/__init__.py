"""emobench: one harness for emotion and pain recognition benchmarks.

Plugin authors import what they need from here::

    from emobench import hookimpl, Dataset, Model, Protocol, Modality, Task, Recording

The names are loaded on first use (PEP 562), so ``import emobench`` (and the
``emobench --help`` that imports it) does not pull in scikit-learn or torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# exported name -> module that defines it
_EXPORTS = {
    "hookimpl": "emobench.hookspecs",
    "Fold": "emobench.data", "Modality": "emobench.data", "Recording": "emobench.data",
    "Sample": "emobench.data", "Task": "emobench.data", "MODALITY_KINDS": "emobench.data",
    "Dataset": "emobench.dataset", "DoctorReport": "emobench.dataset", "Problem": "emobench.dataset",
    "SEVERITIES": "emobench.dataset", "STANDIN_MARKER": "emobench.dataset",
    "open_every_stream": "emobench.dataset",
    "DataError": "emobench.layouts", "PathEscapeError": "emobench.layouts",
    "inside": "emobench.layouts", "find_part": "emobench.layouts", "ZipMember": "emobench.layouts",
    "MediaError": "emobench.media.decode", "read_image": "emobench.media.decode",
    "read_openface_csv": "emobench.media.openface",
    "Metric": "emobench.metrics", "register_metric": "emobench.metrics",
    "FitContext": "emobench.model", "Model": "emobench.model",
    "Protocol": "emobench.protocols",
}

__all__ = [
    "hookimpl", "Dataset", "Model", "FitContext", "Protocol", "Modality", "Task",
    "Recording", "Sample", "Fold", "MODALITY_KINDS", "__version__",
    "DoctorReport", "Problem", "SEVERITIES", "STANDIN_MARKER", "open_every_stream", "DataError",
    "PathEscapeError", "inside", "find_part", "ZipMember", "MediaError", "read_image",
    "read_openface_csv", "Metric", "register_metric",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emobench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
