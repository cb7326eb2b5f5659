"""``emobench score``: a prediction file (challenge style) checked against a
protocol's test split, scored like emobench's own rows and stored as an
external leaderboard entry (emobench.score; layouts in docs/scoring.md)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional

import typer

from emobench.cli.base import app
from emobench.cli.common import CliError, check_name, check_profile, command, registry

STORE_HELP = "Results store URL or SQLite file (else $EMOBENCH_STORE, else the project's .emobench/results.db)."


@app.command()
@command
def score(predictions: List[Path] = typer.Argument(..., help="Prediction file or folder; several "
                                                   "are the training seeds of one submission."),
          dataset: str = typer.Option(..., help="Dataset name."),
          task: str = typer.Option(..., help="Task of the dataset."),
          protocol: str = typer.Option(..., help="Protocol whose test split is scored."),
          name: Optional[str] = typer.Option(None, help="Submission name on the leaderboard "
                                             "(shown as external:NAME; default: the file's sha256)."),
          profile: str = typer.Option("default", help="Leaderboard profile the entry ranks in "
                                      "(and the stand-in scale when no real copy is found)."),
          data_root: Optional[str] = typer.Option(None, "--data-root", help="Folder holding the real "
                                                  "corpora (else $EMOBENCH_DATA; else the stand-in)."),
          store: Optional[str] = typer.Option(None, help=STORE_HELP),
          partial: bool = typer.Option(False, "--partial", help="Allow whole test folds to be "
                                       "absent (the entry is marked partial).")):
    """Score predictions under a protocol and store them as an external leaderboard entry."""
    from emobench import score as S
    from emobench.cli import locations
    from emobench.stats import format_p

    reg = registry()
    check_name("dataset", dataset, reg.datasets)
    ds = reg.dataset(dataset)
    check_name("task", task, [t.name for t in ds.tasks])
    check_name("protocol", protocol, reg.protocols)
    check_profile(profile)
    url, _ = locations.store_url(store)
    try:
        res = S.score_predictions(predictions, dataset=dataset, task=task, protocol=protocol,
                                  name=name, profile=profile, data_root=data_root, store_url=url,
                                  partial=partial, reg=reg)
    except S.PredictionFileError:
        raise  # a user error with file and line: one line, exit 2
    except ValueError as exc:
        raise CliError(str(exc)) from None
    from emobench.store import Store

    st = Store(url)
    typer.echo(f"{res.model}: {len(res.folds)} of {res.n_folds} test folds, "
               f"{res.stored} row(s) stored, sha256 {res.sha256[0][:16]}")
    for table, e in S.ranked(st, res):
        ci = (f"[{e.ci.low:.3f}, {e.ci.high:.3f}]" if e.ci.has_interval else f"({e.ci.reason})")
        rank = 1 + table.entries.index(e)
        vs = ("best" if e.is_best else f"{e.diff_vs_best:+.3f} vs best, p {format_p(e.p_vs_best, e.p_floor)}, "
              f"Holm p {format_p(e.p_holm)}" if e.compared else (e.note or "not compared"))
        score_txt = "n/a" if not math.isfinite(e.score) else f"{e.score:.3f}"
        typer.echo(f"  {table.title}: {table.metric} {score_txt} {ci}, k = {e.k}, "
                   f"rank {rank} of {len(table.entries)}, {vs}")
