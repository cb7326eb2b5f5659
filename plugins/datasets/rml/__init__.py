"""RML emotion database (Ryerson Multimedia Lab): 720 acted audio-visual clips,
8 speakers, 6 languages, 6 emotions.

Reads ``RML_Dataset/sN/[<language>/]<emo>*.avi`` (emotion = the first two letters
of the file name; the language level is optional; ``Thumbs.db`` skipped). Face
crops come from the video, the voice from the same file's audio track, and the
audio front-end (``emobench.media.audio``) gives eGeMAPS functionals, LLDs and
log-mel frames. Primary protocol: leave one speaker out. See docs/corpora/rml.md.
"""

from __future__ import annotations

from pathlib import Path

from emobench import hookimpl
from emobench.data import Recording, Task
from emobench.dataset import Dataset, DoctorReport, checked_doctor
from emobench.labelspace import CorpusLabels, declare
from emobench.media.av import clip_modalities, clip_streams

from . import layout as L

LABELS = declare(CorpusLabels("rml", L.CLASSES, note="the six basic emotions; no neutral"))

EMOTION_TASK = Task("emotion-6", "classification", "clip", classes=L.CLASSES, metric="accuracy",
                    metrics=("accuracy", "uar", "macro_f1"),
                    description="Acted emotion of the clip (six basic emotions), balanced.")


class Rml(Dataset):
    name = "rml"
    version = "1"
    standin_version = "2"  # bump when the stand-in files change (2: face-box sidecar)
    # writing the stand-in 3.3 s + first read 19.2 s, face crops at the default models'
    # four sizes, alone (scripts/bench_first_read.py, 2-core EPYC), times 1.4: what two
    # corpora at a time, as a run writes them, cost the ones measured that way
    standin_seconds = 32
    title = "RML emotion database (Ryerson)"
    folder = "RML_Dataset"
    modalities = clip_modalities(L.VIDEO_FPS, "clip's AVI")
    tasks = (EMOTION_TASK,)
    protocols = ("loso", "subject-5fold")
    citation = ("Wang Y., Guan L., Recognizing human emotional state from audiovisual signals, "
                "IEEE Transactions on Multimedia 10(5), 2008.")
    url = "https://rml.ryerson.ca/rml-emotion-database.html"

    def load(self, root: Path) -> list[Recording]:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"rml: corpus folder {root} does not exist "
                                    f"(expected a folder named {self.folder})")
        clips, problems = L.scan(root)
        errors = [p for p in problems if p.severity == "error" and "no speaker folders" in p.message]
        if errors:
            raise FileNotFoundError(f"rml: {errors[0]}")
        return [Recording(id=c.id, subject=c.speaker,
                          labels={EMOTION_TASK.name: L.CLASSES.index(c.emotion)},
                          streams=clip_streams(c.path),
                          groups={"language": c.language} if c.language else {},
                          meta={"emotion": c.emotion, "file": str(c.path.relative_to(root))})
                for c in clips]

    def doctor(self, root: Path) -> DoctorReport:
        from .doctor import check_tree

        return checked_doctor(self, root, check_tree)

    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin
        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [Rml()]
