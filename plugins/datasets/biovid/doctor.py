"""``emobench doctor`` for BioVid Part A: counts and every problem with its path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from emobench.dataset import Problem

from . import layout as L

MIN_SHARE = L.MIN_SHARE  # a sample shorter than this share of 5.5 s is truncated


def _check_rows(csv, rows: list[L.SampleRow], problems: list[Problem]) -> list[L.SampleRow]:
    """Label-level checks; returns the rows whose files are worth checking."""
    good, seen = [], set()
    for row in rows:
        where = f"{csv}:{row.line}"
        if not 0 <= row.class_id < len(L.CLASSES):
            problems.append(Problem(where, f"unknown class_id {row.class_id} (expected 0..4)"))
            continue
        if row.class_name and row.class_name != L.CLASSES[row.class_id]:
            problems.append(Problem(where, f"class_name {row.class_name!r} does not match class_id "
                                           f"{row.class_id} ({L.CLASSES[row.class_id]})"))
        if row.sample in seen:
            problems.append(Problem(where, f"sample_name {row.sample!r} listed twice"))
            continue
        seen.add(row.sample)
        if not L.SUBJECT_RE.match(row.subject):
            problems.append(Problem(where, f"subject_name {row.subject!r} does not follow "
                                           "MMDDYY_<w|m>_<age>", "warning"))
        m = L.SAMPLE_RE.match(row.sample)
        if not m:
            problems.append(Problem(where, f"sample_name {row.sample!r} does not follow "
                                           "<subject>-<class>-<NNN>", "warning"))
        elif m.group("subject") != row.subject or m.group("cls") != L.CLASSES[row.class_id]:
            problems.append(Problem(where, f"sample_name {row.sample!r} disagrees with subject "
                                           f"{row.subject!r} / class {L.CLASSES[row.class_id]}"))
        good.append(row)
    return good


def _check_bio(path, problems: list[Problem]) -> bool:
    if not path.is_file():
        problems.append(Problem(str(path), "biosignal file missing"))
        return False
    try:
        time, x, present = L.read_bio_channels(path)
    except L.BioVidFormatError as exc:
        problems.append(Problem(exc.path, exc.reason))
        return False
    if present != L.BIO_CHANNELS:
        problems.append(Problem(str(path), "four-column file: emg_corrugator and emg_zygomaticus "
                                           "are absent and read as 0", "warning"))
    rate = L.bio_rate(time)
    if abs(rate - L.BIO_RATE) > 0.02 * L.BIO_RATE:
        problems.append(Problem(str(path), f"time column implies {rate:.4g} Hz; expected "
                                           f"microseconds at {L.BIO_RATE:g} Hz"))
    elif not (len(time) and time[0] >= 0 and (time[1:] > time[:-1]).all()):
        problems.append(Problem(str(path), "time column is not increasing from 0"))
    return True


def _check_video(path: Path, problems: list[Problem]) -> int | None:
    """Frame count claimed by the container, or None when unusable."""
    from emobench.media import MediaError, video_info

    if not path.is_file():
        problems.append(Problem(str(path), "video file missing"))
        return None
    try:
        info = video_info(path)
    except MediaError as exc:
        problems.append(Problem(str(path), exc.reason))
        return None
    if info["frames"] < MIN_SHARE * L.VIDEO_FRAMES:
        problems.append(Problem(str(path), f"truncated: {info['frames']} frames, expected "
                                           f"{L.VIDEO_FRAMES}"))
    elif info["frames"] != L.VIDEO_FRAMES:
        problems.append(Problem(str(path), f"{info['frames']} frames, expected {L.VIDEO_FRAMES}",
                                "warning"))
    if info["fps"] and abs(info["fps"] - L.VIDEO_FPS) > 0.5:
        problems.append(Problem(str(path), f"{info['fps']:g} fps, expected {L.VIDEO_FPS:g}",
                                "warning"))
    return info["frames"]


def _check_openface(path: Path, frames: int | None, problems: list[Problem]) -> bool:
    try:
        feats, dropped = L.read_openface_table(path)
    except L.BioVidFormatError as exc:
        problems.append(Problem(exc.path, exc.reason))
        return False
    problems += [Problem(str(path), d, "warning") for d in dropped]
    expected = frames or L.VIDEO_FRAMES
    if len(feats) != expected:
        problems.append(Problem(str(path), f"{len(feats)} rows but the video has {expected} frames"))
    return True


def _unreferenced(folder: Path, pattern: str, expected: set[Path], problems: list[Problem]) -> None:
    if not folder.is_dir():
        return
    for p in sorted(folder.glob(pattern)):
        if p not in expected:
            problems.append(Problem(str(p), "not listed in samples.csv", "warning"))


def check_tree(root: Path) -> tuple[dict, list[Problem]]:
    """Counts and problems of the Part A tree at ``root``. Never raises for bad data."""
    from emobench.layouts import DataError

    problems: list[Problem] = []
    samples = L.find_samples(root)
    try:
        rows = L.read_samples(samples)
    except L.BioVidFormatError as exc:
        return {}, [Problem(exc.path if samples else str(root / L.SAMPLES_FILE), exc.reason)]
    rows = _check_rows(samples, rows, problems)
    per_subject = Counter(r.subject for r in rows)
    bio = L.locate(root, *L.BIO_DIRS)
    counts = {
        "samples": len(rows),
        "subjects": len(per_subject),
        "samples_per_class": {c: sum(r.class_id == i for r in rows) for i, c in enumerate(L.CLASSES)},
        "samples_per_subject": {"min": min(per_subject.values(), default=0),
                                "max": max(per_subject.values(), default=0)},
        "bio_files": 0, "videos": 0, "openface_files": 0,
        "known_subjects": len(set(per_subject) & set(L.ALL_SUBJECTS)),
        "samples_file": str(samples),
        "bio_part": str(bio) if bio else None,
    }
    video_dir = L.find_part(root, L.VIDEO_DIR)[0]
    of_dir = L.find_part(root, L.OPENFACE_DIR)[0]
    if bio is None:
        problems.append(Problem(str(root / L.BIO_DIR), "folder missing: no physio modality", "warning"))
    zipped = L.zipped_videos(root)
    if zipped is not None:
        problems.append(Problem(str(zipped), f"the video part is still zipped: unpack it into "
                                             f"{root / L.VIDEO_DIR}/"))
    elif video_dir is None:
        problems.append(Problem(str(root / L.VIDEO_DIR), "folder missing: no face_video modality",
                                "warning"))
    expected = {"bio": set(), "video": set(), "openface": set()}
    for row in rows:
        frames = None
        try:
            if bio is not None:
                p = L.bio_path(root, row.subject, row.sample, bio)
                expected["bio"].add(p)
                counts["bio_files"] += _check_bio(p, problems)
            if video_dir is not None:
                p = L.video_path(root, row.subject, row.sample)
                expected["video"].add(p)
                frames = _check_video(p, problems)
                counts["videos"] += frames is not None
            p = L.openface_path(root, row.subject, row.sample)
        except DataError as exc:  # a name that leaves the data root
            problems.append(Problem(f"{samples}:{row.line}", f"{exc.reason} ({exc.path})"))
            continue
        expected["openface"].add(p)
        if p.is_file():
            counts["openface_files"] += _check_openface(p, frames, problems)
    if bio is not None and bio.folder is not None:
        _unreferenced(bio.folder, "*/*_bio.csv", expected["bio"], problems)
    if video_dir is not None:
        _unreferenced(video_dir, "*/*.mp4", expected["video"], problems)
    if of_dir is not None:
        _unreferenced(of_dir, "*/*.csv", expected["openface"], problems)
    return counts, problems
