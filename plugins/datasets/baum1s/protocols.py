"""BAUM-1s protocol: leave one speakers-group out.

The speakers, sorted by number, are cut into ``n_groups`` contiguous groups of
(nearly) equal size (``numpy.array_split``): S001-S011, S012-S021, S022-S031 for
the 31 speakers of the real copy with the default 3 groups. Each group is the
test set of one fold (10 or more test speakers per fold), validation speakers are
drawn from the other groups. The grouping does not look at labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emobench.data import Fold
from emobench.protocols import Protocol


@dataclass
class SpeakerGroupsOut(Protocol):
    name: str = "baum1s-speaker-groups"
    n_groups: int = 3
    description: str = ("Leave one speakers-group out: the sorted speakers cut into 3 "
                        "contiguous groups (S001-S011, S012-S021, S022-S031), one test fold each.")
    datasets: tuple[str, ...] = ("baum1s",)
    version: str = "1"

    def groups(self, recordings) -> dict[str, int]:
        speakers = sorted({r.subject for r in recordings})
        parts = np.array_split(np.array(speakers, dtype=object), min(self.n_groups, len(speakers)))
        return {s: g for g, part in enumerate(parts) for s in part}

    def folds(self, recordings, seed=0):
        group = self.groups(recordings)
        out = []
        for g in sorted(set(group.values())):
            members = sorted(s for s, v in group.items() if v == g)
            test = tuple(r.id for r in recordings if group[r.subject] == g)
            rest = [r.id for r in recordings if group[r.subject] != g]
            train, valid = self.split_valid(recordings, rest, seed + g)
            out.append(Fold(f"speakers={members[0]}-{members[-1]}", train, valid, test))
        return out


def baum1s_protocols():
    return [SpeakerGroupsOut()]
