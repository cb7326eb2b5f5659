"""Extra leaderboard sections beside the per-cell tables.

Each entry names a module of this package with a function
``section(store, tables, out, written) -> list[str]``: it may write files into
``out`` (adding their names to ``written`` so they survive stale-file cleanup)
and returns the Markdown lines it contributes. Keeping the list here lets a
section be added without touching :mod:`.render`.
"""

from __future__ import annotations

import importlib

# module names inside emobench.leaderboard, in the order their sections appear
SECTIONS: tuple[str, ...] = ("majority", "online", "groups")


def render_all(store, tables, out, written) -> list[str]:
    lines: list[str] = []
    for name in SECTIONS:
        mod = importlib.import_module(f"emobench.leaderboard.{name}")
        lines += mod.section(store, tables, out, written)
    return lines
