"""The command line: exit codes, typos, flags, configuration files, store
location, clean, progress, and the annotate stage's model and face choices."""

import re
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from emobench.cli import app
from emobench.cli import locations
from emobench.cli.progress import FoldProgress

runner = CliRunner()


def invoke(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def smoke(tmp_path, *extra):
    return ("run", "--dataset", "toy", "--profile", "smoke", "--no-latency", "--no-progress",
            "--store", f"sqlite:///{tmp_path}/r.db", *extra)


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and re.fullmatch(r"emobench \d+\.\d+\.\S+\n", r.output)


def test_failed_fold_exits_1_and_the_rest_is_stored(reg, tmp_path):
    r = invoke(*smoke(tmp_path, "--model", "failing", "--task", "kind"))
    assert r.exit_code == 1, r.output
    assert "deliberate failure inside fit" in r.output and "2 failed" in r.output
    r = invoke(*smoke(tmp_path, "--model", "mean", "--task", "kind"))
    assert r.exit_code == 0, r.output
    assert "2 folds run" in r.output


@pytest.mark.parametrize("args, wanted", [
    (("run", "--dataset", "tyo"), "unknown dataset 'tyo' (did you mean 'toy'?)"),
    (("run", "--dataset", "toy", "--model", "meen"), "unknown model 'meen' (did you mean 'mean'?)"),
    (("run", "--dataset", "toy", "--task", "levle"), "unknown task 'levle' (did you mean 'level'?)"),
    (("run", "--dataset", "toy", "--protocol", "subject-5fol"), "did you mean 'subject-5fold'?"),
    (("run", "--dataset", "toy", "--profile", "smok"), "unknown profile 'smok' (did you mean 'smoke'?)"),
    (("run", "--dataset", "tx*"), "no dataset matches the pattern 'tx*'"),
    (("run", "--dataset", "toy", "--model", "fail*x"), "no model matches the pattern 'fail*x'"),
    (("list", "models", "meen"), "unknown model 'meen' (did you mean 'mean'?)"),
    (("list", "--profile", "papr"), "did you mean 'paper'?"),
    (("doctor", "--dataset", "tyo", "--data-root", "."), "unknown dataset 'tyo'"),
    (("synth", "tyo", "--out", "x"), "unknown dataset 'tyo'"),
    (("synth", "toy", "--out", "x", "--scale", "tinny"), "unknown scale 'tinny' (did you mean 'tiny'?)"),
    (("explain", "meen", "--dataset", "toy", "--task", "level"), "unknown model 'meen'"),
    (("explain", "mean", "--dataset", "toy", "--task", "levl"), "unknown task 'levl'"),
    (("check", "bselines"), "unknown plugin 'bselines' (did you mean 'baselines'?)"),
    (("profile", "meen", "--no-store"), "unknown model 'meen'"),
    (("annotate", "x.mp4", "--model", "meen"), "unknown model 'meen' (did you mean 'mean'?)"),
])
def test_typos_exit_2_with_one_line_and_a_suggestion(reg, args, wanted):
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert wanted in r.output
    assert "Traceback" not in r.output
    assert [line for line in r.output.splitlines() if line.startswith("emobench: error:")]


def test_missing_store_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOBENCH_STORE", raising=False)
    for cmd in ("leaderboard", "export"):
        r = invoke(cmd, "--store", tmp_path / "nope.db")
        assert r.exit_code == 2 and "no results store at" in r.output and "nope.db" in r.output
        r = invoke(cmd)
        assert r.exit_code == 2 and "results.db" in r.output
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / ".emobench").exists()


def test_interrupt_exits_130_and_says_how_to_resume(reg, tmp_path, monkeypatch):
    from emobench import runner as R

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(R, "run", interrupted)
    r = invoke(*smoke(tmp_path, "--model", "mean"))
    assert r.exit_code == 130 and "run the same command again to resume" in r.output
    if hasattr(R, "RunInterrupted"):  # the runner's own SIGTERM/SIGINT handling: its code passes through
        def terminated(*a, **k):
            raise R.RunInterrupted(143, R.Summary())

        monkeypatch.setattr(R, "run", terminated)
        assert invoke(*smoke(tmp_path, "--model", "mean")).exit_code == 143


def test_quiet_and_verbose_on_every_command():
    import typer.main

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        opts = {o for p in cmd.params for o in p.opts}
        assert {"-q", "--quiet", "-v", "--verbose"} <= opts, name
        assert all(p.help for p in cmd.params if p.opts and p.opts[0].startswith("-")), name
    assert {"-q", "-v", "--version"} <= {o for p in group.params for o in p.opts}


def test_list_fits_100_columns_and_cells_agree_with_explain(reg):
    for args in (["list"], ["list", "cells"], ["list", "cells", "--explain"], ["-v", "list", "models"]):
        r = invoke(*args)
        assert r.exit_code == 0, r.output
        assert max(len(line) for line in r.output.splitlines()) <= 100, args
    import json

    plain = json.loads(invoke("list", "cells", "--json").output)
    explained = json.loads(invoke("list", "cells", "--explain", "--json").output)
    assert plain["cells"] == explained["cells"] and explained["skipped"]
    assert "skipped" not in plain
    detail = json.loads(invoke("list", "models", "mean", "--json").output)
    assert detail["name"] == "mean" and "search_space" in detail


def _plan(output: str) -> list[str]:
    return sorted(line for line in output.splitlines() if "key=" in line)


def test_config_round_trip_gives_the_same_plan(reg, tmp_path):
    cfg = tmp_path / "run.toml"
    first = invoke(*smoke(tmp_path, "--model", "mean", "--task", "kind", "--seed", "3", "--dry-run",
                          "--save-config", cfg))
    assert first.exit_code == 0, first.output
    import tomllib

    saved = tomllib.loads(cfg.read_text())["run"]
    assert saved["dataset"] == "toy" and saved["seed"] == 3 and saved["latency"] is False
    again = invoke("run", "--config", cfg, "--dry-run", "--no-progress")
    assert again.exit_code == 0, again.output
    assert _plan(first.output) and _plan(again.output) == _plan(first.output)
    # a flag on the command line wins over the file
    other = invoke("run", "--config", cfg, "--dry-run", "--seed", "4")
    assert _plan(other.output) and _plan(other.output) != _plan(first.output)
    cfg.write_text('[run]\ndatset = "toy"\n')
    r = invoke("run", "--config", cfg)
    assert r.exit_code == 2 and "unknown field 'datset' (did you mean 'dataset'?)" in r.output


def test_run_records_the_configuration_when_the_runner_takes_it(reg, tmp_path, monkeypatch):
    import inspect

    from emobench import runner as R

    if "run_config" not in inspect.signature(R.run).parameters:
        pytest.skip("runner.run has no run_config yet")
    seen = {}
    real = R.run

    def spy(*a, **k):
        seen.update(k["run_config"])
        return real(*a, **k)

    spy.__signature__ = inspect.signature(real)
    monkeypatch.setattr(R, "run", spy)
    r = invoke(*smoke(tmp_path, "--model", "mean", "--task", "kind", "--dry-run"))
    assert r.exit_code == 0, r.output
    assert seen["config"]["dataset"] == "toy" and seen["config"]["model"] == "mean"
    assert isinstance(seen["argv"], list) and seen["git_dirty"] in (True, False, None)


def test_dry_run_writes_nothing(reg, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("EMOBENCH_CACHE", str(cache))
    r = invoke(*smoke(tmp_path, "--model", "mean", "--dry-run"))
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "r.db").exists() and not (tmp_path / "optuna.db").exists()
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*")), \
        sorted(map(str, cache.rglob("*")))[:5]


def test_clean_removes_store_and_cache_after_confirming(tmp_path, monkeypatch):
    project = tmp_path / "proj"
    (project / ".emobench").mkdir(parents=True)
    (project / ".emobench" / "results.db").write_bytes(b"x" * 10)
    (project / ".emobench" / "optuna.db").write_bytes(b"y")
    cache = tmp_path / "cache"
    (cache / "standins" / "toy").mkdir(parents=True)
    (cache / "standins" / "toy" / "a.csv").write_text("1")
    (cache / "mine.txt").write_text("not emobench's")
    monkeypatch.setenv("EMOBENCH_CACHE", str(cache))
    monkeypatch.delenv("EMOBENCH_STORE", raising=False)
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")  # the project folder is found by walking up
    r = invoke("clean", input="n\n")
    assert r.exit_code == 1 and "nothing removed" in r.output
    assert (project / ".emobench" / "results.db").exists() and (cache / "standins").exists()
    r = invoke("clean", "--store", "--yes")
    assert r.exit_code == 0, r.output
    assert not (project / ".emobench" / "results.db").exists() and not (project / ".emobench" / "optuna.db").exists()
    assert (cache / "standins").exists()
    r = invoke("clean", "--cache", "-y")
    assert r.exit_code == 0 and not (cache / "standins").exists()
    assert (cache / "mine.txt").exists()  # only what emobench wrote goes
    assert "nothing to remove" in invoke("clean", "--yes").output


def test_store_location_order(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOBENCH_STORE", raising=False)
    (tmp_path / "p" / ".emobench").mkdir(parents=True)
    (tmp_path / "p" / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "p" / "a" / "b")
    url, origin = locations.store_url()
    assert url == f"sqlite:///{(tmp_path / 'p').resolve()}/.emobench/results.db" and "project" in origin
    assert locations.leaderboard_dir() == (tmp_path / "p").resolve() / "leaderboard"
    monkeypatch.setenv("EMOBENCH_STORE", str(tmp_path / "env.db"))
    assert locations.store_url() == (f"sqlite:///{tmp_path}/env.db", "EMOBENCH_STORE")
    assert locations.store_url("postgresql://h/db") == ("postgresql://h/db", "--store")
    monkeypatch.delenv("EMOBENCH_STORE")
    monkeypatch.chdir(tmp_path)
    assert locations.store_url() == ("sqlite:///.emobench/results.db", "default")


def _job(key, model="m", dataset="d", fold=0):
    return SimpleNamespace(key=key, fold_index=fold, n_folds=3,
                           cell=type("C", (), {"model": model, "dataset": dataset,
                                               "__str__": lambda s: f"{dataset} x {model}"})())


def test_progress_names_the_running_fold_and_estimates_from_finished_ones():
    t = [0.0]
    p = FoldProgress(workers=1, enabled=False, now=lambda: t[0])
    jobs = [_job("a"), _job("b"), _job("c", model="other"), _job("d", model="other")]
    p.start(jobs)
    assert p.running() == [jobs[0]] and p.eta() is None  # nothing finished: no estimate yet
    t[0] = 10.0
    p.update(SimpleNamespace(job=jobs[0], status="done", seconds=10.0))
    assert p.running() == [jobs[1]]
    # b: 10 s like a; c, d: no fold of their model yet -> the mean of all finished folds
    assert p.eta() == pytest.approx(30.0)
    t[0] = 14.0
    assert p.eta() == pytest.approx(26.0)  # 4 s of b already spent
    p.update(SimpleNamespace(job=jobs[1], status="done", seconds=4.0))
    t[0] = 16.0
    p.update(SimpleNamespace(job=jobs[2], status="done", seconds=2.0))
    assert p.running() == [jobs[3]] and p.eta() == pytest.approx(2.0)  # same model as c
    two = FoldProgress(workers=2, enabled=False, now=lambda: 0.0)
    two.start(jobs)
    assert two.running() == jobs[:2]
    jobs[3].estimate_s = 50.0  # a planner estimate wins over observed costs
    assert p.estimate(jobs[3]) == 50.0


# ------------------------------------------------------------------ annotate


def test_main_face_rule_survives_a_one_frame_false_positive():
    from emobench.realtime.main_face import choose_main_track

    face = (100, 100, 50, 50)
    ghost = (300, 300, 90, 90)  # larger, but seen once
    frames = [[ghost, face]] + [[(100 + i, 101, 50, 50)] for i in range(5)] + [[]]
    main = choose_main_track(frames)
    assert min(main.boxes) == 0 and main.boxes[0] == face and len(main.boxes) == 6
    tie = choose_main_track([[(0, 0, 10, 10), (50, 50, 20, 20)]])
    assert tie.boxes[0] == (50, 50, 20, 20)  # equal persistence: the larger box
    assert choose_main_track([[], []]) is None


def _astronaut_video_with_false_positive(path, n=12):
    from skimage import data

    from emobench.media import FaceDetector

    img = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    (x, y, w, h), = FaceDetector().detect(img)[:1]
    big = cv2.resize(img[y:y + h, x:x + w], (int(w * 1.4), int(h * 1.4)))
    first = img.copy()
    H, W = big.shape[:2]
    first[512 - H - 5:507, 512 - W - 5:507] = big  # a second, larger "face" on frame 0 only
    assert len(FaceDetector().detect(first)) == 2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (512, 512))
    for i in range(n):
        writer.write(first if i == 0 else img)
    writer.release()
    return (x, y, w, h)


def test_annotate_labels_the_first_frames_with_the_real_face(tmp_path):
    from emobench import Model
    from emobench.model import Streamer
    from emobench.realtime import annotate_video
    from emobench.realtime.main_face import iou

    class Constant(Model):
        name = "constant"
        consumes = ("face_video",)
        task_kinds = ("classification",)
        realtime = {"window": 1, "hop": 1, "rate": None, "size": (16, 16), "gray": True}

        def streamer(self, kind, task, **spec):
            class Zero(Streamer):
                def push(self, x):
                    return 0

            return Zero(self, kind, task, **spec)

    video = tmp_path / "fp.mp4"
    face = _astronaut_video_with_false_positive(video)
    out = annotate_video(video, Constant)
    boxes = [f["box"] for f in out["frames"]]
    assert all(b is not None for b in boxes)
    assert all(iou(b, face) > 0.5 for b in boxes[:6]), boxes[:6]
    assert iou(out["detector"]["main_face"], face) > 0.8


def test_annotate_a_model_that_needs_fit_is_a_clear_error(tmp_path):
    from emobench.realtime.demo import write_astronaut_video

    video = write_astronaut_video(tmp_path / "a.mp4", 10, (240, 320), fps=10.0)
    r = invoke("annotate", video, "--model", "frame-cnn", "-q")
    assert r.exit_code == 2, r.output
    assert "only fit() creates" in r.output and "Traceback" not in r.output
