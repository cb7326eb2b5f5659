"""ICT YouTube opinion dataset (Morency, Mihalcea, Doshi, ICMI 2011): YouTube
opinion videos, one speaker each, with a video-level 3-class sentiment label.

Its official layout is not pinned down, so the loader reads a documented
manifest (``layout``; docs/corpora/ictyoutube.md): ``ICT-YouTube/manifest.csv``
and the videos under the folder. Face crops and the voice come from each video
(its audio track), plus eGeMAPS functionals, LLDs and log-mel frames. Task:
``sentiment-3`` (negative, neutral, positive). Primary protocol: leave one video
out (one speaker per video). Not ICT-MMMO, a different corpus.
"""

from __future__ import annotations

from pathlib import Path

from emobench import hookimpl
from emobench.data import Recording, Task
from emobench.dataset import Dataset, DoctorReport, checked_doctor
from emobench.labelspace import CorpusLabels, declare
from emobench.media.av import clip_modalities, clip_streams, unusable
from emobench.protocols import LeaveOneSubjectOut

from . import layout as L

# sentiment polarity is no emotion category: every class maps to None, so the
# corpus takes part in no cross-corpus emotion pairing (declared, not forgotten)
LABELS = declare(CorpusLabels("ictyoutube", L.CLASSES, {c: None for c in L.CLASSES},
                              note="3-class opinion polarity, not emotion categories; in no "
                                   "cross-corpus emotion pairing"))

TASK = Task("sentiment-3", "classification", "clip", classes=L.CLASSES, metric="accuracy",
            metrics=("accuracy", "macro_f1", "uar"),
            description="Video-level opinion polarity: negative, neutral, positive.")
LOVO = LeaveOneSubjectOut(name="ictyoutube-lovo", datasets=("ictyoutube",),
                          description="Leave one video out (one speaker per video; videos "
                                      "sharing a manifest speaker leave together); validation "
                                      "videos drawn from the rest.")


class IctYoutube(Dataset):
    name = "ictyoutube"
    version = "1"
    standin_version = "2"  # bump when the stand-in files change (2: face-box sidecar)
    # writing the stand-in 5.2 s + first read 16.6 s, face crops at the default models'
    # four sizes (scripts/bench_first_read.py, 2-core EPYC, two corpora at a time as a
    # run writes them, nothing else running)
    standin_seconds = 22
    title = "ICT YouTube opinion dataset (ICMI 2011)"
    folder = "ICT-YouTube"
    modalities = clip_modalities(L.VIDEO_FPS, "opinion video's")
    tasks = (TASK,)
    protocols = ("ictyoutube-lovo",)
    citation = ("Morency L.-P., Mihalcea R., Doshi P., Towards multimodal sentiment analysis: "
                "harvesting opinions from the web, ICMI 2011.")
    url = "https://ict.usc.edu/"

    def load(self, root: Path) -> list[Recording]:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"ictyoutube: corpus folder {root} does not exist "
                                    f"(expected a folder named {self.folder})")
        videos, problems = L.scan(root)
        if not videos and problems:
            raise FileNotFoundError(f"ictyoutube: {problems[0]}")
        bad = unusable([v.path for v in videos], self.name)  # the corrupt-media rule
        return [Recording(id=v.id, subject=v.speaker,
                          labels={TASK.name: L.CLASSES.index(v.sentiment)},
                          streams=clip_streams(v.path),
                          groups={"gender": v.gender} if v.gender else {},
                          meta={"sentiment": v.sentiment, "line": v.line,
                                "file": str(v.path.relative_to(root)), "path": str(v.path)})
                for v in videos if v.path not in bad]

    def doctor(self, root: Path) -> DoctorReport:
        from .doctor import check_tree

        return checked_doctor(self, root, check_tree)

    def write_standin(self, out: Path, scale: str = "small", seed: int = 0) -> dict:
        from .standin import write_standin
        return write_standin(Path(out), scale, seed)


@hookimpl
def emobench_register_datasets():
    return [IctYoutube()]


@hookimpl
def emobench_register_protocols():
    return [LOVO]
