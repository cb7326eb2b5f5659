"""The budget's clock during a run (emobench.deadline): started cells finish, a cell
that would end after the budget does not start, and the measured pace scales it."""

import dataclasses

from emobench import executors
from emobench.deadline import Gate


@dataclasses.dataclass(frozen=True)
class J:
    key: str
    cell: str


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _gate(cells, deadline, workers=1, shared=None):
    todo = [J(f"{c}{i}", c) for c, n, _ in cells for i in range(n)]
    seconds = {f"{c}{i}": s for c, n, s in cells for i in range(n)}
    plan = type("P", (), {"seconds": seconds, "shared": shared or {}})()
    clock = Clock()
    return Gate.for_plan(plan, todo, workers, deadline, clock), todo, clock


def test_a_cell_starts_only_if_it_ends_inside_the_budget_and_then_finishes():
    gate, todo, clock = _gate([("a", 2, 10.0), ("b", 2, 30.0)], deadline=50.0)
    assert gate.admit(todo[0]) and gate.admit(todo[1])  # a: 20 s
    assert not gate.admit(todo[2])  # b needs 60 s more: ends at 80 > 50
    assert not gate.admit(todo[3]) and set(gate.refused) == {"b"}
    gate2, todo2, clock2 = _gate([("a", 3, 10.0)], deadline=25.0)
    assert not gate2.admit(todo2[0])  # 30 s of a would end at 30 > 25: not even its first fold
    gate3, todo3, clock3 = _gate([("a", 3, 10.0)], deadline=35.0)
    assert gate3.admit(todo3[0])
    clock3.t = 100.0  # far past the deadline: the started cell keeps going
    assert gate3.admit(todo3[1]) and gate3.admit(todo3[2])


def test_the_measured_pace_scales_what_is_left():
    gate, todo, clock = _gate([("a", 4, 10.0), ("b", 1, 40.0)], deadline=130.0)
    for j in todo[:4]:
        assert gate.admit(j)
    for j in todo[:4]:  # every job took twice its estimate
        gate.finished(j.key, 20.0)
    clock.t = 80.0
    assert gate.ratio == 2.0
    assert not gate.admit(todo[4])  # 80 + 40 x 2 = 160 > 130, though 80 + 40 fits
    gate2, todo2, clock2 = _gate([("a", 4, 10.0), ("b", 1, 40.0)], deadline=130.0)
    for j in todo2[:4]:
        gate2.admit(j)
        gate2.finished(j.key, 10.0)
    clock2.t = 40.0
    assert gate2.admit(todo2[4])  # on pace: 40 + 40 fits


def test_little_evidence_keeps_the_estimate_and_shared_work_counts_once():
    gate, todo, clock = _gate([("a", 1, 1.0)], deadline=10.0)
    gate.admit(todo[0])
    gate.finished(todo[0].key, 9.0)  # 1 s of estimate is no evidence of a pace
    assert gate.ratio == 1.0
    gate, todo, clock = _gate([("a", 100, 0.5)], deadline=1e4)
    for j in todo:  # neither are many jobs too small to be more than the harness's time
        gate.admit(j)
        gate.finished(j.key, 3.0)
    assert gate.ratio == 1.0
    shared = {"b": {"stage": 50.0}, "c": {"stage": 50.0}}
    gate, todo, clock = _gate([("b", 1, 5.0), ("c", 1, 5.0)], deadline=70.0, shared=shared)
    assert gate.admit(todo[0])  # 5 + the stage's 50
    assert gate.admit(todo[1])  # the stage is paid already: 55 + 5 fits 70
    gate.finished(todo[0].key, 55.0)
    assert gate.pending_s == 5.0


def test_the_executors_ask_for_each_job_when_a_worker_is_about_to_be_free():
    asked = []

    def admit(j):
        asked.append(j)
        return j % 2 == 0

    assert list(executors.inline(lambda j: j * 10, range(6), admit)) == [0, 20, 40]
    assert asked == list(range(6))
    asked.clear()
    got = sorted(executors.processes(abs, list(range(-9, 0)), 2, admit))
    assert got == [2, 4, 6, 8] and len(asked) == 9


def test_away_cells_give_way_to_the_home_cells_still_to_run():
    # b (away, cheap) would fit alone, but then the home cell h, last in the
    # cheap-first order, could not: b waits and h runs
    todo = [J("a0", "a"), J("b0", "b"), J("h0", "h")]
    seconds = {"a0": 10.0, "b0": 20.0, "h0": 30.0}
    plan = type("P", (), {"seconds": seconds, "shared": {}, "home": ["h"]})()
    gate = Gate.for_plan(plan, todo, 1, 50.0, Clock())
    assert gate.admit(todo[0])  # 10 + the home cell's 30 = 40 <= 50
    assert not gate.admit(todo[1])  # 10 + 20 + 30 = 60 > 50
    assert gate.admit(todo[2])
    assert set(gate.refused) == {"b"} and gate.gave_way == {"b"}
    # without a home cell to keep, b runs and a later cell waits as before
    plain = type("P", (), {"seconds": seconds, "shared": {}})()
    gate = Gate.for_plan(plain, todo, 1, 50.0, Clock())
    assert gate.admit(todo[0]) and gate.admit(todo[1]) and not gate.admit(todo[2])
    assert gate.gave_way == set()


def test_a_cell_that_gave_way_comes_back_when_the_home_cells_leave_it_room():
    todo = [J("a0", "a"), J("b0", "b"), J("b1", "b"), J("h0", "h")]
    seconds = {"a0": 10.0, "b0": 10.0, "b1": 10.0, "h0": 30.0}
    plan = type("P", (), {"seconds": seconds, "shared": {}, "home": ["h"]})()
    clock = Clock()
    gate = Gate.for_plan(plan, todo, 1, 50.0, clock)
    offered = executors.Queue(todo, gate)
    assert offered.take() == todo[0] and offered.take() == todo[3]  # b gave way to h
    for j, took in ((todo[0], 5.0), (todo[3], 15.0)):  # both took half their estimate
        gate.finished(j.key, took)
    clock.t = 20.0
    assert [offered.take(), offered.take(), offered.take()] == [todo[1], todo[2], None]  # b runs
    assert gate.refused == {} and gate.gave_way == set()
    gate = Gate.for_plan(plan, todo, 1, 50.0, Clock())
    assert list(executors.inline(lambda j: j, todo, gate)) == [todo[0], todo[3]]  # no room came: b waits
    assert set(gate.refused) == {"b"}
