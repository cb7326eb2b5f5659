"""emobench score: a prediction file checked against the protocol's test split,
scored like emobench's own rows, stored as an external entry; and the round
trip export --predictions -> score reproduces the leaderboard row exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emobench import runner
from emobench import score as S
from emobench.cells import plan
from emobench.export import export_predictions
from emobench.leaderboard import collect
from emobench.profiles import get_profile
from emobench.protocols import SubjectHoldout
from emobench.store import Store


def _run(reg, url, model, task):
    cells, _ = plan(reg, get_profile("smoke"), dataset="toy", model=model, task=task)
    assert cells
    runner.run(cells, profile="smoke", store_url=url, progress=False)


def _submission(out: Path, model: str, task: str) -> Path:
    index = json.loads((out / "index.json").read_text())
    (entry,) = [e for e in index if e["model"] == model and e["task"] == task]
    return out / entry["path"], entry


@pytest.mark.parametrize("model,task", [("linear", "level"), ("linear", "kind")])
def test_round_trip_reproduces_the_leaderboard_row_exactly(reg, tmp_path, model, task):
    url = f"sqlite:///{tmp_path}/r.db"
    _run(reg, url, model, task)
    out = tmp_path / "export"
    export_predictions(Store(url), out, registry=reg)
    folder, entry = _submission(out, model, task)
    assert "--partial" not in entry["command"]  # smoke's cap regroups, every recording tested
    res = S.score_predictions([folder], dataset="toy", task=task, protocol="subject-5fold",
                              name="roundtrip", profile="smoke", store_url=url, reg=reg)
    assert res.model == "external:roundtrip" and res.stored == len(res.keys) == 2
    (table,) = collect(Store(url))
    by_model = {e.model: e for e in table.entries}
    own, ext = by_model[model], by_model["external:roundtrip"]
    assert ext.score == own.score and ext.k == own.k
    assert (ext.ci.low, ext.ci.high) == (own.ci.low, own.ci.high) or not own.ci.has_interval
    assert ext.ci.estimate == own.ci.estimate and ext.ci.has_interval == own.ci.has_interval
    assert np.array_equal(ext.item, own.item) and np.array_equal(ext.y_pred, own.y_pred)
    assert ext.folds_run == own.folds_run and ext.folds_total == own.folds_total
    # the same items: the paired test ran (a tie with the original row)
    assert ext.compared or ext.is_best
    for r in Store(url).rows():
        if r["model"] == "external:roundtrip":
            assert r["provenance"]["external"] is True
            assert r["provenance"]["sha256"] == S.checksum(folder)
            assert r["identity_key"] == res.identity_key
    # scoring the same file again stores nothing new
    again = S.score_predictions([folder], dataset="toy", task=task, protocol="subject-5fold",
                                name="roundtrip", profile="smoke", store_url=url, reg=reg)
    assert again.stored == 0 and again.identity_key == res.identity_key


@pytest.fixture
def exported(reg, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    _run(reg, url, "linear", "level")
    _run(reg, url, "linear", "kind")
    out = tmp_path / "export"
    export_predictions(Store(url), out, registry=reg)
    return url, out


def _score(reg, url, path, task, protocol="subject-5fold", partial=False):
    return S.score_predictions([path], dataset="toy", task=task, protocol=protocol, name="x",
                               profile="smoke", store_url=url, partial=partial, reg=reg)


def test_missing_recording_is_named(reg, exported):
    url, out = exported
    folder, _ = _submission(out, "linear", "level")
    victim = sorted(folder.glob("*.csv"))[0]
    rid = victim.read_text().splitlines()[1].split(";")[0]
    victim.unlink()
    with pytest.raises(S.MissingRecording, match=f"test recording '{rid}'"):
        _score(reg, url, folder, "level")


def test_missing_fold_is_named_unless_partial(reg, exported):
    from emobench.store import unpack_predictions

    url, out = exported
    folder, _ = _submission(out, "linear", "level")
    (row,) = [r for r in Store(url).rows(with_predictions=True)
              if r["model"] == "linear" and r["task"] == "level" and r["fold_index"] == 0]
    gone = set(unpack_predictions(row["predictions"])["item"].tolist())
    for f in folder.glob("*.csv"):
        if f.read_text().splitlines()[1].split(";")[0] in gone:
            f.unlink()
    with pytest.raises(S.MissingRecording, match=f"of fold '{row['fold']}' has no prediction"):
        _score(reg, url, folder, "level", partial=False)
    res = _score(reg, url, folder, "level", partial=True)
    assert row["fold"] not in res.folds and len(res.folds) == res.n_folds - 1
    (table,) = [t for t in collect(Store(url)) if t.task == "level"]
    (ext,) = [e for e in table.entries if e.model == "external:x"]
    assert not ext.complete and "folds" in ext.partial_reason


def test_wrong_length_names_file_and_line(reg, exported):
    url, out = exported
    folder, _ = _submission(out, "linear", "level")
    victim = sorted(folder.glob("*.csv"))[1]
    lines = victim.read_text().splitlines()
    victim.write_text("\n".join(lines[:-1]) + "\n")  # one frame short
    with pytest.raises(S.WrongLength, match=rf"{victim.name}, line 2: .*{len(lines) - 2} frame "
                                            rf"predictions .* for {len(lines) - 1} label"):
        _score(reg, url, folder, "level")


def test_bad_timestamp_names_the_line(reg, exported):
    url, out = exported
    folder, _ = _submission(out, "linear", "level")
    victim = sorted(folder.glob("*.csv"))[0]
    lines = victim.read_text().splitlines()
    rid, _, v = lines[4].split(";")
    lines[4] = f"{rid};0.9;{v}"
    victim.write_text("\n".join(lines) + "\n")
    with pytest.raises(S.BadTimestamp, match=rf"{victim.name}, line 5: .*should be 0.3 s"):
        _score(reg, url, folder, "level")


def test_unknown_class_names_file_and_line(reg, exported):
    url, out = exported
    folder, _ = _submission(out, "linear", "kind")
    f = folder / S.PREDICTIONS_FILE
    lines = f.read_text().splitlines()
    lines[3] = lines[3].split(",")[0] + ",medium"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(S.UnknownClass, match=rf"{f.name}, line 4: class 'medium' .*known: lo, hi"):
        _score(reg, url, folder, "kind")


def test_training_recording_is_named(reg, exported, monkeypatch):
    url, _ = exported
    # a hold-out protocol: some recordings are only ever trained on
    monkeypatch.setitem(reg.protocols, "toy-holdout",
                        SubjectHoldout(name="toy-holdout", counts=(6, 2, 2), datasets=("toy",)))
    recs = runner.load_recordings(reg.dataset("toy"), Path(_root(reg)))
    (fold,) = reg.protocol("toy-holdout").folds(recs, 0)
    train = fold.train[0]
    f = Path(url[len("sqlite:///"):]).parent / "kind.csv"
    f.write_text("item,prediction\n" + "".join(f"{i},lo\n" for i in fold.test) + f"{train},hi\n")
    with pytest.raises(S.TrainingRecording, match=rf"line {len(fold.test) + 2}: recording "
                                                  rf"'{train}' is in the training"):
        _score(reg, url, f, "kind", protocol="toy-holdout", partial=False)
    # without it, the file scores and ranks in its own table
    f.write_text("item,prediction\n" + "".join(f"{i},lo\n" for i in fold.test))
    res = _score(reg, url, f, "kind", protocol="toy-holdout", partial=False)
    assert res.folds == ["holdout"]


def _root(reg):
    from emobench import datasource

    return datasource.resolve(reg.dataset("toy"), None, get_profile("smoke").scale).root


def test_unknown_recording_duplicate_and_header(reg, exported, tmp_path):
    url, out = exported
    f = tmp_path / "p.csv"
    f.write_text("item,prediction\nnope,lo\n")
    with pytest.raises(S.UnknownRecording, match="line 2: recording 'nope' is not in the corpus"):
        _score(reg, url, f, "kind")
    f.write_text("item,prediction\nr000,lo\nr000,hi\n")
    with pytest.raises(S.DuplicateRecording, match="line 3: recording 'r000' is predicted twice"):
        _score(reg, url, f, "kind")
    f.write_text("id;score\nr000;lo\n")
    with pytest.raises(S.BadHeader, match="line 1: header .* expected 'item,prediction'"):
        _score(reg, url, f, "kind")
    f.write_text("instance name;timestamp;level\nr000;0.0;abc\n")
    with pytest.raises(S.BadValue, match="line 2: prediction 'abc' is not a number"):
        _score(reg, url, f, "level")


def test_cli_score_and_export(reg, exported, tmp_path):
    """The commands on top: exit 2 and one line naming file and line for a damaged file."""
    from typer.testing import CliRunner

    from emobench.cli import app

    url, out = exported
    folder, entry = _submission(out, "linear", "kind")
    cli = CliRunner()
    res = cli.invoke(app, ["score", "--dataset", "toy", "--task", "kind", "--protocol",
                           "subject-5fold", "--profile", "smoke", "--store", url, "--partial",
                           "--name", "team", str(folder)])
    assert res.exit_code == 0, res.output
    assert "external:team" in res.output and "accuracy" in res.output
    f = folder / S.PREDICTIONS_FILE
    f.write_text(f.read_text().replace(",lo\n", ",LO\n", 1).replace(",hi\n", ",HI\n", 1))
    res = cli.invoke(app, ["score", "--dataset", "toy", "--task", "kind", "--protocol",
                           "subject-5fold", "--profile", "smoke", "--store", url, "--partial",
                           str(folder)])
    assert res.exit_code == 2 and "line 2: class" in res.output
    res = cli.invoke(app, ["export", "--store", url, "--predictions", str(tmp_path / "again")])
    assert res.exit_code == 0 and (tmp_path / "again" / "index.json").is_file()
