"""Runs the matrix: cells -> folds -> jobs -> workers -> store.

Planning lives in :mod:`emobench.jobs` (identity, seeds, fold caps, the cached
fold plan), the worker in :mod:`emobench.fold` (claim, tune, predict, score,
commit). This module is the driver: it plans, asks the store which jobs are
done, hands the rest to an executor, and owns SIGINT/SIGTERM for the run (an
interrupted fold is released, never stored; :class:`RunInterrupted` carries the
shell's exit code 130 or 143).
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from emobench import datasource, interrupts
from emobench.cells import Cell, Skip
from emobench.fold import (  # noqa: F401  (the worker's names, re-exported for callers)
    _RECORDINGS, Outcome, compute_metrics, execute, flatten, load_checked, load_recordings,
    oriented_scorer, samples_for, store_for as _store)
from emobench.jobs import Job, Plan, make_jobs, training_seeds  # noqa: F401
from emobench.plugins import Registry, registry
from emobench.profiles import get_profile
from emobench.store import Store, results


class RunInterrupted(SystemExit):
    """SIGINT or SIGTERM stopped the run after the line saying what was saved was
    printed; ``code`` is 130 (SIGINT) or 143 (SIGTERM), ``summary`` what finished."""

    def __init__(self, code: int, summary: "Summary"):
        super().__init__(code)
        self.summary = summary


@dataclass
class Summary:
    cells: int = 0
    run: int = 0
    reused: int = 0
    failed: int = 0
    skipped: int = 0
    busy: int = 0
    interrupted: int = 0
    planned: int = 0        # jobs in the plan (done + to run)
    estimated: int = 0      # dry run: jobs of corpora whose stand-in is not written yet
    io: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    budget: object = None   # the budget plan (emobench.budget.Plan) when a budget applied
    seconds: dict = field(default_factory=dict)  # job key -> measured seconds of the jobs run

    def budget_lines(self) -> list[str]:
        """Estimate against measured seconds per cell (empty without a budget)."""
        from emobench.budget import compare

        return compare(self.budget, self.seconds) if self.budget is not None else []

    @property
    def exit_code(self) -> int:
        """1 when any fold failed (after every other fold ran), else 0."""
        return 1 if self.failed else 0

    def line(self) -> str:
        busy = f", {self.busy} busy elsewhere" if self.busy else ""
        return (f"{self.cells} cells, {self.run} folds run, {self.reused} reused, "
                f"{self.failed} failed, {self.skipped} skipped{busy}")

    def io_line(self) -> str:
        g = self.io.get
        return (f"media: {g('videos_decoded', 0)} videos and {g('images_decoded', 0)} images decoded "
                f"({g('frames_decoded', 0)} frames), {g('audio_decoded', 0)} audio files decoded, "
                f"{g('audio_features', 0)} audio features computed; array cache: {g('hits', 0)} hits, "
                f"{g('misses', 0)} misses, {g('rebuilt', 0)} rebuilt")


# -- the driver -------------------------------------------------------------------

def run(cells: list[Cell], *, profile: str = "default", seed: int = 0, seeds: int | None = None,
        trials: int | None = None, max_folds: int | None = None, data_root=None,
        store_url: str | None = None, optuna_url: str | None = None, jobs: int = 1,
        scheduler: str | None = None, dry_run: bool = False, skipped: list[Skip] = (),
        progress=True, log=print, warn=None, run_config: dict | None = None,
        budget_minutes: float | None = None, explicit_datasets=(),
        started: float | None = None) -> Summary:
    """Plan and run ``cells``; returns the :class:`Summary` (``exit_code`` 1 when a
    fold failed). ``seed`` is the first training seed, ``seeds`` how many (default:
    the profile's); folds never depend on either. ``explicit_datasets``: corpora the
    user named, which must be under a given data root (else
    :class:`~emobench.datasource.CorpusNotFoundError`). ``run_config`` is stored
    with every row. ``started``: the ``time.monotonic()`` the run's budget counts
    from (default: now). Raises :class:`RunInterrupted` on SIGINT/SIGTERM."""
    from emobench.store import StoreError, default_url, safe_url

    started = time.monotonic() if started is None else started
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    reg = registry()
    prof = get_profile(profile)
    if max_folds is not None:
        prof = dataclasses.replace(prof, max_folds=max_folds or None)
    trials = trials or prof.trials
    seed_list = training_seeds(seed, seeds if seeds is not None else prof.seeds)
    store_url = store_url or default_url()
    if optuna_url is None:
        optuna_url = _optuna_default(store_url)
    named = set(explicit_datasets) | _named_dataset(run_config)
    root = datasource.data_root(data_root)
    summary = Summary()
    interrupts.clear()
    interrupts.install()
    try:
        plan = make_jobs(reg, cells, prof, seeds=seed_list, trials=trials, root=root,
                         store_url=store_url, optuna_url=optuna_url, dry_run=dry_run,
                         explicit_datasets=named, run_config=run_config, load_recordings=load_checked,
                         workers=1 if scheduler else jobs)
        minutes = budget_minutes if budget_minutes is not None else prof.budget_minutes
        if minutes and plan.jobs:  # cut work (never trials) to fit the time budget
            from emobench import budget

            summary.budget = budget.plan(plan.jobs, minutes, budget.machine(jobs), reg)
            plan.jobs = summary.budget.jobs
            deferred = {c: Skip(c.dataset, c.task, c.model, c.protocol,
                                f"deferred: estimated {secs / 60:.1f} min at the smallest work share "
                                f"does not fit the {minutes:g}-minute budget (--budget or --model "
                                f"selects it)")
                        for c, secs in summary.budget.deferred.items()}
        else:
            deferred = {}
        spare = list(summary.budget.spare) if summary.budget is not None else []
        if dry_run:
            plan.skips += list(deferred.values())
            deferred = {}
        for msg in plan.notices:
            warn(msg)
        summary.notices = list(plan.notices)
        summary.cells = len({j.cell for j in plan.jobs})
        summary.planned = len(plan.jobs)
        summary.skipped = len(skipped) + len(plan.skips)
        summary.skips = [f"{s.dataset}/{s.task} x {s.model} x {s.protocol}: {s.reason}"
                         for s in plan.skips]
        done = _done_keys(store_url, [j.key for j in plan.jobs + spare], create=not dry_run)
        todo = [j for j in plan.jobs if j.key not in done]
        summary.reused = len(plan.jobs) - len(todo)
        # the deferred cells go last, each only if the clock says it still fits
        spare_todo = [j for j in spare if j.key not in done]
        ran = {j.cell for j in spare} - {j.cell for j in spare_todo}  # finished in an earlier run
        summary.reused += sum(j.key in done for j in spare)
        if dry_run:
            _dry_run_report(plan, done, log)
            if summary.budget is not None:
                from emobench.budget import describe

                for line in describe(summary.budget):
                    log(line)
            summary.estimated = sum(plan.unplanned.values())
            return summary
        if todo and optuna_url:
            _prepare_optuna(optuna_url)
        if summary.budget is not None and hasattr(progress, "estimates"):
            progress.estimates = dict(summary.budget.seconds)  # the ETA starts from the cost model
        gate = None
        if summary.budget is not None and summary.budget.budget_s:
            from emobench.deadline import Gate

            gate = Gate.for_plan(summary.budget, todo + spare_todo, summary.budget.machine.workers,
                                 started + summary.budget.budget_s - summary.budget.profile_s)
        try:
            _execute_all(todo + spare_todo, summary, jobs, scheduler, progress, gate)
        finally:
            if gate is not None:
                ran |= gate.started & set(deferred)
            _spare_cells(summary, deferred, ran, spare)
            if gate is not None and gate.refused:
                _late_skips(gate, summary, minutes, set(deferred))
        return summary
    except KeyboardInterrupt:
        code = interrupts.exit_code(interrupts.received() or signal.SIGINT)
        log(f"interrupted: {summary.run} folds saved in {safe_url(store_url)}; "
            f"rerun the same command to resume")
        raise RunInterrupted(code, summary) from None
    except StoreError:
        log(f"stopped: {summary.run} folds saved in {safe_url(store_url)} before the store failed")
        raise
    finally:
        interrupts.restore()


def _spare_cells(summary: Summary, deferred: dict, ran: set, spare: list) -> None:
    """The planner's deferred cells after the run: those that ran in the room the clock
    left (now or in an earlier run) count as cells of the run, the others as skipped."""
    for cell, skip in deferred.items():
        if cell in ran:
            summary.cells += 1
            summary.planned += sum(j.cell == cell for j in spare)
        else:
            summary.skips.append(f"{skip.dataset}/{skip.task} x {skip.model} x {skip.protocol}: "
                                 f"{skip.reason}")
            summary.skipped += 1


def _late_skips(gate, summary: Summary, minutes: float, planned_out=frozenset()) -> None:
    """The cells the budget's clock kept from starting, listed like the planner's deferrals
    (a cell the plan deferred is listed with the planner's reason already)."""
    refused = {c: s for c, s in gate.refused.items() if c not in planned_out}
    for cell, secs in refused.items():
        summary.skips.append(
            f"{cell.dataset}/{cell.task} x {cell.model} x {cell.protocol}: deferred at run time: "
            f"estimated {secs / 60:.1f} min x {gate.ratio:.2f} (this run's measured/estimated) would "
            f"end after the {minutes:g}-minute budget; rerun to run it (finished folds are reused), "
            f"or --budget")
    summary.skipped += len(refused)
    summary.cells -= len(refused)


def _execute_all(todo, summary: Summary, jobs: int, scheduler: str | None, progress,
                 gate=None) -> None:
    from emobench import executors

    admit = gate  # None without a budget; callable, and asks again for the cells held back
    if scheduler:
        it = executors.dask(execute, todo, scheduler, max(1, jobs), admit)
    elif jobs > 1:
        it = executors.processes(execute, todo, jobs, admit)
    else:
        it = executors.inline(execute, todo, admit)
    shown = _progress(it, todo, progress)
    try:
        _tally(shown, summary, gate)
    finally:  # an interrupt closes the executor now: no queued fold starts afterwards
        shown.close()
        if hasattr(it, "close"):
            it.close()


def _tally(outcomes, summary: Summary, gate=None) -> None:
    for outcome in outcomes:
        if gate is not None:
            gate.finished(outcome.job.key, outcome.seconds if outcome.status == "done" else None)
        for k, v in outcome.io.items():
            summary.io[k] = summary.io.get(k, 0) + v
        if outcome.status == "done":
            summary.run += 1
            summary.seconds[outcome.job.key] = outcome.seconds
        elif outcome.status == "reused":
            summary.reused += 1
        elif outcome.status == "busy":
            summary.busy += 1
        elif outcome.status == "interrupted":
            summary.interrupted += 1
            raise KeyboardInterrupt  # a worker was interrupted: stop handing out folds
        else:
            summary.failed += 1
            summary.failures.append(outcome.message)
        interrupts.check()


def _named_dataset(run_config: dict | None) -> set[str]:
    """A --dataset given as a plain name (no glob) names that corpus explicitly."""
    value = (run_config or {}).get("dataset")
    if isinstance(value, str) and value and not any(ch in value for ch in "*?[]"):
        return {value}
    return set()


def _done_keys(store_url: str, keys: list[str], create: bool = True) -> set[str]:
    """Which of ``keys`` are done. With ``create=False`` (a dry run) a store that
    does not exist yet is read as empty and nothing is created."""
    if create:
        engine = Store(store_url).engine
    else:
        if store_url.startswith("sqlite:///"):
            path = store_url[len("sqlite:///"):]
            if path in ("", ":memory:") or not Path(path).is_file():
                return set()
        engine = sa.create_engine(store_url)
        if not sa.inspect(engine).has_table("results"):
            return set()
    out: set[str] = set()
    with engine.connect() as c:
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            out.update(r[0] for r in c.execute(sa.select(results.c.key).where(
                results.c.key.in_(chunk)).where(results.c.status == "done")))
    if not create:
        engine.dispose()
    return out


def _dry_run_report(plan: Plan, done: set[str], log) -> None:
    for j in plan.jobs:
        state = "done     " if j.key in done else "would run"
        log(f"{state} {j.cell} fold {j.fold_index + 1}/{j.n_folds} ({j.fold_name}) seed {j.seed} "
            f"key={j.key}")
    for dname, n in plan.unplanned.items():
        log(f"{dname}: stand-in not written yet: {n} folds to run (estimate)")
    n_done = sum(j.key in done for j in plan.jobs)
    log(f"dry run: {n_done} folds done, {len(plan.jobs) - n_done} would run"
        + (f", about {sum(plan.unplanned.values())} more once stand-ins are written"
           if plan.unplanned else "") + "; nothing written")


def _prepare_optuna(url: str) -> None:
    """Create the Optuna schema once, here, before workers race to create it."""
    from emobench import tuning

    if hasattr(tuning, "prepare_storage"):
        tuning.prepare_storage(url)


def _optuna_default(store_url: str) -> str | None:
    """A fold's study lives in memory unless --optuna-storage asks for a shared one:
    rebuilding an RDB storage per fold cost 0.2-0.6 s (docs/scaling.md), and a fold's
    study is tuned once, inside one worker."""
    return None


def _progress(it, todo: list, enabled):
    """``enabled``: True for a plain bar, or a reporter with ``start(jobs)``,
    ``update(outcome)`` and ``close()`` (the CLI's, emobench.cli.progress)."""
    if hasattr(enabled, "update"):
        enabled.start(todo)
        try:
            for outcome in it:
                enabled.update(outcome)
                yield outcome
        finally:
            enabled.close()
        return
    total = len(todo)
    if not enabled or total == 0:
        yield from it
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]folds"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}")) as bar:
        t = bar.add_task("", total=total)
        for outcome in it:
            bar.update(t, advance=1, description=f"{outcome.status}: {outcome.job.cell}")
            yield outcome


def profile_latency(reg: Registry, cells: list[Cell], store_url: str | None) -> list[str]:
    """Latency of each (model, corpus) at its tuned configuration: emobench.profiling.models."""
    from emobench.profiling import profile_latency as _profile

    # timing loops of at least 30 calls and 0.1 s, at most 0.5 s (never under 3 calls): a
    # run profiles ~150 configurations inside its time budget (budget.PROFILE_S_PER_CELL
    # records what they cost); `emobench profile` times one model for longer
    return _profile(reg, cells, store_url, min_time=0.1, max_time=0.5)
