"""``emobench doctor`` for BAUM-1s: counts and every problem with its path."""

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
        "per_code": {f"{k} {L.CODES[k]}": n for k, n in sorted(Counter(c.code for c in clips).items())},
        "six_basic_clips": sum(c.emotion in L.SIX_BASIC for c in clips),
        "per_gender": dict(sorted(Counter(c.gender or "(none)" for c in clips).items())),
    }
    return counts, problems
