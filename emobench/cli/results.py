"""``emobench leaderboard``, ``export`` and ``clean``: reading and removing
what runs wrote. A store that does not exist is an error (exit 2), never an
empty board."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Optional

import typer

from emobench.cli.base import app
from emobench.cli.common import CliError, command

CACHE_PARTS = ("standins", "arrays")
STORE_HELP = "Results store URL or SQLite file (else $EMOBENCH_STORE, else the project's .emobench/results.db)."


@app.command()
@command
def leaderboard(store: Optional[str] = typer.Option(None, help=STORE_HELP),
                out: Optional[Path] = typer.Option(None, help="Output folder (default: leaderboard/ of the project folder)."),
                n_boot: int = typer.Option(1000, help="Resamples of randomised tests (exact below 17 subjects)."),
                seed: int = typer.Option(0, help="Seed of the randomised tests."),
                all_versions: bool = typer.Option(False, "--all-versions",
                                                  help="Show every identity of a model, not only the newest.")):
    """Write the Markdown leaderboard and plots from the results store."""
    from emobench import leaderboard as lb
    from emobench.cli import locations
    from emobench.store import Store

    url = locations.existing_store(store)
    index = lb.write(Store(url), locations.leaderboard_dir(out), n_boot=n_boot, seed=seed,
                     all_versions=all_versions)
    typer.echo(f"wrote {index}")


@app.command()
@command
def export(store: Optional[str] = typer.Option(None, help=STORE_HELP),
           out: Optional[Path] = typer.Option(None, help="JSON file (default: stdout)."),
           failed: bool = typer.Option(False, help="Also export failed folds."),
           predictions: bool = typer.Option(True, help="Include each row's test predictions "
                                            "(y_true, y_pred, subject, item, seed)."),
           prediction_files: Optional[Path] = typer.Option(
               None, "--predictions", help="Instead of JSON, write every entry's test predictions "
               "into this folder in the layout `emobench score` reads (docs/scoring.md).")):
    """Export every result with its identity, metrics, best hyper-parameters, provenance and
    test predictions as JSON (scripts/recompute_from_export.py recomputes the metrics)."""
    from emobench.cli import locations
    from emobench.export import export_predictions, export_rows
    from emobench.store import Store

    if prediction_files is not None:
        from emobench.cli.common import registry

        index = export_predictions(Store(locations.existing_store(store)), prediction_files,
                                   registry=registry())
        done = [e for e in index if "path" in e]
        typer.echo(f"wrote {len(done)} prediction submission(s) to {prediction_files} "
                   f"(index.json lists them with their `emobench score` commands)")
        for e in index:
            if "skipped" in e:
                typer.echo(f"  skipped {e['model']} on {e['dataset']}/{e['task']}: {e['skipped']}")
        return
    rows = export_rows(Store(locations.existing_store(store)), failed=failed, predictions=predictions)
    text = json.dumps(rows, indent=1, default=str)
    if out:
        out.write_text(text)
        typer.echo(f"wrote {len(rows)} rows to {out}")
    else:
        typer.echo(text)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def store_files(url: str) -> list[Path]:
    """The files of a SQLite results store: the database, its journal files and
    the Optuna database the runner keeps beside it."""
    from emobench.cli.locations import sqlite_path

    path = sqlite_path(url)
    if path is None:
        raise CliError(f"clean removes SQLite stores only; {url} is a server database: drop it there")
    names = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
             path.with_name(path.name + "-journal"), path.with_name("optuna.db"),
             path.with_name("optuna.db-wal"), path.with_name("optuna.db-shm")]
    return [p for p in names if p.exists()]


def cache_entries(root: Path) -> list[Path]:
    """What emobench wrote under the cache root (``standins/``: corpus stand-ins;
    ``arrays/``: decoded media and features). Only these are removed, never the
    root itself, which may be a folder the user shares with other things."""
    return [root / name for name in CACHE_PARTS if (root / name).exists()]


@app.command()
@command
def clean(cache: bool = typer.Option(False, "--cache", help="Remove the cache: stand-ins and decoded media."),
          store_: bool = typer.Option(False, "--store", help="Remove the results store (and its Optuna database)."),
          store_url: Optional[str] = typer.Option(None, "--store-url", help=STORE_HELP),
          yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")):
    """Remove the cache and/or the results store (both when neither flag is given),
    after showing what goes and asking."""
    from emobench.cli import locations

    if not cache and not store_:
        cache = store_ = True
    targets: list[Path] = []
    if store_:
        url, _ = locations.store_url(store_url)
        targets += store_files(url)
    if cache:
        targets += cache_entries(locations.cache_dir())
    if not targets:
        typer.echo("nothing to remove")
        return
    for t in targets:
        typer.echo(f"  {t}  ({_human(_size(t))})")
    if not yes and not typer.confirm(f"remove these {len(targets)} item(s)?", default=False):
        typer.echo("nothing removed")
        raise typer.Exit(1)
    for t in targets:
        if t.is_dir() and not t.is_symlink():
            shutil.rmtree(t)
        else:
            t.unlink(missing_ok=True)
    typer.echo(f"removed {len(targets)} item(s)")
