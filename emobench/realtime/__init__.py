"""Real-time use of emobench models: the live annotation pipeline
(:mod:`emobench.realtime.annotate`), action-unit extractors
(:mod:`emobench.realtime.extractors`) and the astronaut test video
(:mod:`emobench.realtime.demo`). Profiling lives in :mod:`emobench.profiling`."""

from emobench.realtime.annotate import AnnotateError, annotate_video, default_task, prepare_model
from emobench.realtime.extractors import (AUExtractor, OpenFaceCSVExtractor, SidecarAUExtractor,
                                          available_au_extractors, write_au_sidecar)

__all__ = ["AnnotateError", "annotate_video", "default_task", "prepare_model", "AUExtractor",
           "OpenFaceCSVExtractor", "SidecarAUExtractor", "available_au_extractors", "write_au_sidecar"]
