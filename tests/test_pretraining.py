"""A model's pretraining corpora: which ones a cell gets, the identity, the planner's
one charge per shared stage, and the VTT static stage's head mapping."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from emobench import budget, pretraining
from emobench.cells import Cell
from emobench.plugins import registry
from fake_jobs import FakeJob


@dataclasses.dataclass
class Src:
    root: str
    synthetic: bool
    fingerprint: str = "fp"


class Declares:
    name = "declares"
    pretraining = (("affectnet", "expression7"), ("rafdb", "emotion"))


def _resolver(kinds):
    def resolve(ds, root, scale, seed=0, *, write=True, strict=False):
        return Src(f"/data/{ds.name}", kinds[ds.name], f"fp-{ds.name}")
    return resolve


def test_a_cell_never_pretrains_on_its_own_corpus_or_a_pairing_of_it(monkeypatch):
    reg = registry()
    monkeypatch.setattr(pretraining.datasource, "resolve", _resolver({"affectnet": True, "rafdb": True}))
    vtt = pretraining.for_cell(reg, Declares, reg.dataset("vtt"), Src("/x", True), None, "small")[0]
    assert [c.dataset for c in vtt] == ["affectnet", "rafdb"]
    assert vtt[0].identity() == ["affectnet", "expression7", "fp-affectnet"]
    own = pretraining.for_cell(reg, Declares, reg.dataset("affectnet"), Src("/x", True), None, "small")[0]
    assert [c.dataset for c in own] == ["rafdb"]
    pair = reg.dataset("rafdb-to-ckplus")
    got = pretraining.for_cell(reg, Declares, pair, Src("/x", True), None, "small")[0]
    assert [c.dataset for c in got] == ["affectnet"]  # RAF-DB is the pairing's training side


def test_a_real_cell_pretrains_only_on_real_copies_and_says_what_it_left_out(monkeypatch, tmp_path):
    reg = registry()
    (tmp_path / "AffectNet").mkdir()  # a real AffectNet under the data root, no RAF-DB
    resolved = []

    def resolve(ds, root, scale, seed=0, *, write=True, strict=False):
        resolved.append(ds.name)
        return Src(f"/data/{ds.name}", ds.name != "affectnet", f"fp-{ds.name}")

    monkeypatch.setattr(pretraining.datasource, "resolve", resolve)
    got, notices = pretraining.for_cell(reg, Declares, reg.dataset("vtt"), Src("/real/vtt", False),
                                        tmp_path, "small")
    assert [c.dataset for c in got] == ["affectnet"]
    assert len(notices) == 1 and "'rafdb'" in notices[0] and "real" in notices[0]
    assert resolved == ["affectnet"]  # no RAF-DB stand-in is written for a real cell
    stand_in, notices = pretraining.for_cell(reg, Declares, reg.dataset("vtt"), Src("/x", True),
                                             tmp_path, "small")
    assert [c.dataset for c in stand_in] == ["rafdb"] and "stand-in" in notices[0]


def test_models_without_pretraining_keep_their_identity():
    from emobench.jobs import identity

    reg = registry()
    cls = reg.model("linear")
    assert not getattr(cls, "pretraining", ())
    assert pretraining.for_cell(reg, cls, reg.dataset("vtt"), Src("/x", True), None, "small") == ([], [])
    cell = Cell("vtt", "emotion", "linear", "vtt-episodes")
    ident = identity(reg, cell, reg.dataset("vtt"), cls, reg.protocol("vtt-episodes"), "fp", "ck",
                     "default", 2, (0,))
    assert "pretraining" not in ident


def test_the_planner_charges_a_shared_stage_once_per_corpus_set_whatever_the_seeds():
    corpora = (pretraining.Corpus("affectnet", "expression7", "/a", "fa", True),
               pretraining.Corpus("rafdb", "emotion", "/r", "fr", True))
    cells = [Cell("vtt", "emotion", "tsm-resnet", "vtt-episodes"),
             Cell("ckplus", "emotion7", "tsm-resnet", "ckplus-10fold")]
    m = budget.Machine(gflops=100.0, workers=1, threads=1, overhead_s=0.5, source="test")

    def jobs(seeds, corp):
        return [FakeJob(f"{c}-{s}", c, 0, s, 2, size={"n_train": 20, "n_valid": 5, "n_test": 5, "group": 0},
                    pretraining=corp) for c in cells for s in seeds]

    one = budget.plan(jobs([0], corpora), None, m)
    per_seed = next(iter(one.shared[str(cells[0])].values()))
    assert per_seed > 0 and one.shared_s == pytest.approx(per_seed)  # two cells, one stage
    # each planned job names the stage, so the executors' queue can hold one back while
    # another computes it (tests/test_executors.py)
    assert {j.shared_work for j in one.jobs} == {tuple(one.shared[str(cells[0])])}
    three = budget.plan(jobs([0, 1, 2], corpora), None, m)
    assert three.shared_s == pytest.approx(per_seed)  # one fixed starting point for every seed
    other = budget.plan(jobs([0], corpora[:1]), None, m)
    assert other.shared_s == pytest.approx(per_seed) and other.shared != one.shared  # another set
    assert len({k for p in (one, other) for v in p.shared.values() for k in v}) == 2
    none = budget.plan(jobs([0], ()), None, m)
    assert none.shared_s == 0 and none.total_s == pytest.approx(one.total_s - per_seed)


def test_the_static_head_keeps_the_rows_of_the_cells_classes_by_name():
    import torch

    from emobench.labelspace import BASIC
    from emobench_plugins.models.tsm_resnet import static_stage
    from emobench_plugins.models.tsm_resnet.net import ResNet18TSM

    torch.manual_seed(0)
    static = ResNet18TSM(len(BASIC), shift="none", width=8)
    state = {k: v.numpy() for k, v in static.state_dict().items()}
    net = ResNet18TSM(3, shift="vtt", width=8)
    kept = static_stage.init_from(net, state, ("happy", "boredom", "Neutral"))
    assert kept == 2
    fc = net.fc.weight.detach().numpy()
    assert np.array_equal(fc[0], state["fc.weight"][BASIC.index("happiness")])
    assert np.array_equal(fc[2], state["fc.weight"][BASIC.index("neutral")])
    assert not np.array_equal(fc[1], state["fc.weight"][BASIC.index("happiness")])
    assert np.array_equal(net.conv1.weight.detach().numpy(), state["conv1.weight"])


def test_the_static_stage_learns_from_its_corpora_and_is_cached(tmp_path, monkeypatch):
    """Two basic classes told apart by a bright patch above or below the centre (the
    stage's flips mirror left and right, so a side would not tell them apart); the stage
    trains on them and a second call reads the cache instead of training."""
    from emobench.labelspace import BASIC
    from emobench_plugins.models.tsm_resnet import static_stage

    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path))
    rng = np.random.default_rng(0)

    class Rec:
        def forget(self):
            pass

    class S:
        recording = Rec()

        def __init__(self, y):
            self.y = y
            img = rng.integers(0, 60, (24, 24, 3)).astype(np.uint8)
            img[(0 if y == 0 else 14):(10 if y == 0 else 24), 8:16] = 250
            self.img = img

        def x(self, kind, size, gray):
            return self.img[None]

    class Fake:
        def __init__(self, n):
            self.items = [S(i % 2) for i in range(n)]

        def identity(self):
            return ["fake", "t", "f"]

        def samples(self, model_cls):
            return self.items, ("happiness", "sadness")

    recipe = static_stage.Recipe("default")
    recipe.steps, recipe.batch = 60, 8
    state = static_stage.train([Fake(40)], None, 0, 24, 8, recipe)
    import torch
    from emobench_plugins.models.tsm_resnet.net import ResNet18TSM

    net = ResNet18TSM(len(BASIC), shift="none", width=8)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    net.eval()
    test = Fake(20).items
    x = torch.from_numpy(np.stack([t.img[..., ::-1] / 255.0 for t in test]).astype(np.float32))
    with torch.no_grad():
        logits = net(x.permute(0, 3, 1, 2)[:, None])[:, 0]
    pred = logits[:, [BASIC.index("happiness"), BASIC.index("sadness")]].argmax(1).numpy()
    assert (pred == np.array([t.y for t in test])).mean() >= 0.8

    calls = []
    monkeypatch.setattr(static_stage, "train", lambda *a, **k: calls.append(1) or state)
    a = static_stage.weights([Fake(4)], None, 24, 8, "smoke")
    b = static_stage.weights([Fake(4)], None, 24, 8, "smoke")
    assert len(calls) == 1 and all(np.array_equal(a[k], b[k]) for k in a)


def test_tsm_fit_starts_from_the_static_stage_of_its_corpora(monkeypatch):
    """The fit asks the static stage for its corpora and side (never its seed: one fixed
    starting point for every training seed), and loads it before training."""
    import torch

    from emobench.data import Task
    from emobench.labelspace import BASIC
    from emobench.model import FitContext
    from emobench_plugins.models.tsm_resnet import TSMResNet, static_stage
    from emobench_plugins.models.tsm_resnet.net import ResNet18TSM

    torch.manual_seed(3)
    state = {k: v.numpy() for k, v in ResNet18TSM(len(BASIC), shift="none", width=8).state_dict().items()}
    asked = []

    def weights(corpora, model_cls, size, width, profile, device="cpu"):
        asked.append((tuple(c.dataset for c in corpora), size, width, profile))
        return state

    monkeypatch.setattr(static_stage, "weights", weights)
    loaded = []
    real_init = static_stage.init_from
    monkeypatch.setattr(static_stage, "init_from",
                        lambda net, st, classes: loaded.append(net.conv1.weight.shape) or real_init(net, st, classes))

    class Clip:
        def __init__(self, i):
            self.y, self.id, self.subject = i % 2, f"c{i}", f"s{i}"
            self.frames = np.full((4, 24, 24, 3), 40 + 100 * (i % 2), np.uint8)

        def x(self, name, size=(24, 24), gray=False):
            return self.frames

    task = Task(name="t", kind="classification", level="clip", classes=("happy", "sad"))
    corpus = pretraining.Corpus("affectnet", "expression7", "/a", "fa", True)
    ctx = FitContext(task=task, modalities={}, profile="default", seed=5, pretraining=(corpus,))
    model = TSMResNet(size=24, width=8, clip_budget=8, epochs=1, lr=1e-4).fit([Clip(i) for i in range(6)], [], ctx)
    assert asked == [(("affectnet",), 24, 8, "default")]
    model.fit([Clip(i) for i in range(6)], [], dataclasses.replace(ctx, seed=6))
    assert asked[1] == asked[0]  # another seed, the same stage
    assert loaded and model.pretrained_on_ == ["affectnet"]
    assert model.resolved_params() == {"size": 24, "width": 8}
    off = TSMResNet(size=24, width=8, clip_budget=8, epochs=1, pretrain=False).fit([Clip(i) for i in range(6)], [], ctx)
    assert len(asked) == 2 and off.pretrained_on_ == []
