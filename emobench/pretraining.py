"""Corpora a model trains a first stage on before it sees the cell's own training set.

A model declares them as ``Model.pretraining``: ``(dataset, task)`` pairs, e.g. the
VTT system's static stage on AffectNet and RAF-DB. For each cell the harness
resolves the listed corpora the same way as the cell's own (:func:`for_cell`):

* never the cell's own corpus, nor a corpus a cross-corpus pairing is built from
  (its test items must stay unseen);
* only corpora of the cell's kind: a real cell pretrains on real copies found under
  the data root, a stand-in cell on stand-ins, so a real row never carries synthetic
  training data unannounced (a missing real copy is left out, and the run says so);
* each corpus's fingerprint enters the row's identity, so rows pretrained on other
  data are other leaderboard entries.

:meth:`Corpus.samples` hands the model that corpus's labelled samples (all of its
recordings, in the model's inputs), with each class named in the shared label space
(:mod:`emobench.labelspace`) so the model can map them to its cell's classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emobench import datasource
from emobench.labelspace import canonical


@dataclass(frozen=True)
class Corpus:
    """One resolved pretraining corpus of a job (picklable: it travels with the job)."""

    dataset: str
    task: str
    root: str
    fingerprint: str
    synthetic: bool

    def identity(self) -> list:
        return [self.dataset, self.task, self.fingerprint]

    def samples(self, model_cls) -> tuple[list, tuple]:
        """(samples, class names in the shared label space, None where the class has no
        counterpart there) of every recording labelled for the task, read through the
        model's inputs; the recordings are read once per process (emobench.fold)."""
        from emobench.fold import load_checked, samples_for
        from emobench.plugins import registry

        ds = registry().dataset(self.dataset)
        task = ds.task(self.task)
        inputs = model_cls.resolve_inputs(ds.modalities)
        if inputs is None:
            raise ValueError(f"pretraining corpus {self.dataset!r} offers none of the inputs "
                             f"model {model_cls.name!r} consumes")
        recs, _ = load_checked(ds, Path(self.root))
        names = tuple(canonical(str(c)) for c in (task.classes or ()))
        return samples_for(recs, [r.id for r in recs], task, inputs), names


def excluded(ds) -> set[str]:
    """The corpora a cell of ``ds`` tests on or is built from."""
    out = {ds.name}
    for side in ("a", "b"):  # a cross-corpus pairing's two corpora
        part = getattr(ds, side, None)
        if part is not None and getattr(part, "name", None):
            out.add(part.name)
    return out


def for_cell(reg, model_cls, ds, src, root: Path | None, scale: str, *,
             write: bool = True) -> tuple[list[Corpus], list[str]]:
    """The model's pretraining corpora for a cell on ``ds`` (resolved as ``src``), and
    notices for the declared corpora left out (missing real copies, unreadable ones)."""
    declared = tuple(getattr(model_cls, "pretraining", ()) or ())
    if not declared:
        return [], []
    out, notices = [], []
    skip = excluded(ds)
    kind = "stand-in" if src.synthetic else "real"

    def left_out(name: str) -> None:
        notices.append(f"model {model_cls.name!r} on {ds.name!r} ({kind}): no {kind} copy of "
                       f"pretraining corpus {name!r}, so that stage leaves it out")

    for name, task in declared:
        if name in skip or name not in reg.datasets:
            continue
        pds = reg.dataset(name)
        if (datasource.find_corpus(pds, root) is not None) == bool(src.synthetic):
            left_out(name)
            continue  # decided before resolving: no stand-in is written for a real cell
        try:
            psrc = datasource.resolve(pds, root, scale, seed=0, write=write)
        except Exception as exc:
            notices.append(f"model {model_cls.name!r}: pretraining corpus {name!r} could not be "
                           f"read ({type(exc).__name__}: {exc}); its cells pretrain without it")
            continue
        if bool(psrc.synthetic) != bool(src.synthetic):  # e.g. a copy that is a stand-in after all
            left_out(name)
            continue
        out.append(Corpus(name, task, str(psrc.root), psrc.fingerprint, bool(psrc.synthetic)))
    return out, notices
