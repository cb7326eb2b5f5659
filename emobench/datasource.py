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

import ast
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
# stand-in writers find the root being written by this prefix (the face-box sidecar)
from emobench.media.standin_faces import WRITING_PREFIX


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


#: The simulator's package folder, read as source text only (importing it pulls in
#: SciPy: seconds that a rerun with nothing to write does not need).
SIM_DIR = Path(__file__).parent / "sim"
_SIM = "emobench.sim"


@functools.cache
def generator_version(ds: Dataset) -> str:
    """Fingerprint of what determines a stand-in's data, so a changed generator
    writes a fresh stand-in instead of reusing a stale one from the cache.

    A plugin that declares ``standin_version`` versions its own generator: the
    fingerprint is that version plus the ``emobench.sim`` modules its code
    imports (transitively within ``emobench.sim``, found statically with
    :mod:`ast`), each hashed over its syntax tree without docstrings, so comments,
    docstrings and sim modules the corpus does not use leave it unchanged. A
    plugin without ``standin_version`` is fingerprinted by the bytes of its own
    modules and of every sim module, as it gives no other statement of what its
    data depend on."""
    files = _plugin_files(ds)
    declared = getattr(ds, "standin_version", "")
    # Reading the syntax trees of every plugin and sim module takes about a second
    # per run; a rerun whose files are unchanged (path, size, mtime) reads the
    # fingerprint back from the cache folder instead.
    stat_key = _stat_key(type(ds).__module__, declared, files + sorted(SIM_DIR.glob("*.py")))
    known = _read_fingerprints()
    if stat_key in known:
        return known[stat_key]
    value = _generator_version(files, type(ds).__module__, declared)
    known[stat_key] = value
    _write_fingerprints(known)
    return value


def _stat_key(module: str, declared: str, files) -> str:
    h = hashlib.sha256(f"{module}:{declared}".encode())
    for f in files:
        st = f.stat()
        h.update(f"\0{f}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _fingerprints_file() -> Path:
    return cache_root() / "standin-fingerprints.json"


def _read_fingerprints() -> dict:
    try:
        return json.loads(_fingerprints_file().read_text())
    except (OSError, ValueError):
        return {}


def _write_fingerprints(known: dict) -> None:
    path = _fingerprints_file()
    if not path.parent.is_dir():
        return  # no cache folder yet (a dry run creates none): the next run parses again
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(known, indent=0))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache costs the parse next time, nothing else


def _generator_version(files: list[Path], module: str, declared: str) -> str:
    h = hashlib.sha256()
    if declared:
        h.update(f"{module}:{declared}".encode())
        for name in sorted(sim_modules_used(files)):
            h.update(f"\0{name}\0".encode() + _code_hash(SIM_DIR / f"{name}.py").encode())
    else:
        for f in sorted(SIM_DIR.glob("*.py")) + files:
            h.update(f.read_bytes())
    return h.hexdigest()[:10]


def _plugin_files(ds: Dataset) -> list[Path]:
    """A plugin package's own modules; a single-module plugin is that file alone,
    not every sibling that happens to share its folder."""
    module = Path(sys.modules[type(ds).__module__].__file__)
    return sorted(module.parent.glob("*.py")) if module.name == "__init__.py" else [module]


def _parse(path: Path) -> ast.Module:
    return _parse_source(path.read_bytes(), str(path))


@functools.lru_cache(maxsize=256)
def _parse_source(source: bytes, filename: str) -> ast.Module:
    return ast.parse(source, filename=filename)


@functools.lru_cache(maxsize=256)
def _code_hash_of(source: bytes, filename: str) -> str:
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def _code_hash(path: Path) -> str:
    """Hash of a module's syntax tree with its docstrings removed: comments,
    docstrings and layout do not count, code does."""
    return _code_hash_of(path.read_bytes(), str(path))


def _sim_imports(path: Path) -> set[str]:
    """The sim modules a file imports: ``{"world", "rng", ...}``; ``"__init__"``
    for a name defined in the package's ``__init__`` itself, and ``"*"`` for the
    whole package (``import emobench.sim`` or ``from emobench import sim``: any
    attribute may be used later). Relative imports count inside the sim package."""
    return set(_sim_imports_of(path.read_bytes(), str(path), path.parent == SIM_DIR))


@functools.lru_cache(maxsize=256)
def _sim_imports_of(source: bytes, filename: str, in_sim: bool) -> frozenset[str]:
    tree = _parse_source(source, filename)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == _SIM:
                    found.add("*")
                elif a.name.startswith(_SIM + "."):
                    found.add(a.name.split(".")[2])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not in_sim or node.level > 1:
                    continue
                mod = node.module or ""
            elif node.module == "emobench":
                if any(a.name == "sim" for a in node.names):
                    found.add("*")
                continue
            elif node.module == _SIM or (node.module or "").startswith(_SIM + "."):
                mod = node.module[len(_SIM) + 1:]
            else:
                continue
            if mod:
                found.add(mod.split(".")[0])
            else:  # from emobench.sim import a, b (or from . import a inside sim)
                found.update(f"@{a.name}" for a in node.names)
    return frozenset(found)


def _init_exports() -> dict[str, str]:
    """Name -> defining sim module of the names ``emobench/sim/__init__.py`` re-exports."""
    tree = _parse(SIM_DIR / "__init__.py")
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for a in node.names:
                out[a.asname or a.name] = node.module.split(".")[0]
    return out


def sim_modules_used(files) -> set[str]:
    """The ``emobench.sim`` modules (file stems) the given source files import,
    closed over the imports among sim modules; found by reading the sources,
    never by importing them."""
    available = {p.stem for p in SIM_DIR.glob("*.py")}
    exports = _init_exports()

    def resolve(names: set[str]) -> set[str]:
        out = set()
        for n in names:
            if n == "*":
                out |= available
            elif n.startswith("@"):
                name = n[1:]
                out.add(name if name in available else exports.get(name, "__init__"))
            elif n in available:
                out.add(n)
        return out

    todo = set()
    for f in files:
        todo |= resolve(_sim_imports(Path(f)))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in available:
            continue
        seen.add(name)
        todo |= resolve(_sim_imports(SIM_DIR / f"{name}.py")) - seen
    return seen


def write_standin(ds: Dataset, path: Path, scale: str, seed: int) -> dict:
    """Write into a temporary sibling, then rename: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_writes(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=WRITING_PREFIX, dir=path.parent)) / ds.folder
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

    for tmp in folder.glob(f"{WRITING_PREFIX}*"):
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
