"""Where the time of the default run goes: the planner's estimate per cell and
per model, and (``--measure``) the measured seconds per cell, fit vs harness.

    python scripts/bench_default_run.py                       # the plan of `emobench run --all`
    python scripts/bench_default_run.py --gflops 68           # ... on a given matmul rate (idle EPYC)
    python scripts/bench_default_run.py --measure --model emop3d --dataset unbc \\
        --cache /tmp/me/cache --store sqlite:////tmp/me/r.db  # + measured seconds of those cells

The plan is built exactly as ``emobench run --all --dry-run`` builds it (the
registered default matrix: each corpus's primary protocol and tasks, the
profile's folds and seeds, the real fold sizes of the stand-ins), so the
stand-ins must be written in the cache (a first ``emobench run`` or this
script with ``--write`` writes them). For every cell it prints the estimate at
the whole default work, at the planned share and at the least share
(``budget.MIN_SHARE``, the column "floor"); then totals per model, the planned
total against the budget and the deferred cells.

``--measure`` runs the jobs of the cells matching ``--dataset``/``--model``/
``--task`` at the share the whole plan gives them (``--share`` forces one; the
same job keys as the run) one by one in this process on a private store, then
reads the rows: wall seconds per job, of which tuning + test prediction (the
model's fit and predict) is the fit time and the rest the harness (claim, fold
check, scoring, commit); it prints measured against estimated seconds per cell,
CPU seconds and the mean test score per cell. Always give ``--cache`` and
``--store`` private paths for a measurement.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time


def build_jobs(profile_name: str, dataset: str, model: str, write: bool, store_url: str):
    from emobench.cells import plan as plan_cells
    from emobench.fold import load_checked
    from emobench.jobs import make_jobs, training_seeds
    from emobench.plugins import registry
    from emobench.profiles import get_profile

    reg = registry()
    prof = get_profile(profile_name)
    cells, _ = plan_cells(reg, prof, dataset=dataset, model=model)
    plan = make_jobs(reg, cells, prof, seeds=training_seeds(0, prof.seeds), trials=prof.trials,
                     root=None, store_url=store_url, optuna_url=None, dry_run=not write,
                     load_recordings=load_checked)
    if plan.unplanned:
        print(f"stand-ins not written for {', '.join(sorted(plan.unplanned))}: rerun with --write "
              f"(their jobs are left out of this plan)")
    return reg, prof, cells, plan.jobs


def plan_table(reg, prof, jobs, m, minutes):
    from emobench import budget

    whole = budget.plan(jobs, None, m, reg)
    planned = budget.plan(jobs, minutes, m, reg)
    # the floor of every cell: each cell planned alone under a (near) zero budget
    by_cell = collections.defaultdict(list)
    for j in jobs:
        by_cell[j.cell].append(j)
    floor_s = {}
    for cell, cj in by_cell.items():
        p = budget.plan(cj, 1e-6, m, reg)
        floor_s[str(cell)] = sum(p.cell_seconds().values())
    return whole, planned, floor_s


def print_plan(reg, prof, jobs, m, minutes) -> None:
    whole, planned, floor_s = plan_table(reg, prof, jobs, m, minutes)
    w = whole.cell_seconds()
    pl = planned.cell_seconds()
    deferred = {str(c): s for c, s in planned.deferred.items()}
    n_jobs = collections.Counter(str(j.cell) for j in jobs)
    sizes = {str(j.cell): j.size for j in jobs}
    print(f"\n{'cell':70s} {'jobs':>4s} {'train/valid/test':>16s} {'whole s':>9s} {'planned s':>10s}"
          f" {'share':>6s} {'floor s':>8s}")
    for name in sorted(w, key=w.get):
        s = sizes[name]
        tvt = f"{s.get('n_train', 0)}/{s.get('n_valid', 0)}/{s.get('n_test', 0)}"
        got = f"{pl[name]:10.1f}" if name in pl else f"{'deferred':>10s}"
        share = planned.shares.get(name, "-")
        print(f"{name:70s} {n_jobs[name]:4d} {tvt:>16s} {w[name]:9.1f} {got} {share!s:>6s}"
              f" {floor_s[name]:8.1f}")
    per_model = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0, 0])
    for name in w:
        mname = name.split(" x ")[1]
        row = per_model[mname]
        row[0] += w[name]
        row[1] += pl.get(name, 0.0)
        row[2] += floor_s[name]
        row[3] += 1
        row[4] += name in deferred
    print(f"\n{'model':26s} {'cells':>5s} {'deferred':>8s} {'whole min':>10s} {'planned min':>12s}"
          f" {'floor min':>10s}   (job seconds, one worker)")
    for mname, (a, b, c, n, d) in sorted(per_model.items(), key=lambda kv: -kv[1][2]):
        print(f"{mname:26s} {n:5d} {d:8d} {a / 60:10.1f} {b / 60:12.1f} {c / 60:10.1f}")
    wk = m.workers
    print(f"\nall cells at the floor: {(planned.prepare_s + sum(floor_s.values())) / wk / 60:.1f} min on "
          f"{wk} worker(s) (corpus reads {planned.prepare_s / wk / 60:.1f} min included); whole default "
          f"work: {whole.total_s / 60:.1f} min")
    from emobench import budget

    for line in budget.describe(planned)[-3:]:
        print(line)


def measure(reg, prof, jobs, m, minutes, store_url: str, dataset: str, model: str,
            share: float | None, task: str = "*") -> None:
    """Run the jobs of the cells matching ``dataset``/``model`` at the share the
    whole plan gives them (their floor when deferred; ``share`` forces one), one
    by one in this process (one worker, its threads), timing each."""
    from fnmatch import fnmatch
    import torch

    from emobench import budget
    from emobench.fold import execute, store_for

    torch.set_num_threads(m.threads)
    whole = budget.plan(jobs, minutes, m, reg)
    mine = [j for j in jobs if fnmatch(j.cell.dataset, dataset) and fnmatch(j.cell.model, model)
            and fnmatch(j.cell.task, task)]
    cells = {j.cell for j in mine}
    floors = {c: min(s for s in budget.SHARES if s >= max(budget.MIN_SHARE, float(
        getattr(reg.model(c.model), "min_work", budget.MIN_SHARE)))) for c in cells}
    shares = {c: share if share else whole_share(whole, c, floors[c]) for c in cells}
    p = budget.plan(mine, None, m, reg)
    p.jobs = [budget._rekey(j, shares[j.cell]) for j in mine]
    p.seconds = {}
    by_cell = {}
    for j in mine:
        by_cell.setdefault(j.cell, []).append(j)
    for c, cj in by_cell.items():
        cp = budget.plan(cj, None, m, reg) if shares[c] >= 1 else None
        secs = cp.seconds if cp else _at_share(cj, shares[c], m, reg)
        for j, nj in zip(cj, [budget._rekey(x, shares[c]) for x in cj]):
            p.seconds[nj.key] = secs[j.key]
    print(f"\nshares: " + ", ".join(f"{c} x{shares[c]:g}" for c in sorted(cells, key=str)))
    store_for(store_url)  # creates the schema
    print(f"\nmeasuring {len(p.jobs)} jobs of {len(p.cell_seconds())} cell(s) in one process, "
          f"{m.threads} thread(s); load {os.getloadavg()[0]:.1f}")
    got = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    t_all, c_all = time.perf_counter(), time.process_time()
    for j in p.jobs:
        t0, c0 = time.perf_counter(), time.process_time()
        out = execute(j)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        row = got[str(j.cell)]
        row[0] += wall
        row[1] += cpu
        row[3] += 1
        if out.status != "done":
            print(f"  {j.cell} fold {j.fold_name} seed {j.seed}: {out.status} {out.message[:200]}")
        fit = _fit_seconds(store_url, j.key)
        row[2] += fit
    wall, cpu = time.perf_counter() - t_all, time.process_time() - c_all
    est = p.cell_seconds()
    print(f"{'cell':70s} {'jobs':>4s} {'est s':>8s} {'wall s':>8s} {'x est':>6s} {'CPU s':>8s}"
          f" {'fit s':>8s} {'harness s':>9s}")
    for name, (w, c, fit, n) in sorted(got.items(), key=lambda kv: kv[1][0]):
        print(f"{name:70s} {n:4d} {est[name]:8.1f} {w:8.1f} {w / max(est[name], 1e-9):6.2f} {c:8.1f}"
              f" {fit:8.1f} {w - fit:9.1f}")
    e = sum(est[n] for n in got)
    scores = _scores(store_url, [j.key for j in p.jobs])
    if scores:
        print("test scores per cell (mean over its rows): " + "; ".join(
            f"{c}: {v:.3f}" for c, v in sorted(scores.items())))
    print(f"measured {wall:.1f} s wall ({cpu:.1f} CPU-s) against {e:.1f} s estimated "
          f"({wall / max(e, 1e-9):.2f}x); load after {os.getloadavg()[0]:.1f}")


def whole_share(p, cell, floor: float) -> float:
    return p.shares.get(str(cell), floor)


def _at_share(cjobs, share: float, m, reg) -> dict:
    """Estimated seconds per job (by the unkeyed job key) of one cell at ``share``."""
    from emobench import budget

    ds = reg.dataset(cjobs[0].cell.dataset)
    cls, task = reg.model(cjobs[0].cell.model), ds.task(cjobs[0].cell.task)
    out, first = {}, {}
    for j in cjobs:
        g = (j.seed, budget._size(j).get("group", j.fold_index))
        if g in first:
            out[j.key] = m.overhead_s
        else:
            first[g] = j.key
            s = budget.job_seconds(j, cls, ds.modalities, task, share, m)
            out[j.key] = s if s is not None else m.overhead_s + j.trials * budget.UNDECLARED_TRIAL_S
    return out


def _scores(store_url: str, keys: list[str]) -> dict:
    import sqlalchemy as sa

    from emobench.store import results

    eng = sa.create_engine(store_url)
    with eng.connect() as con:
        rows = con.execute(sa.select(results.c.dataset, results.c.task, results.c.model,
                                     results.c.score).where(results.c.key.in_(keys))).fetchall()
    eng.dispose()
    out = collections.defaultdict(list)
    for r in rows:
        if r.score is not None:
            out[f"{r.dataset}/{r.task} x {r.model}"].append(float(r.score))
    return {k: sum(v) / len(v) for k, v in out.items()}


def _fit_seconds(store_url: str, key: str) -> float:
    """Tuning + test prediction seconds of a stored row (the model's own work)."""
    import sqlalchemy as sa

    from emobench.store import results

    eng = sa.create_engine(store_url)
    with eng.connect() as con:
        t = con.execute(sa.select(results.c.timings).where(results.c.key == key)).scalar()
    eng.dispose()
    if isinstance(t, str):
        t = json.loads(t)
    t = t or {}
    return float(t.get("tune_s", 0.0)) + float(t.get("predict_s", 0.0))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--budget", type=float, default=None, help="minutes (default: the profile's)")
    ap.add_argument("--dataset", default="*")
    ap.add_argument("--model", default="*")
    ap.add_argument("--task", default="*", help="task name or glob (for --measure)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--gflops", type=float, default=None,
                    help="fp32 matmul GFLOP/s of one worker (default: this machine's, measured/cached)")
    ap.add_argument("--cache", default=None, help="EMOBENCH_CACHE for this run (private!)")
    ap.add_argument("--store", default=None, help="results store URL for --measure (private!)")
    ap.add_argument("--write", action="store_true", help="write missing stand-ins")
    ap.add_argument("--measure", action="store_true",
                    help="run the cells matching --dataset/--model at their share in the whole plan")
    ap.add_argument("--share", type=float, default=None, help="force this work share in --measure")
    a = ap.parse_args(argv)
    if a.cache:
        os.environ["EMOBENCH_CACHE"] = a.cache
    if a.measure and not (a.store and a.cache):
        ap.error("--measure needs a private --cache and --store")
    from emobench import budget

    store_url = a.store or "sqlite:////tmp/bench_default_run_unused.db"
    # the plan is always the whole matrix (a cell's share depends on every other cell)
    reg, prof, cells, jobs = build_jobs(a.profile, "*", "*", a.write, store_url)
    m = budget.machine(a.workers)
    if a.gflops:
        m = budget.Machine(gflops=a.gflops, workers=m.workers, threads=m.threads,
                           source=f"matmul {a.gflops:g} GFLOP/s per worker (given)")
    minutes = a.budget if a.budget is not None else prof.budget_minutes
    print(f"profile {prof.name}: {len(cells)} cells, {len(jobs)} jobs; {m.source}; load "
          f"{os.getloadavg()[0]:.1f}")
    print_plan(reg, prof, jobs, m, minutes)
    if a.measure:
        measure(reg, prof, jobs, m, minutes, a.store, a.dataset, a.model, a.share, a.task)
    return 0


if __name__ == "__main__":
    sys.exit(main())
