"""Online early-classification evaluation (emobench/online.py) on toy streaming models,
checked against curves computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emobench.data import Recording, Sample, Task
from emobench.metrics import uar
from emobench.model import Model, Streamer
from emobench.online import evaluate_online, online_rows, plot_curves, trace_clip

TASK = Task("kind", "classification", "clip", classes=("a", "b"), metric="uar")


def _sample(i: int, label: int, steps: list[float]) -> Sample:
    x = np.asarray(steps, np.float32)[:, None]
    rec = Recording(id=f"r{i}", subject=f"s{i}", labels={"kind": label},
                    streams={"feats": lambda x=x, **_: x})
    return Sample(rec, TASK, {"features": "feats"})


class SignStreamer(Streamer):
    """After ``warmup`` steps: one-hot of the sign of the newest value; with
    ``decide_at`` it sets ``decision`` once |running sum| reaches it."""

    def __init__(self, model, kind, task, **spec):
        super().__init__(model, kind, task, **spec)
        self.reset()
        if model.decide_at is not None:
            self.decision = None

    def reset(self):
        self.t, self.total = 0, 0.0
        if getattr(self.model, "decide_at", None) is not None:
            self.decision = None

    def push(self, x):
        self.t += 1
        value = float(np.asarray(x).reshape(-1)[0])
        self.total += value
        if self.model.decide_at is not None and abs(self.total) >= self.model.decide_at:
            self.decision = int(self.total > 0)
        if self.t <= self.model.warmup:
            return None
        return int(value > 0)


class SignModel(Model):
    name = "sign"
    consumes = ("features",)

    def __init__(self, warmup=0, decide_at=None):
        super().__init__()
        self.warmup, self.decide_at = warmup, decide_at

    def streamer(self, kind, task, **spec):
        return SignStreamer(self, kind, task, **spec)


# clip 0 (class 1): negative first half, positive second half; clip 1 (class 0): all negative;
# clip 2 (class 1): all positive
CLIPS = [(1, [-1, -1, -1, -1, -1, 1, 1, 1, 1, 1, 1, 1]), (0, [-1] * 10), (1, [1] * 10)]


def _samples():
    return [_sample(i, y, s) for i, (y, s) in enumerate(CLIPS)]


def test_curve_matches_hand_computation():
    res = evaluate_online(SignModel(), _samples(), TASK, dataset="toy", fractions=(0.25, 0.5, 1.0))
    # clip 0 (length 12): after 3 steps mean of one-hots [1,0] -> class 0 (wrong); after 6
    # steps 5 x class 0, 1 x class 1 -> class 0; after 12 steps 5 vs 7 -> class 1 (right)
    preds = np.array([[0, 0, 1], [0, 0, 0], [1, 1, 1]])
    y = np.array([1, 0, 1])
    assert res.accuracy == pytest.approx([np.mean(preds[:, j] == y) for j in range(3)])
    assert res.primary == pytest.approx([uar(y, preds[:, j]) for j in range(3)])
    xs = [0, 0.25, 0.5, 1.0]
    ys = [0] + res.primary
    assert res.auc == pytest.approx(sum((xs[i + 1] - xs[i]) * (ys[i + 1] + ys[i]) / 2 for i in range(3)))
    assert res.decision_fraction is None and res.n == 3


def test_unanswered_prefixes_count_as_wrong():
    res = evaluate_online(SignModel(warmup=4), _samples(), TASK, fractions=(0.2, 1.0))
    assert res.accuracy[0] == 0.0 and res.primary[0] == 0.0  # no output after 2-3 steps
    preds, decided, at, n = trace_clip(SignModel(warmup=4), _samples()[0], TASK, (0.2, 1.0))
    assert preds == [-1, 1] and decided is None and n == 12


def test_deciding_model_freezes_and_reports_decision_time():
    model = SignModel(decide_at=3)
    preds, decided, at, n = trace_clip(model, _samples()[0], TASK, (0.1, 0.5, 1.0))
    # after 2 steps (ceil 0.1 * 12) two class-0 outputs; the running sum reaches -3 at
    # step 3: it decides class 0 there and stays with it, though the clip turns positive
    assert (decided, at, n) == (0, 3, 12) and preds == [0, 0, 0]
    res = evaluate_online(model, _samples(), TASK, fractions=(0.1, 0.5, 1.0))
    assert res.decision_fraction == pytest.approx(np.mean([3 / 12, 3 / 10, 3 / 10]))
    assert res.decision_accuracy == pytest.approx(2 / 3)  # clip 0 decided wrongly


def test_rows_rank_by_auc_and_plot_writes_png(tmp_path):
    a = evaluate_online(SignModel(), _samples(), TASK, dataset="toy")
    b = evaluate_online(SignModel(warmup=5), _samples(), TASK, dataset="toy")
    rows = online_rows([b, a])
    assert [r["auc"] for r in rows] == sorted([a.auc, b.auc], reverse=True)
    assert {"model", "dataset", "task", "auc", "curve", "decision_fraction"} <= set(rows[0])
    path = plot_curves([a, b], tmp_path / "online.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_fractions_and_tasks_are_refused():
    with pytest.raises(ValueError, match="fractions"):
        evaluate_online(SignModel(), _samples(), TASK, fractions=(0.5, 0.2))
    frame = Task("lvl", "regression", "frame", metric="ccc")
    with pytest.raises(ValueError, match="clip-level classification"):
        evaluate_online(SignModel(), _samples(), frame)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_agent_and_two_sequence_models_on_the_rml_standin(tmp_path):
    """The protocol runs on av-agent (deciding), EmoP3D's ClipStreamer and tsm-resnet's streamer."""
    from emobench.metrics import accuracy
    from emobench.model import FitContext
    from emobench_plugins.datasets.rml import EMOTION_TASK, Rml
    from emobench_plugins.models.av_agent import AVAgent
    from emobench_plugins.models.emop3d import EmoP3D
    from emobench_plugins.models.tsm_resnet import TSMResNet

    root = tmp_path / "RML_Dataset"
    Rml().write_standin(root, "tiny", seed=0)
    recs = Rml().load(root)
    sample = lambda r, inputs: Sample(r, EMOTION_TASK, inputs)
    ctx = FitContext(EMOTION_TASK, Rml.modalities, profile="smoke",
                     score=lambda s, p: accuracy([x.y for x in s], p))
    results = []
    for model, inputs in ((AVAgent(rl_epochs=2), {"face_video": "face_video", "audio": "audio"}),
                          (EmoP3D(clip_len=8, stride=4, size=20, epochs=1), {"face_video": "face_video"}),
                          (TSMResNet(), {"face_video": "face_video"})):
        train = [sample(r, inputs) for r in recs if r.subject in ("s3", "s4")]
        valid = [sample(r, inputs) for r in recs if r.subject == "s2"]
        test = [sample(r, inputs) for r in recs if r.subject == "s1"]
        model.fit(train, valid, ctx)
        res = evaluate_online(model, test, EMOTION_TASK, dataset="rml", fractions=(0.25, 0.5, 1.0))
        assert len(res.primary) == 3 and 0 <= res.auc <= 1 and res.n == len(test)
        results.append(res)
    assert results[0].decision_fraction is not None and 0 < results[0].decision_fraction <= 1
    assert results[1].decision_fraction is None and results[2].decision_fraction is None
    rows = online_rows(results)
    assert {r["model"] for r in rows} == {"av-agent", "emop3d", "tsm-resnet"}
    assert plot_curves(results, tmp_path / "online.png").stat().st_size > 0


# -- inside emobench run: the fold's hook and the leaderboard section ------------------

class MeanSignModel(Model):
    """Clip level: the sign of the mean of feature ``a``; streams the running mean,
    so its answer at the whole clip is its offline prediction."""

    name = "mean-sign"
    consumes = ("features",)
    task_kinds = ("classification",)
    levels = ("clip",)
    deterministic = True

    def fit(self, train, valid, ctx):
        return self

    def predict(self, samples):
        return [int(s.x("features")[:, 0].mean() > 0) for s in samples]

    def streamer(self, kind, task, **spec):
        return MeanSignStreamer(self, kind, task, **spec)


class MeanSignStreamer(Streamer):
    cumulative = True  # each answer is of the whole stream so far

    def push(self, x):
        self.buffer.append(float(np.asarray(x).reshape(-1)[0]))
        return int(np.mean(self.buffer) > 0)


class BrokenStreamModel(MeanSignModel):
    name = "broken-stream"

    def streamer(self, kind, task, **spec):
        raise RuntimeError("no streaming here")


def test_cumulative_streamer_is_read_at_its_newest_output():
    """Clip 0 is negative for 5 steps, then positive: the vote of the running-mean
    answers lags behind the newest running mean, which a cumulative streamer reports."""
    s = _samples()[0]
    voted, *_ = trace_clip(MeanSignModel(), s, TASK, (0.5, 0.75, 1.0))

    class Voting(MeanSignStreamer):
        cumulative = False

    class VotingModel(MeanSignModel):
        def streamer(self, kind, task, **spec):
            return Voting(self, kind, task, **spec)

    mean, *_ = trace_clip(VotingModel(), s, TASK, (0.5, 0.75, 1.0))
    # running means at steps 6, 9, 12: -4/6, -1/9, 2/12 -> 0, 0, 1; votes of the
    # answers (0 x5, then 0, 0, 0, 1 ...): still 0 at the end
    assert voted == [0, 0, 1] and mean == [0, 0, 0]


def test_fold_hook_runs_only_where_asked(monkeypatch):
    from emobench import online

    monkeypatch.delenv("EMOBENCH_ONLINE", raising=False)
    samples = _samples()
    assert online.fold_arrays(SignModel(), samples, TASK, "toy") == {}  # not an online corpus
    got = online.fold_arrays(SignModel(), samples, TASK, "rml")
    assert got["online_pred"].shape == (3, len(online.FRACTIONS))
    assert np.isnan(got["online_decision"]).all()  # SignModel does not decide
    monkeypatch.setenv("EMOBENCH_ONLINE", "none")
    assert online.fold_arrays(SignModel(), samples, TASK, "rml") == {}
    monkeypatch.setenv("EMOBENCH_ONLINE", "toy, other")
    assert "online_pred" in online.fold_arrays(SignModel(), samples, TASK, "toy")
    monkeypatch.setenv("EMOBENCH_ONLINE", "all")
    assert online.fold_arrays(Model(), samples, TASK, "toy") == {}  # the base streamer never answers
    regression = Task("v", "regression", "clip", metric="ccc")
    assert online.fold_arrays(SignModel(), samples, regression, "toy") == {}
    err = online.fold_arrays(BrokenStreamModel(), samples, TASK, "toy")
    assert set(err) == {"online_error"} and "no streaming here" in str(err["online_error"])
    dec = online.fold_arrays(SignModel(decide_at=3), samples, TASK, "toy")["online_decision"]
    assert np.isfinite(dec).all() and ((0 < dec) & (dec <= 1)).all()


def test_run_stores_traces_and_the_leaderboard_ranks_them(reg, tmp_path, monkeypatch):
    """emobench run on a toy corpus stores each fold's online trace; the section's
    curve at the whole clip equals the offline score of the same rows, the PNG is
    written and linked, and a model whose streamer fails is named with its error."""
    from emobench import runner
    from emobench.cells import plan
    from emobench.leaderboard import collect, write
    from emobench.leaderboard import online as LO
    from emobench.profiles import get_profile
    from emobench.store import Store, unpack_predictions

    monkeypatch.setenv("EMOBENCH_ONLINE", "toy")
    monkeypatch.setitem(reg.models, "mean-sign", MeanSignModel)
    monkeypatch.setitem(reg.models, "broken-stream", BrokenStreamModel)
    url = f"sqlite:///{tmp_path}/r.db"
    for m in ("mean-sign", "broken-stream", "mean"):
        cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model=m, task="kind")
        assert cells
        runner.run(cells, profile="smoke", store_url=url, progress=False)
    rows = Store(url).rows(with_predictions=True)
    packs = {r["model"]: unpack_predictions(r["predictions"]) for r in rows}
    assert "online_pred" in packs["mean-sign"] and "online_error" in packs["broken-stream"]
    assert not any(k.startswith("online") for k in packs["mean"])  # no streamer: no trace
    (table,) = collect(Store(url))
    curves = {c.model: c for c in LO.table_curves(table)}
    assert set(curves) == {"mean-sign", "broken-stream"}
    ms = curves["mean-sign"]
    entry = next(e for e in table.entries if e.model == "mean-sign")
    assert ms.primary[-1] == pytest.approx(entry.score)  # the running mean ends at predict()
    assert ms.n == len(entry.y_true) and 0 < ms.auc <= 1 and ms.decision_fraction is None
    # the AUC's interval is over the entry's test subjects, as the main table's
    assert ms.ci.k == entry.ci.k and ms.ci.estimate == pytest.approx(ms.auc)
    assert math.isnan(curves["broken-stream"].auc) and "no streaming here" in curves["broken-stream"].errors[0]
    index = write(Store(url), tmp_path / "lb")
    text = index.read_text()
    assert "## Online early classification" in text
    png = f"online-{table.slug}.png"
    assert f"]({png})" in text and (tmp_path / "lb" / png).stat().st_size > 0
    assert "| 1 | mean-sign |" in text and "`broken-stream`: no online curve" in text
    assert "95 % interval (k subjects)" in text


def test_auc_interval_is_the_subject_jackknife_of_the_curve():
    """The online AUC's interval is the leave-one-subject-out jackknife t-interval
    (seed variance added) of the area itself, checked against a direct computation;
    below k = 5 subjects there is none, with the main tables' reason."""
    import scipy.stats

    from emobench.leaderboard import online as LO

    rng = np.random.default_rng(3)
    fractions = (0.25, 0.5, 1.0)
    subjects = np.repeat([f"p{i}" for i in range(6)], 5)
    y = rng.integers(0, 3, len(subjects))
    tables = []
    for _ in range(2):  # two seeds
        t = np.where(rng.random((len(y), 3)) < 0.6, y[:, None], rng.integers(0, 3, (len(y), 3)))
        t[:, 0] = np.where(rng.random(len(y)) < 0.4, -1, t[:, 0])  # no answer yet at a quarter
        tables.append(t)

    def area(yy, tt):  # trapezoid from (0, 0) through the UAR at each fraction, unanswered wrong
        ys = [0.0] + [uar(yy, np.where(tt[:, j] < 0, 3, tt[:, j])) for j in range(3)]
        return float(np.trapezoid(ys, [0.0, *fractions]))

    ci = LO.auc_interval(y, tables, subjects, fractions, "uar")
    per_seed = [area(y, t) for t in tables]
    names = sorted(set(subjects))
    k = len(names)
    theta = np.array([np.mean([area(y[subjects != s], t[subjects != s]) for t in tables])
                      for s in names])
    var = (k - 1) / k * np.sum((theta - theta.mean()) ** 2) + np.var(per_seed, ddof=1) / 2
    half = scipy.stats.t.ppf(0.975, k - 1) * np.sqrt(var)
    assert ci.k == 6 and ci.n_seeds == 2 and ci.has_interval
    assert ci.estimate == pytest.approx(np.mean(per_seed))
    assert ci.low == pytest.approx(max(0.0, np.mean(per_seed) - half))
    assert ci.high == pytest.approx(min(1.0, np.mean(per_seed) + half))
    few = subjects < "p3"
    small = LO.auc_interval(y[few], [t[few] for t in tables], subjects[few], fractions, "uar")
    assert small.k == 3 and not small.has_interval and "too few" in small.reason
    with pytest.raises(ValueError, match="clips"):
        LO.auc_interval(y, [tables[0][:-1]], subjects, fractions, "uar")


def test_a_batched_streamer_is_traced_in_one_call_and_must_answer_every_step():
    from emobench.data import Task

    task = Task(name="t", kind="classification", level="clip", classes=("a", "b"))
    calls = []

    class Windows:
        def reset(self):
            pass

        def push(self, x):
            raise AssertionError("push_many is used instead")

        def push_many(self, xs):
            calls.append(len(xs))
            return [np.array([1.0, 0.0]) if x < 3 else np.array([0.0, 1.0]) for x in xs]

    class M:
        name = "m"

        def streamer(self, kind, task):
            return Windows()

        def online_stream(self, s):
            return np.arange(10)

    class S:
        id = "s0"

    preds, decided, at, n = trace_clip(M(), S(), task)
    assert calls == [10] and n == 10 and decided is None
    assert preds[0] == 0 and preds[-1] == 1  # 3 of 10 windows say a, then b outweighs them

    class Short(Windows):
        def push_many(self, xs):
            return [np.array([1.0, 0.0])]

    M.streamer = lambda self, kind, task: Short()
    with pytest.raises(ValueError, match="push_many of Short gave 1 outputs for 10 steps of sample 's0'"):
        trace_clip(M(), S(), task)
