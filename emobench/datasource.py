"""Where a corpus's files come from: a real copy under the data root, or a
stand-in written from the synthetic world into the cache.

The data root is ``--data-root``, else ``$EMOBENCH_DATA``. A corpus is real when
``<root>/<Dataset.folder>`` exists and carries no stand-in marker. Otherwise
its stand-in is written once (atomically, so concurrent workers never see half
a tree) under ``$EMOBENCH_CACHE/standins`` and reused by every later run.
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


@dataclass(frozen=True)
class Source:
    dataset: str
    root: Path
    synthetic: bool
    fingerprint: str   # part of every content key: changes when the data changes
    marker: dict | None

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


def resolve(ds: Dataset, root: Path | None, scale: str, seed: int = 0) -> Source:
    if root is not None and (root / ds.folder).is_dir():
        path = root / ds.folder
        marker = read_standin_marker(path)
        return Source(ds.name, path, marker is not None, _tree_fingerprint(path), marker)
    path = standin_path(ds, scale, seed)
    marker = read_standin_marker(path) if path.exists() else None
    if marker is None:
        marker = write_standin(ds, path, scale, seed)
    return Source(ds.name, path, True, f"standin:{ds.version}:{scale}:{seed}:{generator_version(ds)}", marker)


def standin_path(ds: Dataset, scale: str, seed: int) -> Path:
    return (cache_root() / "standins" / f"{ds.name}-v{ds.version}-{scale}-seed{seed}-{generator_version(ds)}"
            / ds.folder)


@functools.cache
def generator_version(ds: Dataset) -> str:
    """Fingerprint of the code that writes a stand-in (the plugin's package and
    emobench.sim): a changed generator writes a fresh stand-in instead of
    reusing a stale one from the cache."""
    import emobench.sim

    h = hashlib.sha256()
    module = sys.modules[type(ds).__module__]
    roots = [Path(emobench.sim.__file__).parent, Path(module.__file__).parent]
    for root in roots:
        for f in sorted(root.glob("*.py")):
            h.update(f.read_bytes())
    return h.hexdigest()[:10]


def write_standin(ds: Dataset, path: Path, scale: str, seed: int) -> dict:
    """Write into a temporary sibling, then rename: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".writing-", dir=path.parent)) / ds.folder
    try:
        meta = ds.write_standin(tmp, scale=scale, seed=seed) or {}
        meta = {"synthetic": True, "dataset": ds.name, "version": ds.version, "scale": scale,
                "seed": seed, **meta}
        (tmp / STANDIN_MARKER).write_text(json.dumps(meta, indent=1, sort_keys=True, default=float))
        try:
            os.replace(tmp, path)
        except OSError:  # another process finished first: keep theirs
            if read_standin_marker(path) is None:
                raise
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
    return read_standin_marker(path)


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
