"""The progress display of ``emobench run``, on stderr.

The runner calls ``start(jobs)`` with the folds it is about to run (in the
order it hands them to the workers), ``update(outcome)`` as each finishes and
``close()`` at the end; the CLI wraps later phases (latency profiling) in
``phase(text)``. The display names the fold(s) running now: with W workers,
the first W unfinished folds in hand-out order (exact for one worker). The
ETA is the estimated cost of the unfinished folds divided by the workers,
minus what the running ones have already spent; a fold's cost is the
planner's estimate when the budget planned one (``estimates``, set by the
runner from emobench.budget), else the mean
time of finished folds of the same model on the same corpus, of the same
model, or of any fold, in that order.

On a terminal this is a rich progress bar; elsewhere (logs, CI) one line
per finished fold.
"""

from __future__ import annotations

import contextlib
import threading
import time
from statistics import fmean


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(round(max(0.0, seconds)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def job_label(job) -> str:
    return f"{job.cell} fold {job.fold_index + 1}/{job.n_folds}"


class FoldProgress:
    def __init__(self, workers: int = 1, enabled: bool = True, console=None, now=time.monotonic):
        self.workers, self.enabled, self.now = max(1, int(workers)), enabled, now
        self._console = console
        self.jobs: list = []
        self.estimates: dict[str, float] = {}  # job key -> planner's seconds (emobench.budget)
        self.finished: dict[str, object] = {}
        self.since: dict[str, float] = {}
        self.costs: list[tuple[str, str, float]] = []  # (model, dataset, seconds) of folds that ran
        self.counts = {"done": 0, "reused": 0, "failed": 0, "busy": 0}
        self._bar = self._task = self._stop = None

    # -- estimates ---------------------------------------------------------
    def estimate(self, job) -> float | None:
        own = self.estimates.get(job.key) or getattr(job, "estimate_s", None)
        if own:
            return float(own)
        c = job.cell
        for keep in (lambda m, d: (m, d) == (c.model, c.dataset), lambda m, d: m == c.model,
                     lambda m, d: True):
            seen = [s for m, d, s in self.costs if keep(m, d)]
            if seen:
                return fmean(seen)
        return None

    def running(self) -> list:
        pending = [j for j in self.jobs if j.key not in self.finished]
        now = self.now()
        for j in pending[:self.workers]:
            self.since.setdefault(j.key, now)
        return pending[:self.workers]

    def eta(self) -> float | None:
        pending = [j for j in self.jobs if j.key not in self.finished]
        if not pending:
            return 0.0
        costs = [self.estimate(j) for j in pending]
        if any(c is None for c in costs):
            return None
        now = self.now()
        spent = sum(now - self.since.get(j.key, now) for j in self.running())
        return max(0.0, (sum(costs) - spent) / self.workers)

    # -- runner interface ----------------------------------------------------
    def start(self, jobs) -> None:
        self.jobs = list(jobs)
        self.t0 = self.now()
        if not self.enabled or not self.jobs:
            return
        console = self.console()
        if console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("[bold]folds"), BarColumn(bar_width=24), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
                                 TextColumn("{task.description}"), console=console, transient=False)
            self._bar.start()
            self._task = self._bar.add_task("", total=len(self.jobs), eta="?")
            self._stop = threading.Event()
            threading.Thread(target=self._tick, daemon=True).start()
        self._refresh()

    def update(self, outcome) -> None:
        job = outcome.job
        began = self.since.get(job.key)
        self.finished[job.key] = outcome
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        if outcome.status in ("done", "failed") and outcome.seconds:
            self.costs.append((job.cell.model, job.cell.dataset, float(outcome.seconds)))
        if not self.enabled:
            return
        took = outcome.seconds or (self.now() - began if began is not None else 0.0)
        if self._bar is not None:
            self._bar.update(self._task, advance=1)
            if outcome.status == "failed":
                self._bar.console.print(f"[red]failed[/red] {job_label(job)} after {took:.1f} s")
        else:
            self.console().print(f"[{len(self.finished)}/{len(self.jobs)}] {outcome.status} "
                                 f"{job_label(job)} in {took:.1f} s; ETA {clock(self.eta())}",
                                 highlight=False, markup=False)
        self._refresh()

    def close(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    @contextlib.contextmanager
    def phase(self, text: str):
        """A phase after the folds (latency profiling): a spinner naming it."""
        if not self.enabled:
            yield
            return
        console = self.console()
        if console.is_terminal:
            with console.status(text):
                yield
        else:
            console.print(text + " ...", highlight=False, markup=False)
            yield

    # -- display -------------------------------------------------------------
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return self._console

    def _refresh(self) -> None:
        if self._bar is None:
            return
        now = self.now()
        run = self.running()
        text = ", ".join(f"{job_label(j)} ({clock(now - self.since[j.key])})" for j in run)
        width = max(20, self._bar.console.width - 70)
        text = ("running: " + text) if text else "finishing"
        self._bar.update(self._task, eta=clock(self.eta()),
                         description=text if len(text) <= width else text[:width - 1] + "…")

    def _tick(self) -> None:
        # the running fold's elapsed time and the ETA move while nothing finishes
        while not self._stop.wait(1.0):
            try:
                self._refresh()
            except Exception:  # the bar was stopped between the check and the update
                return
