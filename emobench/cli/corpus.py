"""``emobench synth``, ``doctor``, ``explain`` and ``check``: corpora and
plugins, without a benchmark run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from emobench.cli.base import app
from emobench.cli.common import EXIT_FAILED, CliError, check_name, check_profile, command, registry

SCALES = ("tiny", "small", "full")


@app.command()
@command
def synth(corpus: Optional[str] = typer.Argument(None, help="Dataset name."),
          out: Optional[Path] = typer.Option(None, help="Folder to write the stand-in into."),
          scale: str = typer.Option("small", help="tiny | small | full."),
          seed: int = typer.Option(0, help="Seed of the synthetic world."),
          preview: Optional[Path] = typer.Option(None, help="Write preview PNGs of the synthetic world here.")):
    """Write a corpus stand-in in its real layout, or preview pictures."""
    check_name("scale", scale, SCALES)
    if corpus is not None:
        check_name("dataset", corpus, registry().datasets)
    if preview is not None:
        from emobench.sim.preview import write_preview

        for p in write_preview(preview, seed=seed):
            typer.echo(f"wrote {p}")
        if corpus is None:
            return
    if corpus is None or out is None:
        raise CliError("give CORPUS and --out DIR (or --preview DIR)")
    from emobench.datasource import write_standin

    ds = registry().dataset(corpus)
    target = out / ds.folder
    if target.exists():
        raise CliError(f"{target} exists; choose an empty --out")
    marker = write_standin(ds, target, scale, seed)
    typer.echo(f"wrote {ds.name} stand-in ({scale}, seed {seed}) to {target}: "
               f"{json.dumps(marker.get('counts', {}))}")


def corpus_folder(ds, data_root: Path) -> Path:
    """The corpus folder under a data root, or the data root itself when it is
    the corpus folder (the one reading every command shares when the data
    source module provides it)."""
    from emobench import datasource

    find = getattr(datasource, "corpus_root", None)
    if callable(find):
        found = find(ds, data_root)
        if found is not None:
            return Path(found)
    return data_root / ds.folder if (data_root / ds.folder).is_dir() else data_root


@app.command()
@command
def doctor(dataset: str = typer.Option(..., help="Dataset name."),
           data_root: Path = typer.Option(..., help="Data root (holding the corpus folder) or the corpus folder itself."),
           as_json: bool = typer.Option(False, "--json", help="Machine-readable report.")):
    """Check a corpus tree without training: counts and every problem with its path.
    Exit 1 when there are problems."""
    reg = registry()
    check_name("dataset", dataset, reg.datasets)
    ds = reg.dataset(dataset)
    if not data_root.is_dir():
        raise CliError(f"{data_root} does not exist or is not a folder (--data-root)")
    root = corpus_folder(ds, data_root)
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
    raise typer.Exit(0 if report.ok else EXIT_FAILED)


@app.command()
@command
def explain(model: str = typer.Argument(..., help="Model name (it must implement explain())."),
            dataset: str = typer.Option(..., help="Dataset to fit on."),
            task: str = typer.Option(..., help="Task name."),
            out: Path = typer.Option(Path("explain"), help="Folder for the PNGs."),
            profile: str = typer.Option("default", help="smoke | default | paper."),
            data_root: Optional[Path] = typer.Option(None, help="Folder holding real corpora (else stand-ins)."),
            recording: Optional[str] = typer.Option(None, help="Test recording to explain (default: the first)."),
            seed: int = typer.Option(0, help="Seed for the split and the model.")):
    """Fit a model on the first fold of the corpus's primary protocol and write its
    interpretability plots for a test recording."""
    reg = registry()
    check_profile(profile)
    check_name("model", model, reg.models)
    check_name("dataset", dataset, reg.datasets)
    check_name("task", task, [t.name for t in reg.dataset(dataset).tasks])
    if not hasattr(reg.model(model), "explain"):
        explainable = [n for n, c in reg.models.items() if hasattr(c, "explain")]
        raise CliError(f"model {model!r} has no explain() method (these do: {', '.join(sorted(explainable))})")
    from emobench.explain import explain_model

    for p in explain_model(model, dataset, task, out, profile=profile, data_root=data_root,
                           recording=recording, seed=seed):
        typer.echo(f"wrote {p}")


@app.command()
@command
def check(plugins: Optional[list[str]] = typer.Argument(None, help="Entry-point, distribution or plugin names (default: all)."),
          as_json: bool = typer.Option(False, "--json", help="Machine-readable report.")):
    """Conformance checks for plugins: metadata, stand-in round trip, leak-free folds,
    fit/predict contract. Exit 1 when a check fails."""
    from emobench.conformance import check_registry
    from emobench.plugins import _strict, load_registry, raise_failures

    # strict mode fails only on the packages being checked, not an unrelated broken one
    reg = load_registry(strict=False)
    if _strict():
        raise_failures(reg, plugins or None)
    known = {o.entry_point for o in reg.origins.values()} | {o.distribution for o in reg.origins.values()}
    known |= {n for _, n in reg.origins} | {o.entry_point for o, _ in reg.failures}
    for name in plugins or []:
        check_name("plugin", name, known)
    report = check_registry(reg, plugins or None)
    if as_json:
        typer.echo(json.dumps([vars(c) for c in report.checks], indent=1))
    else:
        for c in report.checks:
            mark = typer.style("ok  ", fg="green") if c.ok else typer.style("FAIL", fg="red")
            typer.echo(f"{mark} {c.plugin}: {c.name}" + (f" ({c.detail})" if c.detail and not c.ok else ""))
        typer.echo(f"{sum(c.ok for c in report.checks)} passed, {sum(not c.ok for c in report.checks)} failed")
    raise typer.Exit(0 if report.ok else EXIT_FAILED)
