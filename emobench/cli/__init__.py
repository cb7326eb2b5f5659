"""The ``emobench`` command line: list, run, leaderboard, synth, doctor,
explain, export, profile, annotate."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="emobench: one harness for emotion and pain recognition benchmarks.")


class What(str, Enum):
    all = "all"
    datasets = "datasets"
    models = "models"
    protocols = "protocols"
    cells = "cells"
    plugins = "plugins"


def _reg():
    from emobench.plugins import registry

    reg = registry()
    for origin, reason in reg.failures:
        typer.secho(f"warning: plugin {origin} not loaded: {reason}", err=True, fg="yellow")
    return reg


def _model_info(reg, name, cls) -> dict:
    o = reg.origin("model", name)
    try:
        params = cls.param_count()
    except Exception as exc:  # a model that cannot size itself without data
        params = f"unknown ({type(exc).__name__})"
    return {"name": name, "distribution": o.distribution, "version": o.version,
            "model_version": cls.version, "consumes": list(cls.consumes),
            "consumes_any": cls.consumes_any, "task_kinds": list(cls.task_kinds),
            "levels": list(cls.levels), "paper": cls.paper, "params_paper_config": params,
            "paper_params": cls.paper_params,
            "search_space": {k: repr(v) for k, v in cls.search_space("default").items()},
            "starting_points": cls.starting_points("default"),
            "description": cls.description}


def _dataset_info(reg, name, ds) -> dict:
    o = reg.origin("dataset", name)
    return {"name": name, "distribution": o.distribution, "version": o.version,
            "title": ds.title, "folder": ds.folder, "protocols": list(ds.protocols),
            "modalities": {k: {"kind": m.kind, "shape": list(m.shape), "rate": m.rate,
                               "channels": len(m.channels)} for k, m in ds.modalities.items()},
            "tasks": [{"name": t.name, "kind": t.kind, "level": t.level, "classes": list(t.classes),
                       "range": t.value_range, "metric": t.primary_metric} for t in ds.tasks]}


def _protocol_info(reg, name, p) -> dict:
    o = reg.origin("protocol", name)
    return {"name": name, "distribution": o.distribution, "version": o.version,
            "protocol_version": p.version, "needs": list(p.needs), "description": p.description,
            "datasets": list(p.datasets)}


@app.command("list")
def list_(what: What = typer.Argument(What.all, help="What to list."),
          as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
          explain: bool = typer.Option(False, "--explain", help="With cells: say why each other pair was skipped."),
          profile: str = typer.Option("default", help="Profile used to choose protocols for cells.")):
    """List registered datasets, models, protocols, plugins, or compatible cells."""
    from tabulate import tabulate

    from emobench.cells import plan
    from emobench.profiles import get_profile

    reg = _reg()
    out: dict = {}
    if what in (What.all, What.datasets):
        out["datasets"] = [_dataset_info(reg, n, d) for n, d in sorted(reg.datasets.items())]
    if what in (What.all, What.models):
        out["models"] = [_model_info(reg, n, c) for n, c in sorted(reg.models.items())]
    if what in (What.all, What.protocols):
        out["protocols"] = [_protocol_info(reg, n, p) for n, p in sorted(reg.protocols.items())]
    if what in (What.all, What.plugins):
        origins = {}
        for (kind, name), o in reg.origins.items():
            origins.setdefault(str(o), []).append(f"{kind}:{name}")
        out["plugins"] = [{"plugin": k, "registers": v} for k, v in sorted(origins.items())]
        out["plugin_failures"] = [{"plugin": str(o), "reason": r} for o, r in reg.failures]
    if what == What.cells:
        cells, skipped = plan(reg, get_profile(profile), protocol="*" if explain else None)
        out["cells"] = [vars(c) for c in cells]
        if explain:
            out["skipped"] = [vars(s) for s in skipped]
    if as_json:
        typer.echo(json.dumps(out, indent=1, default=str))
        return
    for section, items in out.items():
        if not items:
            continue
        typer.secho(f"\n{section}", bold=True)
        rows = []
        for it in items:
            flat = {k: (", ".join(map(str, v)) if isinstance(v, (list, tuple)) else
                        (", ".join(f"{a}:{b['kind'] if isinstance(b, dict) else b}" for a, b in v.items())
                         if isinstance(v, dict) and section == "datasets" and k == "modalities" else v))
                    for k, v in it.items()
                    if k not in ("search_space", "starting_points", "paper_params", "tasks")}
            if section == "datasets":
                flat["tasks"] = ", ".join(f"{t['name']} ({t['kind'][:5]}/{t['level']})" for t in it["tasks"])
            rows.append(flat)
        typer.echo(tabulate(rows, headers="keys", tablefmt="simple", maxcolwidths=60))


@app.command()
def run(all_: bool = typer.Option(False, "--all", help="Every compatible cell."),
        dataset: str = typer.Option("*", help="Glob over dataset names."),
        model: str = typer.Option("*", help="Glob over model names."),
        protocol: Optional[str] = typer.Option(None, help="Glob over protocol names (default: the profile's choice)."),
        task: str = typer.Option("*", help="Glob over task names."),
        profile: str = typer.Option("default", help="smoke | default | paper"),
        trials: Optional[int] = typer.Option(None, help="Optuna trials per (cell, fold); default from the profile."),
        folds: Optional[int] = typer.Option(None, help="Run at most N folds per protocol (default from the profile; 0 = all)."),
        seed: int = typer.Option(0, help="Seed for splits, samplers and models."),
        data_root: Optional[Path] = typer.Option(None, help="Folder holding real corpora (else $EMOBENCH_DATA; stand-ins otherwise)."),
        jobs: int = typer.Option(1, help="Parallel worker processes (or Dask workers)."),
        scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address, or 'local' for a LocalCluster."),
        store: Optional[str] = typer.Option(None, help="Results database URL (default sqlite:///.emobench/results.db)."),
        optuna_storage: Optional[str] = typer.Option(None, help="Optuna storage URL (default: beside the results store)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show the jobs without running them."),
        profile_latency: bool = typer.Option(True, "--latency/--no-latency", help="Profile each model's latency after the run."),
        progress: bool = typer.Option(True, "--progress/--no-progress")):
    """Evaluate cells: tune, test, score and store every fold."""
    from emobench import runner
    from emobench.cells import plan
    from emobench.datasource import DataRootError
    from emobench.profiles import get_profile

    if not all_ and (dataset, model, protocol, task) == ("*", "*", None, "*"):
        raise typer.BadParameter("say --all, or narrow with --dataset/--model/--protocol/--task")
    reg = _reg()
    prof = get_profile(profile)
    cells, skipped = plan(reg, prof, dataset=dataset, model=model, protocol=protocol, task=task)
    if not cells:
        typer.secho("no compatible cells match; see `emobench list cells --explain`", err=True, fg="red")
        raise typer.Exit(2)
    try:
        summary = runner.run(cells, profile=profile, seed=seed, trials=trials, max_folds=folds,
                             data_root=data_root,
                             store_url=store, optuna_url=optuna_storage, jobs=jobs,
                             scheduler=scheduler, dry_run=dry_run, skipped=skipped,
                             progress=progress and sys.stderr.isatty())
    except DataRootError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(2)
    for msg in summary.failures:
        typer.secho(f"failed: {msg}", err=True, fg="red")
    for msg in summary.skips:
        typer.secho(f"skipped: {msg}", err=True, fg="yellow")
    if profile_latency and not dry_run:
        for msg in runner.profile_latency(reg, cells, store):
            typer.secho(msg, err=True, fg="yellow")
    if not dry_run:
        typer.echo(summary.io_line())
    typer.echo(summary.line())


@app.command()
def leaderboard(store: Optional[str] = typer.Option(None, help="Results database URL."),
                out: Path = typer.Option(Path("leaderboard"), help="Output folder."),
                n_boot: int = typer.Option(1000, help="Bootstrap resamples for the CIs."),
                seed: int = typer.Option(0)):
    """Write the Markdown leaderboard from the results store."""
    from emobench import leaderboard as lb
    from emobench.store import Store

    index = lb.write(Store(store), out, n_boot=n_boot, seed=seed)
    typer.echo(f"wrote {index}")


@app.command()
def export(store: Optional[str] = typer.Option(None, help="Results database URL."),
           out: Optional[Path] = typer.Option(None, help="JSON file (default: stdout)."),
           failed: bool = typer.Option(False, help="Also export failed folds.")):
    """Export results with their best hyper-parameters and provenance as JSON."""
    from emobench.store import Store

    st = Store(store)
    rows = st.rows("done") + (st.rows("failed") if failed else [])
    text = json.dumps(rows, indent=1, default=str)
    if out:
        out.write_text(text)
        typer.echo(f"wrote {len(rows)} rows to {out}")
    else:
        typer.echo(text)


@app.command()
def synth(corpus: Optional[str] = typer.Argument(None, help="Dataset name."),
          out: Optional[Path] = typer.Option(None, help="Folder to write the stand-in into."),
          scale: str = typer.Option("small", help="tiny | small | full"),
          seed: int = typer.Option(0),
          preview: Optional[Path] = typer.Option(None, help="Write preview PNGs of the synthetic world here.")):
    """Write a corpus stand-in in its real layout, or preview pictures."""
    if preview is not None:
        from emobench.sim.preview import write_preview

        for p in write_preview(preview, seed=seed):
            typer.echo(f"wrote {p}")
        if corpus is None:
            return
    if corpus is None or out is None:
        raise typer.BadParameter("give CORPUS and --out DIR (or --preview DIR)")
    from emobench.datasource import write_standin

    ds = _reg().dataset(corpus)
    target = out / ds.folder
    if target.exists():
        raise typer.BadParameter(f"{target} exists; choose an empty --out")
    marker = write_standin(ds, target, scale, seed)
    typer.echo(f"wrote {ds.name} stand-in ({scale}, seed {seed}) to {target}: "
               f"{json.dumps(marker.get('counts', {}))}")


@app.command()
def doctor(dataset: str = typer.Option(..., help="Dataset name."),
           data_root: Path = typer.Option(..., help="Data root (holding the corpus folder) or the corpus folder itself."),
           as_json: bool = typer.Option(False, "--json")):
    """Check a corpus tree without training: counts and every problem with its path."""
    ds = _reg().dataset(dataset)
    root = data_root / ds.folder if (data_root / ds.folder).is_dir() else data_root
    if not root.is_dir():
        typer.secho(f"error: {root} does not exist", err=True, fg="red")
        raise typer.Exit(2)
    report = ds.doctor(root)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=1, default=str))
    else:
        typer.echo(f"{ds.name} at {root}")
        for k, v in report.counts.items():
            typer.echo(f"  {k}: {v}")
        for p in report.problems:
            typer.echo(f"  {p}")
        typer.echo("ok" if report.ok else f"{len(report.problems)} problem(s)")
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def explain(model: str = typer.Argument(..., help="Model name (it must implement explain())."),
            dataset: str = typer.Option(..., help="Dataset to fit on."),
            task: str = typer.Option(..., help="Task name."),
            out: Path = typer.Option(Path("explain"), help="Folder for the PNGs."),
            profile: str = typer.Option("default"),
            data_root: Optional[Path] = typer.Option(None),
            recording: Optional[str] = typer.Option(None, help="Test recording to explain (default: the first)."),
            seed: int = typer.Option(0)):
    """Fit a model on the first fold of the corpus's primary protocol and write its
    interpretability plots for a test recording."""
    from emobench.explain import explain_model

    for p in explain_model(model, dataset, task, out, profile=profile, data_root=data_root,
                           recording=recording, seed=seed):
        typer.echo(f"wrote {p}")


@app.command()
def check(plugins: Optional[list[str]] = typer.Argument(None, help="Entry-point, distribution or plugin names (default: all)."),
          as_json: bool = typer.Option(False, "--json")):
    """Conformance checks for plugins: metadata, stand-in round trip, leak-free folds,
    fit/predict contract."""
    from emobench.conformance import check_registry

    report = check_registry(_reg(), plugins or None)
    if as_json:
        typer.echo(json.dumps([vars(c) for c in report.checks], indent=1))
    else:
        for c in report.checks:
            mark = typer.style("ok  ", fg="green") if c.ok else typer.style("FAIL", fg="red")
            typer.echo(f"{mark} {c.plugin}: {c.name}" + (f" ({c.detail})" if c.detail and not c.ok else ""))
        typer.echo(f"{sum(c.ok for c in report.checks)} passed, {sum(not c.ok for c in report.checks)} failed")
    raise typer.Exit(0 if report.ok else 1)


def _mount_realtime():
    try:
        from emobench.realtime_cli import annotate_command, profile_command
    except ImportError:
        return
    app.command("profile", help="Latency, FPS, FLOPs and memory of a model on this machine.")(profile_command)
    app.command("annotate", help="Annotate a video or camera stream with a model, live.")(annotate_command)


_mount_realtime()


def main():
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    # corrupt media are reported by emobench with their path; FFmpeg's own chatter is noise
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    app()


if __name__ == "__main__":
    main()
