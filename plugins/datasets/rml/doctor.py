"""``emobench doctor`` for RML: counts and every problem with its path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from emobench.dataset import Problem
from emobench.media.av import check_clips

from . import layout as L


def check_tree(root: Path) -> tuple[dict, list[Problem]]:
    clips, problems = L.scan(root)
    usable, bad = check_clips(c.path for c in clips)
    problems += [Problem(str(p), why) for p, why in bad]
    counts = {
        "clips": len(clips), "usable_clips": usable,
        "speakers": len({c.speaker for c in clips}),
        "per_emotion": {e: sum(c.emotion == e for c in clips) for e in L.CLASSES},
        "per_language": dict(sorted(Counter(c.language or "(none)" for c in clips).items())),
    }
    return counts, problems
