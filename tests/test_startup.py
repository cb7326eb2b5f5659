"""Start-up stays light: ``import emobench``, ``emobench --help`` and the
registry load behind ``emobench list`` import no heavy library.

Each check runs in a fresh interpreter and reads ``sys.modules`` afterwards, so
an import moved back to a module's top level (in the core or in a built-in
plugin's entry module) fails here with the chain that pulled it in.
scripts/bench_startup.py prints the times.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# what the commands that only show metadata must not import (issue: CLI start-up)
HEAVY = ("torch", "optuna", "sklearn", "matplotlib", "cv2", "sqlalchemy")

PROBE = textwrap.dedent("""
    import builtins, json, sys, traceback
    HEAVY = set(sys.argv[1].split(","))
    first = {}
    real = builtins.__import__

    def spy(name, globals=None, locals=None, fromlist=(), level=0):
        top = name.split(".")[0] if level == 0 else ""
        if top in HEAVY and top not in sys.modules and top not in first:
            first[top] = [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack()[:-1]
                          if "emobench" in f.filename or "plugins" in f.filename][-4:]
        return real(name, globals, locals, fromlist, level)

    builtins.__import__ = spy
    {body}
    print(json.dumps({k: first.get(k, ["?"]) for k in HEAVY if k in sys.modules}))
""")


def _imported(body: str) -> dict:
    code = PROBE.replace("{body}", textwrap.dedent(body).strip())
    out = subprocess.run([sys.executable, "-c", code, ",".join(HEAVY)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _explain(found: dict) -> str:
    return "; ".join(f"{k} imported via {' <- '.join(reversed(v))}" for k, v in found.items())


def test_import_emobench_is_light():
    found = _imported("import emobench\nfrom emobench import Dataset, Model, Protocol, hookimpl")
    assert not found, _explain(found)


def test_help_is_light():
    found = _imported("""
        sys.argv = ["emobench", "--help"]
        from emobench.cli import main
        try:
            main()
        except SystemExit:
            pass
    """)
    assert not found, _explain(found)


def test_list_registry_load_is_light():
    """The registry load of the plain ``emobench list`` (every built-in plugin's
    entry module and hooks) and the listing itself."""
    found = _imported("""
        sys.argv = ["emobench", "list"]
        from emobench.cli import main
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
        from emobench.plugins import registry
        reg = registry(deep=False)
        assert reg.models and reg.datasets and reg.protocols, "registry came back empty"
        assert not reg.failures, reg.failures
    """)
    assert not found, _explain(found)


def test_the_probe_sees_a_heavy_import():
    """The check itself can fail: a deep load reads search spaces, which import Optuna."""
    found = _imported("from emobench.plugins import registry\nregistry(deep=True)")
    assert "optuna" in found


def test_light_and_deep_registries_agree_on_names():
    from emobench.plugins import load_registry

    light, deep = load_registry(deep=False, strict=False), load_registry(strict=False)
    assert not light.deep and deep.deep
    assert set(light.models) >= set(deep.models)
    assert set(light.datasets) == set(deep.datasets) and set(light.protocols) == set(deep.protocols)


def test_registry_reloads_deep_after_a_light_load(monkeypatch):
    import emobench.plugins as P

    monkeypatch.setattr(P, "_REGISTRY", None)
    assert not P.registry(deep=False).deep
    assert P.registry().deep  # a command that tunes gets the search-space checks


@pytest.mark.parametrize("deep", [False, True])
def test_a_bad_search_space_is_caught_by_the_deep_load_only(deep):
    import optuna

    from emobench import Model, hookimpl
    from emobench.plugins import Origin, load_registry

    class Bad(Model):
        name = "bad-space"
        consumes = ("features",)

        @classmethod
        def search_space(cls, profile="default"):
            return {"a": "not a distribution"}

    class Plugin:
        @hookimpl
        def emobench_register_models(self):
            return [Bad]

    assert optuna  # the deep check compares against Optuna's distribution type
    reg = load_registry([(Plugin(), Origin("bad", "emobench-bad", "1"))], strict=False, deep=deep)
    failed = [r for o, r in reg.failures if o.entry_point == "bad"]
    assert bool(failed) == deep
    assert ("bad-space" in reg.models) == (not deep)
