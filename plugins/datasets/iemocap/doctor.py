"""``emobench doctor`` for IEMOCAP: counts and every problem with its path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from emobench.dataset import Problem
from emobench.media.av import check_clips

from . import layout as L


def check_tree(root: Path) -> tuple[dict, list[Problem]]:
    turns, problems = L.scan(root)
    wavs = [t.wav for t in turns]
    avis = sorted({t.avi for t in turns})
    usable_wavs, bad = check_clips(wavs, **L.WAV_CHECK)
    usable_avis, bad_avi = check_clips(avis)
    problems += [Problem(str(p), why) for p, why in bad + bad_avi]
    apple = [p for p in Path(root).rglob("._*")]
    counts = {
        "turns": len(turns), "usable_wavs": usable_wavs, "dialog_videos": len(avis),
        "usable_dialog_videos": usable_avis,
        "speakers": len({t.speaker for t in turns}),
        "per_code": dict(sorted(Counter(t.code for t in turns).items())),
        "per_session": dict(sorted(Counter(str(t.session) for t in turns).items())),
        "appledouble_files_skipped": len(apple),
    }
    return counts, problems
