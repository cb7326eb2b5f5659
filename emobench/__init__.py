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
    "Dataset": "emobench.dataset",
    "FitContext": "emobench.model", "Model": "emobench.model",
    "Protocol": "emobench.protocols",
}

__all__ = [
    "hookimpl", "Dataset", "Model", "FitContext", "Protocol", "Modality", "Task",
    "Recording", "Sample", "Fold", "MODALITY_KINDS", "__version__",
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
