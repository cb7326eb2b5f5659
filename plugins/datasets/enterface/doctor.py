"""``emobench doctor`` for eNTERFACE'05: counts and every problem with its path."""

from __future__ import annotations

from pathlib import Path

from emobench.dataset import Problem
from emobench.media.av import check_clips

from . import layout as L


def check_tree(root: Path) -> tuple[dict, list[Problem]]:
    clips, problems = L.scan(root)
    usable, bad = check_clips(c.path for c in clips)
    problems += [Problem(str(p), why) for p, why in bad]
    subjects = sorted({c.subject for c in clips}, key=lambda s: int(s[1:]))
    per_subject = {s: sum(c.subject == s for c in clips) for s in subjects}
    counts = {
        "clips": len(clips), "usable_clips": usable, "subjects": len(subjects),
        "per_emotion": {e: sum(c.emotion == e for c in clips) for e in L.CLASSES},
        "clips_per_subject": {"min": min(per_subject.values(), default=0),
                              "max": max(per_subject.values(), default=0)},
        "excluded_by_convention_present": [s for s in L.EXCLUDED_BY_CONVENTION if s in subjects],
    }
    return counts, problems
