import json
import types

import optuna.distributions as D
import pytest

from emobench import Dataset, Modality, Model, Task, hookimpl
from emobench.plugins import Origin, PluginError, load_registry


def plugin(**hooks):
    mod = types.SimpleNamespace()
    for name, fn in hooks.items():
        setattr(mod, name, hookimpl(fn))
    return mod


class GoodModel(Model):
    name = "good-model"
    consumes = ("features",)
    paper_params = {"a": 1.0}

    @classmethod
    def search_space(cls, profile="default"):
        return {"a": D.FloatDistribution(0.1, 10.0)}


def origin(name):
    return Origin(name, f"dist-{name}", "9.9")


def test_builtins_register_through_entry_points_with_their_distribution():
    reg = load_registry()
    assert {"mean", "linear", "mlp"} <= set(reg.models)
    assert {"official", "loso", "subject-5fold"} <= set(reg.protocols)
    assert reg.origin("model", "mean").distribution == "emobench"
    assert reg.origin("model", "mean").entry_point == "baselines"


def test_a_raising_hook_is_reported_and_others_still_load():
    def boom():
        raise RuntimeError("kaput")

    reg = load_registry([(plugin(emobench_register_models=boom), origin("broken")),
                         (plugin(emobench_register_models=lambda: [GoodModel]), origin("fine"))])
    assert "good-model" in reg.models
    (failure,) = [(o, r) for o, r in reg.failures if o.entry_point == "broken"]
    assert failure[0].distribution == "dist-broken" and failure[0].version == "9.9"
    assert "kaput" in failure[1]


def test_invalid_metadata_names_plugin_and_field():
    class BadSpace(GoodModel):
        name = "bad-space"
        paper_params = {"a": 50.0}

    class BadName(GoodModel):
        name = "Bad Name"

    class BadData(Dataset):
        name = "bad-data"
        folder = "Bad"
        modalities = {"x": Modality("smell", rate=-1)}
        tasks = (Task("t", "classification", classes=("only",)),)
        protocols = ("loso",)

    reg = load_registry([(plugin(emobench_register_models=lambda: [BadSpace]), origin("p1")),
                         (plugin(emobench_register_models=lambda: [BadName]), origin("p2")),
                         (plugin(emobench_register_datasets=lambda: [BadData()]), origin("p3"))])
    reasons = {o.entry_point: r for o, r in reg.failures}
    assert "paper_params['a']=50.0 lies outside search_space" in reasons["p1"]
    assert "bad-space" in reasons["p1"]
    assert "kebab-case" in reasons["p2"]
    assert "unknown modality kind 'smell'" in reasons["p3"]
    assert "rate must be positive" in reasons["p3"]
    assert "at least two classes" in reasons["p3"]


def test_starting_points_must_lie_in_the_search_space():
    class Outside(GoodModel):
        name = "outside"

        @classmethod
        def starting_points(cls, profile="default"):
            return [{"a": 2.0}, {"a": 99.0}]

    class Unknown(GoodModel):
        name = "unknown-key"

        @classmethod
        def starting_points(cls, profile="default"):
            return [{"b": 1}]

    reg = load_registry([(plugin(emobench_register_models=lambda: [Outside]), origin("p1")),
                         (plugin(emobench_register_models=lambda: [Unknown]), origin("p2"))])
    reasons = {o.entry_point: r for o, r in reg.failures}
    assert "starting_points('smoke')[1]['a']=99.0 lies outside search_space" in reasons["p1"]
    assert "sets 'b', which is not in search_space" in reasons["p2"]
    assert not reg.models.keys() & {"outside", "unknown-key"}


def test_tuning_tries_paper_then_starting_points_then_sampler():
    from emobench.data import Task as T
    from emobench.model import FitContext
    from emobench.tuning import tune

    tried = []

    class Probe(GoodModel):
        name = "probe"

        @classmethod
        def starting_points(cls, profile="default"):
            return [{"a": 7.5}] if profile == "default" else []

        def fit(self, train, valid, ctx):
            tried.append(self.params["a"])
            return self

        def predict(self, samples):
            return [0.0] * len(samples)

    ctx = FitContext(task=T("t", "regression"), modalities={}, profile="default", seed=0,
                     score=lambda samples, preds: -abs(tried[-1] - 7.5))
    result = tune(Probe, [], [], ctx, trials=4, seed=0)
    assert tried[:2] == [1.0, 7.5] and len(tried) == 4
    assert all(0.1 <= a <= 10.0 for a in tried[2:]) and set(tried[2:]).isdisjoint({1.0, 7.5})
    assert result.params["a"] == 7.5 and result.n_trials == 4
    tried.clear()
    tune(Probe, [], [], ctx.__class__(**{**ctx.__dict__, "profile": "smoke"}), trials=2, seed=0)
    assert tried[0] == 1.0 and tried[1] != 7.5
    tried.clear()  # one trial cannot hold both: the setting declared for the budget runs
    result = tune(Probe, [], [], ctx, trials=1, seed=0)
    assert tried == [7.5] and result.n_trials == 1
    tried.clear()
    tune(Probe, [], [], ctx, trials=2, seed=0)
    assert tried == [1.0, 7.5]


def test_duplicate_names_are_rejected_with_the_first_owner():
    reg = load_registry([(plugin(emobench_register_models=lambda: [GoodModel]), origin("a")),
                         (plugin(emobench_register_models=lambda: [GoodModel]), origin("b"))])
    reasons = {o.entry_point: r for o, r in reg.failures}
    assert "already registered by a (dist-a 9.9)" in reasons["b"]


def test_strict_mode_turns_a_report_into_an_error(monkeypatch):
    monkeypatch.setenv("EMOBENCH_STRICT_PLUGINS", "1")
    monkeypatch.setattr("emobench.plugins.entry_points", lambda group: [])
    with pytest.raises(PluginError, match=r"broken \(dist-broken 9.9\).*not a subclass"):
        load_registry([(plugin(emobench_register_models=lambda: [object]), origin("broken"))])


def test_block_list_skips_entry_points(monkeypatch):
    monkeypatch.setenv("EMOBENCH_BLOCK_PLUGINS", "baselines")
    reg = load_registry()
    assert "mean" not in reg.models and "loso" in reg.protocols


def test_list_json_shows_builtins_with_distribution():
    from typer.testing import CliRunner

    from emobench.cli import app

    result = CliRunner().invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    models = {m["name"]: m for m in out["models"]}
    assert models["linear"]["distribution"] == "emobench"
    assert "task_kinds" in models["linear"] and "consumes" in models["linear"]
    assert {p["name"] for p in out["protocols"]} >= {"loso", "official"}


def test_a_broken_entry_point_import_is_reported_not_fatal(tmp_path, monkeypatch):
    # an installed distribution whose entry point names a module that does not exist
    dist = tmp_path / "emobench_broken-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: emobench-broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[emobench]\nbroken = emobench_broken_missing.plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = load_registry()
    (reason,) = [r for o, r in reg.failures if o.distribution == "emobench-broken" and o.version == "1.0"]
    assert "No module named 'emobench_broken_missing'" in reason
    assert "mean" in reg.models  # the others still load
    monkeypatch.setenv("EMOBENCH_BLOCK_PLUGINS", "emobench-broken")
    assert not [o for o, _ in load_registry().failures if o.distribution == "emobench-broken"]


# -- the sealed contract (issue 12 section 4) ------------------------------------------

class HalfCorpus(Dataset):
    name = "half-corpus"
    folder = "Half"
    modalities = {"x": Modality("features", shape=(1,), rate=1.0)}
    tasks = (Task("t", "regression"),)
    protocols = ("loso",)


class EverythingTest:
    name = "everything"


def test_hook_errors_name_the_hook_and_the_contract():
    reg = load_registry([
        (plugin(emobench_register_datasets=lambda: EverythingTest()), origin("notalist")),
        (plugin(emobench_register_datasets=lambda: [HalfCorpus]), origin("aclass")),
        (plugin(emobench_register_models=lambda: [GoodModel()]), origin("aninstance")),
    ], strict=False)
    reasons = {o.entry_point: r for o, r in reg.failures}
    assert reasons["notalist"].startswith("emobench_register_datasets must return a list; "
                                          "got EverythingTest")
    assert reasons["aclass"] == ("emobench_register_datasets returned a class, not an instance: "
                                 "did you mean HalfCorpus()?")
    assert "returned an instance, not a class: did you mean GoodModel?" in reasons["aninstance"]


def test_one_bad_item_rejects_the_whole_entry_point():
    class Other(GoodModel):
        name = "other-model"

    reg = load_registry([(plugin(emobench_register_models=lambda: [Other, object]),
                          origin("mixed"))], strict=False)
    assert "other-model" not in reg.models and reg.failures[-1][0].entry_point == "mixed"


def test_a_third_party_clash_never_replaces_a_builtin():
    class Impostor(GoodModel):
        name = "linear"

    builtin = load_registry(strict=False).models["linear"]
    reg = load_registry([(plugin(emobench_register_models=lambda: [Impostor]), origin("clash"))],
                        strict=False)
    assert reg.models["linear"] is builtin
    (reason,) = [r for o, r in reg.failures if o.entry_point == "clash"]
    assert "model name 'linear' is already registered by baselines (emobench" in reason
    assert "that one is kept" in reason


def test_strict_mode_lists_every_failing_entry_point_in_one_message(monkeypatch):
    monkeypatch.setenv("EMOBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError) as info:
        load_registry([(plugin(emobench_register_models=lambda: [object]), origin("one")),
                       (plugin(emobench_register_datasets=lambda: [HalfCorpus]), origin("two"))])
    msg = str(info.value)
    assert "2 plugin entry point(s) failed" in msg and "one (dist-one 9.9)" in msg
    assert "two (dist-two 9.9)" in msg and "Traceback" not in msg


def test_strict_check_of_one_package_ignores_an_unrelated_broken_one(monkeypatch):
    from emobench.plugins import raise_failures

    reg = load_registry([(plugin(emobench_register_models=lambda: [object]), origin("broken"))],
                        strict=False)
    raise_failures(reg, ["baselines"])  # not about 'broken': no error
    with pytest.raises(PluginError, match="broken"):
        raise_failures(reg, ["broken"])


def test_check_of_an_unknown_name_is_an_error_with_a_suggestion():
    from emobench.conformance import check_registry

    with pytest.raises(PluginError, match=r"no plugin.*'linearr'.*did you mean 'linear'"):
        check_registry(load_registry(strict=False), ["linearr"])


def test_a_protocol_attached_through_datasets_is_checked_by_its_own_package():
    from dataclasses import dataclass

    from emobench.conformance import check_registry
    from emobench.protocols import LeaveOneSubjectOut

    @dataclass
    class Attached(LeaveOneSubjectOut):
        name: str = "attached-loso"
        datasets: tuple = ("toy",)

    import plugin_kit

    reg = load_registry([(plugin_kit, origin("toykit")),
                         (plugin(emobench_register_protocols=lambda: [Attached()]), origin("att"))],
                        strict=False)
    own = check_registry(reg, ["att"])
    assert any(c.plugin == "protocol attached-loso on toy" for c in own.checks) and own.ok
    owner = check_registry(reg, ["toykit"])
    assert not any("attached-loso" in c.plugin for c in owner.checks)


def test_everything_a_plugin_needs_is_importable_from_emobench():
    import emobench

    for name in ("Dataset", "DoctorReport", "Problem", "SEVERITIES", "DataError", "Model",
                 "Protocol", "Modality", "Task", "Recording", "hookimpl", "inside",
                 "read_openface_csv", "register_metric", "STANDIN_MARKER"):
        assert getattr(emobench, name) is not None
    assert emobench.SEVERITIES == ("error", "warning")
    with pytest.raises(ValueError, match="severity"):
        emobench.Problem("x", "y", "fatal")


def test_the_thirdparty_example_uses_only_names_from_emobench():
    import ast
    from pathlib import Path

    import emobench

    src = Path(__file__).parent / "thirdparty" / "emobench-example" / "emobench_example" / "plugin.py"
    for node in ast.walk(ast.parse(src.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emobench"):
            assert node.module == "emobench", f"imports from {node.module}"
            for a in node.names:
                assert a.name in emobench.__all__, a.name
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("emobench.") for a in node.names)
