"""The core's rooms import downwards only, and the core never imports a built-in plugin.

Ranks follow the data flow of docs/architecture.md: vocabulary -> plugin API ->
registry and corpus resolution -> tuning/profiling -> runner -> leaderboard ->
command line. A module may import modules of its own rank or lower. Imports
inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "emobench"

# room -> rank; a room is the first component below ``emobench`` (a module or a package).
RANKS = {
    # 0: vocabulary with no emobench dependency
    "metrics": 0, "stats": 0, "resampling": 0, "provenance": 0, "hookspecs": 0, "profiles": 0,
    "config": 0, "store": 0, "sim": 0, "labelspace": 0, "bootstrap": 0, "interrupts": 0,
    # 1: data vocabulary and the media room
    "data": 1, "media": 1, "validate": 1, "layouts": 1,
    # 2: the plugin base classes
    "dataset": 2, "model": 2, "protocols": 2,
    # 3: the public API, the registry, corpus resolution
    "emobench": 3, "plugins": 3, "datasource": 3,
    # 4: what one fold needs
    "cells": 4, "tuning": 4, "budget": 4, "deadline": 4, "profiling": 4, "executors": 4, "online": 4,
    # 5: the runner
    "runner": 5, "jobs": 5, "fold": 5, "plan": 5, "pretraining": 5,
    # 6: readers of the store and tools built on the runner
    "leaderboard": 6, "export": 6, "score": 6, "conformance": 6, "explain": 6, "realtime": 6,
    # 7: the command line
    "cli": 7, "realtime_cli": 7, "__main__": 7,
}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "emobench"


def _module_name(path: Path) -> str:
    rel = path.relative_to(CORE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    me = _module_name(path)
    package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
            if node.module == "emobench" and not node.level:
                # ``from emobench import metrics`` names a submodule, not the public API
                for a in node.names:
                    if (CORE / a.name).is_dir() or (CORE / f"{a.name}.py").exists():
                        found.add(f"emobench.{a.name}")
                        found.discard("emobench")
    return found


MODULES = sorted(p for p in CORE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_core_imports_downwards_only(path):
    me = _module_name(path)
    room = _room(me)
    assert room in RANKS, (f"{me}: room {room!r} has no rank; add it to RANKS here and to the "
                           "picture in docs/architecture.md")
    for dep in sorted(_imports(path)):
        assert not dep.startswith("emobench_plugins"), f"{me} imports the built-in plugin {dep}"
        if dep != "emobench" and not dep.startswith("emobench."):
            continue
        other = _room(dep)
        if other == room:
            continue
        assert other in RANKS, f"{me} imports {dep}, whose room has no rank"
        assert RANKS[other] <= RANKS[room], (
            f"{me} (rank {RANKS[room]}, {room}) imports {dep} (rank {RANKS[other]}, {other}): "
            "a lower room must not import a higher one")


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "emobench"
    fake.mkdir()
    (fake / "metrics.py").write_text("from emobench.runner import run\n")
    monkeypatch.setattr(__import__(__name__), "CORE", fake)
    with pytest.raises(AssertionError, match="must not import a higher one"):
        test_core_imports_downwards_only(fake / "metrics.py")
