"""Where results and outputs go, found the way git finds ``.git``.

The results store is, in this order:

1. ``--store URL`` on the command line;
2. ``$EMOBENCH_STORE`` (a SQLAlchemy URL, or a path to a SQLite file);
3. ``<project>/.emobench/results.db``, where ``<project>`` is the nearest folder
   at or above the working directory that holds an ``.emobench/`` folder;
4. ``./.emobench/results.db`` (created by the first run).

The leaderboard folder is ``--out``, else ``<project>/leaderboard`` (the
working directory when there is no project folder). The cache (stand-ins and
decoded media) is ``$EMOBENCH_CACHE``, else ``~/.cache/emobench``.
"""

from __future__ import annotations

import os
from pathlib import Path

from emobench.cli.common import CliError

PROJECT_DIR = ".emobench"


def project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: cwd) holding ``.emobench/``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_DIR).is_dir():
            return folder
    return None


def _as_url(value: str) -> str:
    return value if "://" in value else "sqlite:///" + str(Path(value).expanduser())


def store_url(explicit: str | None = None) -> tuple[str, str]:
    """(URL, where it came from) of the results store."""
    if explicit:
        return _as_url(explicit), "--store"
    if os.environ.get("EMOBENCH_STORE"):
        return _as_url(os.environ["EMOBENCH_STORE"]), "EMOBENCH_STORE"
    root = project_root()
    if root is not None:
        return "sqlite:///" + str(root / PROJECT_DIR / "results.db"), f"project folder {root}"
    return "sqlite:///" + str(Path(PROJECT_DIR) / "results.db"), "default"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def existing_store(explicit: str | None = None) -> str:
    """The store URL for commands that read results: an error when it does not exist."""
    url, origin = store_url(explicit)
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise CliError(f"no results store at {path} (from {origin}); run `emobench run` first "
                       "or point --store / EMOBENCH_STORE at one")
    return url


def leaderboard_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    return (project_root() or Path.cwd()) / "leaderboard"


def cache_dir() -> Path:
    from emobench.datasource import cache_root

    return cache_root()
