"""The corpus-independent protocols. A corpus opts in by naming them in
``Dataset.protocols``; corpus-specific protocols live in the corpus module."""

from emobench import hookimpl
from emobench.protocols import generic_protocols


@hookimpl
def emobench_register_protocols():
    return generic_protocols()
