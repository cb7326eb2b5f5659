"""What every ``emobench`` command shares: one-line errors with exit codes,
name checking with suggestions, verbosity flags, the plugin registry.

Exit codes follow pytest and lm-evaluation-harness: 0 ok, 1 the work ran but
some of it failed (folds, doctor problems, conformance checks), 2 usage errors
(unknown names, bad files, a store that does not exist), 130 interrupted.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
from fnmatch import fnmatch
from typing import Callable, Iterable

import typer

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
GLOB_CHARS = set("*?[")
log = logging.getLogger("emobench")


class CliError(Exception):
    """A user error: printed as one line ``emobench: error: ...``, exit ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def echo_error(message: str) -> None:
    typer.secho(f"emobench: error: {message}", err=True, fg="red")


def warn(message: str) -> None:
    typer.secho(f"emobench: warning: {message}", err=True, fg="yellow")


def suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or `` (known: a, b)`` for an unknown ``name``."""
    known = sorted(set(known))
    probe = "".join(ch for ch in name if ch not in GLOB_CHARS) or name
    close = difflib.get_close_matches(probe, known, n=3, cutoff=0.6)
    if not close and probe:  # a glob's fixed part may be a prefix: 'tiny-*' -> 'tiny-emotionet'
        close = difflib.get_close_matches(probe, [k[:len(probe)] for k in known], n=3, cutoff=0.7)
        close = sorted({k for k in known for c in close if k.startswith(c)})[:3]
    if close:
        quoted = [repr(c) for c in close]
        either = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        return f" (did you mean {either}?)"
    return f" (known: {', '.join(known)})" if known else " (none is registered)"


def check_name(kind: str, name: str | None, known: Iterable[str], flag: str | None = None) -> None:
    """Raise CliError unless ``name`` is known, or, for a glob, matches something."""
    if name is None:
        return
    known = list(known)
    if any(ch in GLOB_CHARS for ch in name):
        if not any(fnmatch(k, name) for k in known):
            where = f" ({flag})" if flag else ""
            raise CliError(f"no {kind} matches the pattern {name!r}{where}" + suggest(name, known))
        return
    if name not in known:
        raise CliError(f"unknown {kind} {name!r}" + suggest(name, known))


def check_profile(name: str) -> None:
    from emobench.profiles import PROFILES

    check_name("profile", name, PROFILES)


def registry(deep: bool = True):
    """The plugin registry; plugins that failed to load are reported as warnings.
    ``deep=False``: metadata checks only (no Optuna import), for listings."""
    from emobench.plugins import registry as load

    reg = load(deep=deep)
    for origin, reason in reg.failures:
        warn(f"plugin {origin} not loaded: {reason}")
    return reg


def set_verbosity(verbose: int = 0, quiet: bool = False) -> int:
    """Log level of the ``emobench`` loggers from -q / -v / -vv; returns the level."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO)[min(verbose, 1)]
    if verbose >= 2:
        level = logging.DEBUG
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(level)
    return level


def verbosity() -> tuple[int, bool]:
    """(verbose count, quiet) as set by the last command; read by commands that print more."""
    level = log.level or logging.WARNING
    return (2 if level <= logging.DEBUG else 1 if level <= logging.INFO else 0), level >= logging.ERROR


GLOBAL_FLAGS = {"verbose": 0, "quiet": False}

_VERBOSE = inspect.Parameter(
    "verbose", inspect.Parameter.KEYWORD_ONLY, annotation=int,
    default=typer.Option(0, "--verbose", "-v", count=True, help="More output (-vv: debug log)."))
_QUIET = inspect.Parameter(
    "quiet", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
    default=typer.Option(False, "--quiet", "-q", help="Only errors and the final result."))


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are a user's mistake, not a bug: one line, exit 2."""
    errors: list[type[BaseException]] = [CliError]
    from emobench import datasource

    errors.append(datasource.DataRootError)
    from emobench.layouts import DataError
    from emobench.plugins import PluginError

    errors += [PluginError, DataError]
    try:
        from emobench import store

        if hasattr(store, "StoreError"):
            errors.append(store.StoreError)
    except ImportError:
        pass
    return tuple(errors)


def command(fn: Callable) -> Callable:
    """Wrap a command: add -q/-v, turn user errors into one line and exit 2,
    KeyboardInterrupt into exit 130. A command that already takes ``quiet`` or
    ``verbose`` keeps its own parameter (and still gets the other)."""
    sig = inspect.signature(fn)
    own = set(sig.parameters)
    extra = [p for p in (_VERBOSE, _QUIET) if p.name not in own]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        verbose = kwargs.get("verbose", 0) if "verbose" in own else kwargs.pop("verbose", 0)
        quiet = kwargs.get("quiet", False) if "quiet" in own else kwargs.pop("quiet", False)
        # flags before the command name (emobench -v run ...) count as well
        set_verbosity(max(verbose or 0, GLOBAL_FLAGS["verbose"]), bool(quiet) or GLOBAL_FLAGS["quiet"])
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            echo_error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED)
        except Exception as exc:
            if isinstance(exc, _user_errors()):
                echo_error(str(exc))
                raise typer.Exit(getattr(exc, "code", EXIT_USAGE))
            raise

    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *extra])
    return wrapper
