"""Content keys and the checksummed on-disk array cache."""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest

from emobench.media import cache as C
from emobench.media import ArrayCache, CacheError, content_key


# ---------------------------------------------------------------- content_key


def test_content_key_is_stable_and_order_sensitive():
    k = content_key("a", 1, [1.5, None, True], {"x": 1, "y": (2, 3)})
    assert k == content_key("a", 1, [1.5, None, True], {"y": (2, 3), "x": 1})  # dict order free
    assert len(k) == 64 and int(k, 16) >= 0
    assert k != content_key(1, "a", [1.5, None, True], {"x": 1, "y": (2, 3)})
    # Type tags and length prefixes keep look-alikes apart.
    assert content_key("ab", "c") != content_key("a", "bc")
    assert content_key(1) != content_key("1") != content_key(1.0)
    assert content_key(True) != content_key(1)
    assert content_key([1, 2]) != content_key((1, 2))
    assert content_key(b"x") != content_key("x")


def test_content_key_known_value():
    # Pins the encoding: changing it silently would orphan every cache entry.
    h = hashlib.sha256(b"emobench.content_key.v1")
    h.update(b"T" + (1).to_bytes(8, "little") + b"1")
    h.update(b"S" + (2).to_bytes(8, "little") + b"hi")
    assert content_key("hi") == h.hexdigest()


def test_content_key_arrays_hash_dtype_shape_and_bytes():
    a = np.arange(6, dtype=np.int32)
    assert content_key(a) == content_key(a.copy())
    assert content_key(a) != content_key(a.astype(np.int64))
    assert content_key(a) != content_key(a.reshape(2, 3))
    b = a.copy()
    b[3] = 99
    assert content_key(a) != content_key(b)
    assert content_key(a[::2]) == content_key(np.ascontiguousarray(a[::2]))
    assert content_key(np.float32(1.5)) == content_key(np.float32(1.5))
    with pytest.raises(TypeError, match="object"):
        content_key(np.array([{}], dtype=object))


def test_content_key_paths_by_identity_size_and_mtime(tmp_path):
    f = tmp_path / "v.bin"
    f.write_bytes(b"1234")
    k1 = content_key(f)
    assert k1 == content_key(tmp_path / "." / "v.bin")  # resolved
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    k2 = content_key(f)
    assert k2 != k1
    f.write_bytes(b"12345")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert content_key(f) != k2  # size changed, same mtime
    g = tmp_path / "w.bin"
    g.write_bytes(b"12345")
    os.utime(g, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert content_key(g) != content_key(f)  # other path
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        content_key(tmp_path / "missing.bin")


@dataclasses.dataclass(frozen=True)
class _Spec:
    size: tuple = (8, 8)
    gray: bool = False


@dataclasses.dataclass(frozen=True)
class _Other:
    size: tuple = (8, 8)
    gray: bool = False


def test_content_key_dataclasses_and_unsupported():
    assert content_key(_Spec()) == content_key(_Spec())
    assert content_key(_Spec()) != content_key(_Spec(gray=True))
    assert content_key(_Spec()) != content_key(_Other())  # class name is part of the key
    assert content_key({1, 2, 3}) == content_key({3, 2, 1})
    with pytest.raises(TypeError, match="object"):
        content_key(object())


# ---------------------------------------------------------------- ArrayCache


def _arrays():
    return {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "y": np.array([1, 0, 1], bool)}


def test_put_get_roundtrip_and_counters(tmp_path):
    c = ArrayCache(tmp_path)
    key = content_key("roundtrip")
    assert c.get(key) is None
    path = c.put(key, _arrays())
    assert path.parent.parent == tmp_path and path.name.startswith(key)
    assert path.name.split(".")[1] == hashlib.sha256(path.read_bytes()).hexdigest()
    got = c.get(key)
    assert set(got) == {"x", "y"}
    for name, arr in _arrays().items():
        np.testing.assert_array_equal(got[name], arr)
        assert got[name].dtype == arr.dtype
    got["x"][0, 0] = 5  # returned arrays are private copies
    assert c.get(key)["x"][0, 0] == 0
    assert c.stats() == {"hits": 2, "misses": 1, "rebuilt": 0, "writes": 1}
    assert key in c and content_key("other") not in c
    c.reset_stats()
    assert c.stats()["hits"] == 0


def test_same_arrays_give_identical_files(tmp_path):
    a, b = ArrayCache(tmp_path / "a"), ArrayCache(tmp_path / "b")
    key = content_key("det")
    assert a.put(key, _arrays()).read_bytes() == b.put(key, _arrays()).read_bytes()


def test_put_replaces_an_older_result(tmp_path):
    c = ArrayCache(tmp_path)
    key = content_key("k")
    c.put(key, {"v": np.zeros(3)})
    c.put(key, {"v": np.ones(3)})
    assert len(c.entries(key)) == 1
    np.testing.assert_array_equal(c.get(key)["v"], np.ones(3))


def _flip(path: Path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _swap_for_garbage_with_matching_name(path: Path):
    # A file whose checksum matches its name but which is not a zip at all:
    # the parse step must catch it too.
    garbage = b"definitely not a zip archive"
    path.unlink()
    (path.parent / f"{path.name.split('.')[0]}.{hashlib.sha256(garbage).hexdigest()}.npz").write_bytes(garbage)


@pytest.mark.parametrize("damage", [_flip, _truncate, _swap_for_garbage_with_matching_name])
def test_corrupted_entry_is_detected_deleted_and_recomputed(tmp_path, damage):
    c = ArrayCache(tmp_path)
    key = content_key("corrupt", damage.__name__)
    calls = []

    def compute():
        calls.append(1)
        return _arrays()

    c.get_or_compute(key, compute)
    (entry,) = c.entries(key)
    damage(entry)
    assert c.get(key) is None
    assert c.entries(key) == []  # deleted, never trusted
    assert c.stats()["rebuilt"] == 1
    c.put(key, _arrays())
    damage(c.entries(key)[0])
    out = c.get_or_compute(key, compute)
    np.testing.assert_array_equal(out["x"], _arrays()["x"])
    assert len(calls) == 2 and c.stats()["rebuilt"] == 2
    assert c.get(key) is not None  # the recomputed entry is sound


def test_get_or_compute_calls_once(tmp_path):
    c = ArrayCache(tmp_path)
    key = content_key("once")
    n = []
    for _ in range(3):
        c.get_or_compute(key, lambda: n.append(1) or {"a": np.eye(2)})
    assert len(n) == 1
    assert c.stats() == {"hits": 2, "misses": 1, "rebuilt": 0, "writes": 1}


def test_invalid_keys_names_and_dtypes(tmp_path):
    c = ArrayCache(tmp_path)
    with pytest.raises(CacheError, match="not a valid key"):
        c.get("../etc/passwd")
    with pytest.raises(CacheError, match="not a valid key"):
        c.put("a.b", {"x": np.zeros(1)})
    with pytest.raises(CacheError, match="invalid array name"):
        c.put("k1", {"a/b": np.zeros(1)})
    with pytest.raises(CacheError, match="dtype object"):
        c.put("k1", {"o": np.array([None, 1], dtype=object)})
    with pytest.raises(CacheError, match="non-empty"):
        c.put("k1", {})
    assert c.stats()["writes"] == 0


def test_stray_temp_files_are_ignored_and_cleared(tmp_path):
    c = ArrayCache(tmp_path)
    key = content_key("tmp")
    folder = tmp_path / key[:2]
    folder.mkdir()
    (folder / f".{key[:16]}-abc.tmp").write_bytes(b"half written")
    assert c.get(key) is None and c.stats()["rebuilt"] == 0
    c.put(key, _arrays())
    assert c.size_bytes() > 0
    assert c.clear() == 1
    assert list(folder.iterdir()) == []


def test_default_cache_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "ec"))
    c = C.default_cache()
    assert c.root == (tmp_path / "ec" / "arrays").resolve()
    assert C.default_cache() is c  # counters accumulate over the process
    monkeypatch.delenv("EMOBENCH_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert C.default_cache_root() == (tmp_path / "home" / ".cache" / "emobench" / "arrays").resolve()


def _worker(root: str, key: str, seed: int, rounds: int) -> None:
    c = ArrayCache(root)
    big = {"v": np.full((256, 256), seed % 2, dtype=np.float64)}
    for _ in range(rounds):
        c.put(key, big)
        got = c.get(key)
        assert got is None or got["v"].shape == (256, 256)


def test_concurrent_writers_never_leave_a_corrupt_entry(tmp_path):
    key = content_key("concurrent")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), key, s, 15)) for s in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    c = ArrayCache(tmp_path)
    got = c.get(key)
    # Whoever won, the entry (if any survived the race) must be intact.
    if got is not None:
        assert np.unique(got["v"]).size == 1
    assert c.stats()["rebuilt"] == 0


def test_an_abandoned_standin_write_is_removed_by_the_next_writer(tmp_path):
    import os
    import time

    from emobench.datasource import _remove_abandoned_writes

    old, fresh = tmp_path / ".writing-old", tmp_path / ".writing-fresh"
    for d in (old, fresh):
        (d / "Corpus").mkdir(parents=True)
    past = time.time() - 7 * 3600
    os.utime(old, (past, past))
    _remove_abandoned_writes(tmp_path)
    assert not old.exists() and fresh.exists()  # a live writer's folder is left alone


def _slow_compute(root: str, log: str, barrier_file: str) -> float:
    import time as _t

    from emobench.media.cache import ArrayCache

    def fn():
        with open(log, "a") as f:
            f.write("computed\n")
        _t.sleep(1.0)
        return {"a": np.arange(5)}

    while not os.path.exists(barrier_file):  # start both misses together
        _t.sleep(0.01)
    return float(ArrayCache(root).get_or_compute("k" * 64, fn)["a"].sum())


def test_concurrent_misses_compute_once(tmp_path):
    """Two processes that miss the same key at once: one computes, the other waits
    for its entry (both get the arrays, the function ran once)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    log, go = tmp_path / "log", tmp_path / "go"
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        futs = [pool.submit(_slow_compute, str(tmp_path / "c"), str(log), str(go)) for _ in range(2)]
        go.write_text("")
        assert [f.result(timeout=60) for f in futs] == [10.0, 10.0]
    assert log.read_text().count("computed") == 1
    assert not list((tmp_path / "c" / ".locks").glob("*.lock"))  # lock files are removed


def test_lock_wait_gives_up(tmp_path, monkeypatch):
    """A holder that never finishes does not stall others beyond LOCK_WAIT_S."""
    import fcntl

    from emobench.media import cache as cache_mod

    c = cache_mod.ArrayCache(tmp_path)
    key = "z" * 64
    lock = tmp_path / ".locks" / f"zz-{key}.lock"
    lock.parent.mkdir(parents=True)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    monkeypatch.setattr(cache_mod, "LOCK_WAIT_S", 0.2)
    try:
        out = c.get_or_compute(key, lambda: {"a": np.ones(2)})
    finally:
        os.close(fd)
    assert out["a"].tolist() == [1.0, 1.0]


def test_a_process_serves_recent_entries_from_memory_and_never_a_replaced_one(tmp_path, monkeypatch):
    from pathlib import Path

    c = ArrayCache(tmp_path)
    key = content_key("recent")
    c.put(key, _arrays())
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self.name) or real(self))
    first, second = c.get(key), c.get(key)
    assert len(reads) == 1  # the second read came from memory
    second["x"][0, 0] = 7  # a private copy, as from the file
    assert c.get(key)["x"][0, 0] == 0
    c.put(key, {"x": np.ones(2)})  # a changed computation: a new file, a new digest
    np.testing.assert_array_equal(c.get(key)["x"], np.ones(2))
    # the memory is bounded: entries over the budget are dropped, oldest first
    monkeypatch.setenv("EMOBENCH_MEMORY_CACHE_MB", "0.01")
    for i in range(5):
        c.put(content_key("recent", i), {"x": np.zeros(250)})  # 2 kB each, 10 kB budget
        c.get(content_key("recent", i))
    from emobench.media import cache as C
    assert C._RECENT.bytes <= 0.01 * 2 ** 20
