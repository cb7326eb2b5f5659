"""Identity, seeds, fold caps and the cached fold plan (issues 11 and 16)."""

import sqlite3
from types import SimpleNamespace

import plugin_kit
from emobench import runner
from emobench.cells import plan
from emobench.data import Recording, Task
from emobench.jobs import chosen_folds, compute_fold_plan
from emobench.profiles import get_profile
from emobench.protocols import OfficialPartition
from emobench.store import Store


def run(reg, tmp_path, model="*", task="*", **kw):
    cells, skipped = plan(reg, get_profile("smoke"), dataset="toy", model=model, task=task)
    return runner.run(cells, profile="smoke", store_url=f"sqlite:///{tmp_path}/r.db",
                      skipped=skipped, progress=False, **kw)


def rows(tmp_path):
    return Store(f"sqlite:///{tmp_path}/r.db").rows()


def test_stochastic_models_run_each_fold_once_per_seed_on_the_same_folds(reg, tmp_path):
    s = run(reg, tmp_path, model="[sl][li]*", task="level", seeds=2)  # slow (stochastic) + linear
    assert s.run == 2 * 2 + 2  # slow: 2 folds x 2 seeds; linear is deterministic: 2 folds x 1
    slow = [r for r in rows(tmp_path) if r["model"] == "slow"]
    assert sorted((r["fold"], r["seed"]) for r in slow) == [
        ("capped=1/2", 0), ("capped=1/2", 1), ("capped=2/2", 0), ("capped=2/2", 1)]
    # paired: the seed rows of a fold saw the same test recordings
    by_fold = {}
    for r in slow:
        by_fold.setdefault(r["fold"], []).append(r)
    for pair in by_fold.values():
        items = [tuple(Store(f"sqlite:///{tmp_path}/r.db").predictions(r["key"])["item"]) for r in pair]
        assert items[0] == items[1]
        assert pair[0]["provenance"]["fold_checksum"] == pair[1]["provenance"]["fold_checksum"]
    assert {r["identity_key"] for r in slow} == {slow[0]["identity_key"]}
    assert slow[0]["provenance"]["identity"]["seeds"] == [0, 1]
    linear = [r for r in rows(tmp_path) if r["model"] == "linear"]
    assert {r["seed"] for r in linear} == {0} and linear[0]["provenance"]["identity"]["seeds"] == [0]


def test_a_fold_is_tuned_once_and_its_other_seeds_train_the_chosen_configuration(reg, tmp_path,
                                                                                 monkeypatch):
    fits = []
    real_fit = plugin_kit.Slow.fit

    def counted(self, train, valid, ctx):
        fits.append((ctx.seed, self.params["ridge"]))
        return real_fit(self, train, valid, ctx)

    monkeypatch.setattr(plugin_kit.Slow, "fit", counted)
    s = run(reg, tmp_path, model="slow", task="level", seeds=3, trials=3, max_folds=1)
    assert s.run == 3 and s.failed == 0
    by_seed = {r["seed"]: r for r in rows(tmp_path)}
    first = by_seed[0]["provenance"]["tuning"]
    assert first["trials"] == 3 and "tuned_by" not in first
    for seed in (1, 2):
        t = by_seed[seed]["provenance"]["tuning"]
        assert t["tuned_by"] == by_seed[0]["key"] and t["source"] == "stored"
        assert t["params"] == first["params"] and by_seed[seed]["n_trials"] == 3
    # 3 trials on seed 0, then one fit per other seed with the tuned ridge and its own seed
    assert len(fits) == 3 + 2
    assert [f for f in fits[3:]] == [(1, first["params"]["ridge"]), (2, first["params"]["ridge"])]
    # the tuning trials never train with the seeds the other rows train with
    assert {seed for seed, _ in fits[:3]}.isdisjoint({1, 2})
    # a later seed that runs before its first seed (a failure, another worker) tunes as the
    # first seed would, to the same configuration
    con = sqlite3.connect(f"{tmp_path}/r.db")
    con.execute("DELETE FROM results WHERE seed IN (0, 2)")
    con.commit()
    con.close()
    from emobench import executors, fold
    fold._TUNED.clear()  # this process's last tuning, as a new worker has none
    plain = executors.Queue.__init__
    monkeypatch.setattr(executors.Queue, "__init__",
                        lambda self, jobs, admit=None: plain(self, list(jobs)[::-1], admit))
    monkeypatch.setattr(executors.Queue, "_blocked", lambda self, job: False)
    s = run(reg, tmp_path, model="slow", task="level", seeds=3, trials=3, max_folds=1, jobs=1)
    again = {r["seed"]: r for r in rows(tmp_path)}
    assert s.run == 2 and again[2]["provenance"]["tuning"]["source"] == "tuned again"
    assert again[2]["provenance"]["tuning"]["params"] == again[0]["provenance"]["tuning"]["params"] \
        == first["params"]
    assert again[2]["key"] == by_seed[2]["key"] and again[2]["score"] == by_seed[2]["score"]


def test_seed_count_version_and_trials_each_make_a_new_identity(reg, tmp_path, monkeypatch):
    def key(**kw):
        run(reg, tmp_path, model="slow", task="level", max_folds=1, **kw)
        return max(rows(tmp_path), key=lambda r: r["finished"])["identity_key"]

    base = key()
    assert key() == base  # a rerun reuses, same identity
    seeds = key(seeds=2)
    trials = key(trials=3)
    monkeypatch.setattr(plugin_kit.Slow, "version", "2")
    version = key()
    assert len({base, seeds, trials, version}) == 4


def _multi_test_recordings():
    recs = []
    for i in range(12):
        part = "train" if i < 6 else "devel" if i < 8 else "test"
        recs.append(Recording(id=f"r{i}", subject=f"s{i}", partition=part, labels={"t": 0.0},
                              groups={"culture": ["DE", "HU"][i % 2]}))
    return recs


def test_a_fold_cap_never_drops_a_test_set_of_a_multi_test_set_protocol():
    proto = OfficialPartition(name="multi", test_by="culture")
    ds = SimpleNamespace(tasks=(Task("t", "regression"),))
    fp = compute_fold_plan(ds, proto, "multi", _multi_test_recordings(), 0)
    assert [f["name"] for f in fp["folds"]] == ["test=DE", "test=HU"]
    assert chosen_folds(fp["folds"], 1) == [0, 1]  # one train/valid pair: both test sets run
    # folds with their own training sets count one each
    loso = [{"name": f"f{i}", "group": i, "labelled": {}} for i in range(5)]
    assert chosen_folds(loso, 2) == [0, 1] and chosen_folds(loso, None) == [0, 1, 2, 3, 4]


def test_a_no_op_rerun_plans_without_reading_the_corpus(reg, tmp_path, monkeypatch):
    first = run(reg, tmp_path, model="linear")
    assert first.run == 4
    runner._RECORDINGS.clear()

    def no_reading(self, root):
        raise AssertionError("the corpus was read to plan a rerun whose jobs are all done")

    monkeypatch.setattr(plugin_kit.Toy, "load", no_reading)
    again = run(reg, tmp_path, model="linear")
    assert (again.run, again.reused, again.failed) == (0, 4, 0)


def test_test_samples_reach_predict_without_their_labels(reg, tmp_path, monkeypatch):
    def peeking_predict(self, samples):
        return [s.x("features") @ self.w + 0 * s.y for s in samples]

    monkeypatch.setattr(plugin_kit.Slow, "predict", peeking_predict)
    s = run(reg, tmp_path, model="slow", max_folds=1)
    # validation samples keep their labels (tuning scores them); the test split fails
    assert s.failed == 1
    assert "test labels are withheld from Model.predict" in s.failures[0]


def test_an_old_store_gains_the_new_columns(tmp_path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.execute("create table results (key varchar(64) primary key, status varchar(10), "
                "n_folds integer)")
    con.execute("insert into results values ('k', 'done', 3)")
    con.commit()
    con.close()
    st = Store(f"sqlite:///{db}")
    (row,) = st.rows(None)
    assert row["key"] == "k" and row["identity_key"] is None and row["folds_run"] is None
    Store(f"sqlite:///{db}")  # a second open finds nothing to add

