"""``emobench run``: flags or a configuration file, names checked before any
work, a progress display, and an exit code that says whether folds failed."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Optional

import typer

from emobench.cli.base import app
from emobench.cli.common import (EXIT_FAILED, EXIT_INTERRUPTED, CliError, check_name, check_profile, command,
                                 echo_error, registry, verbosity, warn)

# run() parameters that are not part of a saved configuration
NOT_CONFIG = {"config", "save_config", "dry_run", "explain", "progress", "verbose", "quiet"}


def config_params(ctx: typer.Context) -> dict[str, click.Parameter]:
    """Configuration key (the flag's long name without dashes) -> parameter."""
    out = {}
    for p in ctx.command.params:
        if p.name in NOT_CONFIG:
            continue
        longs = [o for o in p.opts if o.startswith("--")]
        out[longs[0][2:] if longs else p.name.replace("_", "-")] = p
    return out


def merge_config(ctx: typer.Context, values: dict, path: Path | None) -> dict:
    """``values`` (the command's parameters) with the file's fields filled in
    wherever the flag was not given on the command line (or in the environment)."""
    from emobench import config as cfg

    params = config_params(ctx)
    if path is not None:
        try:
            fields = cfg.read(path)
        except cfg.ConfigError as exc:
            raise CliError(str(exc)) from None
        for key, value in fields.items():
            if key not in params:
                from emobench.cli.common import suggest

                raise CliError(f"{path}: unknown field {key!r}" + suggest(key, params))
            p = params[key]
            source = ctx.get_parameter_source(p.name)
            if getattr(source, "name", None) in ("COMMANDLINE", "ENVIRONMENT"):
                continue  # the command line wins over the file
            try:
                values[p.name] = None if value is None else p.process_value(ctx, value)
            except Exception as exc:  # the parameter type's own message (BadParameter)
                raise CliError(f"{path}: field {key!r}: {getattr(exc, 'message', exc)}") from None
    return {key: values[p.name] for key, p in params.items()}


def check_run_names(reg, dataset: str, model: str, protocol: str | None, task: str, profile: str) -> None:
    from fnmatch import fnmatch

    check_profile(profile)
    check_name("dataset", dataset, reg.datasets, "--dataset")
    check_name("model", model, reg.models, "--model")
    check_name("protocol", protocol, reg.protocols, "--protocol")
    tasks = {t.name for n, ds in reg.datasets.items() if fnmatch(n, dataset) for t in ds.tasks}
    check_name("task", task, tasks, "--task")


@app.command()
@command
def run(ctx: typer.Context,
        all_: bool = typer.Option(False, "--all", help="Every compatible cell."),
        dataset: str = typer.Option("*", help="Dataset name or glob."),
        model: str = typer.Option("*", help="Model name or glob."),
        protocol: Optional[str] = typer.Option(None, help="Protocol name or glob (default: the profile's choice)."),
        task: str = typer.Option("*", help="Task name or glob."),
        profile: str = typer.Option("default", help="smoke | default | paper."),
        trials: Optional[int] = typer.Option(None, help="Optuna trials per (cell, fold); default from the profile."),
        folds: Optional[int] = typer.Option(None, help="At most N folds per protocol (default from the profile; 0 = all)."),
        seed: int = typer.Option(0, help="First training seed (samplers and models; folds do not depend on it)."),
        seeds: Optional[int] = typer.Option(None, min=1, help="Training seeds per fold, from --seed on (default: the profile's)."),
        budget: Optional[float] = typer.Option(None, help="Time budget in minutes shared among the cells."),
        data_root: Optional[Path] = typer.Option(None, help="Folder holding real corpora, or one corpus folder "
                                                            "(else $EMOBENCH_DATA; stand-ins otherwise)."),
        jobs: int = typer.Option(0, help="Parallel worker processes, one thread each (or Dask "
                                 "workers); 0: EMOBENCH_JOBS, else one per CPU core."),
        scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address, or 'local' for a LocalCluster."),
        store: Optional[str] = typer.Option(None, help="Results store URL or SQLite file (else $EMOBENCH_STORE, "
                                                       "else .emobench/results.db of the project folder)."),
        optuna_storage: Optional[str] = typer.Option(None, help="Optuna storage URL that keeps every study and trial (default: in memory per fold)."),
        profile_latency: bool = typer.Option(True, "--latency/--no-latency", help="Profile each model's latency after the run."),
        config: Optional[Path] = typer.Option(None, "--config", help="Run configuration file (TOML, or YAML); flags override it."),
        save_config: Optional[Path] = typer.Option(None, "--save-config", help="Write the resolved configuration to this TOML file."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Say which folds are done and which would run; write nothing."),
        explain: bool = typer.Option(False, "--explain", help="List the skipped pairs and why."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress display on stderr.")):
    """Evaluate cells: tune, test, score and store every fold.

    Exit code 0 when every fold finished, 1 when some failed (the others are
    stored), 2 for usage errors, 130 when interrupted (rerun to resume)."""
    import time

    from emobench.cli import locations

    started = time.monotonic()
    values = merge_config(ctx, dict(locals()), config)
    if save_config is not None:
        from emobench import config as cfg

        cfg.write(save_config, values, comment=f"emobench run configuration (emobench run --config {save_config.name})")
        typer.echo(f"wrote {save_config}", err=True)
    v = {k.replace("-", "_"): val for k, val in values.items()}
    if not v["all"] and (v["dataset"], v["model"], v["protocol"], v["task"]) == ("*", "*", None, "*"):
        raise CliError("say --all, or narrow with --dataset/--model/--protocol/--task (or give --config)")
    verbose, quiet = verbosity()
    reg = registry()
    check_run_names(reg, v["dataset"], v["model"], v["protocol"], v["task"], v["profile"])

    from emobench import runner
    from emobench.cells import plan
    from emobench.cli.progress import FoldProgress
    from emobench.config import run_record
    from emobench.profiles import get_profile

    cells, skipped = plan(reg, get_profile(v["profile"]), dataset=v["dataset"], model=v["model"],
                          protocol=v["protocol"], task=v["task"])
    if not cells:
        for s in skipped:
            warn(f"{s.dataset}/{s.task} x {s.model} x {s.protocol}: {s.reason}")
        raise CliError("no compatible cells match these names; `emobench list cells --explain` says why")
    store_url, _ = locations.store_url(v["store"])
    accepts = set(inspect.signature(runner.run).parameters)
    extra: dict = {}
    for flag, name, value in (("--seeds", "seeds", v["seeds"]), ("--budget", "budget_minutes", v["budget"])):
        if value is None:
            continue
        if name not in accepts:
            raise CliError(f"{flag} is not supported by this emobench's runner yet")
        extra[name] = value
    if "run_config" in accepts:
        extra["run_config"] = run_record(values, config_file=config)
    if "warn" in accepts:
        extra["warn"] = warn
    if "started" in accepts:  # the budget counts from the command's start
        extra["started"] = started
    if "log" in accepts:
        extra["log"] = lambda msg: typer.echo(msg, err=msg.startswith("interrupted"))
    if not v["jobs"]:  # two 1-thread workers beat one 2-thread worker on 2 cores (docs/performance.md)
        v["jobs"] = int(os.environ.get("EMOBENCH_JOBS") or 0) or os.cpu_count() or 1
    reporter = FoldProgress(workers=v["jobs"], enabled=progress and not quiet)
    try:
        summary = runner.run(cells, profile=v["profile"], seed=v["seed"], trials=v["trials"],
                             max_folds=v["folds"], data_root=v["data_root"], store_url=store_url,
                             optuna_url=v["optuna_storage"], jobs=v["jobs"], scheduler=v["scheduler"],
                             dry_run=dry_run, skipped=skipped, progress=reporter, **extra)
        for msg in summary.failures:
            echo_error(f"failed: {msg}")
        for msg in summary.skips:  # corpora or protocols that could not be prepared: always news
            warn(f"skipped: {msg}")
        if explain or verbose:
            for s in skipped:
                typer.echo(f"skipped: {s.dataset}/{s.task} x {s.model} x {s.protocol}: {s.reason}", err=True)
        if v["latency"] and not dry_run:
            with reporter.phase(f"profiling latency of {len({c.model for c in cells})} model(s)"):
                for msg in runner.profile_latency(reg, cells, store_url):
                    warn(msg)
    except SystemExit as exc:  # runner.RunInterrupted: it said what was saved; 130 or 143
        reporter.close()
        raise typer.Exit(exc.code if isinstance(exc.code, int) else EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        reporter.close()
        saved = reporter.counts.get("done", 0)
        echo_error(f"interrupted: {saved} fold(s) of this run were saved to {store_url}; "
                   "run the same command again to resume")
        raise typer.Exit(EXIT_INTERRUPTED)
    if not dry_run and not quiet:
        typer.echo(summary.io_line())
    budget_lines = summary.budget_lines() if hasattr(summary, "budget_lines") else []
    for budget_line in budget_lines if verbose else budget_lines[-1:]:
        typer.echo(budget_line)
    plan_ = getattr(summary, "budget", None)
    if plan_ is not None and summary.run and not quiet:
        typer.echo(f"wall clock {(time.monotonic() - started) / 60:.1f} min for this run (budget "
                   f"{plan_.budget_s / 60:g} min, whole-run estimate {plan_.total_s / 60:.1f} min)")
    line = summary.line()
    if skipped and not (explain or verbose):
        line += " (--explain lists the skipped)"
    typer.echo(line)
    code = getattr(summary, "exit_code", None)
    if not isinstance(code, int):
        code = EXIT_FAILED if summary.failed else 0
    raise typer.Exit(code)
