"""BioVid Part A protocols that name fixed subjects or subject counts.

They are written so a copy with fewer subjects (a partial copy, or the stand-in,
which uses the real subject names) still gets meaningful folds, and a copy that
cannot support a protocol is told why in plain words.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from emobench.data import Fold
from emobench.protocols import LeaveOneSubjectOut, SubjectHoldout

from .layout import ALL_SUBJECTS, EXPRESSIVE_67, HOLDOUT_26


@dataclass
class BioVidLoso67(LeaveOneSubjectOut):
    """Leave one subject out over the 67 expressive subjects (the 20 non-expressive
    subjects of Werner et al. are dropped from training and testing)."""

    name: str = "biovid-loso-67"
    description: str = ("Leave one subject out over the 67-subject subset (20 non-expressive "
                        "subjects excluded); validation subjects drawn from the rest.")
    subjects: tuple[str, ...] = EXPRESSIVE_67
    datasets: tuple[str, ...] = ("biovid",)

    def unmet_needs(self, recordings):
        present = {r.subject for r in recordings} & set(self.subjects)
        if len(present) < 3:
            return [f"at least 3 of the 67 expressive subjects (found {len(present)})"]
        return []

    def folds(self, recordings, seed=0):
        unmet = self.unmet_needs(recordings)
        if unmet:
            raise ValueError(f"protocol {self.name!r} needs {unmet[0]}")
        return super().folds(recordings, seed)


@dataclass
class BioVidHoldout61x26(SubjectHoldout):
    """The 61/26 hold-out proposal: the 26 listed subjects are the evaluation (test)
    set; model selection uses a subject-disjoint validation split carved from the 61."""

    name: str = "biovid-holdout-61-26"
    description: str = ("Hold-out: the 26 proposal subjects are the test set; validation "
                        "subjects are carved from the other 61.")
    valid_subjects: tuple[str, ...] = HOLDOUT_26  # SubjectHoldout tests on these when test is empty
    datasets: tuple[str, ...] = ("biovid",)

    def unmet_needs(self, recordings):
        subjects = {r.subject for r in recordings}
        held = subjects & set(self.valid_subjects)
        out = []
        if not held:
            out.append("at least one of the 26 hold-out subjects (none present: subject names "
                       "must follow the Part A naming, e.g. 071313_m_41)")
        if len(subjects - held) < 2:
            out.append(f"at least 2 training subjects outside the 26 (found {len(subjects - held)})")
        return out

    def folds(self, recordings, seed=0):
        unmet = self.unmet_needs(recordings)
        if unmet:
            raise ValueError(f"protocol {self.name!r} needs " + " and ".join(unmet))
        return super().folds(recordings, seed)


@dataclass
class BioVidOrdered29(SubjectHoldout):
    """Tiny EmotioNet's split: subjects sorted; test = first 29, valid = next 29, train =
    last 29. A copy with fewer than 87 subjects is cut into three equal sorted thirds
    instead (with a warning), so the order-based split keeps its shape."""

    name: str = "biovid-29-29-29"
    description: str = ("Tiny EmotioNet split: sorted subjects, test = first 29, valid = next 29, "
                        "train = last 29 (thirds when fewer than 87 subjects).")
    counts: tuple[int, int, int] | None = (29, 29, 29)
    ordered: bool = True
    datasets: tuple[str, ...] = ("biovid",)

    def unmet_needs(self, recordings):
        n = len({r.subject for r in recordings})
        return [] if n >= 3 else [f"at least 3 subjects (found {n})"]

    def folds(self, recordings, seed=0):
        n = len({r.subject for r in recordings})
        if n >= sum(self.counts):
            return super().folds(recordings, seed)
        unmet = self.unmet_needs(recordings)
        if unmet:
            raise ValueError(f"protocol {self.name!r} needs {unmet[0]}")
        third = n // 3
        scaled = (n - 2 * third, third, third)  # the remainder goes to training
        warnings.warn(f"protocol {self.name!r}: {n} subjects instead of {len(ALL_SUBJECTS)}; "
                      f"using sorted thirds train/valid/test = {scaled}", stacklevel=2)
        inner = SubjectHoldout(name=self.name, counts=scaled, ordered=True)
        (fold,) = inner.folds(recordings, seed)
        return [Fold(f"holdout-scaled-{scaled[0]}-{scaled[1]}-{scaled[2]}",
                     fold.train, fold.valid, fold.test)]


def biovid_protocols():
    return [BioVidLoso67(), BioVidHoldout61x26(), BioVidOrdered29()]
