"""emobench: one harness for emotion and pain recognition benchmarks.

Plugin authors import what they need from here::

    from emobench import hookimpl, Dataset, Model, Protocol, Modality, Task, Recording
"""

from emobench.hookspecs import hookimpl
from emobench.data import Fold, Modality, Recording, Sample, Task, MODALITY_KINDS
from emobench.dataset import Dataset
from emobench.model import FitContext, Model
from emobench.protocols import Protocol

__version__ = "0.1.0"

__all__ = [
    "hookimpl", "Dataset", "Model", "FitContext", "Protocol", "Modality", "Task",
    "Recording", "Sample", "Fold", "MODALITY_KINDS", "__version__",
]
