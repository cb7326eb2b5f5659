"""``emobench doctor sewa``: counts and every problem of a tree, each with its path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from emobench.dataset import DoctorReport, Problem

from .layout import FOLDERS, DIMENSIONS, scan, SewaFormatError, read_labels, read_openface, read_wav

# Features may end a little before the labels (the loader repeats the last frame);
# more than this is reported.
MAX_FEATURE_SHORTFALL_S = 1.0


def check(ds, root: Path) -> DoctorReport:

    report = DoctorReport(ds.name, str(root))
    problems = report.problems
    if not root.is_dir():
        problems.append(Problem(str(root), f"corpus folder does not exist (expected {ds.folder}/)"))
        return report
    for kind, (folder, _) in FOLDERS.items():
        if not (root / folder).is_dir():
            severity = "error" if kind in ("labels", "visual") else "warning"
            problems.append(Problem(str(root / folder), "folder missing", severity))
    entries, name_problems = scan(root)
    problems += name_problems
    if not entries:
        problems.append(Problem(str(root), "no recordings found (expected labels/Train_DE_01.csv ...)"))
        return report

    counts: Counter = Counter()
    ranges = {d: [np.inf, -np.inf] for d in DIMENSIONS}
    label_frames = feature_frames = 0
    for rid, e in sorted(entries.items(), key=lambda kv: kv[1].name.sort_key):
        n = e.name
        counts[f"{n.partition}/{n.culture}"] += 1
        label_s = None
        lab = e.files.get("labels")
        if lab is None:
            if n.partition != "test":
                problems.append(Problem(str(root / "labels" / f"{rid}.csv"),
                                        f"{n.partition} recording {rid} has no label file"))
        else:
            try:
                lf = read_labels(lab)
            except SewaFormatError as exc:
                problems.append(Problem(str(lab), exc.reason))
            else:
                counts["labelled"] += 1
                label_frames += lf.times.size
                label_s = float(lf.times[-1]) if lf.times.size else 0.0
                missing = [d for d in DIMENSIONS if d not in lf.values]
                if missing:
                    problems.append(Problem(str(lab), f"no column for {missing}", "warning"))
                for d, v in lf.values.items():
                    ranges[d] = [min(ranges[d][0], float(v.min())), max(ranges[d][1], float(v.max()))]
                    if np.abs(v).max() > 1.0 + 1e-6:
                        problems.append(Problem(str(lab), f"{d} outside [-1, 1] "
                                                f"(range {v.min():.3f}..{v.max():.3f})", "warning"))
                wrong = sorted(set(lf.names) - {rid})
                if wrong:
                    problems.append(Problem(str(lab), f"name column holds {wrong[:3]}, "
                                            f"expected {rid!r}", "warning"))
                if lf.times.size > 1:
                    step = np.diff(lf.times)
                    if np.abs(step - 0.1).max() > 0.01:
                        problems.append(Problem(str(lab), "timestamps are not a 0.1 s grid "
                                                f"(steps {step.min():.3f}..{step.max():.3f} s)",
                                                "warning"))
        vis = e.files.get("visual")
        if vis is None:
            problems.append(Problem(str(root / "visual_features" / f"{rid}.csv"),
                                    f"recording {rid} has no OpenFace feature file "
                                    "(no au_functionals / au_series)"))
        else:
            try:
                of = read_openface(vis)
            except SewaFormatError as exc:
                problems.append(Problem(str(vis), exc.reason))
            else:
                feature_frames += of.times.size
                problems += [Problem(str(vis), d, "warning") for d in of.dropped or []]
                if of.n_missing:
                    problems.append(Problem(str(vis), f"{of.n_missing} empty or non-numeric "
                                            "cell(s) read as 0", "warning"))
                if label_s is not None and of.times[-1] < label_s - MAX_FEATURE_SHORTFALL_S:
                    problems.append(Problem(str(vis), f"features end at {of.times[-1]:.1f} s but "
                                            f"labels run to {label_s:.1f} s (last frame repeated)",
                                            "warning"))
        wav = e.files.get("audio")
        if wav is not None:
            try:
                read_wav(wav)
                counts["audio"] += 1
            except SewaFormatError as exc:
                problems.append(Problem(str(wav), exc.reason))
        vid = e.files.get("video")
        if vid is not None:
            problems += _check_video(vid)
            counts["video"] += 1

    report.counts = {
        "recordings": len(entries),
        "subjects": len(entries),  # recordings are subjects in the CES package
        "labelled": counts.pop("labelled", 0),
        "audio": counts.pop("audio", 0),
        "video": counts.pop("video", 0),
        "by_partition_culture": dict(sorted(counts.items())),
        "label_frames": label_frames,
        "feature_frames": feature_frames,
        "label_range": {d: [round(lo, 4), round(hi, 4)] for d, (lo, hi) in ranges.items()
                        if np.isfinite(lo)},
    }
    return report


def _check_video(path: Path) -> list[Problem]:
    from emobench.media import MediaError, video_info

    try:
        info = video_info(path)
    except MediaError as exc:
        return [Problem(str(path), exc.reason)]
    if info["frames"] <= 0:
        return [Problem(str(path), "container reports no frames")]
    return []
