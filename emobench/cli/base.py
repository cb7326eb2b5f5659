"""The typer application every command module registers on.

Nothing heavy is imported here or in the command modules at import time:
``emobench --help`` only needs typer. Each command imports what it uses
(scikit-learn, torch, SQLAlchemy, optuna...) inside its function.
"""

from __future__ import annotations

from typing import Optional

import typer

from emobench.cli.common import GLOBAL_FLAGS

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="emobench: one harness for emotion and pain recognition benchmarks.")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("emobench")
    except PackageNotFoundError:  # running from a source tree that is not installed
        import emobench

        return emobench.__version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"emobench {version()}")
        raise typer.Exit(0)


@app.callback()
def _root(show_version: Optional[bool] = typer.Option(
              None, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
          verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                      help="More output for the command that follows (-vv: debug log)."),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors and the final result.")):
    """emobench: one harness for emotion and pain recognition benchmarks.

    Exit codes: 0 ok, 1 some folds or checks failed, 2 usage error, 130 interrupted.
    """
    GLOBAL_FLAGS.update(verbose=verbose, quiet=quiet)
