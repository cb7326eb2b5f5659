"""Built-in action-unit extractors for the live pipeline (``emobench annotate``).

See :mod:`emobench.realtime.extractors` for the interface and the two
extractors registered here.
"""

from emobench import hookimpl
from emobench.realtime.extractors import OpenFaceCSVExtractor, SidecarAUExtractor


@hookimpl
def emobench_register_au_extractors():
    return [OpenFaceCSVExtractor(), SidecarAUExtractor()]
