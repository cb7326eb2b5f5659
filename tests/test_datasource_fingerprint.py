"""The stand-in fingerprint covers what determines the data: the plugin's declared
stand-in version and the code (not comments or docstrings) of the emobench.sim
modules its stand-in imports, found statically."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from emobench import datasource
from emobench.datasource import generator_version, sim_modules_used


@pytest.fixture
def sim_copy(tmp_path, monkeypatch):
    """A private copy of emobench/sim that the fingerprint reads instead of the real one."""
    copy = tmp_path / "sim"
    shutil.copytree(datasource.SIM_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(datasource, "SIM_DIR", copy)
    generator_version.cache_clear()
    yield copy
    generator_version.cache_clear()


def _datasets():
    from emobench_plugins.datasets.baum1s import Baum1s
    from emobench_plugins.datasets.sewa import Sewa

    return Sewa(), Baum1s()


def _fingerprints(*dss):
    generator_version.cache_clear()
    return [generator_version(ds) for ds in dss]


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{path.name}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def test_the_corpus_imports_are_found_statically(sim_copy):
    sewa, baum = _datasets()
    used = sim_modules_used(datasource._plugin_files(sewa))
    # sewa's stand-in: World, annotation, its references; transitively rng, latent, ...
    assert {"world", "annotation", "ceilings", "rng", "latent", "subjects"} <= used
    assert not {"voice", "eyes", "physiology", "video", "preview", "__init__"} & used
    assert "voice" in sim_modules_used(datasource._plugin_files(baum))


def test_comments_and_docstrings_leave_the_fingerprint_unchanged(sim_copy):
    sewa, baum = _datasets()
    before = _fingerprints(sewa, baum)
    world = sim_copy / "world.py"
    text = world.read_text()
    lines = text.splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if line.startswith("def ") or line.startswith("class "))
    lines.insert(i, "# a new comment before the first definition\n")
    world.write_text("".join(lines).replace('"""', '"""Reworded docstring. ', 1))
    _edit(sim_copy / "rng.py", "\n", "\n# another comment\n")
    assert world.read_text() != text
    assert _fingerprints(sewa, baum) == before


def test_a_code_edit_to_an_imported_sim_module_changes_the_fingerprint(sim_copy):
    sewa, baum = _datasets()
    before = _fingerprints(sewa, baum)
    (sim_copy / "rng.py").write_text((sim_copy / "rng.py").read_text() + "\n_EXTRA = 1\n")
    after = _fingerprints(sewa, baum)
    assert after[0] != before[0] and after[1] != before[1]


def test_an_edit_to_a_sim_module_the_corpus_does_not_import_leaves_it_unchanged(sim_copy):
    sewa, baum = _datasets()
    before = _fingerprints(sewa, baum)
    (sim_copy / "voice.py").write_text((sim_copy / "voice.py").read_text() + "\n_EXTRA = 1\n")
    after = _fingerprints(sewa, baum)
    assert after[0] == before[0]      # sewa writes no voice
    assert after[1] != before[1]      # baum1s does


def test_a_transitive_import_counts(sim_copy):
    sewa, _ = _datasets()
    before = _fingerprints(sewa)
    # sewa imports World; world imports latent: a code change there changes the data
    (sim_copy / "latent.py").write_text((sim_copy / "latent.py").read_text() + "\n_EXTRA = 2\n")
    assert _fingerprints(sewa) != before


def test_a_plugin_without_a_declared_version_follows_every_sim_byte(sim_copy, monkeypatch):
    sewa, _ = _datasets()
    monkeypatch.setattr(type(sewa), "standin_version", "")
    before = _fingerprints(sewa)
    _edit(sim_copy / "preview.py", "\n", "\n# a comment\n")
    assert _fingerprints(sewa) != before


def test_the_fingerprint_does_not_import_the_simulator():
    code = ("import sys\n"
            "from emobench.plugins import registry\n"
            "from emobench.datasource import generator_version\n"
            "for ds in registry().datasets.values(): generator_version(ds)\n"
            "assert not [m for m in sys.modules if m.startswith('emobench.sim')], 'imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_fingerprint_is_read_back_while_the_files_are_unchanged(tmp_path, monkeypatch):
    """A rerun parses no syntax trees: the fingerprint is kept per (path, size,
    mtime) of the files it covers, and recomputed when one of them changes."""
    from emobench import datasource
    from emobench.plugins import registry

    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path))
    ds = registry().dataset("vtt")
    datasource.generator_version.cache_clear()
    first = datasource.generator_version(ds)
    datasource.generator_version.cache_clear()

    def no_parse(*a, **k):
        raise AssertionError("parsed again although no file changed")

    monkeypatch.setattr(datasource, "_generator_version", no_parse)
    assert datasource.generator_version(ds) == first
    datasource.generator_version.cache_clear()
    monkeypatch.setattr(datasource, "_stat_key", lambda *a: "another-state")
    with pytest.raises(AssertionError, match="parsed again"):
        datasource.generator_version(ds)
    datasource.generator_version.cache_clear()
