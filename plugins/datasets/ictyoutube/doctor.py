"""``emobench doctor`` for ICT YouTube: counts and every problem with its path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from emobench.dataset import Problem
from emobench.media.av import check_clips

from . import layout as L


def check_tree(root: Path) -> tuple[dict, list[Problem]]:
    videos, problems = L.scan(root)
    usable, bad = check_clips(v.path for v in videos)
    problems += [Problem(str(p), why) for p, why in bad]
    counts = {
        "videos": len(videos), "usable_videos": usable,
        "speakers": len({v.speaker for v in videos}),
        "per_sentiment": {s: sum(v.sentiment == s for v in videos) for s in L.CLASSES},
        "per_gender": dict(sorted(Counter(v.gender or "(none)" for v in videos).items())),
    }
    return counts, problems
