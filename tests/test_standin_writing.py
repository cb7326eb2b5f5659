"""The run's workers write the missing stand-ins in parallel before planning."""

import os

from emobench import datasource
from emobench.jobs import write_standins
from emobench.plugins import registry


def test_workers_write_the_missing_standins(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    reg = registry()
    names = ["vtt", "rafdb", "rafdb-to-ckplus"]  # a pairing writes through its corpora: skipped here
    write_standins(reg, names, None, "small", workers=2)
    for name in ("vtt", "rafdb"):
        path = datasource.standin_path(reg.dataset(name), "small", 0)
        assert datasource.read_standin_marker(path)["dataset"] == name
    folder = datasource.standin_path(reg.dataset("vtt"), "small", 0).parent
    assert not [p for p in os.listdir(folder) if p.startswith(".writing-")]
    # nothing missing: no pool is started, nothing rewritten
    before = {p: os.stat(folder / p).st_mtime_ns for p in os.listdir(folder)}
    write_standins(reg, names, None, "small", workers=2)
    assert {p: os.stat(folder / p).st_mtime_ns for p in os.listdir(folder)} == before
