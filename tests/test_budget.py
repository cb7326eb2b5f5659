"""The budget planner: cost model, shares, order, identity, and the whole default matrix."""

import numpy as np
import pytest

from emobench import budget
from emobench.cells import plan as plan_cells
from emobench.plugins import registry
from emobench.profiles import get_profile
from fake_jobs import FakeJob

MACHINE = budget.Machine(gflops=100.0, workers=1, threads=2, overhead_s=0.5, source="test")


def _jobs(cells, n_train=20, folds=3, seeds=3, trials=4):
    reg = registry()
    out = []
    for c in cells:
        det = getattr(reg.model(c.model), "deterministic", False)
        for f in range(folds):
            for s in range(1 if det else seeds):
                # a fold is tuned on its first seed; the others train its configuration
                out.append(FakeJob(f"{c}-{f}-{s}", c, f, s, trials,
                                   size={"n_train": n_train, "n_valid": 10, "n_test": 20, "group": f},
                                   tuned_by=f"{c}-{f}-0" if s else ""))
    return out


def _cells(**kw):
    cells, _ = plan_cells(registry(), get_profile("default"), **kw)
    return cells


def test_emop3d_cost_is_declared_flops_over_the_machine_rate():
    reg = registry()
    cell = next(c for c in _cells(model="emop3d")
                if reg.dataset(c.dataset).task(c.task).level == "clip")  # a clip-level face-video task
    ds, cls = reg.dataset(cell.dataset), reg.model("emop3d")
    task = ds.task(cell.task)
    knobs = {"work": 1.0, "profile": "default", "n_valid": 10, "n_test": 20, "trials": 4}
    c = cls.cost(ds.modalities, task, 40, knobs)
    from emobench_plugins.models.emop3d import clip_gflop

    fwd = clip_gflop(len(task.classes), 16, 100)
    per_video = cls.CLIPS_PER_VIDEO  # no measured length: the model's default
    searched = min(cls.CLIP_BUDGET["default"], 40 * per_video * cls.default_epochs)
    paper = cls.CLIP_BUDGET["default"] * cls.PAPER_TRIAL_SHARE  # the first, paper-setting trial
    train = (paper + 3 * searched) / 4
    predicted = cls.PREDICT_CLIPS["default"]  # evenly spaced clips per predicted video
    infer = (10 * cls.default_epochs + 10 + 20 / 4) * predicted
    assert c["gflop"] == pytest.approx(fwd * (3 * train + infer))
    job = FakeJob("k", None, 0, 0, 4, size={"n_train": 40, "n_valid": 10, "n_test": 20})
    secs = budget.job_seconds(job, cls, ds.modalities, task, 1.0, MACHINE)
    assert secs == pytest.approx(0.5 + 4 * c["gflop"] / (100.0 * c["efficiency"]))
    half = budget.job_seconds(job, cls, ds.modalities, task, 0.5, MACHINE)
    assert half < secs  # the work share cuts the clip budget
    # a later seed trains the tuned (searched) configuration once and predicts the test split
    later = FakeJob("k1", None, 0, 1, 4, size=job.size, tuned_by="k")
    once = cls.cost(ds.modalities, task, 40, {**knobs, "trials": 1})
    assert once["gflop"] == pytest.approx(fwd * (3 * searched + (10 * cls.default_epochs + 10 + 20)
                                                 * predicted))
    assert budget.job_seconds(later, cls, ds.modalities, task, 1.0, MACHINE) == pytest.approx(
        0.5 + once["gflop"] / (100.0 * once["efficiency"]))
    # a measured length of 8 frames (a stand-in EMER clip) is one padded clip per video
    short = cls.cost(ds.modalities, task, 40, {**knobs, "frames": 8})
    train1 = min(cls.CLIP_BUDGET["default"], 40 * 1 * cls.default_epochs)
    paper1 = min(40 * cls.default_epochs, paper)
    expect = fwd * (3 * (paper1 + 3 * train1) / 4 + (10 * cls.default_epochs + 10 + 5) * 1)
    assert short["gflop"] == pytest.approx(expect) and short["gflop"] < c["gflop"] / 4


def test_the_planner_measures_video_length_once_per_corpus_content(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path))
    budget._FRAMES.clear()
    calls = []

    class Rec:
        def __init__(self, n):
            self.streams = {"video": None}
            self.n = n

        def load(self, name, **spec):
            calls.append((name, spec))
            return np.zeros((self.n, 4, 4), np.uint8)

        def forget(self):
            pass

    class DS:
        name, version = "toy", "1"

        def load(self, root):
            return [Rec(10), Rec(30), Rec(20), Rec(99)]

    assert budget.recording_frames(DS(), str(tmp_path), "fp1", "video") == 20.0  # median of 3
    assert len(calls) == 3
    budget._FRAMES.clear()  # a new process reads the cached figure and decodes nothing
    assert budget.recording_frames(DS(), str(tmp_path), "fp1", "video") == 20.0
    assert len(calls) == 3
    assert (tmp_path / "plan-frames.json").exists()


def test_no_budget_keeps_every_job_whole_and_orders_cheap_first():
    jobs = _jobs(_cells(dataset="unbc"))
    p = budget.plan(jobs, None, MACHINE)
    assert set(p.shares.values()) == {1.0}
    assert sorted(j.key for j in p.jobs) == sorted(j.key for j in jobs)  # keys unchanged
    cells = p.cell_seconds()
    order = list(cells.values())
    assert order == sorted(order)  # cheap cells first
    assert str(p.jobs[-1].cell) == max(cells, key=cells.get)  # the costliest cell runs last
    assert p.jobs[0].cell.model in ("mean", "linear")  # a baseline first


def test_a_tight_budget_cuts_costly_cells_first_and_rekeys_them():
    jobs = _jobs(_cells(dataset="unbc"))
    whole = budget.plan(jobs, None, MACHINE)
    p = budget.plan(jobs, whole.total_s / 60 / 3, MACHINE)
    assert p.fits and p.total_s <= whole.total_s / 3
    cut = {c for c, s in p.shares.items() if s < 1}
    assert cut and all(s in budget.SHARES for s in p.shares.values())
    costly = max(whole.cell_seconds(), key=whole.cell_seconds().get)
    assert costly in cut
    cheapest = min(whole.cell_seconds(), key=whole.cell_seconds().get)
    assert p.shares[cheapest] == 1.0  # cheap cells keep their whole work
    by_key = {j.key: j for j in jobs}
    for j in p.jobs:
        if p.shares[str(j.cell)] < 1:
            assert j.key not in by_key and j.knobs == {"work": p.shares[str(j.cell)]}
            assert j.identity["knobs"] == j.knobs
    again = budget.plan(jobs, whole.total_s / 60 / 3, MACHINE)
    assert [j.key for j in again.jobs] == [j.key for j in p.jobs]  # same budget, same plan
    lines = budget.describe(p)
    assert "fits" in lines[-2] or "fits" in lines[-1]
    assert any("work x" in ln for ln in lines)
    actual = {j.key: 2 * p.seconds[j.key] for j in p.jobs[:3]}
    cmp = budget.compare(p, actual)
    assert "2.00x" in cmp[-1]


# The default layout on the 2-core EPYC: one 1-thread worker per core, each at the
# measured 1-thread fp32 matmul rate (68 GFLOP/s idle), the measured harness cost per fold.
EPYC_DEFAULT = budget.Machine(gflops=68.0, workers=2, threads=1, overhead_s=budget.OVERHEAD_S,
                              source="2-core EPYC, default layout")


def test_whole_default_matrix_fits_the_default_budget():
    # The planner's estimate for every registered default cell, 3 seeds for
    # stochastic models, 3 folds, on the default layout of the 2-core machine:
    # within 20 minutes, stand-ins and latency profiles included. Every cell of a
    # model on its home corpora (the seed systems on their papers' corpora) runs at
    # or above the model's declared floor; what does not fit is deferred (listed,
    # with the way to run it), cells away from home first.
    reg = registry()
    prof = get_profile("default")
    cells = _cells()
    jobs = _jobs(cells, folds=prof.max_folds, seeds=prof.seeds, trials=prof.trials)
    p = budget.plan(jobs, prof.budget_minutes, EPYC_DEFAULT)
    assert prof.budget_minutes == 20
    assert p.total_s <= 20 * 60 * budget.SAFETY, budget.describe(p)[-3:]
    assert p.prepare_s > 0 and p.profile_s > 0  # the whole run is charged, not the folds alone
    home = [c for c in cells if c.dataset in getattr(reg.model(c.model), "home_datasets", ())]
    assert home
    for c in home:
        assert c not in p.deferred, c
        assert p.shares[str(c)] >= getattr(reg.model(c.model), "min_work", budget.MIN_SHARE), c
    assert {j.cell for j in p.jobs} | set(p.deferred) == set(cells)
    lines = budget.describe(p)
    assert sum("deferred" in ln and "over the budget" in ln for ln in lines) == len(p.deferred)
    flagged = [ln for ln in lines if "below the model's declared floor" in ln]
    assert len(flagged) == len(p.below_floor)
    # the deferred cells' jobs wait at the least share, after every planned job
    assert {j.cell for j in p.spare} == set(p.deferred)
    assert all(j.knobs == {"work": budget.MIN_SHARE} for j in p.spare)
    # on the 2-core AMX Xeon's measured matmul rate the whole registered matrix is planned
    xeon = budget.Machine(gflops=218.0, workers=2, threads=1, overhead_s=budget.OVERHEAD_S,
                          source="2-core Xeon")
    whole = budget.plan(jobs, prof.budget_minutes, xeon)
    assert not whole.deferred and whole.total_s <= 20 * 60 * budget.SAFETY, budget.describe(whole)[-3:]
    assert {j.cell for j in whole.jobs} == set(cells)


def test_cells_away_from_home_wait_before_home_cells_are_cut():
    """With a budget too small for every cell at its floor, a costly cell on a
    model's home corpus keeps its floor share while a dearer-or-equal cell of the
    same model on another corpus is deferred."""
    reg = registry()
    cls = reg.model("emop3d")
    cells = _cells(model="emop3d")
    home = next(c for c in cells if c.dataset in cls.home_datasets)
    away = next(c for c in cells if c.dataset not in cls.home_datasets)
    jobs = _jobs([home, away])
    ds = reg.dataset(home.dataset)
    at_floor = sum(budget.job_seconds(j, cls, ds.modalities, ds.task(home.task), cls.min_work, MACHINE)
                   for j in _jobs([home]))
    whole = budget.plan(_jobs([home]), None, MACHINE)
    fixed = whole.prepare_s / MACHINE.workers + whole.profile_s
    # room for the home cell at its floor, and not for the other cell as well
    p = budget.plan(jobs, (fixed + at_floor / MACHINE.workers) / budget.SAFETY * 1.01 / 60, MACHINE)
    assert away in p.deferred and home not in p.deferred
    assert p.shares[str(home)] >= cls.min_work


def test_cells_away_from_home_go_below_their_floor_before_they_wait():
    """Room for the home cell at its floor and the other at the least share: both run,
    the home cell at or above its floor, the other below it and flagged."""
    reg = registry()
    cls = reg.model("emop3d")
    cells = _cells(model="emop3d")
    home = next(c for c in cells if c.dataset in cls.home_datasets)
    away = next(c for c in cells if c.dataset not in cls.home_datasets)

    def secs(cell, share):
        ds = reg.dataset(cell.dataset)
        return sum(budget.job_seconds(j, cls, ds.modalities, ds.task(cell.task), share, MACHINE)
                   for j in _jobs([cell]))

    whole = budget.plan(_jobs([home, away]), None, MACHINE)
    fixed = whole.prepare_s / MACHINE.workers + whole.profile_s
    room = (secs(home, cls.min_work) + secs(away, budget.MIN_SHARE)) / MACHINE.workers
    assert secs(away, budget.MIN_SHARE) < secs(away, cls.min_work)
    p = budget.plan(_jobs([home, away]), (fixed + room) / budget.SAFETY * 1.01 / 60, MACHINE)
    assert not p.deferred and p.fits
    assert p.shares[str(home)] >= cls.min_work and p.shares[str(away)] < cls.min_work
    assert p.below_floor == [str(away)]


def test_home_cells_go_below_their_declared_floor_before_any_is_deferred():
    reg = registry()
    cls = reg.model("emop3d")
    cells = [c for c in _cells(model="emop3d") if c.dataset in cls.home_datasets][:2]
    assert len(cells) == 2
    jobs = _jobs(cells)
    whole = budget.plan(jobs, None, MACHINE)

    def total(share):  # every job is the first of its (seed, fold) here
        secs = 0.0
        for j in jobs:
            ds = reg.dataset(j.cell.dataset)
            secs += budget.job_seconds(j, cls, ds.modalities, ds.task(j.cell.task), share, MACHINE)
        return (whole.prepare_s + secs) / MACHINE.workers + whole.profile_s

    at_floor, at_least = total(cls.min_work), total(budget.MIN_SHARE)
    assert at_least < at_floor
    between = budget.plan(jobs, (at_floor + at_least) / 2 / budget.SAFETY / 60, MACHINE)
    assert not between.deferred and between.fits
    assert between.below_floor and all(between.shares[c] < cls.min_work for c in between.below_floor)
    assert any("below the model's declared floor" in ln for ln in budget.describe(between))
    # below the least-share total one cell waits, and the other gets more than the least share back
    tight = budget.plan(jobs, at_least * 0.9 / budget.SAFETY / 60, MACHINE)
    assert len(tight.deferred) == 1 and tight.total_s <= at_least * 0.9 + 1e-6
    (kept,) = tight.shares.values()
    assert kept > budget.MIN_SHARE


def test_a_budget_too_small_for_every_floor_defers_the_costliest_cells():
    prof = get_profile("default")
    cells = _cells()
    jobs = _jobs(cells, folds=prof.max_folds, seeds=prof.seeds, trials=prof.trials)
    p = budget.plan(jobs, 5, MACHINE)
    assert p.deferred, "five minutes cannot hold the whole default matrix"
    assert p.total_s <= 5 * 60 * budget.SAFETY
    planned = {j.cell for j in p.jobs}
    assert planned | set(p.deferred) == set(cells) and not planned & set(p.deferred)
    # a deferred cell that ran last in the clock's room is compared with its estimate too
    ran = [j for j in p.spare if j.cell == p.spare[0].cell]
    cmp = budget.compare(p, {j.key: 3 * p.spare_seconds[j.key] for j in ran})
    assert str(ran[0].cell) in cmp[0] and "3.00x" in cmp[-1]
    reg = registry()

    def home(c):
        return c.dataset in getattr(reg.model(c.model), "home_datasets", ())

    # a home cell waits only once the cells away from home are waiting, except cheaper
    # ones that came back into the room left
    kept = p.cell_seconds()
    for h in (c for c in p.deferred if home(c)):
        assert all(secs <= p.deferred[h] for c, secs in kept.items()
                   if not home(next(j.cell for j in p.jobs if str(j.cell) == c))), h
    assert any(not home(c) for c in p.deferred)
    assert any(line.startswith("deferred") for line in budget.describe(p))


def test_the_machine_figure_is_cached_even_when_measured_under_load(tmp_path, monkeypatch):
    # a rerun must plan with the first run's figure, or work shares (and job keys) move
    calls = []
    monkeypatch.setattr(budget, "measure_gflops", lambda threads: calls.append(threads) or 12.0)
    monkeypatch.setattr(budget.os, "getloadavg", lambda: (50.0, 50.0, 50.0))
    first = budget.machine(2, cache=tmp_path / "machine.json")
    monkeypatch.setattr(budget, "measure_gflops", lambda threads: calls.append(threads) or 99.0)
    again = budget.machine(2, cache=tmp_path / "machine.json")
    assert first.gflops == again.gflops == 12.0 and len(calls) == 1
    assert "under load" in again.source
    assert budget.machine(2, cache=tmp_path / "machine.json", refresh=True).gflops == 99.0


def test_online_streaming_is_charged_only_on_the_corpora_the_online_protocol_traces():
    from emobench import online

    reg = registry()
    cls = reg.model("av-visual")
    charged = {}
    for name in ("rml", "emer"):
        ds = reg.dataset(name)
        task = ds.task(ds.tasks[0].name)
        knobs = {"work": 1.0, "profile": "default", "trials": 1, "n_valid": 10, "n_test": 40,
                 "online": online.wanted(cls, task, name)}
        charged[name] = knobs["online"]
        on = cls.cost(ds.modalities, task, 40, {**knobs, "online": True})["seconds"]
        off = cls.cost(ds.modalities, task, 40, {**knobs, "online": False})["seconds"]
        assert off < on
    assert charged == {"rml": True, "emer": False}
