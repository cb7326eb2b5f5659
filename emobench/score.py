"""``emobench score``: a prediction file scored under a protocol, challenge style.

Groups that cannot share code or weights submit predictions, as the AVEC,
EmotiW and ABAW challenges scored them. :func:`score_predictions` reads a
prediction file (or a folder of them), checks it against the protocol's test
split, and commits one row per test fold to the results store, built exactly
as :mod:`emobench.fold` builds the rows of emobench's own models (same
flattening, same metrics, same prediction blob), so the leaderboard
(:mod:`emobench.leaderboard.collect`) ranks it beside them with the same
jackknife intervals and paired permutation tests. The rows are marked
external: the model is ``external:<name>``, and the identity and provenance
carry ``"external": true`` and the SHA-256 of every file read, so another file
under the same name is another leaderboard identity (the newest is shown).

Layouts (docs/scoring.md):

* clip-level tasks: a CSV with the header ``item,prediction`` (``;`` works as
  the delimiter too), one row per test recording; a class name for
  classification, a number for regression;
* frame-level tasks (SEWA / AVEC 2019 style): per-recording CSVs with the
  header ``instance name;timestamp;<task>`` and one row per label step, the
  timestamp in seconds from 0 at the task's label rate. A single file holding
  several recordings works as well.

A path that is a folder means every ``*.csv`` in it (sorted). The first
problem found is raised as a :class:`PredictionFileError` subclass naming the
file and line: :class:`UnknownRecording`, :class:`TrainingRecording`,
:class:`MissingRecording`, :class:`WrongLength`, :class:`BadTimestamp`,
:class:`UnknownClass`, :class:`BadValue`, :class:`DuplicateRecording`,
:class:`BadHeader`.

:func:`write_predictions` writes the same layouts (``emobench export
--predictions``), so exporting a finished run and scoring the export gives the
leaderboard row back exactly (floats are written with Python's round-trip repr).
"""

from __future__ import annotations

import csv
import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench import datasource, provenance
from emobench.data import Task, group_columns
from emobench.fold import compute_metrics, flatten, load_checked, owner_id, samples_for
from emobench.jobs import SPLIT_SEED, identity_key
from emobench.layouts import DataError
from emobench.media import content_key
from emobench.protocols import capped, check_fold, fold_checksum
from emobench.store import Store, pack_predictions

EXTERNAL_PREFIX = "external:"
CLIP_HEADER = ("item", "prediction")
FRAME_HEADER = ("instance name", "timestamp")  # + the task's name (or "prediction")
PREDICTIONS_FILE = "predictions.csv"
TIME_TOLERANCE = 0.25  # of one label period


# -- errors ------------------------------------------------------------------------


class PredictionFileError(DataError):
    """A prediction file that cannot be scored: ``path`` and ``line`` (1-based,
    0 when the problem is the file as a whole) name where, ``reason`` what."""

    def __init__(self, path, line: int, reason: str, recording: str | None = None):
        self.line = int(line)
        where = f"{path}, line {line}" if line else str(path)
        DataError.__init__(self, where, reason)  # the reason names the recording already
        self.path, self.recording = str(path), recording

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.reason, self.recording))


class BadHeader(PredictionFileError):
    """The header is not the layout of the task (or the file is empty)."""


class BadValue(PredictionFileError):
    """A field is not a finite number, or a row has the wrong number of fields."""


class UnknownClass(PredictionFileError):
    """A classification prediction that is not one of the task's class names."""


class DuplicateRecording(PredictionFileError):
    """A recording predicted twice (in one file, or in two files of a folder)."""


class UnknownRecording(PredictionFileError):
    """A recording the corpus does not have."""


class TrainingRecording(PredictionFileError):
    """A recording of the protocol's training or validation split: only test
    recordings are scored."""


class MissingRecording(PredictionFileError):
    """A labelled test recording of the protocol has no prediction."""


class WrongLength(PredictionFileError):
    """A frame-level recording with more or fewer predictions than label steps."""


class BadTimestamp(PredictionFileError):
    """A frame-level timestamp that is not the label step's time."""


# -- reading -------------------------------------------------------------------------


@dataclass
class Predicted:
    """The predictions of one recording in a file."""

    recording: str
    file: Path
    line: int                                        # of its first row
    values: list = field(default_factory=list)       # floats, or class names
    lines: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


def prediction_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.csv") if p.is_file())
        if not files:
            raise BadHeader(path, 0, "the folder holds no .csv prediction files")
        return files
    if not path.is_file():
        raise BadHeader(path, 0, "no such prediction file or folder")
    return [path]


def checksum(path: Path) -> str:
    """SHA-256 of a prediction file, or of a folder's .csv files (names and bytes)."""
    path = Path(path)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    h = hashlib.sha256()
    for f in prediction_files(path):
        h.update(f.name.encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def read_predictions(path: Path, task: Task) -> dict[str, Predicted]:
    """Every recording's predictions in ``path`` (file or folder), in file order."""
    out: dict[str, Predicted] = {}
    for f in prediction_files(path):
        _read_file(f, task, out)
    return out


def _header_ok(fields: list[str], task: Task) -> bool:
    names = [f.strip().lower() for f in fields]
    value = {task.name.lower(), "prediction"}
    if task.level == "clip":
        return len(names) == 2 and names[0] in ("item", "instance name") and names[1] in value
    return len(names) == 3 and names[0] in ("instance name", "item") and names[1] == "timestamp" \
        and names[2] in value


def _read_file(f: Path, task: Task, out: dict[str, Predicted]) -> None:
    try:
        text = f.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadHeader(f, 0, f"cannot be read as UTF-8 text: {exc}") from None
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    expected = (",".join(CLIP_HEADER) if task.level == "clip"
                else ";".join((*FRAME_HEADER, task.name)))
    if first is None:
        raise BadHeader(f, 0, f"the file is empty: expected the header {expected!r}")
    delim = ";" if ";" in lines[first] else ","
    header = next(csv.reader([lines[first]], delimiter=delim))
    if not _header_ok(header, task):
        raise BadHeader(f, first + 1, f"header {lines[first].strip()!r} is not the layout of "
                        f"{task.level}-level task {task.name!r}: expected {expected!r}")
    mine: set[str] = set()
    for i in range(first + 1, len(lines)):
        if not lines[i].strip():
            continue
        n = i + 1
        row = next(csv.reader([lines[i]], delimiter=delim))
        if len(row) != len(header):
            raise BadValue(f, n, f"{len(row)} fields, the header has {len(header)}")
        rid = row[0].strip()
        if not rid:
            raise BadValue(f, n, "empty recording name")
        value = _value(f, n, row[-1].strip(), task, rid)
        p = out.get(rid)
        if p is not None and (task.level == "clip" or rid not in mine):
            where = "" if p.file == f else f" (first in {p.file}, line {p.line})"
            raise DuplicateRecording(f, n, f"recording {rid!r} is predicted twice{where}", rid)
        if p is None:
            p = out[rid] = Predicted(rid, f, n)
            mine.add(rid)
        p.values.append(value)
        p.lines.append(n)
        if task.level == "frame":
            try:
                t = float(row[1])
            except ValueError:
                raise BadValue(f, n, f"timestamp {row[1].strip()!r} is not a number", rid) from None
            p.times.append(t)


def _value(f: Path, n: int, text: str, task: Task, rid: str):
    if task.kind == "classification":
        if text not in task.classes:
            raise UnknownClass(f, n, f"class {text!r} is not a class of task {task.name!r} "
                               f"(known: {', '.join(task.classes)})", rid)
        return text
    try:
        v = float(text)
    except ValueError:
        raise BadValue(f, n, f"prediction {text!r} is not a number", rid) from None
    if not math.isfinite(v):
        raise BadValue(f, n, f"prediction {text!r} is not finite", rid)
    return v


# -- checking against the protocol -------------------------------------------------------


def check_predictions(preds: dict[str, Predicted], task: Task, recordings, folds, protocol: str,
                      path: Path, *, partial: bool = False) -> list[int]:
    """Indices of the folds to score. Raises the first problem: a recording the
    corpus lacks or that is not a test recording, a wrong length or timestamp,
    then a labelled test recording without a prediction. ``partial``: folds none
    of whose test recordings is in the file are left out (the entry is marked
    partial, as emobench's own capped runs are) instead of being missing."""
    by_id = {r.id: r for r in recordings}
    test = {i for f in folds for i in f.test}
    for rid, p in preds.items():
        if rid not in by_id:
            raise UnknownRecording(p.file, p.line, f"recording {rid!r} is not in the corpus", rid)
        if rid not in test:
            raise TrainingRecording(p.file, p.line, f"recording {rid!r} is in the training or "
                                    f"validation split of protocol {protocol!r}, never in a test "
                                    f"split: only test recordings are scored", rid)
        labels = by_id[rid].labels.get(task.name)
        if labels is None:
            continue  # a test recording without a label for this task is not scored
        want = 1 if task.level == "clip" else int(np.atleast_1d(labels).size)
        if len(p.values) != want:
            unit = "prediction" if task.level == "clip" else f"frame predictions at {task.rate:g} Hz"
            raise WrongLength(p.file, p.line, f"recording {rid!r}: {len(p.values)} {unit} for "
                              f"{want} label step(s)", rid)
        if task.level == "frame":
            period = 1.0 / task.rate
            for k, (t, n) in enumerate(zip(p.times, p.lines)):
                if abs(t - k * period) > TIME_TOLERANCE * period:
                    raise BadTimestamp(p.file, n, f"recording {rid!r}: timestamp {t:g} s of "
                                       f"step {k + 1} should be {k * period:g} s (steps of "
                                       f"{period:g} s from 0)", rid)
    chosen = []
    for j, f in enumerate(folds):
        need = [i for i in f.test if task.name in by_id[i].labels]
        if not need:
            continue
        missing = [i for i in need if i not in preds]
        if partial and len(missing) == len(need):
            continue
        if missing:
            raise MissingRecording(path, 0, f"test recording {missing[0]!r} of fold {f.name!r} has "
                                   f"no prediction ({len(missing)} of the fold's {len(need)} "
                                   f"labelled test recordings are missing)", missing[0])
        chosen.append(j)
    if not chosen:
        raise MissingRecording(path, 0, f"no test recording of protocol {protocol!r} with a "
                               f"{task.name!r} label is in the file")
    return chosen


def _as_numbers(task: Task, values: list) -> np.ndarray:
    if task.kind == "classification":
        return np.array([float(task.classes.index(v)) for v in values])
    return np.asarray(values, dtype=float)


# -- scoring -------------------------------------------------------------------------------


@dataclass
class Scored:
    model: str
    identity_key: str
    identity: dict
    keys: list[str]
    folds: list[str]
    n_folds: int
    stored: int              # rows written now (the others were already in the store)
    sha256: list[str]
    synthetic: bool


def score_predictions(paths, *, dataset: str, task: str, protocol: str, name: str | None = None,
                      profile: str = "default", data_root=None, store_url: str | None = None,
                      partial: bool = False, reg=None) -> Scored:
    """Check ``paths`` (one per training seed of the submission; usually one)
    against ``protocol``'s test split of ``dataset`` and commit their rows to the
    store at ``store_url``. The corpus is the real copy under the data root, or
    the stand-in of ``profile``'s scale, and the folds are the ones ``emobench
    run`` runs under ``profile`` (its fold cap regroups cross-validation folds)."""
    from emobench.plugins import registry
    from emobench.profiles import get_profile
    from emobench.store import default_url

    reg = reg or registry()
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise ValueError("no prediction file given")
    ds = reg.dataset(dataset)
    t = ds.task(task)
    proto = reg.protocol(protocol)
    from emobench.cells import applicable_protocols

    if protocol not in applicable_protocols(reg, ds):
        raise ValueError(f"protocol {protocol!r} does not apply to dataset {dataset!r} "
                         f"(applicable: {', '.join(applicable_protocols(reg, ds))})")
    prof = get_profile(profile)
    # the folds emobench runs under this profile (a fold cap regroups cross-validation)
    proto = capped(proto, prof.max_folds)
    root = datasource.data_root(data_root)
    src = datasource.resolve(ds, root, prof.scale, seed=0, write=True, strict=root is not None)
    recordings, excluded = load_checked(ds, Path(src.root))
    unmet = proto.unmet_needs(recordings)
    if unmet:
        raise ValueError(f"protocol {protocol!r} needs {', '.join(unmet)} in dataset {dataset!r}")
    folds = proto.folds(recordings, SPLIT_SEED)
    for f in folds:
        check_fold(f, recordings, protocol)
    fsum = fold_checksum(folds)

    per_seed, chosen = [], None
    for p in paths:
        preds = read_predictions(p, t)
        got = check_predictions(preds, t, recordings, folds, protocol, p, partial=partial)
        if chosen is not None and got != chosen:
            raise MissingRecording(p, 0, f"covers folds {[folds[j].name for j in got]}, the first "
                                   f"file {[folds[j].name for j in chosen]}: every file of one "
                                   f"submission covers the same folds")
        chosen = got
        per_seed.append(preds)
    sha = [checksum(p) for p in paths]
    seeds = list(range(len(paths)))
    model = EXTERNAL_PREFIX + (name or sha[0][:12])
    origin = reg.origins.get(("dataset", dataset))
    ident = {"dataset": dataset, "dataset_version": ds.version, "data": src.fingerprint,
             "dataset_distribution": origin.distribution if origin else "?",
             "dataset_distribution_version": origin.version if origin else "?",
             "task": task, "protocol": protocol, "protocol_version": proto.version,
             "fold_checksum": fsum, "model": model, "external": True, "sha256": sha,
             "profile": profile, "trials": 0, "seeds": seeds}
    ikey = identity_key(ident)
    store = Store(store_url or default_url())
    inputs = {"external": "prediction file"}
    marker = src.marker or {}
    keys, stored = [], 0
    for seed, preds in zip(seeds, per_seed):
        for j in chosen:
            fold = folds[j]
            samples = samples_for(recordings, fold.test, t, {})
            values = [_as_numbers(t, preds[s.id].values) for s in samples]
            y_true, y_pred, subj, item = flatten(t, samples, values)
            metrics = compute_metrics(t, y_true, y_pred)
            from emobench.metrics import sequence_metrics  # per-sequence CCC, as emobench.fold
            metrics.update(sequence_metrics(t, y_true, y_pred, item))
            key = content_key("external", ident, fold.name, seed)[:32]
            row = dict(dataset=dataset, task=task, model=model, protocol=protocol, fold=fold.name,
                       fold_index=j, n_folds=len(folds), folds_run=len(chosen),
                       pool_folds=proto.pool_folds, seed=seed, profile=profile,
                       synthetic=src.synthetic, identity_key=ikey, inputs=inputs)
            owner = owner_id()
            keys.append(key)
            if store.claim(key, owner, row) != "claimed":
                continue  # the same file was scored before: its row stands
            store.finish(
                key, owner, primary_metric=t.primary_metric, score=metrics[t.primary_metric],
                metrics=metrics, best_params={}, n_trials=0, param_count=None,
                timings={"scored_at": time.time()},
                provenance={"external": True, "sha256": sha[seed], "file": str(paths[seed]),
                            "identity": ident, "identity_key": ikey, "seed": seed, "seeds": seeds,
                            "split_seed": SPLIT_SEED, "deterministic": False,
                            "versions": provenance.versions(), "commit": provenance.git_commit(),
                            "machine": provenance.machine(), "protocol_version": proto.version,
                            "fold_checksum": fsum, "dataset_version": ds.version,
                            "data": src.fingerprint,
                            "folds": {"run": len(chosen), "total": len(folds)}, "inputs": inputs,
                            "excluded_labels": [str(e) for e in excluded if e.task == task][:20],
                            "n_test": len(samples), "ceiling": src.ceilings(task),
                            "scale": marker.get("scale")},
                predictions=pack_predictions(y_true=y_true, y_pred=y_pred, subject=subj, item=item,
                                             **group_columns(samples)))
            stored += 1
    return Scored(model, ikey, ident, keys, [folds[j].name for j in chosen], len(folds), stored, sha,
                  bool(src.synthetic))


class TableView:
    """A store seen through one leaderboard table (real/synthetic, dataset, task,
    protocol, profile): what :func:`emobench.leaderboard.collect` needs to rank a
    scored file without ranking every other table of the store."""

    def __init__(self, store: Store, *, dataset: str, task: str, protocol: str, profile: str,
                 synthetic: bool):
        self.store = store
        self.want = (dataset, task, protocol, profile, bool(synthetic))

    def rows(self, status="done", with_predictions=False):
        return [r for r in self.store.rows(status, with_predictions=with_predictions)
                if (r["dataset"], r["task"], r["protocol"], r["profile"], bool(r["synthetic"]))
                == self.want]


def ranked(store: Store, scored: Scored, seed: int = 0):
    """(table, entry) of each leaderboard table holding the scored identity."""
    from emobench.leaderboard.collect import collect

    ident = scored.identity
    view = TableView(store, dataset=ident["dataset"], task=ident["task"],
                     protocol=ident["protocol"], profile=ident["profile"], synthetic=scored.synthetic)
    out = []
    for table in collect(view, seed=seed):
        for e in table.entries:
            if e.identity_key == scored.identity_key:
                out.append((table, e))
    return out


# -- writing (export --predictions) --------------------------------------------------------------


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def _fmt_value(task: Task, v: float, rid: str) -> str:
    if task.kind == "classification":
        k = int(round(v))
        if k != v or not 0 <= k < len(task.classes):
            raise ValueError(f"recording {rid!r}: prediction {v!r} is not a class index of task "
                             f"{task.name!r}")
        return task.classes[k]
    return repr(float(v))


def write_predictions(folder: Path, task: Task, item, y_pred) -> list[Path]:
    """Write pooled predictions (one per clip, or per frame in recording runs) in
    the layout :func:`read_predictions` reads; returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    item = np.asarray(item).astype(str)
    y_pred = np.asarray(y_pred, dtype=float)
    if task.level == "clip":
        path = folder / PREDICTIONS_FILE
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(CLIP_HEADER)
            for rid, v in zip(item, y_pred):
                w.writerow([rid, _fmt_value(task, v, rid)])
        return [path]
    files, used = [], set()
    starts = np.flatnonzero(np.r_[True, item[1:] != item[:-1]]) if item.size else np.array([], int)
    ends = np.r_[starts[1:], item.size]
    period = 1.0 / task.rate
    for a, b in zip(starts, ends):
        rid = str(item[a])
        stem = _safe(rid)
        while stem in used:
            stem += "_"
        used.add(stem)
        path = folder / f"{stem}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, delimiter=";", lineterminator="\n")
            w.writerow((*FRAME_HEADER, task.name))
            for k in range(b - a):
                w.writerow([rid, repr(round(k * period, 6)), _fmt_value(task, y_pred[a + k], rid)])
        files.append(path)
    return files
