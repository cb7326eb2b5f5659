"""Cross-corpus pairings: train on corpus A, test on corpus B through the shared label space.

A pairing ``<a>-to-<b>`` (``rafdb-to-ckplus``) is a dataset built from two registered
corpora. Every labelled recording of A is a training recording (validation carved
from A by subject), every labelled recording of B a test recording; labels go
through each corpus's declared mapping (:mod:`emobench.labelspace`) onto the
classes both share, and a class one side lacks is dropped (the task's name is the
class list, so the leaderboard's table title states it; the description says what
each side drops). Recording ids and subjects are prefixed with the corpus
(``rafdb:train_00001``): different corpora have different people, so no subject
is in both sides.

The pair has no files of its own. :meth:`CrossCorpus.resolve_source` (called by
:func:`emobench.datasource.resolve`) resolves A and B as usual (real copy under
the data root, else the cached stand-in) and returns a small pointer folder under
``$EMOBENCH_CACHE/pairs`` naming the two corpus folders; the data fingerprint
combines both corpora's fingerprints. ``emobench synth``/``check`` write the two
corpora's stand-ins side by side (the pair's stand-in *is* the two stand-ins), and
``load``/``doctor`` also accept a data root holding both corpus folders.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from emobench import hookimpl
from emobench.data import Fold, Modality, Recording, Task
from emobench.dataset import Dataset, DoctorReport, Problem, count_recordings, recording_problems
from emobench.labelspace import SPACE, LabelSpaceError, corpus_labels, pairing, source_task
from emobench.layouts import DataError
from emobench.protocols import Protocol

PROTOCOL = "cross-corpus"
POINTER = "pair.json"
#: (train corpus, test corpus, in the default profile's matrix). Only the cheap pairing runs
#: by default (run --all --dry-run: 17.0 min with it, 16.9 without, no further cell deferred;
#: enterface-to-rml alone estimated 10 min on 2 workers); the others are selected by naming
#: their task or with --profile paper (docs/corpora/crosscorpus.md).
PAIRS: tuple[tuple[str, str, bool], ...] = (
    ("rafdb", "ckplus", True),
    ("enterface", "rml", False),
    ("rafdb", "affectnet", False),
    ("rml", "baum1s", False),
)
# dataset name -> plugin module under emobench_plugins.datasets, where they differ
MODULES = {"baum1s": ("baum1s", "baum")}
#: modality kinds whose rate may differ between the two sides (frames are frames)
RATE_FREE = ("face_video", "face_image")


class PairError(DataError):
    """A pair tree without one of its two corpora, or a pointer file that cannot be read."""


def pair_name(a: str, b: str) -> str:
    return f"{a}-to-{b}"


def shared_modalities(a: Dataset, b: Dataset) -> dict[str, tuple[str, str, Modality]]:
    """Pair modality name -> (A's modality name, B's modality name, the modality).

    Two modalities pair when kind, per-step shape and channels agree (and the rate,
    except for face frames); a same-named one is preferred, else the first unused
    one of the kind. The pair modality keeps A's name."""
    out, used = {}, set()
    for an, am in a.modalities.items():
        def fits(bm: Modality) -> bool:
            return (bm.kind == am.kind and tuple(bm.shape) == tuple(am.shape)
                    and tuple(bm.channels) == tuple(am.channels)
                    and (am.kind in RATE_FREE or bm.rate == am.rate))
        cands = [bn for bn, bm in b.modalities.items() if bn not in used and fits(bm)]
        if not cands:
            continue
        bn = an if an in cands else cands[0]
        used.add(bn)
        bm = b.modalities[bn]
        rate = am.rate if am.rate == bm.rate else None
        out[an] = (an, bn, Modality(am.kind, am.shape, rate, am.channels,
                                    f"train {a.name}:{an}, test {b.name}:{bn}"
                                    + (f" ({am.description})" if am.description else "")))
    return out


class CrossCorpus(Dataset):
    """Train on ``a``, test on ``b``, on the classes both map into the label space."""

    version = "1"
    protocols = (PROTOCOL,)
    standin_version = "1"
    # a pairing reads its two corpora's stand-ins, already written and read by them
    standin_seconds = 2
    citation = "the citations of its two corpora"

    def __init__(self, a: Dataset, b: Dataset, default: bool = True):
        self.a, self.b, self.default = a, b, default
        self.name = pair_name(a.name, b.name)
        self.folder = f"crosscorpus-{self.name}"
        self.title = f"cross-corpus {a.title or a.name} -> {b.title or b.name}"
        self.labels_a, self.labels_b = corpus_labels(a.name), corpus_labels(b.name)
        self.task_a = source_task(self.labels_a, a.tasks)
        self.task_b = source_task(self.labels_b, b.tasks)
        self.pairing = pairing(self.labels_a, self.labels_b)
        self.shared = shared_modalities(a, b)
        if not self.shared:
            raise LabelSpaceError(f"{self.name}: {a.name} and {b.name} share no modality")
        self.modalities = {n: m for n, (_, _, m) in self.shared.items()}
        p = self.pairing
        self.tasks = (Task("-".join(p.classes), "classification", "clip", classes=p.classes,
                           metric="uar", metrics=("uar", "accuracy"),
                           description=f"train {a.name} ({self.task_a.name}), test {b.name} "
                                       f"({self.task_b.name}): {p.describe()}"),)
        # a costly pairing leaves the budgeted profiles' matrix (select it with --task)
        self.primary_tasks = () if default else ("(not in the default matrix: use --task)",)
        self.url = f"{a.url} ; {b.url}".strip(" ;")

    # -- where the data are --------------------------------------------------
    def resolve_source(self, root, scale: str, seed: int = 0, *, write: bool = True,
                       strict: bool = False):
        """The pair's :class:`~emobench.datasource.Source`: both corpora resolved as
        usual, and a pointer folder naming their trees (written only when ``write``)."""
        from emobench import datasource
        from emobench.media import content_key

        sa = datasource.resolve(self.a, root, scale, seed, write=write, strict=strict)
        sb = datasource.resolve(self.b, root, scale, seed, write=write, strict=strict)
        # each side's loader version too: a real copy's fingerprint is its files alone
        fingerprint = (f"pair({self.a.name}@{self.a.version}={sa.fingerprint};"
                       f"{self.b.name}@{self.b.version}={sb.fingerprint})")
        synthetic = sa.synthetic or sb.synthetic
        sources = {side: {"dataset": src.dataset, "path": str(src.root), "synthetic": src.synthetic,
                          "fingerprint": src.fingerprint}
                   for side, src in (("train", sa), ("test", sb))}
        key = content_key("crosscorpus", self.name, self.version, sources)[:12]
        folder = datasource.cache_root() / "pairs" / f"{self.name}-{key}"
        marker = None
        if synthetic:
            scales = sorted({str((s.marker or {}).get("scale", scale)) for s in (sa, sb) if s.synthetic})
            marker = {"synthetic": True, "dataset": self.name, "version": self.version,
                      "scale": "+".join(scales), "seed": seed, "sources": sources, "ceilings": {}}
        if write and sa.written and sb.written and not (folder / POINTER).is_file():
            _write_pointer(folder, sources, marker)
        written = sa.written and sb.written and (folder / POINTER).is_file()
        notice = "; ".join(n for n in (sa.notice, sb.notice) if n)
        return datasource.Source(self.name, folder, synthetic, fingerprint, marker,
                                 written=written, notice=notice)

    def roots(self, root) -> tuple[Path, Path]:
        """(A's corpus folder, B's corpus folder) of a pair tree: a pointer folder, or a
        data root (or stand-in pair) holding both corpus folders."""
        from emobench.datasource import find_corpus

        root = Path(root)
        pointer = root / POINTER
        if pointer.is_file():
            try:
                data = json.loads(pointer.read_text(encoding="utf-8"))
                paths = [Path(data[side]["path"]) for side in ("train", "test")]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise PairError(pointer, f"not a cross-corpus pointer file ({type(exc).__name__}: "
                                         f"{exc})") from None
            return tuple(p if p.is_absolute() else root / p for p in paths)
        found = []
        for ds in (self.a, self.b):
            path = find_corpus(ds, root)
            if path is None:
                raise PairError(root, f"{self.name}: no {ds.folder!r} folder ({ds.name}) here; a "
                                      f"pair tree holds both corpus folders or a {POINTER}")
            found.append(path)
        return tuple(found)

    # -- the two halves ------------------------------------------------------------
    def load(self, root) -> list[Recording]:
        from emobench.validate import exclude_invalid_labels

        ra, rb = self.roots(root)
        out = []
        for side, ds, labels, task, path in (("train", self.a, self.labels_a, self.task_a, ra),
                                              ("test", self.b, self.labels_b, self.task_b, rb)):
            recs = ds.load(path)
            exclude_invalid_labels(ds.name, ds.tasks, recs)  # the corpus's own rule first
            out += self._relabel(side, ds, labels, task, recs)
        return out

    def _relabel(self, side: str, ds: Dataset, labels, task: Task, recs) -> list[Recording]:
        names = {n: (an if side == "train" else bn) for n, (an, bn, _) in self.shared.items()}
        tname = self.tasks[0].name
        out = []
        for r in recs:
            if task.name not in r.labels:
                continue
            k = self.pairing.relabel(labels, int(r.labels[task.name]))
            if k is None:  # a class the other corpus lacks: dropped from this pairing
                continue
            streams = {n: r.streams[src] for n, src in names.items() if src in r.streams}
            out.append(Recording(f"{ds.name}:{r.id}", f"{ds.name}:{r.subject}", {tname: k}, streams,
                                 groups={**(r.groups or {}), "corpus": ds.name}, partition=side,
                                 meta={**(r.meta or {}), "corpus": ds.name, "source_id": r.id,
                                       "source_class": labels.classes[int(r.labels[task.name])]}))
        return out

    def write_standin(self, out, scale: str = "small", seed: int = 0) -> dict:
        """The two corpora's stand-ins side by side (each with its own marker) and a
        pointer file naming them; nothing else."""
        from emobench.datasource import write_standin

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        sources = {}
        for side, ds in (("train", self.a), ("test", self.b)):
            write_standin(ds, out / ds.folder, scale, seed)
            sources[side] = {"dataset": ds.name, "path": ds.folder, "synthetic": True}
        (out / POINTER).write_text(json.dumps(sources, indent=1, sort_keys=True))
        recs = self.load(out)
        return {"counts": {"recordings": len(recs), "subjects": len({r.subject for r in recs}),
                           "train": sum(r.partition == "train" for r in recs),
                           "test": sum(r.partition == "test" for r in recs)},
                "ceilings": {}, "pairing": self.pairing.describe()}

    def doctor(self, root) -> DoctorReport:
        """Both corpora's own doctor, then the pair's checks (labels, ids)."""
        report = DoctorReport(self.name, str(root))
        try:
            ra, rb = self.roots(root)
        except DataError as exc:
            report.problems.append(Problem(exc.path, exc.reason))
            return report
        for ds, path in ((self.a, ra), (self.b, rb)):
            sub = ds.doctor(path)
            report.problems += sub.problems
            report.counts[ds.name] = sub.counts
        try:
            recs = self.load(root)
        except Exception as exc:
            report.problems.append(Problem(str(root), f"{type(exc).__name__}: {exc}"))
            return report
        report.problems += recording_problems(self, recs)
        report.counts.update(count_recordings(recs, self.tasks))
        return report


def _write_pointer(folder: Path, sources: dict, marker: dict | None) -> None:
    """The pointer folder, written into a temporary sibling and renamed (all or nothing)."""
    from emobench.dataset import STANDIN_MARKER

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".writing-", dir=folder.parent))
    try:
        (tmp / POINTER).write_text(json.dumps({s: {"dataset": v["dataset"], "path": v["path"]}
                                               for s, v in sources.items()}, indent=1, sort_keys=True))
        if marker is not None:
            (tmp / STANDIN_MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True))
        try:
            os.replace(tmp, folder)
        except OSError:  # another process wrote it first: keep theirs
            if not (folder / POINTER).is_file():
                raise
    finally:
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class CrossCorpusProtocol(Protocol):
    """One fold: A's recordings train (validation = a seeded, subject-disjoint 20% of
    A's subjects), B's recordings test. The fold is its own test set (``test=<b>``, on
    the table's title), so no profile's fold cap regroups it."""

    name: str = PROTOCOL
    needs: tuple[str, ...] = ("partition",)
    pool_folds: bool = False
    version: str = "1"
    description: str = ("cross-corpus: train on corpus A (validation carved from A by subject), "
                        "test on corpus B, through the shared label space")

    def folds(self, recordings, seed=0):
        train = [r.id for r in recordings if r.partition == "train"]
        test = tuple(r.id for r in recordings if r.partition == "test")
        corpora = [r.meta.get("corpus", "?") for r in recordings]
        a = next((c for r, c in zip(recordings, corpora) if r.partition == "train"), "A")
        b = next((c for r, c in zip(recordings, corpora) if r.partition == "test"), "B")
        if not train or not test:
            raise ValueError(f"protocol {self.name!r}: needs recordings of both corpora "
                             f"(train: {len(train)}, test: {len(test)})")
        fit, valid = self.split_valid(recordings, train, seed)
        return [Fold(f"test={b}", fit, valid, test)]


def _component(name: str) -> Dataset | None:
    """The registered dataset ``name`` from its built-in plugin module, or None."""
    for mod in MODULES.get(name, (name,)):
        try:
            module = importlib.import_module(f"emobench_plugins.datasets.{mod}")
        except ImportError:
            continue
        hook = getattr(module, "emobench_register_datasets", None)
        for ds in (hook() if hook else []):
            if ds.name == name:
                return ds
    return None


def pairs() -> list[CrossCorpus]:
    """Every pairing of :data:`PAIRS` whose two corpora are installed and declared."""
    out = []
    for a, b, default in PAIRS:
        da, db = _component(a), _component(b)
        if da is not None and db is not None:
            out.append(CrossCorpus(da, db, default))
    return out


@hookimpl
def emobench_register_datasets():
    return pairs()


@hookimpl
def emobench_register_protocols():
    return [CrossCorpusProtocol()]


__all__ = ["CrossCorpus", "CrossCorpusProtocol", "PAIRS", "SPACE", "pair_name", "pairs",
           "shared_modalities"]
