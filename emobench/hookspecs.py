"""The hook specifications every emobench plugin implements.

A plugin is a module (or object) registered under the ``emobench`` entry-point
group. It implements any subset of the hooks below, each decorated with
``@emobench.hookimpl``, and each returns a list. Built-in corpora, models and
protocols are registered exactly the same way (and first: a later plugin never
replaces a built-in name). Anything else than a list, a class where an instance
is due (or the reverse for models), or one invalid item rejects the whole entry
point with a message naming the hook (docs/plugins.md, section 2).
"""

from __future__ import annotations

import pluggy

PROJECT = "emobench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def emobench_register_datasets() -> list:
    """Return a list of :class:`emobench.Dataset` instances (one per corpus)."""


@hookspec
def emobench_register_models() -> list:
    """Return a list of :class:`emobench.Model` subclasses (classes, not instances:
    the tuner instantiates them with each trial's hyper-parameters)."""


@hookspec
def emobench_register_protocols() -> list:
    """Return a list of :class:`emobench.Protocol` instances (split generators)."""


@hookspec
def emobench_register_au_extractors() -> list:
    """Return a list of action-unit extractors for the live pipeline: objects with a
    ``name`` and ``extract(face_crop, t) -> np.ndarray | None`` (see docs/realtime.md)."""
