"""``emobench doctor`` for BioVid Part A: counts and every problem with its path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from emobench.dataset import Problem

from . import layout as L

# A sample shorter than this share of 5.5 s is reported as truncated.
MIN_SHARE = 0.9


def _check_rows(root: Path, rows: list[L.SampleRow], problems: list[Problem]) -> list[L.SampleRow]:
    """Label-level checks; returns the rows whose files are worth checking."""
    csv = root / L.SAMPLES_FILE
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


def _check_bio(path: Path, problems: list[Problem]) -> bool:
    if not path.is_file():
        problems.append(Problem(str(path), "biosignal file missing"))
        return False
    try:
        time, x = L.read_bio(path)
    except L.BioVidFormatError as exc:
        problems.append(Problem(str(path), str(exc).removeprefix(f"{path}: ")))
        return False
    rate = L.bio_rate(time)
    if abs(rate - L.BIO_RATE) > 0.02 * L.BIO_RATE:
        problems.append(Problem(str(path), f"time column implies {rate:.4g} Hz; expected "
                                           f"microseconds at {L.BIO_RATE:g} Hz"))
    elif len(x) < MIN_SHARE * L.BIO_ROWS:
        problems.append(Problem(str(path), f"truncated: {len(x)} rows, expected about {L.BIO_ROWS}"))
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
        feats = L.read_openface(path)
    except L.BioVidFormatError as exc:
        problems.append(Problem(str(path), str(exc).removeprefix(f"{path}: ")))
        return False
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
    problems: list[Problem] = []
    try:
        rows = L.read_samples(root / L.SAMPLES_FILE)
    except L.BioVidFormatError as exc:
        return {}, [Problem(str(root / L.SAMPLES_FILE), str(exc).split(": ", 1)[-1])]
    rows = _check_rows(root, rows, problems)
    per_subject = Counter(r.subject for r in rows)
    counts = {
        "samples": len(rows),
        "subjects": len(per_subject),
        "samples_per_class": {c: sum(r.class_id == i for r in rows) for i, c in enumerate(L.CLASSES)},
        "samples_per_subject": {"min": min(per_subject.values(), default=0),
                                "max": max(per_subject.values(), default=0)},
        "bio_files": 0, "videos": 0, "openface_files": 0,
        "known_subjects": len(set(per_subject) & set(L.ALL_SUBJECTS)),
    }
    bio_dir, video_dir, of_dir = root / L.BIO_DIR, root / L.VIDEO_DIR, root / L.OPENFACE_DIR
    for folder, what in ((bio_dir, "physio"), (video_dir, "face_video")):
        if not folder.is_dir():
            problems.append(Problem(str(folder), f"folder missing: no {what} modality", "warning"))
    expected = {"bio": set(), "video": set(), "openface": set()}
    for row in rows:
        frames = None
        if bio_dir.is_dir():
            p = L.bio_path(root, row.subject, row.sample)
            expected["bio"].add(p)
            counts["bio_files"] += _check_bio(p, problems)
        if video_dir.is_dir():
            p = L.video_path(root, row.subject, row.sample)
            expected["video"].add(p)
            frames = _check_video(p, problems)
            counts["videos"] += frames is not None
        p = L.openface_path(root, row.subject, row.sample)
        expected["openface"].add(p)
        if p.is_file():
            counts["openface_files"] += _check_openface(p, frames, problems)
    _unreferenced(bio_dir, "*/*_bio.csv", expected["bio"], problems)
    _unreferenced(video_dir, "*/*.mp4", expected["video"], problems)
    _unreferenced(of_dir, "*/*.csv", expected["openface"], problems)
    return counts, problems
