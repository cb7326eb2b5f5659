"""IEMOCAP (USC SAIL): five sessions, each one dyad (one actress, one actor),
improvised and scripted dialogs cut into turns with categorical and V/A/D labels.

Reads ``IEMOCAP_full_release/Session<n>/`` (``layout``): the EmoEvaluation summary
lines give each turn's label and times, the turn's wav its voice, the dialog's
DivX AVI (cropped to the turn's times) its face. The speaker comes from the
turn's final field (``..._M003`` is the male actor of that session); every
recording carries ``groups = {"session", "gender"}``. Tasks: ``emotion-4``
(neutral, happiness with excited merged in, sadness, anger; primary), the same
without the merge (``emotion-4-noexc``, the merge as a recorded option) and
``emotion-5`` (+ frustration). Primary protocol: leave one session out; primary
metric UA (``uar``) with WA (``accuracy``) beside it. See docs/corpora/iemocap.md.
"""

from __future__ import annotations

from pathlib import Path

from emobench import hookimpl
from emobench.data import Recording, Task
from emobench.dataset import Dataset, DoctorReport, checked_doctor
from emobench.labelspace import CorpusLabels, declare
from emobench.media.av import clip_modalities, clip_streams, unusable
from emobench.protocols import LeaveGroupOut, LeaveOneSubjectOut

from . import layout as L

LABELS = declare(CorpusLabels(
    "iemocap", L.CLASSES_4,
    note="4-class set with excited merged into happiness; emotion-5 adds frustration (an "
         "extra class) at index 4; surprise, fear and disgust turns are too few and unused"))

UA = dict(metric="uar", metrics=("uar", "accuracy", "macro_f1"))
TASK_4 = Task("emotion-4", "classification", "clip", classes=L.CLASSES_4, **UA,
              description="The turn's consensus label, 4 classes, excited merged into "
                          "happiness (the standard 5,531-turn set).")
TASK_4_NOEXC = Task("emotion-4-noexc", "classification", "clip", classes=L.CLASSES_4, **UA,
                    description="4 classes without the merge: excited turns leave the task.")
TASK_5 = Task("emotion-5", "classification", "clip", classes=L.CLASSES_5, **UA,
              description="5 classes: the 4-class set (excited merged) plus frustration.")
PROTOCOLS = (LeaveGroupOut(key="session", name="iemocap-session-out", datasets=("iemocap",),
                           description="Leave one session out (5 folds; each test set is one "
                                       "dyad: 2 speakers); validation speakers from the rest."),
             LeaveOneSubjectOut(name="iemocap-speaker-out", datasets=("iemocap",),
                                description="Leave one speaker out (10 folds); the test "
                                            "speaker's partner stays in training."))


def turn_labels(code: str) -> dict[str, int]:
    out = {}
    for task, kw in ((TASK_4, {}), (TASK_4_NOEXC, {"merge_excited": False}),
                     (TASK_5, {"five": True})):
        y = L.labels_of(code, **kw)
        if y is not None:
            out[task.name] = y
    return out


class Iemocap(Dataset):
    name = "iemocap"
    version = "1"
    standin_version = "1"  # bump when the stand-in files change
    # writing the stand-in 5.7 s + first read 29.0 s, face crops at the default models'
    # four sizes (scripts/bench_first_read.py, 2-core EPYC, two corpora at a time as a
    # run writes them, nothing else running)
    standin_seconds = 35
    title = "IEMOCAP (interactive emotional dyadic motion capture)"
    folder = "IEMOCAP_full_release"
    modalities = clip_modalities(L.VIDEO_FPS, "dialog AVI (the turn's time window of the)",
                                 audio_where="turn's wav")
    tasks = (TASK_4, TASK_4_NOEXC, TASK_5)
    primary_tasks = ("emotion-4",)
    protocols = tuple(p.name for p in PROTOCOLS)
    citation = ("Busso C. et al., IEMOCAP: interactive emotional dyadic motion capture "
                "database, Language Resources and Evaluation 42(4), 2008.")
    url = "https://sail.usc.edu/iemocap/"

    def load(self, root: Path) -> list[Recording]:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"iemocap: corpus folder {root} does not exist "
                                    f"(expected a folder named {self.folder})")
        turns, problems = L.scan(root)
        if not turns and problems:
            raise FileNotFoundError(f"iemocap: {problems[0]}")
        turns = [t for t in turns if turn_labels(t.code)]  # sur, fea, dis, oth, xxx: no task
        # the corrupt-media rule: an unusable wav or dialog AVI skips its turns
        bad = {**unusable([t.wav for t in turns], self.name, **L.WAV_CHECK),
               **unusable([t.avi for t in turns], self.name)}
        out = []
        for t in turns:
            if t.wav in bad or t.avi in bad:
                continue
            out.append(Recording(
                id=t.id, subject=t.speaker, labels=turn_labels(t.code),
                streams=clip_streams(t.avi, audio=t.wav, window=(t.start, t.end)),
                groups={"session": str(t.session), "gender": t.gender},
                meta={"code": t.code, "dialog": t.dialog, "start": t.start, "end": t.end,
                      "vad": list(t.vad), "evaluators": t.evaluators,
                      "file": str(t.wav.relative_to(root)), "path": str(t.wav)}))
        return out

    def doctor(self, root: Path) -> DoctorReport:
        from .doctor import check_tree

        return checked_doctor(self, root, check_tree)

    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin
        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [Iemocap()]


@hookimpl
def emobench_register_protocols():
    return list(PROTOCOLS)
