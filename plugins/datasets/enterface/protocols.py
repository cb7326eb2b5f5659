"""eNTERFACE'05 protocols: speaker-independent 10-fold (primary) and leave one
subject out, both without subject 6 (the usual exclusion, recorded in the
protocol's name and fold fingerprint), plus the 10-fold over every subject."""

from __future__ import annotations

from dataclasses import dataclass

from emobench.protocols import LeaveOneSubjectOut, SubjectKFold

from .layout import EXCLUDED_BY_CONVENTION


@dataclass
class EnterfaceKFold(SubjectKFold):
    name: str = "enterface-10fold"
    k: int = 10
    exclude: tuple[str, ...] = EXCLUDED_BY_CONVENTION
    description: str = ("Speaker-independent 10-fold (scikit-learn GroupKFold over subjects, "
                        "shuffled by seed); subject 6 excluded.")
    datasets: tuple[str, ...] = ("enterface",)

    def folds(self, recordings, seed=0):
        return super().folds([r for r in recordings if r.subject not in self.exclude], seed)


@dataclass
class EnterfaceLoso(LeaveOneSubjectOut):
    name: str = "enterface-loso"
    exclude: tuple[str, ...] = EXCLUDED_BY_CONVENTION
    description: str = "Leave one subject out; subject 6 excluded."
    datasets: tuple[str, ...] = ("enterface",)

    def folds(self, recordings, seed=0):
        return super().folds([r for r in recordings if r.subject not in self.exclude], seed)


def enterface_protocols():
    return [EnterfaceKFold(), EnterfaceLoso(),
            EnterfaceKFold(name="enterface-10fold-all", exclude=(),
                           description="Speaker-independent 10-fold over every subject "
                                       "(subject 6 kept).")]
