"""Seconds to write each corpus's default-profile stand-in and to read it the
first time (every recording's streams, face crops at every size the default
profile's video models read them, audio), in a fresh cache: the figures behind each plugin's ``standin_seconds``.

    EMOBENCH_CACHE=/tmp/fresh python scripts/bench_first_read.py [corpus ...]

Prints one line per corpus: write s, first read s, second read s (cached).
Run it on an idle machine; the load average is printed with each line.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path


# the face crops the default profile's models read: 48 px RGB (tsm-resnet, EMERT, the
# audio-visual branches), 48 px grey (frame-cnn), 64 px grey (mini-Xception), 100 px grey
# (EmoP3D)
CROPS = ((48, False), (48, True), (64, True), (100, True))


def read_all(ds, root: Path) -> None:
    for rec in ds.load(root):
        for name, mod in ds.modalities.items():
            if name not in rec.streams:
                continue
            try:
                if mod.kind in ("face_video", "face_image"):
                    for size, gray in CROPS:
                        rec.load(name, size=(size, size), gray=gray)
                else:
                    rec.load(name)
            except Exception:
                pass  # an unusable stream is the doctor's business, not this figure's
        rec.forget()


def main(names: list[str]) -> None:
    from emobench import datasource
    from emobench.plugins import registry

    reg = registry()
    names = names or [n for n in reg.datasets if not callable(getattr(reg.dataset(n), "resolve_source", None))]
    for name in names:
        ds = reg.dataset(name)
        t0 = time.perf_counter()
        src = datasource.resolve(ds, None, "small", seed=0, write=True)
        t1 = time.perf_counter()
        read_all(ds, Path(src.root))
        t2 = time.perf_counter()
        read_all(ds, Path(src.root))
        t3 = time.perf_counter()
        print(f"{name:12s} write {t1 - t0:6.1f} s  first read {t2 - t1:6.1f} s  cached read {t3 - t2:5.1f} s"
              f"  declared {ds.standin_seconds:5.0f} s  load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
