"""The budget's clock during a run: a cell starts only while its estimate, scaled by
how the run's finished jobs compared with theirs, still ends inside the budget.

The planner (emobench/budget.py) fits the estimate into the budget; the machine can
still be slower than measured (a shared VM's neighbours, a cold cache), and a whole
run then overruns by the same factor. The gate closes the gap at cell granularity:
a cell that has started always finishes (an entry is never cut to some of its
folds), a cell that would end after the budget does not start, and the summary
lists it with the way to run it (a rerun resumes: every finished fold is reused).

The gate keeps the planner's priorities: the cells of a model on its home corpora
(the corpora its paper used, ``Plan.home``) run last, being the costliest, yet are
the cells a reader looks for; an away cell starts only while the home cells not
started yet still fit after it, so when the pace runs behind, away cells give way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# the finished job seconds needed before their measured/estimated ratio is trusted
MIN_EVIDENCE_S = 30.0
# Jobs estimated under this many seconds are no evidence of the pace: their time is
# the harness's and the first read's (the last default run's cheap cells measured
# 3-6x their estimates together, the cells from 3 s up 1.4x, as the whole run)
MIN_JOB_S = 1.0


@dataclass
class Gate:
    seconds: dict              # job key -> estimated seconds (the plan's)
    cells: dict                # cell -> [job keys still to run]
    shared: dict               # cell -> {key: seconds} of work done once for several cells
    workers: int
    deadline: float            # time.monotonic() by which the last job should end
    clock: object = time.monotonic
    started: set = field(default_factory=set)
    refused: dict = field(default_factory=dict)   # cell -> estimated seconds it needed
    pending_s: float = 0.0     # estimated seconds of admitted jobs not finished yet
    measured_s: float = 0.0
    estimated_s: float = 0.0
    charged: set = field(default_factory=set)
    due: dict = field(default_factory=dict)       # cell -> shared seconds its first job pays
    home: set = field(default_factory=set)        # cells of models on their home corpora
    gave_way: set = field(default_factory=set)    # refused cells that alone would have fitted

    def __post_init__(self):
        self.cell_of = {k: c for c, keys in self.cells.items() for k in keys}

    @classmethod
    def for_plan(cls, plan, todo, workers: int, deadline: float, clock=time.monotonic) -> "Gate":
        cells: dict = {}
        for j in todo:
            cells.setdefault(j.cell, []).append(j.key)
        home = {c for c in cells if str(c) in set(getattr(plan, "home", ()) or ())}
        seconds = {**plan.seconds, **(getattr(plan, "spare_seconds", None) or {})}
        return cls(seconds, cells, dict(plan.shared), max(1, workers), deadline, clock, home=home)

    @property
    def ratio(self) -> float:
        """Measured over estimated seconds of the finished jobs (1 until there is evidence)."""
        if self.estimated_s < MIN_EVIDENCE_S:
            return 1.0
        return min(4.0, max(0.5, self.measured_s / self.estimated_s))

    def _cell_s(self, cell) -> tuple[float, float]:
        own = sum(self.seconds.get(k, 0.0) for k in self.cells.get(cell, ()))
        shared = {k: v for k, v in self.shared.get(str(cell), {}).items() if k not in self.charged}
        return own, sum(shared.values())

    def admit(self, job) -> bool:
        if job.cell in self.started:
            return True
        if job.cell in self.refused:
            return False
        own, shared = self._cell_s(job.cell)
        need = own + shared
        # home cells not started yet (shared work counted once, which underestimates
        # nothing: a stage two home cells share is paid by the first)
        held = 0.0 if job.cell in self.home else sum(
            sum(self._cell_s(c)) for c in self.home if c not in self.started and c not in self.refused)
        end = self.clock() + (self.pending_s + need + held) * self.ratio / self.workers
        if end > self.deadline:
            self.refused[job.cell] = need
            if held and end - held * self.ratio / self.workers <= self.deadline:
                self.gave_way.add(job.cell)
            return False
        self.started.add(job.cell)
        self.pending_s += need
        self.due[job.cell] = shared
        self.charged |= set(self.shared.get(str(job.cell), {}))
        return True

    __call__ = admit

    def come_back(self, job) -> bool:
        """Asked once every job was offered: a cell that gave way to the home cells
        (all started or refused by now) starts if it still ends inside the budget."""
        if job.cell in self.gave_way:
            self.gave_way.discard(job.cell)
            self.refused.pop(job.cell, None)
        return self.admit(job)

    def finished(self, key: str, seconds: float | None) -> None:
        # the cell's first finished job carried its shared work (a pretraining stage)
        est = self.seconds.get(key, 0.0) + self.due.pop(self.cell_of.get(key), 0.0)
        self.pending_s = max(0.0, self.pending_s - est)
        if seconds is not None and est >= MIN_JOB_S:
            self.measured_s += float(seconds)
            self.estimated_s += est
