"""Conformance checks a plugin author runs on their own plugins.

``emobench check`` (or :func:`check_registry` from a test) runs, for every
registered plugin or the ones named:

* datasets: metadata is valid; a ``tiny`` stand-in is written twice with the
  same seed and is byte-identical; the loader reads it back with the counts the
  writer reported; every task's labels have the declared kind and range; series
  of frame-level tasks are as long as their labels; ``doctor`` reports no error.
* protocols: on each dataset that lists them, folds are deterministic for a
  seed and free of subject leakage.
* models: metadata is valid; on the tiny stand-in of a dataset it pairs with,
  ``fit`` + ``predict`` return one well-formed prediction per sample.
"""

from __future__ import annotations

import filecmp
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench.cells import applicable_protocols, model_task_mismatch
from emobench.datasource import write_standin
from emobench.model import FitContext
from emobench.plugins import Registry, validate_dataset, validate_model, validate_protocol
from emobench.protocols import check_fold


@dataclass
class Check:
    plugin: str
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def add(self, plugin, name, ok, detail=""):
        self.checks.append(Check(plugin, name, bool(ok), detail))

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _same_tree(a: Path, b: Path) -> list[str]:
    diff = []
    cmp = filecmp.dircmp(a, b)
    stack = [(cmp, Path())]
    while stack:
        c, rel = stack.pop()
        diff += [str(rel / n) for n in c.left_only + c.right_only + c.funny_files]
        _, mismatch, errors = filecmp.cmpfiles(a / rel, b / rel, c.common_files, shallow=False)
        diff += [str(rel / n) for n in mismatch + errors]
        stack += [(sub, rel / name) for name, sub in c.subdirs.items()]
    return diff


def check_dataset(ds, report: Report, workdir: Path, reg: Registry | None = None):
    p = f"dataset {ds.name}"
    problems = validate_dataset(ds)
    report.add(p, "metadata", not problems, "; ".join(problems))
    if problems:
        return None
    try:
        a, b = workdir / ds.name / "a" / ds.folder, workdir / ds.name / "b" / ds.folder
        marker = write_standin(ds, a, "tiny", 0)
        write_standin(ds, b, "tiny", 0)
        diff = _same_tree(a, b)
        report.add(p, "stand-in is deterministic", not diff, f"differs: {diff[:5]}" if diff else "")
        recs = ds.load(a)
    except Exception as exc:
        report.add(p, "stand-in written and loaded", False, f"{type(exc).__name__}: {exc}")
        return None
    counts = marker.get("counts", {})
    want = counts.get("recordings")
    report.add(p, "loader reads the written counts", want is None or want == len(recs),
               f"writer reported {want} recordings, loader found {len(recs)}")
    if "subjects" in counts:
        got = len({r.subject for r in recs})
        report.add(p, "subject count", got == counts["subjects"],
                   f"writer reported {counts['subjects']}, loader found {got}")
    for t in ds.tasks:
        bad = []
        for r in recs:
            if t.name not in r.labels:
                continue
            y = np.asarray(r.labels[t.name], dtype=float)
            if t.level == "frame" and y.ndim != 1:
                bad.append(f"{r.id}: frame labels of shape {y.shape}")
            elif t.level == "clip" and y.ndim != 0:
                bad.append(f"{r.id}: clip label of shape {y.shape}")
            elif t.kind == "classification" and not np.isin(y, np.arange(len(t.classes))).all():
                bad.append(f"{r.id}: class index outside 0..{len(t.classes) - 1}")
            elif not np.isfinite(y).all():
                bad.append(f"{r.id}: non-finite labels")
        report.add(p, f"labels of task {t.name}", not bad, "; ".join(bad[:3]))
    rep = ds.doctor(a)
    report.add(p, "doctor finds no error in the stand-in", rep.ok, "; ".join(map(str, rep.problems[:3])))
    return recs, a


def check_protocols(ds, recs, reg: Registry, report: Report, wanted=None):
    """Check the protocols that apply to ``ds`` (only those ``wanted(name)`` accepts)."""
    for name in applicable_protocols(reg, ds):
        if wanted is not None and not wanted(name):
            continue
        proto = reg.protocol(name)
        p = f"protocol {name} on {ds.name}"
        problems = validate_protocol(proto)
        if problems:
            report.add(p, "metadata", False, "; ".join(problems))
            continue
        try:
            f1, f2 = proto.folds(recs, 0), proto.folds(recs, 0)
            for f in f1:
                check_fold(f, recs, name)
            report.add(p, "folds are leak-free", True)
            report.add(p, "folds are deterministic", f1 == f2)
        except Exception as exc:
            report.add(p, "folds", False, f"{type(exc).__name__}: {exc}")


def check_model(cls, reg: Registry, report: Report, standins: dict):
    from emobench.runner import flatten, oriented_scorer, samples_for

    p = f"model {cls.name}"
    problems = validate_model(cls)
    report.add(p, "metadata", not problems, "; ".join(problems))
    if problems:
        return
    for dname, (recs, _) in standins.items():
        ds = reg.dataset(dname)
        for t in ds.tasks:
            if model_task_mismatch(cls, ds, t):
                continue
            inputs = cls.resolve_inputs(ds.modalities)
            try:
                fold = reg.protocol(applicable_protocols(reg, ds)[0]).folds(recs, 0)[0]
                tr, va, te = (samples_for(recs, ids, t, inputs)
                              for ids in (fold.train, fold.valid, fold.test))
                ctx = FitContext(task=t, modalities=ds.modalities, profile="smoke",
                                 score=oriented_scorer(t))
                model = cls().fit(tr, va, ctx)
                preds = model.predict(te)
                flatten(t, te, preds)
                report.add(p, f"fit/predict on {dname}/{t.name}", True)
            except Exception as exc:
                report.add(p, f"fit/predict on {dname}/{t.name}", False, f"{type(exc).__name__}: {exc}")
            return  # one compatible task is enough to exercise the contract


def known_names(reg: Registry) -> set[str]:
    """Everything ``check`` accepts: entry points, distributions and plugin names."""
    out = {o.entry_point for o in reg.origins.values()} | {o.distribution for o in reg.origins.values()}
    out |= {n for _, n in reg.origins} | {o.entry_point for o, _ in reg.failures}
    return out | {o.distribution for o, _ in reg.failures}


def check_registry(reg: Registry, names: list[str] | None = None, workdir: Path | None = None) -> Report:
    """Run the checks of the plugins ``names`` (entry point, distribution or plugin
    names; all when empty). A protocol is checked by its own package, on every
    corpus it applies to (also those it attaches itself to via ``Protocol.datasets``);
    a name that matches nothing is a KeyError with a did-you-mean."""
    import difflib

    from emobench.plugins import PluginError

    known = known_names(reg)
    for n in names or []:
        if n not in known:
            close = difflib.get_close_matches(n, sorted(known), n=3)
            hint = f"did you mean {', '.join(map(repr, close))}?" if close else \
                f"known: {', '.join(sorted(known))}"
            raise PluginError(f"emobench check: no plugin, entry point or distribution named "
                              f"{n!r} ({hint})")
    report = Report()
    for origin, reason in reg.failures:
        if not names or origin.entry_point in names or origin.distribution in names:
            report.add(f"plugin {origin}", "loads", False, reason)
    wanted = lambda kind, n: not names or n in names or reg.origin(kind, n).entry_point in names \
        or reg.origin(kind, n).distribution in names  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(workdir or tmp)
        standins = {}
        for n, ds in sorted(reg.datasets.items()):
            own = wanted("dataset", n)
            # the corpus owner checks the protocols the corpus lists; a protocol that
            # attaches itself through Protocol.datasets is checked by its own package
            take = lambda p, own=own, ds=ds: wanted("protocol", p) or (own and p in ds.protocols)  # noqa: E731
            protos = [p for p in applicable_protocols(reg, ds) if take(p)]
            if not own and not protos:
                continue
            # a corpus checked only for another package's protocol: its own checks
            # go to a scratch report, so they are not blamed on the protocol
            got = check_dataset(ds, report if own else Report(), work, reg)
            if got:
                standins[n] = got
                check_protocols(ds, got[0], reg, report, take)
        for n, cls in sorted(reg.models.items()):
            if wanted("model", n):
                pool = {k: v for k, v in standins.items() if wanted("dataset", k)}
                if not pool:  # a model-only package: exercise it on the built-in corpora
                    for dn, ds in sorted(reg.datasets.items()):
                        if any(not model_task_mismatch(cls, ds, t) for t in ds.tasks):
                            got = standins.get(dn) or check_dataset(ds, Report(), work, reg)
                            if got:
                                pool = {dn: got}
                                break
                check_model(cls, reg, report, pool)
    return report


__all__ = ["check_registry", "check_dataset", "check_model", "check_protocols", "Report"]
