"""Deterministic random streams.

Every random draw in :mod:`emobench.sim` comes from a ``numpy.random.Generator`` that is
either passed in or derived from a world seed plus string keys.  Keys are hashed with
CRC32 (not Python's salted ``hash``) so the same seed gives byte-identical output in any
process.
"""
from __future__ import annotations

import zlib

import numpy as np

RngLike = "np.random.Generator | int | None"


def key_int(key: object) -> int:
    """Stable non-negative integer for ``key`` (ints pass through, others via CRC32 of str)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key) & 0xFFFFFFFF
    return zlib.crc32(str(key).encode("utf-8"))


def derive(seed: int, *keys: object) -> np.random.Generator:
    """Generator seeded by ``seed`` and a path of keys, e.g. ``derive(0, "subject", 3)``."""
    return np.random.default_rng([key_int(seed), *(key_int(k) for k in keys)])


def as_generator(rng: "np.random.Generator | int | None", *, name: str = "rng") -> np.random.Generator:
    """Accept a Generator or an int seed; reject ``None`` so results never depend on entropy."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"emobench.sim: parameter {name!r} must be a numpy Generator or an int seed, got {rng!r}")
