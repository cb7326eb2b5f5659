"""Protocols: how recordings are split into train / validation / test folds.

Every protocol returns folds whose validation split is carved from training
subjects only, so tuning and model selection never see a test recording.
:func:`check_fold` rejects any fold in which a subject appears in two of the
three parts; :func:`fold_checksum` fingerprints the assignment and is stored
with every result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from emobench.data import Fold, Recording


class LeakageError(ValueError):
    """A subject (or recording) appears in two parts of one fold."""


class Protocol:
    """Subclass and implement :meth:`folds`.

    Attributes:
        name, version: identify the protocol; the version is stored with results.
        needs: what recordings must carry: ``"subjects"``, ``"partition"``,
            ``"groups:<key>"`` (e.g. ``groups:culture``).
        datasets: datasets this protocol applies to besides those that list it in
            ``Dataset.protocols`` (a third-party protocol for a built-in corpus).
        pool_folds: True for cross-validation (every recording is tested once and
            the leaderboard pools all folds); False when each fold is its own
            evaluation set (e.g. one test set per culture), reported separately.
    """

    name: str = ""
    version: str = "1"
    description: str = ""
    needs: tuple[str, ...] = ("subjects",)
    datasets: tuple[str, ...] = ()
    pool_folds: bool = True
    valid_fraction: float = 0.2

    def folds(self, recordings: list[Recording], seed: int = 0) -> list[Fold]:
        raise NotImplementedError

    def unmet_needs(self, recordings: list[Recording]) -> list[str]:
        out = []
        for need in self.needs:
            if need == "subjects" and len({r.subject for r in recordings}) < 2:
                out.append("at least two subjects")
            elif need == "partition" and not any(r.partition for r in recordings):
                out.append("an official partition")
            elif need.startswith("groups:"):
                key = need.split(":", 1)[1]
                if len({r.groups.get(key) for r in recordings if key in r.groups}) < 2:
                    out.append(f"at least two '{key}' groups")
        return out

    # -- shared helpers -------------------------------------------------
    def split_valid(self, recordings: list[Recording], train_ids, seed: int):
        """Carve a subject-disjoint validation split from training recordings."""
        by_id = {r.id: r for r in recordings}
        train_ids = list(train_ids)
        groups = [by_id[i].subject for i in train_ids]
        if len(set(groups)) < 2:
            raise ValueError(f"protocol {self.name!r}: cannot carve a subject-disjoint "
                             f"validation split from {len(set(groups))} training subject(s)")
        from sklearn.model_selection import GroupShuffleSplit

        gss = GroupShuffleSplit(n_splits=1, test_size=self.valid_fraction, random_state=seed)
        tr, va = next(gss.split(train_ids, groups=groups))
        return tuple(train_ids[i] for i in tr), tuple(train_ids[i] for i in va)

    def leave_one_out(self, recs, groups, label: str, seed: int) -> list[Fold]:
        """One fold per group value (scikit-learn LeaveOneGroupOut), validation
        carved from the training subjects."""
        out = []
        from sklearn.model_selection import LeaveOneGroupOut

        for tr, te in LeaveOneGroupOut().split(recs, groups=groups):
            train, valid = self.split_valid(recs, [recs[i].id for i in tr], seed)
            out.append(Fold(f"{label}={groups[te[0]]}", train, valid, tuple(recs[i].id for i in te)))
        return out


def _ids(recs):
    return [r.id for r in recs]


@dataclass
class LeaveOneSubjectOut(Protocol):
    name: str = "loso"
    description: str = "Leave one subject out; validation subjects drawn from the rest."
    subjects: tuple[str, ...] = ()  # restrict to a subject subset (e.g. BioVid's 67)
    datasets: tuple[str, ...] = ()
    version: str = "1"

    def folds(self, recordings, seed=0):
        recs = [r for r in recordings if not self.subjects or r.subject in self.subjects]
        return self.leave_one_out(recs, [r.subject for r in recs], "subject", seed)


@dataclass
class SubjectKFold(Protocol):
    name: str = "subject-5fold"
    k: int = 5
    description: str = "Grouped k-fold over subjects (scikit-learn GroupKFold, shuffled by seed)."
    datasets: tuple[str, ...] = ()
    version: str = "1"

    def folds(self, recordings, seed=0):
        groups = [r.subject for r in recordings]
        k = min(self.k, len(set(groups)))
        out = []
        from sklearn.model_selection import GroupKFold

        splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
        for i, (tr, te) in enumerate(splitter.split(recordings, groups=groups)):
            train, valid = self.split_valid(recordings, [recordings[j].id for j in tr], seed + i)
            out.append(Fold(f"fold={i + 1}/{k}", train, valid, tuple(recordings[j].id for j in te)))
        return out


@dataclass
class SubjectHoldout(Protocol):
    """Fixed subject counts (e.g. 9/7/9) or fixed subject lists for train/valid/test.

    With ``counts`` the subjects are sorted and shuffled by the seed unless
    ``ordered`` is True, in which case the sorted order is cut as the original
    code did (test first, then valid, then train)."""

    name: str = "subject-holdout"
    counts: tuple[int, int, int] | None = None
    valid_subjects: tuple[str, ...] = ()
    test_subjects: tuple[str, ...] = ()
    ordered: bool = False
    description: str = "Subject hold-out with given train/valid/test counts or lists."
    datasets: tuple[str, ...] = ()
    version: str = "1"

    def folds(self, recordings, seed=0):
        subjects = sorted({r.subject for r in recordings})
        if self.counts:
            n_tr, n_va, n_te = self.counts
            if n_tr + n_va + n_te > len(subjects):
                raise ValueError(f"protocol {self.name!r}: counts {self.counts} need "
                                 f"{sum(self.counts)} subjects, corpus has {len(subjects)}")
            order = subjects if self.ordered else list(
                np.random.default_rng(seed).permutation(subjects))
            test = set(order[:n_te])
            valid = set(order[n_te:n_te + n_va])
            train = set(order[n_te + n_va:n_te + n_va + n_tr])
        else:
            test, valid = set(self.test_subjects), set(self.valid_subjects)
            train = set(subjects) - test - valid
        part = lambda s: tuple(r.id for r in recordings if r.subject in s)  # noqa: E731
        if not test:
            train, valid_ids = self.split_valid(recordings, part(train), seed)
            return [Fold("holdout", train, valid_ids, part(valid))]
        return [Fold("holdout", part(train), part(valid), part(test))]


@dataclass
class OfficialPartition(Protocol):
    """The corpus's own train / development / test partition.

    ``test_by`` reports each value of a group key as its own test fold (e.g. SEWA's
    DE, HU and CN test sets); the validation split is the development partition."""

    name: str = "official"
    needs: tuple[str, ...] = ("partition",)
    train_parts: tuple[str, ...] = ("train",)
    valid_parts: tuple[str, ...] = ("devel", "valid", "validation")
    test_parts: tuple[str, ...] = ("test",)
    test_by: str | None = None
    pool_folds: bool = False
    description: str = "The corpus's official train / devel / test partition."
    datasets: tuple[str, ...] = ()
    version: str = "1"

    def folds(self, recordings, seed=0):
        pick = lambda parts: [r for r in recordings if r.partition in parts]  # noqa: E731
        train, valid, test = pick(self.train_parts), pick(self.valid_parts), pick(self.test_parts)
        if not valid:
            tr, va = self.split_valid(recordings, _ids(train), seed)
        else:
            tr, va = tuple(_ids(train)), tuple(_ids(valid))
        if not self.test_by:
            return [Fold("official", tr, va, tuple(_ids(test)))]
        values = sorted({r.groups.get(self.test_by, "") for r in test})
        return [Fold(f"test={v}", tr, va,
                     tuple(r.id for r in test if r.groups.get(self.test_by, "") == v))
                for v in values]


@dataclass
class LeaveGroupOut(Protocol):
    """Leave one group out over ``groups[key]`` (session, culture, language)."""

    key: str = "session"
    name: str = ""
    description: str = "Leave one group out over a recording group key."
    datasets: tuple[str, ...] = ()
    version: str = "1"

    def __post_init__(self):
        self.name = self.name or f"logo-{self.key}"
        self.needs = ("subjects", f"groups:{self.key}")

    def folds(self, recordings, seed=0):
        recs = [r for r in recordings if self.key in r.groups]
        return self.leave_one_out(recs, [r.groups[self.key] for r in recs], self.key, seed)


@dataclass
class CrossGroup(Protocol):
    """Train on some groups (e.g. cultures), test on each of the others."""

    key: str = "culture"
    train_groups: tuple[str, ...] = ()
    pool_folds: bool = False
    name: str = ""
    description: str = "Train on some groups, test on each other group."
    datasets: tuple[str, ...] = ()
    version: str = "1"

    def __post_init__(self):
        self.name = self.name or f"cross-{self.key}"
        self.needs = ("subjects", f"groups:{self.key}")

    def folds(self, recordings, seed=0):
        train = [r for r in recordings if r.groups.get(self.key) in self.train_groups]
        rest = sorted({r.groups.get(self.key) for r in recordings} - set(self.train_groups) - {None})
        tr, va = self.split_valid(recordings, _ids(train), seed)
        return [Fold(f"test={g}", tr, va,
                     tuple(r.id for r in recordings if r.groups.get(self.key) == g)) for g in rest]


# -- fold caps ------------------------------------------------------------

CAP_MARK = "+capped"


@dataclass
class CappedFolds(Protocol):
    """A cross-validation protocol regrouped into ``n_splits`` folds (a profile's
    fold cap), every recording still tested once.

    The base protocol's test sets (one subject each for leave-one-subject-out)
    are the groups of a scikit-learn ``GroupKFold(n_splits, shuffle=True)``: a
    capped leave-one-subject-out becomes leave-several-subjects-out, so a cap
    never shrinks the test subjects of a pooled protocol to the few of its first
    folds. Training is every other recording of the base protocol that shares no
    subject with the test set; validation is carved from its subjects. The
    version is the base's with ``+capped<n>`` appended, so capped and full runs
    are separate identities and the row says how it was split."""

    base: Protocol | None = None
    n_splits: int = 2

    def __post_init__(self):
        if self.base is None or self.n_splits < 2:
            raise ValueError("CappedFolds: needs a base protocol and n_splits >= 2")
        self.name = self.base.name
        self.version = f"{self.base.version}{CAP_MARK}{self.n_splits}"
        self.needs = self.base.needs
        self.datasets = self.base.datasets
        self.pool_folds = True
        self.valid_fraction = self.base.valid_fraction
        self.description = (f"{self.base.description} Capped: its test sets regrouped into "
                            f"{self.n_splits} folds (GroupKFold), every recording tested once.")

    def folds(self, recordings, seed=0):
        base = self.base.folds(recordings, seed)
        if len(base) <= self.n_splits:
            return base
        by_id = {r.id: r for r in recordings}
        universe = sorted({i for f in base for i in (*f.train, *f.valid, *f.test)})
        owner = {i: j for j, f in enumerate(base) for i in f.test}
        tested = [i for i in universe if i in owner]
        from sklearn.model_selection import GroupKFold

        splitter = GroupKFold(n_splits=self.n_splits, shuffle=True, random_state=seed)
        out = []
        for k, (_, te) in enumerate(splitter.split(tested, groups=[owner[i] for i in tested])):
            test = tuple(tested[j] for j in te)
            test_subjects = {by_id[i].subject for i in test}
            train = [i for i in universe if i not in set(test) and by_id[i].subject not in test_subjects]
            tr, va = self.split_valid(recordings, train, seed + k)
            out.append(Fold(f"capped={k + 1}/{self.n_splits}", tr, va, test))
        return out


def capped(proto: Protocol, max_folds: int | None) -> Protocol:
    """The protocol a profile with ``max_folds`` runs.

    A pooled protocol (cross-validation) becomes :class:`CappedFolds` with
    ``max(max_folds, 2)`` folds (a cap of 1 runs one of two folds, marked
    partial); its folds are the base's when it has no more than that. A protocol
    whose folds are separate test sets (``pool_folds`` False) is never capped:
    dropping one of its folds would drop a test set."""
    if not max_folds or not proto.pool_folds or isinstance(proto, CappedFolds):
        return proto
    return CappedFolds(base=proto, n_splits=max(int(max_folds), 2))


def for_version(proto: Protocol, version: str | None) -> Protocol:
    """The protocol a job was planned with, from its recorded version (the
    registered protocol, capped again when the version says so)."""
    if version and CAP_MARK in str(version) and not isinstance(proto, CappedFolds):
        return CappedFolds(base=proto, n_splits=int(str(version).rsplit(CAP_MARK, 1)[1]))
    return proto


# -- checks ---------------------------------------------------------------

def check_fold(fold: Fold, recordings: list[Recording], protocol: str = "") -> None:
    """Raise :class:`LeakageError` if a recording or subject is in two parts."""
    subj = {r.id: r.subject for r in recordings}
    parts = {"train": fold.train, "valid": fold.valid, "test": fold.test}
    for part, ids in parts.items():
        unknown = [i for i in ids if i not in subj]
        if unknown:
            raise LeakageError(f"protocol {protocol!r}, fold {fold.name!r}: unknown recording "
                               f"ids in {part}: {unknown[:5]}")
    if not fold.train or not fold.valid or not fold.test:
        empty = [p for p, ids in parts.items() if not ids]
        raise LeakageError(f"protocol {protocol!r}, fold {fold.name!r}: empty {', '.join(empty)}")
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = {subj[x] for x in parts[a]} & {subj[x] for x in parts[b]}
            if shared:
                raise LeakageError(
                    f"protocol {protocol!r}, fold {fold.name!r}: subject(s) "
                    f"{sorted(shared)[:5]} in both {a} and {b}")


def fold_checksum(folds: list[Fold]) -> str:
    payload = [[f.name, sorted(f.train), sorted(f.valid), sorted(f.test)] for f in folds]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def generic_protocols() -> list[Protocol]:
    """The corpus-independent protocols registered by the built-in plugin."""
    return [OfficialPartition(), LeaveOneSubjectOut(), SubjectKFold()]
