"""Where a corpus's files come from: a real copy under the data root, or a
stand-in written from the synthetic world into the cache.

The data root is ``--data-root``, else ``$EMOBENCH_DATA``. It may be the
folder that holds corpora (``<root>/<Dataset.folder>``) or one corpus folder
itself (``<root>`` named ``Dataset.folder``); folder names match without regard
to case. A corpus found there is real unless it carries a stand-in marker.

When no data root is given, every corpus runs on its stand-in, written once
(atomically, so concurrent workers never see half a tree) under
``$EMOBENCH_CACHE/standins`` and reused by every later run. When a data root
*is* given but a corpus is not found in it, :func:`resolve` either raises
:class:`CorpusNotFoundError` (``strict=True``: the caller named that corpus
explicitly) or uses the stand-in and returns a loud ``Source.notice``.

``resolve(..., write=False)`` never writes: the stand-in's fingerprint is known
from its generator without writing it (``Source.written`` says whether it is on
disk), so a dry run or a no-op rerun can plan without touching the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from emobench.dataset import STANDIN_MARKER, Dataset, read_standin_marker


class DataRootError(FileNotFoundError):
    """The data root given by the user does not exist."""


class CorpusNotFoundError(DataRootError):
    """A data root was given, the user named this corpus, and it is not there."""


@dataclass(frozen=True)
class Source:
    dataset: str
    root: Path
    synthetic: bool
    fingerprint: str   # part of every content key: changes when the data changes
    marker: dict | None
    written: bool = True   # False: a stand-in that resolve(write=False) did not write yet
    notice: str = ""       # set when a data root was given but this corpus is not in it

    def ceilings(self, task: str) -> dict:
        return ((self.marker or {}).get("ceilings") or {}).get(task, {})


def cache_root() -> Path:
    return Path(os.environ.get("EMOBENCH_CACHE") or Path.home() / ".cache" / "emobench")


def data_root(explicit: str | os.PathLike | None = None) -> Path | None:
    value = explicit or os.environ.get("EMOBENCH_DATA")
    if not value:
        return None
    root = Path(value).expanduser()
    if not root.is_dir():
        origin = "--data-root" if explicit else "EMOBENCH_DATA"
        raise DataRootError(f"data root {str(root)!r} (from {origin}) does not exist or is not a folder")
    return root


def find_corpus(ds: Dataset, root: Path | None) -> Path | None:
    """The corpus folder under ``root``: ``root/<folder>``, or ``root`` itself when it
    is the corpus folder; names compare case-insensitively. None when absent."""
    if root is None:
        return None
    root = Path(root)
    if (root / ds.folder).is_dir():
        return root / ds.folder
    if root.name.lower() == ds.folder.lower() and root.is_dir():
        return root
    try:
        return next((c for c in sorted(root.iterdir())
                     if c.is_dir() and c.name.lower() == ds.folder.lower()), None)
    except OSError:
        return None


def resolve(ds: Dataset, root: Path | None, scale: str, seed: int = 0, *, write: bool = True,
            strict: bool = False) -> Source:
    """Where ``ds`` comes from: the real copy under ``root``, else its stand-in.

    ``strict``: a data root was given and the user asked for this corpus by name,
    so a missing copy is an error rather than a stand-in with a notice. A dataset
    built from other corpora (a cross-corpus pairing) resolves itself through its
    ``resolve_source`` method, with the same arguments."""
    compose = getattr(ds, "resolve_source", None)
    if callable(compose):
        return compose(root, scale, seed, write=write, strict=strict)
    path = find_corpus(ds, root)
    if path is not None:
        marker = read_standin_marker(path)
        notice = ""
        if marker is None and _listing(path) in _known_standins():
            # a stand-in copy whose marker was deleted: still synthetic, and said so
            marker = {"synthetic": True, "dataset": ds.name, "marker_missing": True}
            notice = (f"NOTICE: {str(path)!r} has no {STANDIN_MARKER} but is file for file a "
                      f"stand-in emobench wrote: its cells are marked SYNTHETIC")
        return Source(ds.name, path, marker is not None, _tree_fingerprint(path), marker,
                      notice=notice)
    notice = ""
    if root is not None:
        where = (f"looked for {str(Path(root) / ds.folder)!r}, or {str(root)!r} itself "
                 f"named {ds.folder!r}")
        if strict:
            raise CorpusNotFoundError(f"dataset {ds.name!r} was asked for by name but is not under "
                                      f"the data root {str(root)!r} ({where})")
        notice = (f"NOTICE: dataset {ds.name!r} not found under the data root {str(root)!r} "
                  f"({where}): its cells run on the SYNTHETIC stand-in")
    path = standin_path(ds, scale, seed)
    marker = read_standin_marker(path) if path.exists() else None
    if marker is None and write:
        marker = write_standin(ds, path, scale, seed)
    return Source(ds.name, path, True, standin_fingerprint(ds, scale, seed), marker,
                  written=marker is not None, notice=notice)


def standin_fingerprint(ds: Dataset, scale: str, seed: int = 0) -> str:
    """The stand-in's identity, known without writing it."""
    return f"standin:{ds.version}:{scale}:{seed}:{generator_version(ds)}"


def standin_path(ds: Dataset, scale: str, seed: int) -> Path:
    return (cache_root() / "standins" / f"{ds.name}-v{ds.version}-{scale}-seed{seed}-{generator_version(ds)}"
            / ds.folder)


@functools.cache
def generator_version(ds: Dataset) -> str:
    """Fingerprint of the code that writes a stand-in (the plugin's package and
    emobench.sim): a changed generator writes a fresh stand-in instead of
    reusing a stale one from the cache."""
    h = hashlib.sha256()
    module = Path(sys.modules[type(ds).__module__].__file__)
    # the sim package's files, found without importing it (it pulls in SciPy: seconds
    # that a rerun with nothing to write does not need)
    files = sorted((Path(__file__).parent / "sim").glob("*.py"))
    # a plugin package's own modules; a single-module plugin is that file alone,
    # not every sibling that happens to share its folder
    declared = getattr(ds, "standin_version", "")
    if declared:  # the plugin versions its generator: its other code does not change the data
        h.update(f"{type(ds).__module__}:{declared}".encode())
    else:
        files += sorted(module.parent.glob("*.py")) if module.name == "__init__.py" else [module]
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def write_standin(ds: Dataset, path: Path, scale: str, seed: int) -> dict:
    """Write into a temporary sibling, then rename: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_writes(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=".writing-", dir=path.parent)) / ds.folder
    try:
        meta = ds.write_standin(tmp, scale=scale, seed=seed) or {}
        meta = {"synthetic": True, "dataset": ds.name, "version": ds.version, "scale": scale,
                "seed": seed, "generator": f"{type(ds).__module__}:{generator_version(ds)}",
                **meta}
        _remember_standin(tmp)
        (tmp / STANDIN_MARKER).write_text(json.dumps(meta, indent=1, sort_keys=True, default=float))
        try:
            os.replace(tmp, path)
        except OSError:  # another process finished first: keep theirs
            if read_standin_marker(path) is None:
                raise
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
    return read_standin_marker(path)


def _remove_abandoned_writes(folder: Path, older_than_s: float = 6 * 3600) -> None:
    """A writer killed with -9 cannot clean up its ``.writing-*`` folder; a later
    writer removes those old enough that no live writer can still own them."""
    import time

    for tmp in folder.glob(".writing-*"):
        try:
            if time.time() - tmp.stat().st_mtime > older_than_s:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def _tree_fingerprint(path: Path) -> str:
    """Cheap fingerprint of a real tree: relative paths, sizes and mtimes."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            st = p.stat()
            h.update(f"{p.relative_to(path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "real:" + h.hexdigest()[:16]


def _listing(path: Path) -> str:
    """Relative paths and sizes of a tree (its marker excluded): equal for a copy."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if f != STANDIN_MARKER and p.is_file():
                h.update(f"{p.relative_to(path)}\0{p.stat().st_size}\n".encode())
    return h.hexdigest()[:24]


def _signatures_file() -> Path:
    return cache_root() / "standins" / "listings.txt"


def _known_standins() -> set[str]:
    try:
        return set(_signatures_file().read_text().split())
    except OSError:
        return set()


def _remember_standin(tree: Path) -> None:
    """Record a written stand-in's listing, so a copy of it without its marker is
    recognised as synthetic (docs/plugins.md, the stand-in marker)."""
    try:
        f = _signatures_file()
        f.parent.mkdir(parents=True, exist_ok=True)
        with open(f, "a") as fh:
            fh.write(_listing(tree) + "\n")
    except OSError:  # a read-only cache only loses the recognition of copies
        pass
