"""eNTERFACE'05 audio-visual emotion database: 42 subjects (44 folders in the
common copy), six induced emotions, five English sentences each.

Reads ``enterface database/subject N/<emotion>/sentence K/...avi`` trusting the
folders (spaces, uneven depth, the ``s12_*``/``s_3_*``/``s16_su_3avi.avi`` file-name
faults; see ``layout``). Face crops come from the video and the voice from the
same file's audio track, plus eGeMAPS functionals, LLDs and log-mel frames from
``emobench.media.audio``. Primary protocol: speaker-independent 10-fold without
subject 6 (the usual exclusion). See docs/corpora/enterface.md.
"""

from __future__ import annotations

from pathlib import Path

from emobench import hookimpl
from emobench.data import Recording, Task
from emobench.dataset import Dataset, DoctorReport, checked_doctor
from emobench.labelspace import CorpusLabels, declare
from emobench.media.av import clip_modalities, clip_streams

from . import layout as L
from .protocols import enterface_protocols

LABELS = declare(CorpusLabels("enterface", L.CLASSES, note="the six basic emotions; no neutral"))

EMOTION_TASK = Task("emotion-6", "classification", "clip", classes=L.CLASSES, metric="accuracy",
                    metrics=("accuracy", "uar", "macro_f1"),
                    description="Induced emotion of the clip (six basic emotions), from the "
                                "emotion folder.")


class Enterface(Dataset):
    name = "enterface"
    version = "1"
    standin_version = "2"  # bump when the stand-in files change (2: face-box sidecar)
    # writing the stand-in 2.9 s + first read 18.5 s, face crops at the default models'
    # four sizes, alone (scripts/bench_first_read.py, 2-core EPYC), times 1.4: what two
    # corpora at a time, as a run writes them, cost the ones measured that way
    standin_seconds = 30
    title = "eNTERFACE'05 audio-visual emotion database"
    folder = "enterface database"
    modalities = clip_modalities(L.VIDEO_FPS, "clip's AVI")
    tasks = (EMOTION_TASK,)
    protocols = ("enterface-10fold", "enterface-loso", "enterface-10fold-all")
    citation = ("Martin O., Kotsia I., Macq B., Pitas I., The eNTERFACE'05 audio-visual emotion "
                "database, ICDE Workshops 2006.")
    url = "http://www.enterface.net/enterface05/"

    def load(self, root: Path) -> list[Recording]:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"enterface: corpus folder {root} does not exist "
                                    f"(expected a folder named {self.folder!r})")
        clips, problems = L.scan(root)
        if not clips and problems:
            raise FileNotFoundError(f"enterface: {problems[0]}")
        return [Recording(id=c.id, subject=c.subject,
                          labels={EMOTION_TASK.name: L.CLASSES.index(c.emotion)},
                          streams=clip_streams(c.path),
                          meta={"emotion": c.emotion, "sentence": c.sentence,
                                "file": str(c.path.relative_to(root))})
                for c in clips]

    def doctor(self, root: Path) -> DoctorReport:
        from .doctor import check_tree

        return checked_doctor(self, root, check_tree)

    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin
        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [Enterface()]


@hookimpl
def emobench_register_protocols():
    return enterface_protocols()
