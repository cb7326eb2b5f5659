"""Content-keyed on-disk cache of numpy arrays.

Every corpus plugin and preprocessing step stores its expensive results here,
keyed by :func:`content_key` over everything the result depends on (input
files, parameters, code version). A second run with the same inputs then
reads the arrays back instead of decoding video or recomputing features.

Storage layout: ``<root>/<key[:2]>/<key>.<sha256-of-file>.npz``. The digest in
the file name lets a reader check the whole file before trusting it, so a
corrupted or partially written entry is detected, deleted and recomputed.
Entries are written to a temporary file in the same folder and moved into place
with :func:`os.replace`, which is atomic on POSIX and Windows: concurrent
processes never produce a half-written entry, and :meth:`ArrayCache.get_or_compute`
lets only one of them compute a key while the others wait for its entry. Arrays are stored without pickle (``allow_pickle=False``).

Each process keeps the entries it read last in memory (:class:`_Recent`, at most
``EMOBENCH_MEMORY_CACHE_MB``, default 1024 MB), keyed by the entry's file name and
so by its digest: a worker runs the seeds and folds of one cell one after the
other, and each used to read, check and decode every video again. A reader gets
its own copy, as from the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import io
import json
import os
import re
import tempfile
import threading
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["content_key", "ArrayCache", "CacheError", "default_cache", "default_cache_root"]

_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,127}")
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
# A fixed zip timestamp makes the file bytes depend on the arrays only, so two
# processes that compute the same result write byte-identical entries.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class _Recent:
    """The arrays of the entries this process read last, up to a byte budget (LRU)."""

    def __init__(self):
        from collections import OrderedDict

        self.entries: "OrderedDict[str, dict]" = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    @staticmethod
    def budget() -> int:
        try:
            return int(float(os.environ.get("EMOBENCH_MEMORY_CACHE_MB", "1024")) * 2 ** 20)
        except ValueError:
            return 2 ** 30

    def get(self, name: str) -> dict | None:
        with self.lock:
            found = self.entries.get(name)
            if found is not None:
                self.entries.move_to_end(name)
            return found

    def put(self, name: str, arrays: dict) -> None:
        size = sum(a.nbytes for a in arrays.values())
        limit = self.budget()
        if size > limit // 4:  # one huge entry would evict everything else
            return
        with self.lock:
            self.entries[name] = arrays
            self.bytes += size
            while self.bytes > limit and self.entries:
                _, old = self.entries.popitem(last=False)
                self.bytes -= sum(a.nbytes for a in old.values())


_RECENT = _Recent()
# How long a process waits for another that computes the same entry before
# computing it itself (a stuck holder must not stall a run).
LOCK_WAIT_S = 900.0


class CacheError(ValueError):
    """Bad input to the cache (invalid key, array name or array dtype)."""


# --------------------------------------------------------------------------- keys


def content_key(*parts: Any) -> str:
    """Stable sha256 hex digest over ``parts``.

    Accepted parts, nested freely: ``None``, bool, int, float, str, bytes,
    lists/tuples, dicts (order-independent), sets, enums, dataclass instances
    (hashed by qualified class name and fields), numpy arrays and scalars
    (hashed by dtype, shape and raw bytes) and :class:`pathlib.Path` (hashed by
    resolved path, size and ``st_mtime_ns``, so editing or replacing the file
    changes the key without reading its content). A ``Path`` that does not exist
    raises ``FileNotFoundError``; any other type raises ``TypeError``.

    The encoding is type-tagged and length-prefixed, so ``("ab", "c")`` and
    ``("a", "bc")`` or ``1`` and ``"1"`` give different keys.
    """
    h = hashlib.sha256(b"emobench.content_key.v1")
    _feed(h, parts)
    return h.hexdigest()


def _feed(h: "hashlib._Hash", obj: Any) -> None:
    def tag(t: bytes, payload: bytes) -> None:
        h.update(t)
        h.update(len(payload).to_bytes(8, "little"))
        h.update(payload)

    if obj is None:
        tag(b"N", b"")
    elif isinstance(obj, bool):  # before int: bool is an int subclass
        tag(b"B", b"1" if obj else b"0")
    elif isinstance(obj, enum.Enum):
        tag(b"E", f"{type(obj).__module__}.{type(obj).__qualname__}".encode())
        _feed(h, obj.value)
    elif isinstance(obj, int):
        tag(b"I", str(obj).encode())
    elif isinstance(obj, float):
        tag(b"F", json.dumps(obj).encode())  # repr-exact; NaN/inf allowed
    elif isinstance(obj, str):
        tag(b"S", obj.encode("utf-8"))
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        tag(b"Y", bytes(obj))
    elif isinstance(obj, Path):
        resolved = obj.expanduser().resolve()
        try:
            st = resolved.stat()
        except FileNotFoundError:
            raise FileNotFoundError(f"content_key: file not found: {obj}") from None
        tag(b"P", f"{resolved}\0{st.st_size}\0{st.st_mtime_ns}".encode("utf-8"))
    elif isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError("content_key: object arrays cannot be hashed stably")
        arr = np.ascontiguousarray(obj)
        tag(b"A", f"{arr.dtype.str}{arr.shape}".encode())
        tag(b"a", arr.tobytes())
    elif isinstance(obj, np.generic):
        _feed(h, np.asarray(obj))
    elif isinstance(obj, (list, tuple)):
        tag(b"L" if isinstance(obj, list) else b"T", str(len(obj)).encode())
        for item in obj:
            _feed(h, item)
    elif isinstance(obj, Mapping):
        # Keys are hashed through _feed too, then sorted by their own digest so
        # the insertion order does not matter even for mixed key types.
        items = []
        for k, v in obj.items():
            kh = hashlib.sha256()
            _feed(kh, k)
            items.append((kh.digest(), k, v))
        items.sort(key=lambda kv: kv[0])
        tag(b"D", str(len(items)).encode())
        for _, k, v in items:
            _feed(h, k)
            _feed(h, v)
    elif isinstance(obj, (set, frozenset)):
        digests = []
        for item in obj:
            ih = hashlib.sha256()
            _feed(ih, item)
            digests.append(ih.digest())
        tag(b"Z", b"".join(sorted(digests)))
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        tag(b"C", f"{type(obj).__module__}.{type(obj).__qualname__}".encode())
        _feed(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    else:
        raise TypeError(
            f"content_key: cannot hash a {type(obj).__module__}.{type(obj).__qualname__}; "
            "pass JSON-able values, bytes, numpy arrays, Paths or dataclasses"
        )


# -------------------------------------------------------------------- npz I/O


def _encode_npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(arrays[name]), allow_pickle=False)
    return buf.getvalue()


def _decode_npz(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


# ----------------------------------------------------------------------- cache


class ArrayCache:
    """A folder of ``.npz`` entries keyed by :func:`content_key` digests.

    Counters (process-local, per instance) are returned by :meth:`stats`:
    ``hits`` and ``misses`` of :meth:`get`, ``rebuilt`` = corrupted entries that
    were detected and deleted (and recomputed by :meth:`get_or_compute`), and
    ``writes`` = entries stored by :meth:`put`.
    """

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser()
        self._lock = threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "rebuilt": 0, "writes": 0}
        self._warned = False  # a failed write is reported once per cache

    def __repr__(self) -> str:
        return f"ArrayCache({str(self.root)!r})"

    # ---- counters
    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset_stats(self) -> None:
        with self._lock:
            for k in self._counts:
                self._counts[k] = 0

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    # ---- paths
    def _folder(self, key: str) -> Path:
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            raise CacheError(
                f"cache key {key!r} is not a valid key: use content_key(...) or 1-128 "
                "characters of letters, digits, '_' and '-'"
            )
        return self.root / key[:2]

    def entries(self, key: str) -> list[Path]:
        """Files currently stored for ``key`` (normally zero or one)."""
        folder = self._folder(key)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob(f"{key}.*.npz") if p.name.count(".") == 2)

    def __contains__(self, key: str) -> bool:
        return bool(self.entries(key))

    # ---- read
    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``, or ``None``.

        Each candidate file is checked against the sha256 in its name before it
        is parsed; a mismatch, truncated file or unreadable zip is deleted and
        counted in ``rebuilt``, and the lookup counts as a miss.
        """
        for path in self.entries(key):
            recent = _RECENT.get(str(path))  # the file name holds its digest
            if recent is not None:
                self._count("hits")
                return {name: a.copy() for name, a in recent.items()}
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # removed by another process meanwhile
                continue
            expected = path.name.split(".")[1]
            arrays = None
            if hashlib.sha256(data).hexdigest() == expected:
                try:
                    arrays = _decode_npz(data)
                except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError):
                    arrays = None
            if arrays is None:
                self._discard(path)
                continue
            self._count("hits")
            _RECENT.put(str(path), {name: a.copy() for name, a in arrays.items()})
            return arrays
        self._count("misses")
        return None

    def _discard(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        self._count("rebuilt")

    # ---- write
    def put(self, key: str, arrays: Mapping[str, np.ndarray]) -> Path:
        """Store ``arrays`` under ``key`` atomically; returns the entry's path.

        Names must be identifiers-like strings; object arrays are refused
        because they would need pickle.
        """
        folder = self._folder(key)
        if not isinstance(arrays, Mapping) or not arrays:
            raise CacheError(f"cache put {key}: arrays must be a non-empty dict of name -> ndarray")
        clean: dict[str, np.ndarray] = {}
        for name, value in arrays.items():
            if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
                raise CacheError(f"cache put {key}: invalid array name {name!r}")
            arr = np.asanyarray(value)
            if arr.dtype.hasobject:
                raise CacheError(
                    f"cache put {key}: array {name!r} has dtype object, which needs pickle; "
                    "convert it to a numeric or fixed-width string dtype"
                )
            clean[name] = arr
        data = _encode_npz(clean)
        digest = hashlib.sha256(data).hexdigest()
        final = folder / f"{key}.{digest}.npz"
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        # Older results for the same key (a changed computation) are dropped;
        # if two processes race here the worst case is a later miss.
        for other in self.entries(key):
            if other != final:
                try:
                    other.unlink()
                except FileNotFoundError:
                    pass
        self._count("writes")
        return final

    def get_or_compute(
        self, key: str, fn: Callable[[], Mapping[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """``get(key)``, or call ``fn()``, store its arrays and return them.

        Processes that miss the same key at once compute it once: the first
        holds a lock file for the key while it computes, the others wait for it
        and then read its entry (two workers starting two seeds of one cell
        used to decode the same corpus side by side)."""
        found = self.get(key)
        if found is not None:
            return found
        with self._computing(key):
            found = self._recheck(key)
            if found is not None:
                return found
            arrays = fn()
            try:
                self.put(key, arrays)
            except OSError as exc:
                # A full or read-only cache disk costs speed, never the fold: the
                # arrays are in hand, so the caller runs on uncached.
                self._write_failed(exc)
        return {name: np.asanyarray(a) for name, a in arrays.items()}

    def _recheck(self, key: str) -> dict[str, np.ndarray] | None:
        # the miss is already counted: a second look that finds nothing is not another miss
        if not self.entries(key):
            return None
        found = self.get(key)
        if found is not None:
            with self._lock:
                self._counts["misses"] -= 1
        return found

    @contextlib.contextmanager
    def _computing(self, key: str):
        """Hold ``<root>/.locks/<key>.lock`` while computing ``key`` (POSIX
        ``flock``; without it, or when the lock cannot be made, compute unlocked).
        A waiter gives up after :data:`LOCK_WAIT_S` and computes on its own."""
        try:
            import fcntl
        except ImportError:  # Windows: at worst two processes compute the same entry
            yield
            return
        path = self.root / ".locks" / f"{self._folder(key).name}-{key}.lock"
        fd = None
        deadline = time.monotonic() + LOCK_WAIT_S
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    fd = None
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                    continue
                # the holder before us removed the file after unlocking: lock the new one
                try:
                    same = os.stat(path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)
                fd = None
        except OSError:  # no lock to be had (read-only cache, odd file system): compute unlocked
            if fd is not None:
                os.close(fd)
            fd = None
        try:
            yield
        finally:
            if fd is not None:
                try:
                    os.unlink(path)
                except OSError:
                    pass
                os.close(fd)

    def _write_failed(self, exc: OSError) -> None:
        with self._lock:
            first, self._warned = not self._warned, True
        if first:
            reason = exc.strerror or str(exc)
            warnings.warn(f"array cache {self.root}: cannot write entries ({reason}, errno "
                          f"{exc.errno}); running uncached, results are unaffected",
                          RuntimeWarning, stacklevel=3)

    def delete(self, key: str) -> int:
        """Remove every entry stored for ``key``; returns how many were removed."""
        n = 0
        for path in self.entries(key):
            try:
                path.unlink()
                n += 1
            except FileNotFoundError:
                pass
        return n

    def clear(self) -> int:
        """Remove every entry (and stray temporary files) under the root."""
        n = 0
        if not self.root.is_dir():
            return 0
        for path in list(self.root.glob("??/*")):
            if path.suffix in (".npz", ".tmp") and path.is_file():
                path.unlink(missing_ok=True)
                n += path.suffix == ".npz"
        return n

    def size_bytes(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.glob("??/*.npz") if p.is_file())


# ------------------------------------------------------------------- defaults

_defaults: dict[Path, ArrayCache] = {}
_defaults_lock = threading.Lock()


def default_cache_root() -> Path:
    """``$EMOBENCH_CACHE/arrays``, else ``~/.cache/emobench/arrays``."""
    base = os.environ.get("EMOBENCH_CACHE")
    root = Path(base).expanduser() / "arrays" if base else Path.home() / ".cache" / "emobench" / "arrays"
    return root.resolve()


def default_cache() -> ArrayCache:
    """The process-wide cache for :func:`default_cache_root` (one instance per
    root, so its counters accumulate over the run)."""
    root = default_cache_root()
    with _defaults_lock:
        cache = _defaults.get(root)
        if cache is None:
            cache = _defaults[root] = ArrayCache(root)
        return cache
