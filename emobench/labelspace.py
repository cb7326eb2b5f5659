"""The shared basic-emotion label space and each corpus's declared mapping into it.

Corpora name their classes differently (``happiness``/``happy``/``hap``, ``anger``/
``ang``) and some have classes the others lack (boredom, contempt, excited,
frustration). Cross-corpus evaluation (train on corpus A, test on corpus B) needs
one vocabulary: :data:`BASIC` holds the six basic emotions plus neutral, and
:data:`EXTRAS` the extra classes a corpus may carry. A corpus declares, for each
of its own classes, the space class it means (or ``None`` when it has no
counterpart); :func:`pairing` then gives the classes two corpora share, in
:data:`SPACE` order, and what each side drops, so a leaderboard can state it.

    from emobench.labelspace import CorpusLabels, declare, pairing
    declare(CorpusLabels("rml", ("anger", ..., "surprise"), {...}))
    p = pairing("enterface", "rml")
    p.classes, p.dropped_a, p.dropped_b
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

BASIC: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise",
                          "neutral")
# Classes beyond the basic seven that corpora carry (BAUM-1s, BAUM-1a, IEMOCAP).
EXTRAS: tuple[str, ...] = ("boredom", "contempt", "interest", "unsure", "thinking",
                           "concentrating", "bothered", "frustration", "excited", "other")
SPACE: tuple[str, ...] = BASIC + EXTRAS
SIX_BASIC: tuple[str, ...] = BASIC[:6]

#: Other spellings of the space's classes in corpora and pretrained heads (lower-case).
ALIASES: dict[str, str] = {
    "angry": "anger", "ang": "anger", "disgusted": "disgust", "dis": "disgust",
    "fearful": "fear", "afraid": "fear", "fea": "fear", "happy": "happiness", "joy": "happiness",
    "hap": "happiness", "sad": "sadness", "surprised": "surprise", "sur": "surprise",
    "neu": "neutral", "calm": "neutral", "bored": "boredom", "frustrated": "frustration",
    "exc": "excited", "fru": "frustration",
}


def canonical(name: str) -> str | None:
    """The space class a class name means (a space name itself or an :data:`ALIASES`
    spelling, case-insensitive), or None when the name is not an emotion of the space."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    return key if key in SPACE else None


class LabelSpaceError(ValueError):
    """A mapping that names a class outside the space, or an unknown corpus."""


@dataclass(frozen=True)
class CorpusLabels:
    """One corpus's classes (in its task's index order) and where each maps.

    ``mapping`` sends each corpus class name to a :data:`SPACE` name or ``None``
    (no counterpart: the class leaves every cross-corpus pairing). A class that
    is not in ``mapping`` must itself be a space name (identity)."""

    corpus: str
    classes: tuple[str, ...]
    mapping: Mapping[str, str | None] = field(default_factory=dict)
    note: str = ""
    #: the corpus task whose class indices ``classes`` follow (empty: the corpus's
    #: classification task with exactly these classes; see :func:`source_task`)
    task: str = ""

    def __post_init__(self):
        for c in self.classes:
            target = self.mapping.get(c, c)
            if target is not None and target not in SPACE:
                raise LabelSpaceError(
                    f"label space: corpus {self.corpus!r} maps class {c!r} to {target!r}, "
                    f"which is not in the space ({', '.join(SPACE)})")
        extra = set(self.mapping) - set(self.classes)
        if extra:
            raise LabelSpaceError(f"label space: corpus {self.corpus!r} maps unknown class(es) "
                                  f"{sorted(extra)} (classes: {', '.join(self.classes)})")
        targets = [self.to_space(c) for c in self.classes if self.to_space(c) is not None]
        if len(targets) != len(set(targets)):
            raise LabelSpaceError(f"label space: corpus {self.corpus!r} maps two classes onto one "
                                  f"space class ({targets}); merge them in the loader instead")

    def to_space(self, cls: str) -> str | None:
        return self.mapping.get(cls, cls)

    def space_classes(self) -> tuple[str, ...]:
        """The space classes this corpus covers, in :data:`SPACE` order."""
        have = {self.to_space(c) for c in self.classes} - {None}
        return tuple(c for c in SPACE if c in have)

    def index_to_space(self, index: int) -> str | None:
        return self.to_space(self.classes[int(index)])


@dataclass(frozen=True)
class Pairing:
    """What two corpora share: ``classes`` in :data:`SPACE` order, and the space
    classes each side has that the other lacks (dropped from this pairing)."""

    a: str
    b: str
    classes: tuple[str, ...]
    dropped_a: tuple[str, ...]
    dropped_b: tuple[str, ...]

    def relabel(self, corpus: CorpusLabels, index: int) -> int | None:
        """A corpus class index -> the pairing's class index, or None (dropped)."""
        target = corpus.index_to_space(index)
        return self.classes.index(target) if target in self.classes else None

    def describe(self) -> str:
        text = f"{self.a} -> {self.b}: {len(self.classes)} classes ({', '.join(self.classes)})"
        for side, dropped in ((self.a, self.dropped_a), (self.b, self.dropped_b)):
            if dropped:
                text += f"; {side} drops {', '.join(dropped)}"
        return text


_DECLARED: dict[str, CorpusLabels] = {}


def declare(labels: CorpusLabels) -> CorpusLabels:
    """Record a corpus's mapping (a corpus plugin calls this at import). Declaring
    the same corpus again replaces the earlier mapping."""
    _DECLARED[labels.corpus] = labels
    return labels


def declared() -> dict[str, CorpusLabels]:
    return dict(_DECLARED)


def source_task(labels: CorpusLabels, tasks):
    """The corpus task (of ``tasks``) whose label indices ``labels.classes`` follow:
    the one named by ``labels.task``, else the clip-level classification task with
    exactly those classes. Raises :class:`LabelSpaceError` when there is none."""
    for t in tasks:
        if labels.task and t.name != labels.task:
            continue
        if t.kind == "classification" and t.level == "clip" and tuple(t.classes) == tuple(labels.classes):
            return t
    raise LabelSpaceError(f"label space: corpus {labels.corpus!r} declares classes "
                          f"{', '.join(labels.classes)} but has no clip-level classification task "
                          f"{'named ' + repr(labels.task) + ' ' if labels.task else ''}with exactly "
                          f"those classes (tasks: {', '.join(t.name for t in tasks)})")


def corpus_labels(corpus: str) -> CorpusLabels:
    try:
        return _DECLARED[corpus]
    except KeyError:
        raise LabelSpaceError(f"label space: no mapping declared for corpus {corpus!r} "
                              f"(declared: {', '.join(sorted(_DECLARED)) or 'none'})") from None


def pairing(a: str | CorpusLabels, b: str | CorpusLabels) -> Pairing:
    """The classes corpora ``a`` (train) and ``b`` (test) share."""
    la = a if isinstance(a, CorpusLabels) else corpus_labels(a)
    lb = b if isinstance(b, CorpusLabels) else corpus_labels(b)
    sa, sb = set(la.space_classes()), set(lb.space_classes())
    shared = tuple(c for c in SPACE if c in sa and c in sb)
    if len(shared) < 2:
        raise LabelSpaceError(f"label space: {la.corpus} and {lb.corpus} share fewer than two "
                              f"classes ({shared}); no cross-corpus pairing")
    return Pairing(la.corpus, lb.corpus, shared,
                   tuple(c for c in SPACE if c in sa - sb), tuple(c for c in SPACE if c in sb - sa))
