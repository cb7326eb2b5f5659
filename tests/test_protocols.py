import numpy as np
import pytest

from emobench.data import Fold, Recording
from emobench.protocols import (CrossGroup, LeakageError, LeaveGroupOut, LeaveOneSubjectOut,
                                OfficialPartition, SubjectHoldout, SubjectKFold, check_fold,
                                fold_checksum)


def corpus(n_subjects=10, per=3):
    recs = []
    for s in range(n_subjects):
        for k in range(per):
            recs.append(Recording(id=f"s{s}-r{k}", subject=f"s{s}",
                                  groups={"culture": "AB"[s % 2], "session": str(k)},
                                  partition=["train", "devel", "test"][s % 3]))
    return recs


def subjects(recs, ids):
    by = {r.id: r.subject for r in recs}
    return {by[i] for i in ids}


@pytest.mark.parametrize("proto", [LeaveOneSubjectOut(), SubjectKFold(k=3),
                                   SubjectHoldout(name="h", counts=(4, 3, 3)),
                                   OfficialPartition(), OfficialPartition(test_by="culture"),
                                   LeaveGroupOut(key="culture"),
                                   CrossGroup(key="culture", train_groups=("A",))])
def test_every_protocol_is_leak_free_and_deterministic(proto):
    recs = corpus()
    folds = proto.folds(recs, seed=3)
    assert folds
    for f in folds:
        check_fold(f, recs, proto.name)
        assert not subjects(recs, f.test) & subjects(recs, f.train + f.valid)
    assert fold_checksum(folds) == fold_checksum(proto.folds(recs, seed=3))


def test_loso_tests_every_subject_once():
    recs = corpus(6)
    folds = LeaveOneSubjectOut().folds(recs)
    tested = [subjects(recs, f.test) for f in folds]
    assert all(len(t) == 1 for t in tested)
    assert set().union(*tested) == {r.subject for r in recs}


def test_kfold_covers_all_recordings_once():
    recs = corpus(9)
    folds = SubjectKFold(k=3).folds(recs, seed=1)
    test_ids = [i for f in folds for i in f.test]
    assert sorted(test_ids) == sorted(r.id for r in recs)


def test_holdout_counts_and_ordered_lists():
    recs = corpus(25, 1)
    (f,) = SubjectHoldout(name="h", counts=(9, 7, 9), ordered=True).folds(recs)
    assert (len(subjects(recs, f.train)), len(subjects(recs, f.valid)), len(subjects(recs, f.test))) == (9, 7, 9)
    # ordered: the name-sorted list is cut test first, as the original code did
    assert subjects(recs, f.test) == set(sorted(r.subject for r in recs)[:9])
    seeds = {fold_checksum(SubjectHoldout(name="h", counts=(9, 7, 9)).folds(recs, seed=s)) for s in range(4)}
    assert len(seeds) > 1  # unordered hold-outs depend on the seed


def test_holdout_with_too_few_subjects_names_the_protocol():
    with pytest.raises(ValueError, match="unbc-like"):
        SubjectHoldout(name="unbc-like", counts=(9, 7, 9)).folds(corpus(5))


def test_official_partition_uses_devel_for_validation_and_splits_tests_by_group():
    recs = corpus(12)
    folds = OfficialPartition(test_by="culture").folds(recs)
    assert [f.name for f in folds] == ["test=A", "test=B"]
    by = {r.id: r for r in recs}
    assert all(by[i].partition == "devel" for i in folds[0].valid)


def test_leakage_is_detected():
    recs = corpus(4)
    leaky = Fold("bad", ("s0-r0", "s1-r0"), ("s2-r0",), ("s0-r1",))
    with pytest.raises(LeakageError, match="s0.*train and test"):
        check_fold(leaky, recs, "mine")
    with pytest.raises(LeakageError, match="empty valid"):
        check_fold(Fold("empty", ("s0-r0",), (), ("s1-r0",)), recs, "mine")


def test_checksum_changes_with_assignment():
    recs = corpus()
    a = SubjectKFold(k=3).folds(recs, seed=0)
    b = SubjectKFold(k=3).folds(recs, seed=1)
    assert fold_checksum(a) != fold_checksum(b)
    assert np.all([len(f.valid) > 0 for f in a])


# -- fold caps (issue 11) ---------------------------------------------------------

def _subject_recordings(n_subjects=12, per=2):
    from emobench.data import Recording

    return [Recording(id=f"s{i:02d}_{j}", subject=f"s{i:02d}", labels={"t": 0.0})
            for i in range(n_subjects) for j in range(per)]


def test_a_capped_loso_tests_every_subject_in_cap_folds():
    from emobench.protocols import CappedFolds, LeaveOneSubjectOut, capped, check_fold, for_version

    recs = _subject_recordings()
    proto = capped(LeaveOneSubjectOut(), 3)
    assert isinstance(proto, CappedFolds) and proto.name == "loso" and proto.version == "1+capped3"
    folds = proto.folds(recs, 0)
    assert [f.name for f in folds] == ["capped=1/3", "capped=2/3", "capped=3/3"]
    for f in folds:
        check_fold(f, recs, "loso")
    tested = [i for f in folds for i in f.test]
    assert sorted(tested) == sorted(r.id for r in recs)  # every recording tested once
    assert all(len({i.split("_")[0] for i in f.test}) == 4 for f in folds)  # 12 subjects / 3
    # a job re-derives the same folds from the recorded version
    again = for_version(LeaveOneSubjectOut(), proto.version)
    assert again.folds(recs, 0) == folds
    assert for_version(LeaveOneSubjectOut(), "1").folds(recs, 0) == LeaveOneSubjectOut().folds(recs, 0)


def test_a_cap_of_one_runs_one_of_two_folds_and_small_protocols_keep_their_folds():
    from emobench.protocols import LeaveOneSubjectOut, SubjectKFold, capped

    recs = _subject_recordings(6)
    assert capped(LeaveOneSubjectOut(), 1).n_splits == 2
    assert capped(LeaveOneSubjectOut(), None).version == "1"
    # no more folds than the cap: the base folds, unchanged
    assert capped(SubjectKFold(k=3), 5).folds(recs, 0) == SubjectKFold(k=3).folds(recs, 0)
    five = capped(SubjectKFold(k=5), 2).folds(recs, 0)
    assert len(five) == 2 and sorted(i for f in five for i in f.test) == sorted(r.id for r in recs)


def test_a_cap_never_touches_a_protocol_of_separate_test_sets():
    from emobench.jobs import chosen_folds, compute_fold_plan
    from types import SimpleNamespace
    from emobench.data import Recording, Task
    from emobench.protocols import CrossGroup, OfficialPartition, capped

    recs = [Recording(id=f"r{i}", subject=f"s{i}", labels={"t": 0.0},
                      partition="train" if i < 12 else "devel" if i < 16 else "test",
                      groups={"culture": "ABC"[i % 3]}) for i in range(24)]
    ds = SimpleNamespace(tasks=(Task("t", "regression"),))
    for proto in (OfficialPartition(test_by="culture"), CrossGroup(key="culture", train_groups=("A",))):
        assert capped(proto, 1) is proto
        fp = compute_fold_plan(ds, proto, proto.name, recs, 0)
        assert len(fp["folds"]) >= 2
        assert chosen_folds(fp["folds"], 1) == list(range(len(fp["folds"])))
