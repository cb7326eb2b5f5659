"""Paths and parts of a corpus tree as users really have them.

Shared by every corpus plugin, so each real-copy quirk is handled once:

* :func:`inside` joins names read from corpus metadata (a ``samples.csv`` row,
  a folder name) under the data root and refuses anything that resolves outside
  it, ``..`` and symlinks included (:class:`PathEscapeError`).
* :func:`find_part` follows doubled folders (``Images/Images``,
  ``biosignals_raw/biosignals_raw``), which is how most unzip tools unpack a
  part archive that holds its own top folder.
* :class:`ZipMember` / :func:`zipped_part` read a part that is still an
  archive (``biosignals_filtered.zip``) without unpacking it.
* :func:`dangling_symlinks` lists links whose target is gone (the run's tree
  fingerprint and every reader would trip on them).

:class:`DataError` is the one exception for bad data: it names the file (and
the recording when known), so the runner can tell it from a model's failure.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class DataError(ValueError):
    """A corpus file that cannot be used. ``path`` names it, ``reason`` says why,
    ``recording`` is the recording it belongs to when known. The runner treats it
    as a fault of the data, never of the model (docs/plugins.md, "Data errors")."""

    def __init__(self, path, reason: str, recording: str | None = None):
        self.path, self.reason, self.recording = str(path), str(reason), recording
        where = f" (recording {recording!r})" if recording else ""
        super().__init__(f"{self.path}: {self.reason}{where}")

    def __reduce__(self):  # keep the fields when sent between processes
        return (type(self), (self.path, self.reason, self.recording))


class PathEscapeError(DataError):
    """A path built from corpus metadata that leaves the data root."""


def inside(root: Path, *parts: str, what: str = "path") -> Path:
    """``root/parts...``, refusing a result outside ``root``.

    Every part comes from the data (a name in a CSV), so it may hold ``..``, an
    absolute path or a symlink out of the tree; each is a :class:`PathEscapeError`
    naming the offending value. Symlinks *inside* the root are fine."""
    root = Path(root)
    for part in parts:
        p = str(part)
        if not p or p.startswith(("/", "\\")) or (len(p) > 1 and p[1] == ":") or "\0" in p:
            raise PathEscapeError(root, f"{what} {p!r} from the corpus metadata is not a "
                                        "relative name")
        if ".." in PurePosixPath(p.replace("\\", "/")).parts:
            raise PathEscapeError(root, f"{what} {p!r} from the corpus metadata leaves the "
                                        "data root ('..')")
    path = root.joinpath(*map(str, parts))
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise PathEscapeError(path, f"{what} resolves outside the data root {str(root)!r} "
                                    "(a symlink out of the tree); not followed")
    return path


def within_root(path: Path, root: Path) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside ``root``."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def find_part(root: Path, *names: str) -> tuple[Path | None, bool]:
    """``root/names...`` allowing each folder to be doubled (``Images/Images``).
    Returns (the folder or None, whether a doubled level was crossed)."""
    cur, nested = Path(root), False
    for name in names:
        nxt = cur / name
        if not nxt.is_dir():
            return None, nested
        if (nxt / name).is_dir():
            nxt, nested = nxt / name, True
        cur = nxt
    return cur, nested


def dangling_symlinks(root: Path, limit: int = 1000) -> list[Path]:
    """Symlinks under ``root`` whose target does not exist (at most ``limit``)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink() and not p.exists():
                out.append(p)
                if len(out) >= limit:
                    return out
    return sorted(out)


# -- zipped parts -----------------------------------------------------------------------

@dataclass(frozen=True)
class ZipMember:
    """One file inside a part archive; ``str()`` reads ``archive.zip!member``."""

    archive: Path
    member: str

    def read_bytes(self) -> bytes:
        try:
            with zipfile.ZipFile(self.archive) as zf:
                return zf.read(self.member)
        except KeyError:
            raise DataError(self, "not in the archive") from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DataError(self.archive, f"damaged zip archive ({exc})") from None

    def exists(self) -> bool:
        return self.member in zip_names(self.archive)

    def is_file(self) -> bool:
        return self.exists()

    @property
    def name(self) -> str:
        return PurePosixPath(self.member).name

    def __str__(self) -> str:
        return f"{self.archive}!{self.member}"


_NAMES: dict[tuple[str, int, int], frozenset[str]] = {}


def zip_names(archive: Path) -> frozenset[str]:
    """The member names of ``archive`` (read once per file version)."""
    st = os.stat(archive)
    key = (str(archive), st.st_size, st.st_mtime_ns)
    if key not in _NAMES:
        try:
            with zipfile.ZipFile(archive) as zf:
                _NAMES[key] = frozenset(n for n in zf.namelist() if not n.endswith("/"))
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(archive, f"damaged zip archive ({exc})") from None
    return _NAMES[key]


def zipped_part(root: Path, name: str) -> tuple[Path, str] | None:
    """``(archive, prefix)`` when the part ``name`` is present only as
    ``root/name.zip``: ``prefix`` is the folder inside the archive that holds the
    part's files (``name/``, ``name/name/`` or ``""``)."""
    archive = Path(root) / f"{name}.zip"
    if not archive.is_file():
        return None
    names = zip_names(archive)
    for prefix in (f"{name}/{name}/", f"{name}/", ""):
        if any(n.startswith(prefix) for n in names):
            return archive, prefix
    return archive, ""


def read_bytes(src) -> bytes:
    """The bytes of a file or a :class:`ZipMember`, as a :class:`DataError` when unreadable."""
    if isinstance(src, ZipMember):
        return src.read_bytes()
    try:
        return Path(src).read_bytes()
    except FileNotFoundError:
        raise DataError(src, "file not found") from None
    except OSError as exc:
        raise DataError(src, f"cannot read ({exc.strerror or exc})") from None


def quote(text: str, limit: int = 60) -> str:
    """At most ``limit`` characters of a line read from a file, for an error message."""
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")
