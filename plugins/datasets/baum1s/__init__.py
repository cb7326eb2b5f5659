"""BAUM-1s (Bahcesehir University): spontaneous audio-visual affect clips of
Turkish speakers, six basic emotions, neutral, boredom, contempt and four mental
states (unsure, thinking, concentrating, bothered).

Reads ``BAUM1s_MP4 - All/Snnn/Snnn_nnn.mp4`` with the labels of
``Annotations_BAUM1s.xlsx`` (its numeric codes, never the names' prefixes; see
``layout``). Face crops come from the MP4, the voice from its audio track, plus
eGeMAPS functionals, LLDs and log-mel frames. Tasks: the 6-basic subset
(primary) and the full 13-class set. Primary protocol: leave one speakers-group
out. See docs/corpora/baum1s.md.
"""

from __future__ import annotations

from pathlib import Path

from emobench import hookimpl
from emobench.data import Recording, Task
from emobench.dataset import Dataset, DoctorReport, checked_doctor
from emobench.labelspace import CorpusLabels, declare
from emobench.media.av import clip_modalities, clip_streams, unusable

from . import layout as L
from .protocols import baum1s_protocols

LABELS = declare(CorpusLabels("baum1s", L.CLASSES,
                              note="13 states; the 6-basic task's indices are the first six"))

TASK_6 = Task("emotion-6basic", "classification", "clip", classes=L.SIX_BASIC, metric="accuracy",
              metrics=("accuracy", "uar", "macro_f1"),
              description="The clips coded with one of the six basic emotions (spreadsheet "
                          "codes 1, 6, 7, 8, 10, 11); the other clips leave this task.")
TASK_ALL = Task("emotion-13", "classification", "clip", classes=L.CLASSES, metric="accuracy",
                metrics=("accuracy", "uar", "macro_f1"),
                description="Every clip, the 13 coded states.")


class Baum1s(Dataset):
    name = "baum1s"
    version = "1"
    standin_version = "2"  # bump when the stand-in files change (2: face-box sidecar)
    # writing the stand-in 15.5 s + first read 59.7 s, face crops at the default models'
    # four sizes (scripts/bench_first_read.py, 2-core EPYC, two corpora at a time as a
    # run writes them, nothing else running)
    standin_seconds = 75
    title = "BAUM-1s spontaneous audio-visual affective face database"
    folder = "BAUM1s_MP4 - All"
    modalities = clip_modalities(L.VIDEO_FPS, "clip's MP4")
    tasks = (TASK_6, TASK_ALL)
    primary_tasks = ("emotion-6basic",)
    protocols = ("baum1s-speaker-groups", "loso")
    citation = ("Zhalehpour S., Onder O., Akhtar Z., Erdem C. E., BAUM-1: a spontaneous "
                "audio-visual face database of affective and mental states, IEEE Transactions "
                "on Affective Computing 8(3), 2017.")
    url = ""  # by request to Bahcesehir University (CORPORA.md section 8)

    def load(self, root: Path) -> list[Recording]:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"baum1s: corpus folder {root} does not exist "
                                    f"(expected a folder named {self.folder!r})")
        clips, problems = L.scan(root)
        if not clips and problems:
            raise FileNotFoundError(f"baum1s: {problems[0]}")
        bad = unusable([c.path for c in clips], self.name)  # the corrupt-media rule
        out = []
        for c in clips:
            if c.path in bad:
                continue
            labels = {TASK_ALL.name: L.CLASSES.index(c.emotion)}
            if c.emotion in L.SIX_BASIC:
                labels[TASK_6.name] = L.SIX_BASIC.index(c.emotion)
            out.append(Recording(id=c.id, subject=c.speaker, labels=labels,
                                 streams=clip_streams(c.path),
                                 groups={"gender": c.gender} if c.gender else {},
                                 meta={"emotion": c.emotion, "code": c.code, "row": c.row,
                                       "file": str(c.path.relative_to(root)),
                                       "path": str(c.path)}))
        return out

    def doctor(self, root: Path) -> DoctorReport:
        from .doctor import check_tree

        return checked_doctor(self, root, check_tree)

    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin
        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [Baum1s()]


@hookimpl
def emobench_register_protocols():
    return baum1s_protocols()
