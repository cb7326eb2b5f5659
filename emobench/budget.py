"""A time budget for a run: the cost model and the planner.

The cost of one job (a (cell, fold, seed)) is

    overhead_s + trials x (fixed_s + gflop / (machine GFLOP/s x efficiency))

(``trials`` is 1 for a fold's later training seeds: they train the
configuration the first seed's tuning chose)
where ``gflop``, ``efficiency`` and ``fixed_s`` come from the model's
declared :meth:`~emobench.model.Model.cost` for the fold's size and the
chosen knobs, the machine's GFLOP/s is a one-off fp32 matmul measurement of
this machine cached per (CPU, threads, torch) in the cache folder, and
``overhead_s`` is the measured harness cost of a fold (loading, tuning
storage, scoring, committing). Models that declare no cost are cheap
(scikit-learn baselines): they are charged the overhead and a small fixed
cost per trial.

The planner cuts *work*, never trials (every model of a cell gets the same
trial budget): each cell gets a share in :data:`SHARES` of its model's
default work, given as the knob ``{"work": share}`` that the model turns into
epochs, a clip budget or a data fraction (``FitContext.work`` /
``FitContext.epochs``). Costly cells are cut first (water-filling: every job
above a per-job ceiling is scaled down to it, the ceiling is the largest
that fits), cheap cells keep their whole default. The per-job ceiling is
searched first with each model's declared floor (``min_work``); when those
floors do not fit, the cells away from their model's home corpora
(``Model.home_datasets``, the corpora its paper used) may go down to
:data:`MIN_SHARE` (flagged in the plan), then the costliest of them are
deferred, then home cells may go down to :data:`MIN_SHARE` (flagged), and only
then are the costliest home cells deferred; after each step the cells that stay
are planned again. A model whose cost depends
on the length of its video input declares ``cost_uses_frames`` and gets the
median frames per recording, measured once per corpus content and cached
(:func:`recording_frames`), as the knob ``frames``. Shares are quantised so
the same budget on the same machine gives the same plan, the same job keys,
and so a rerun finds its results in the store.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from emobench.provenance import cpu_model

SHARES = (1.0, 0.75, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05, 0.025)
MIN_SHARE = SHARES[-1]
# Harness seconds per fold outside the model's fit (claim, fold check, in-memory
# study, predict, scoring, commit): the whole default run's 53 `mean` folds
# averaged 0.11 s on the 2-core EPYC, timed from claim to commit (docs/performance.md).
OVERHEAD_S = 0.12
# A model without a declared cost and without a measurement below.
UNDECLARED_TRIAL_S = 0.15
# Models that declare no cost: seconds of one trial per training recording at
# their whole default work, by task level (a frame-level task's recordings are
# long sequences, a clip-level task's are short clips), measured in the whole
# default run on the 2-core EPYC (per-job seconds against the plan, 1,022 jobs;
# docs/performance.md). The work share scales them (it scales epochs). A model's
# own Model.cost, when declared, replaces its entry.
# The whole default run on the 2-core AMX Xeon (docs/performance.md, fifth measurement)
# then measured frame-cnn at 2.0-2.5x, the GRU at 0.2-0.5x on clips, the MLP at 0.1-0.6x
# on clips, the pain variant at 0.4x and `mean` (charged as undeclared) at under 0.1x:
# those entries were rescaled by it.
MEASURED_TRIAL_S_PER_RECORDING = {
    "sequence-rnn": {"clip": 0.03, "frame": 0.9}, "mlp": {"clip": 0.01, "frame": 0.2},
    "tiny-emotionet": {"frame": 0.13}, "tiny-emotionet-model-a": {"frame": 1.5},
    "tiny-emotionet-pain": {"frame": 0.03}, "frame-cnn": {"clip": 0.45, "frame": 0.45},
    "tsm-resnet": {"clip": 1.3, "frame": 1.3}, "mini-xception-fer": {"clip": 0.06, "frame": 0.06},
    "mean": {"clip": 0.0005, "frame": 0.001},
    # the audio-visual agent's branches on the tiny RML stand-in (12 training clips; decoding included)
    "av-visual": {"clip": 3.0}, "av-audio": {"clip": 2.8}, "av-agent": {"clip": 1.9},
}
# Latency profiling after the folds (one untrained build and timing loop per
# model, corpus and tuned configuration, in the driver alone): 150 profiles of 206
# cells took 164 s in the whole default run with 2-s timing loops. With loops of 0.1
# to 0.5 s (emobench.runner.profile_latency), kept by the models timed through predict
# too (they had run 30 calls and 0.5 s each), 151 profiles of 214 cells took 47 s on
# the 2-core AMX Xeon (0.22 s a cell; 102 s before).
PROFILE_S_PER_CELL = 0.25
# A corpus that declares no standin_seconds: writing its stand-in and reading it
# the first time (the declared figures are measured by scripts/bench_first_read.py).
PREPARE_S = 10.0
# The machine the declared standin_seconds were measured on (the 2-core EPYC's 1-thread
# matmul rate): writing and decoding scale with the machine like the matmul does. The
# 2-core AMX Xeon (218 GFLOP/s) wrote every stand-in in 52.8 s against the EPYC's 120 s
# (2.3x; BioVid 16.7 s against 52.0), and its whole run from an empty cache spent about
# 1.9 min before the first fold, against 4.5 min charged unscaled.
PREPARE_REFERENCE_GFLOPS = 90.0
SAFETY = 0.85  # plan to 85 % of the budget: the estimate is a model, the clock is not


@dataclass(frozen=True)
class Machine:
    gflops: float        # fp32 matmul GFLOP/s of ONE worker (its threads)
    workers: int = 1
    threads: int = 1
    overhead_s: float = OVERHEAD_S
    source: str = "measured"

    def seconds(self, gflop: float, efficiency: float) -> float:
        return gflop / (self.gflops * max(efficiency, 1e-6))


def _cache_file() -> Path:
    from emobench.datasource import cache_root

    return cache_root() / "machine.json"


def measure_gflops(threads: int, n: int = 1024, seconds: float = 5.0, min_repeats: int = 9) -> float:
    """fp32 matmul GFLOP/s on ``threads`` torch threads: the best of the products
    timed over ``seconds`` (at least ``min_repeats``). A neighbour's burst only
    slows some of them; on a shared 2-core VM the best of 9 (0.2 s) ranged
    69-84 GFLOP/s over five idle runs, the best of 150 (about 6 s) 88-94, and the plan
    moves with this figure."""
    import numpy as np
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = torch.randn(n, n, generator=torch.Generator().manual_seed(0))
        a @ a
        times = []
        end = time.perf_counter() + seconds
        while len(times) < min_repeats or time.perf_counter() < end:
            t0 = time.perf_counter()
            a @ a
            times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(old)
    return 2.0 * n ** 3 / float(np.min(times)) / 1e9


def machine(workers: int = 1, *, refresh: bool = False, cache: Path | None = None) -> Machine:
    """This machine as the planner sees it, ``workers`` processes sharing the
    cores; the throughput is measured once and cached (``refresh`` re-measures)."""
    from importlib.metadata import version  # not torch itself: a cached figure needs no import

    cores = os.cpu_count() or 1
    workers = max(1, int(workers))
    threads = max(1, cores // workers)
    path = cache or _cache_file()
    key = f"{cpu_model()}|threads={threads}|torch={version('torch')}"
    known: dict = {}
    if path.exists():
        try:
            known = json.loads(path.read_text())
        except (OSError, ValueError):
            known = {}
    if refresh or key not in known:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        known[key] = {"gflops": round(measure_gflops(threads), 1), "measured_at": time.time(),
                      "load": load}
        # Kept even when measured under load: the cached figure fixes the plan,
        # and so the job keys, of every later run on this machine; re-measuring
        # each run made a rerun after a loaded first run recompute the cells
        # whose work share moved. `refresh` (or deleting the file) re-measures.
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(known, indent=1))
        except OSError:
            pass
    rec = known[key]
    kept = ("cached in" if (rec.get("load") or 0) <= cores
            else f"measured under load {rec['load']:.1f} (low; delete to re-measure), cached in")
    return Machine(gflops=float(rec["gflops"]), workers=workers, threads=threads,
                   source=f"matmul {rec['gflops']:.0f} GFLOP/s on {threads} thread(s), {kept} {path}")


@dataclass
class Plan:
    jobs: list                     # re-keyed with their knobs, cheap cells first
    seconds: dict[str, float]      # estimated seconds per job key
    shares: dict[str, float]       # chosen work share per cell (str(cell))
    budget_s: float | None
    machine: Machine
    undeclared: list[str] = field(default_factory=list)
    prepare_s: float = 0.0         # stand-in writing and first read of each corpus
    shared_s: float = 0.0          # work done once for several cells (pretraining stages)
    shared: dict = field(default_factory=dict)  # cell -> {key: seconds} of that shared work
    profile_s: float = 0.0         # latency profiling after the folds (in the driver)
    deferred: dict = field(default_factory=dict)  # cell -> estimated seconds, left out of this run
    below_floor: list = field(default_factory=list)  # cells cut below their model's declared min_work
    home: list = field(default_factory=list)  # planned cells of models on their home corpora
    # the deferred cells' jobs at the least share and their estimated seconds: offered
    # after every planned job, each started only if the clock says it still fits
    # (emobench.deadline), so a machine faster than the estimate uses its margin
    spare: list = field(default_factory=list)
    spare_seconds: dict = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        """Estimated wall seconds: stand-ins, first reads and the jobs' sum spread
        over the workers, then the latency profiles."""
        return ((self.prepare_s + self.shared_s + sum(self.seconds.values())) / self.machine.workers
                + self.profile_s)

    @property
    def fits(self) -> bool:
        return self.budget_s is None or self.total_s <= self.budget_s

    def cell_seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for j in self.jobs:
            out[str(j.cell)] = out.get(str(j.cell), 0.0) + self.seconds[j.key]
        return out


def _size(job) -> dict:
    return dict(getattr(job, "size", None) or {})


def _fits(job) -> int:
    """Fits a job makes: its trials, or one for a fold's later training seed, which
    trains the configuration its first seed's tuning chose (emobench.fold)."""
    return 1 if getattr(job, "tuned_by", "") else job.trials


# Video inputs the planner measures the length of (frames per recording), for
# models whose cost depends on it (clips per video): a stand-in's EMER or RML
# clip holds 8-12 frames (one 16-frame clip), a BioVid video 138 (16 clips).
VIDEO_KINDS = ("face_video",)
_FRAMES: dict = {}


def _frames_file() -> Path:
    from emobench.datasource import cache_root

    return cache_root() / "plan-frames.json"


def recording_frames(ds, root: str, fingerprint: str, modality: str, probe: int = 3) -> float | None:
    """Median frames per recording of ``modality`` (a video input): the first
    ``probe`` recordings' decoded length, read once per corpus content
    (``fingerprint``) and cached in the cache folder, so a rerun decodes nothing.
    None when it cannot be read (the model then assumes its own default)."""
    import numpy as np

    key = f"{ds.name}|{getattr(ds, 'version', '')}|{fingerprint}|{modality}"
    if key in _FRAMES:
        return _FRAMES[key]
    path = _frames_file()
    known: dict = {}
    if path.exists():
        try:
            known = json.loads(path.read_text())
        except (OSError, ValueError):
            known = {}
    if key not in known:
        value = None
        try:
            recs = [r for r in ds.load(Path(root)) if modality in r.streams]
            lengths = []
            for r in recs:
                try:
                    # EmoP3D's crops: the same cached face track the models read later
                    lengths.append(len(r.load(modality, size=(100, 100), gray=True)))
                except Exception:
                    continue
                finally:
                    r.forget()
                if len(lengths) >= probe:
                    break
            value = float(np.median(lengths)) if lengths else None
        except Exception:
            value = None
        known[key] = value
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(known, indent=1))
        except OSError:
            pass
    _FRAMES[key] = known[key]
    return known[key]


def _video_frames(job, ds) -> dict:
    """``{"frames": median frames per recording}`` of the job's video input, if any."""
    inputs = dict(getattr(job, "inputs", None) or {})
    for kind, name in inputs.items():
        if kind in VIDEO_KINDS and getattr(job, "root", None) and getattr(job, "fingerprint", None):
            n = recording_frames(ds, job.root, job.fingerprint, name)
            return {} if n is None else {"frames": n}
    return {}


def job_seconds(job, model_cls, modalities, task, share: float, m: Machine,
                extra: dict | None = None) -> float | None:
    """Estimated seconds of one job at ``share`` of its default work; None
    when the model declares no cost. ``extra``: more knobs for the model's
    cost (the planner's measured ``frames`` per recording of a video input)."""
    from emobench import online

    size = _size(job)
    trials = _fits(job)
    knobs = {"work": share, "profile": job.profile, "trials": trials, **size, **(extra or {}),
             # whether the fold also streams its test clips for the online protocol
             "online": online.wanted(model_cls, task, getattr(getattr(job, "cell", None), "dataset", ""))}
    c = model_cls.cost(modalities, task, int(size.get("n_train", 0)), knobs,
                       n_steps=int(size.get("n_steps", 0)))
    if c is None:
        rates = MEASURED_TRIAL_S_PER_RECORDING.get(model_cls.name) or {}
        level = getattr(task, "level", "clip")
        rate = rates.get(level, max(rates.values()) if rates else None)
        if rate is None:
            return None
        c = {"seconds": rate * share * int(size.get("n_train", 0))}
    trial = float(c.get("seconds", 0.0)) + m.seconds(float(c.get("gflop", 0.0)),
                                                      float(c.get("efficiency", 0.3)))
    return m.overhead_s + trials * trial


def shared_seconds(cjobs, model_cls, m: Machine) -> dict[str, float]:
    """{key: estimated seconds} of the work a cell's jobs share with other jobs
    (``Model.shared_cost``, e.g. a pretraining stage per seed), done once per key."""
    out: dict[str, float] = {}
    for j in cjobs:
        for key, c in _shared_cost(j, model_cls).items():
            out[key] = float(c.get("seconds", 0.0)) + m.seconds(float(c.get("gflop", 0.0)),
                                                               float(c.get("efficiency", 0.3)))
    return out


def _shared_cost(job, model_cls) -> dict:
    fn = getattr(model_cls, "shared_cost", None)
    if not callable(fn):
        return {}
    knobs = {"profile": job.profile, "seed": job.seed,
             "pretraining": [p.identity() for p in (getattr(job, "pretraining", ()) or ())]}
    return fn(knobs) or {}


def _rekey(job, share: float):
    """The job with its knobs in its key and leaderboard identity (a cut cell is
    another entry than a whole one); unchanged at the whole default work."""
    if share >= 1.0:
        return job
    from emobench.media import content_key

    knobs = {"work": share}
    ident = {**(getattr(job, "identity", None) or {}), "knobs": knobs}
    changes = dict(key=content_key(job.key, "knobs", knobs)[:32], knobs=knobs)
    if getattr(job, "tuned_by", ""):  # its fold's first seed, re-keyed alike (one share per cell)
        changes["tuned_by"] = content_key(job.tuned_by, "knobs", knobs)[:32]
    if hasattr(job, "identity_key"):
        changes.update(identity=ident, identity_key=content_key("identity", ident)[:16])
    return dataclasses.replace(job, **changes)


def _with_shared_work(job, model_cls):
    """The job with the keys of the work it shares with others (the executors' queue
    holds it back while another job computes them)."""
    keys = tuple(sorted(_shared_cost(job, model_cls)))
    return dataclasses.replace(job, shared_work=keys) if keys else job


def plan(jobs: Iterable, minutes: float | None, m: Machine, reg=None) -> Plan:
    """Choose a work share per cell so the estimate fits ``minutes`` (None: no
    budget, every share 1), and order the jobs cheap cells first. The budget
    covers the whole run: writing and first reading each corpus's stand-in (its
    declared ``standin_seconds`` scaled to this machine's matmul rate, charged
    whether or not it is written already,
    so a rerun plans the same jobs), the folds, and the latency profiling after
    them (charged with ``--no-latency`` too, for the same reason)."""
    from emobench.plugins import registry

    reg = reg or registry()
    jobs = list(jobs)
    by_cell: dict = {}
    for j in jobs:
        by_cell.setdefault(j.cell, []).append(j)
    # seconds per job at each share, per cell (every job of a cell shares its knobs)
    table: dict = {}
    once: dict = {}  # cell -> {key: seconds} of the work its jobs share with others (done once)
    undeclared = []
    for cell, cjobs in by_cell.items():
        ds = reg.dataset(cell.dataset)
        cls, task = reg.model(cell.model), ds.task(cell.task)
        rows = {}
        # folds that share train and valid (one test set each) share the tuned
        # model: the fit is charged to the first of them, the others pay the overhead
        first = {}
        for j in cjobs:
            first.setdefault((j.seed, _size(j).get("group", j.fold_index)), j.key)
        extra = _video_frames(cjobs[0], ds) if getattr(cls, "cost_uses_frames", False) else {}
        for s in SHARES:
            secs = [job_seconds(j, cls, ds.modalities, task, s, m, extra) if first.get(
                (j.seed, _size(j).get("group", j.fold_index))) == j.key else m.overhead_s for j in cjobs]
            if any(x is None for x in secs):
                secs = [m.overhead_s + _fits(j) * UNDECLARED_TRIAL_S for j in cjobs]
                if s == 1.0:
                    undeclared.append(str(cell))
            rows[s] = secs
        table[cell] = rows
        once[cell] = shared_seconds(cjobs, cls, m)
    budget_s = None if minutes is None else float(minutes) * 60.0
    # per cell and share: the jobs' summed and largest seconds (the search below asks often)
    summed = {c: {s: sum(v) for s, v in rows.items()} for c, rows in table.items()}
    peak = {c: {s: max(v) for s, v in rows.items()} for c, rows in table.items()}
    speed = PREPARE_REFERENCE_GFLOPS / max(m.gflops, 1e-6)
    standin_s = {d: float(getattr(reg.dataset(d), "standin_seconds", PREPARE_S)) * speed
                 for d in {c.dataset for c in table}}

    # A model may declare the least share it still learns well with (min_work); the
    # planner cuts to those floors first (see the order below).
    declared = {cell: max(MIN_SHARE, float(getattr(reg.model(cell.model), "min_work", MIN_SHARE)))
                for cell in table}

    # floor -> the least share at or above it
    lowest = {f: min((s for s in SHARES if s >= f), default=SHARES[0])
              for f in {*declared.values(), MIN_SHARE}}

    def choose(ceiling: float, floor: dict, cells) -> dict:
        # the largest share whose costliest job is under the ceiling (the cell's floor otherwise)
        out = {}
        for cell in cells:
            fl, pk = floor[cell], peak[cell]
            out[cell] = next((s for s in SHARES if s >= fl and pk[s] <= ceiling), lowest[fl])
        return out

    def prepare_of(cells) -> float:
        # the stand-in and first read of each corpus that still has a cell in the run,
        # and each piece of shared work (a pretraining stage) a cell still needs
        return standins_of(cells) + shared_of(cells)

    def standins_of(cells) -> float:
        return sum(standin_s[d] for d in {c.dataset for c in cells})

    def shared_of(cells) -> float:
        return sum({k: v for c in cells for k, v in once[c].items()}.values())

    users: dict = {}
    for c in table:
        for k in once[c]:
            users[k] = users.get(k, 0) + 1

    def own_cost(cell, share) -> float:
        # a cell's jobs and its part of the shared work (split among the cells needing it)
        return summed[cell][share] + sum(v / users[k] for k, v in once[cell].items())

    def profiling_of(cells) -> float:
        return PROFILE_S_PER_CELL * len(cells)

    def total(shares: dict) -> float:
        return ((prepare_of(shares) + sum(summed[c][s] for c, s in shares.items())) / m.workers
                + profiling_of(shares))

    limit = None if budget_s is None else budget_s * SAFETY

    def fit(cells, floor: dict) -> dict:
        # water-filling: the largest per-job ceiling whose shares fit the budget
        shares = {c: 1.0 for c in cells}
        if limit is None or not cells or total(shares) <= limit:
            return shares
        lo, hi = 0.0, max(peak[c][1.0] for c in cells)
        for _ in range(60):
            mid = (lo + hi) / 2
            if total(choose(mid, floor, cells)) <= limit:
                lo = mid
            else:
                hi = mid
        return choose(lo, floor, cells)

    def defer(shares: dict, which) -> dict:
        # the costliest of `which` wait for a run with a larger --budget (or one that
        # selects them), until the rest fits at its current shares
        for cell in sorted(which, key=lambda c: own_cost(c, shares[c]), reverse=True):
            if total(shares) <= limit or len(shares) == 1:
                break
            deferred[cell] = own_cost(cell, shares.pop(cell))
        return shares

    def home(cell) -> bool:
        return cell.dataset in set(getattr(reg.model(cell.model), "home_datasets", ()) or ())

    # The run asked for stays inside its budget and says what it left out, in this
    # order: every cell at its model's declared floor (min_work); then cells away from
    # their model's home corpora (the corpora its paper used) may go below it (flagged:
    # they learn little, but the matrix keeps its cells); then the costliest of them
    # wait; then home cells may go below their floor (flagged); then the costliest home
    # cells wait. After each step the cells that stay are planned
    # again, so what the deferred cells leave goes back to the others' work; then
    # deferred cells that fit after all come back, cheapest first.
    deferred: dict = {}
    shares = fit(list(table), declared)
    away = {c: (MIN_SHARE if not home(c) else declared[c]) for c in table}
    if limit is not None and total(shares) > limit:
        shares = fit(list(shares), away)
    if limit is not None and total(shares) > limit:
        shares = fit(list(defer(shares, [c for c in shares if not home(c)])), away)
    if limit is not None and total(shares) > limit:
        floor = {c: MIN_SHARE for c in shares}
        shares = fit(list(shares), floor)
        if total(shares) > limit:
            shares = fit(list(defer(shares, list(shares))), floor)
    if deferred:
        # deferral stops at the first cell that makes the rest fit at their current
        # shares; cheaper cells deferred on the way come back, cheapest first, while
        # the plan (planned again with each) still fits at the floors
        floors = {**away, **{c: MIN_SHARE for c in shares if shares[c] < declared[c]}}
        for cell in sorted(deferred, key=deferred.get):
            trial = fit(list(shares) + [cell], {**floors, cell: away[cell]})
            if total(trial) <= limit:
                shares = trial
                del deferred[cell]
    below = sorted(str(c) for c, s in shares.items() if s < declared[c])
    planned, seconds = [], {}
    for cell, cjobs in by_cell.items():
        if cell in deferred:
            continue
        s = shares[cell]
        cls = reg.model(cell.model)
        for j, sec in zip(cjobs, table[cell][s]):
            nj = _with_shared_work(_rekey(j, s), cls)
            planned.append(nj)
            seconds[nj.key] = sec
    cell_cost = {c: sum(table[c][shares[c]]) for c in shares}
    planned.sort(key=lambda j: (cell_cost[j.cell], str(j.cell), j.seed, j.fold_index))
    spare, spare_seconds = [], {}
    for cell in sorted(deferred, key=deferred.get):  # cheapest first, at the least share
        for j, sec in sorted(zip(by_cell[cell], table[cell][MIN_SHARE]),
                             key=lambda js: (js[0].seed, js[0].fold_index)):
            nj = _with_shared_work(_rekey(j, MIN_SHARE), reg.model(cell.model))
            spare.append(nj)
            spare_seconds[nj.key] = sec
    return Plan(planned, seconds, {str(c): s for c, s in shares.items()}, budget_s, m, undeclared,
                prepare_s=standins_of(shares), shared_s=shared_of(shares),
                shared={str(c): dict(once[c]) for c in [*shares, *deferred] if once[c]},
                profile_s=profiling_of(shares), deferred=deferred,
                below_floor=[c for c in below if c not in {str(d) for d in deferred}],
                home=sorted(str(c) for c in shares if home(c)), spare=spare, spare_seconds=spare_seconds)


def _fmt_s(s: float) -> str:
    return f"{s:7.1f} s" if s < 120 else f"{s / 60:6.1f} min"


def describe(p: Plan) -> list[str]:
    """Lines for ``--dry-run``: estimated seconds and work share per cell, and the total."""
    lines = []
    cells = p.cell_seconds()
    counts: dict[str, int] = {}
    for j in p.jobs:
        counts[str(j.cell)] = counts.get(str(j.cell), 0) + 1
    for name, secs in cells.items():  # already cheap first
        share = p.shares.get(name, 1.0)
        cut = "" if share >= 1.0 else f"  work x{share:g}"
        if name in p.below_floor:
            cut += " (below the model's declared floor: learns little)"
        lines.append(f"estimate {_fmt_s(secs)}  {counts[name]:3d} jobs  {name}{cut}")
    for cell, secs in sorted(p.deferred.items(), key=lambda kv: kv[1]):
        lines.append(f"deferred {_fmt_s(secs)}           {cell}  (over the budget at its floor share; "
                     f"runs last if the clock leaves room)")
    budget = "no budget" if p.budget_s is None else f"budget {p.budget_s / 60:.1f} min"
    verdict = "fits" if p.fits else "DOES NOT FIT (every costly cell is at its floor share)"
    if p.deferred:
        verdict += (f"; {len(p.deferred)} costliest cell(s), {sum(p.deferred.values()) / 60:.1f} min, "
                    "deferred: --budget MINUTES or --model/--dataset selects them")
    lines.append(f"estimated total {p.total_s / 60:.1f} min on {p.machine.workers} worker(s): "
                 f"stand-ins and first reads {p.prepare_s / p.machine.workers / 60:.1f}, "
                 + (f"shared pretraining {p.shared_s / p.machine.workers / 60:.1f}, " if p.shared_s else "")
                 + f"folds "
                 f"{sum(p.seconds.values()) / p.machine.workers / 60:.1f}, latency profiles "
                 f"{p.profile_s / 60:.1f} ({budget}: {verdict}); {p.machine.source}")
    if p.undeclared:
        lines.append(f"{len(p.undeclared)} cell(s) of models without a declared cost were charged "
                     f"{UNDECLARED_TRIAL_S:g} s per trial")
    return lines


def compare(p: Plan, actual: dict[str, float]) -> list[str]:
    """Estimate against measured seconds per cell (``actual``: job key -> seconds
    of the jobs that ran), for the run summary."""
    est: dict[str, float] = {}
    got: dict[str, float] = {}
    charged: set = set()  # shared work runs inside the first job that needs it
    seconds = {**p.spare_seconds, **p.seconds}  # the deferred cells that ran last too
    for j in [*p.jobs, *p.spare]:
        if j.key in actual:
            extra = {k: v for k, v in p.shared.get(str(j.cell), {}).items() if k not in charged}
            charged |= set(extra)
            est[str(j.cell)] = est.get(str(j.cell), 0.0) + seconds[j.key] + sum(extra.values())
            got[str(j.cell)] = got.get(str(j.cell), 0.0) + actual[j.key]
    lines = [f"{_fmt_s(got[c])} measured, {_fmt_s(est[c])} estimated ({got[c] / max(est[c], 1e-9):4.2f}x)  {c}"
             for c in est]
    if est:
        e, g = sum(est.values()), sum(got.values())
        lines.append(f"all cells: {g / 60:.1f} min measured (job seconds), {e / 60:.1f} min estimated "
                     f"({g / max(e, 1e-9):.2f}x)")
    return lines
