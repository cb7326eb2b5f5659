"""``emobench doctor`` for UNBC-McMaster: counts and every problem with its path."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from emobench.dataset import DoctorReport, Problem, tree_problems
from emobench.media import MediaError, read_image

from . import layout as L

_KIND_FILES = {"pspi": "PSPI label", "facs": "FACS label", "aam": "AAM landmark"}


def doctor(root: Path, report: DoctorReport) -> None:
    """Fill ``report`` (counts, problems). Reads every label file; decodes only
    the small PNGs that may be black frames."""
    tree = L.scan(root)
    problems = report.problems
    problems.extend(tree_problems(root))
    problems.extend(tree.problems)

    def bad(exc: L.UnbcTreeError, severity: str = "error") -> None:
        problems.append(Problem(exc.path, exc.reason, severity))

    n_frames = n_empty_facs = n_black = 0
    pspi_all: list[float] = []
    seq_values: dict[str, list[float]] = defaultdict(list)
    unknown_codes: Counter = Counter()
    first_unknown: dict[int, str] = {}
    mismatches: list[tuple[str, float, float]] = []
    for seq in tree.sequences:
        n_frames += seq.n_frames
        for kind, label in _KIND_FILES.items():
            for i in seq.missing.get(kind, []):
                problems.append(Problem(str(getattr(seq, kind)[i]), f"{label} file not found for "
                                        f"frame {seq.images[i].name}"))
        nums = [L.frame_number(s) for s in seq.stems]
        if nums and nums != list(range(nums[0], nums[0] + len(nums))):
            problems.append(Problem(str(seq.images[0].parent), "frame numbers are not consecutive",
                                    "warning"))
        pspi = {}
        if seq.pspi is not None:
            skip = set(seq.missing.get("pspi", []))
            for i, p in enumerate(seq.pspi):
                if i not in skip:
                    try:
                        pspi[i] = L.read_pspi(p)
                    except L.UnbcTreeError as exc:
                        bad(exc)
            pspi_all.extend(pspi.values())
        if seq.facs is not None:
            skip = set(seq.missing.get("facs", []))
            for i, p in enumerate(seq.facs):
                if i in skip:
                    continue
                try:
                    rows = L.read_facs(p)
                except L.UnbcTreeError as exc:
                    bad(exc)
                    continue
                n_empty_facs += not rows
                for au, _ in rows:
                    if au not in L.FACS14_AUS:
                        unknown_codes[au] += 1
                        first_unknown.setdefault(au, str(p))
                if i in pspi:
                    expected = float(L.pspi_from_facs14(L.facs_row(rows)))
                    if abs(expected - pspi[i]) > 1e-3:
                        mismatches.append((str(seq.pspi[i]), pspi[i], expected))
        if seq.aam is not None:
            skip = set(seq.missing.get("aam", []))
            for i, p in enumerate(seq.aam):
                if i not in skip:
                    try:
                        L.read_aam(p)
                    except L.UnbcTreeError as exc:
                        bad(exc)
        for scale, path in seq.seq_labels.items():
            if not path.is_file():
                problems.append(Problem(str(path), f"{scale} sequence label file not found"))
                continue
            try:
                seq_values[scale].append(L.read_sequence_label(path, scale))
            except L.UnbcTreeError as exc:
                bad(exc)
        for img in seq.images:  # every frame decoded once, through the checked reader
            try:
                read_image(img)
            except MediaError as exc:
                problems.append(Problem(str(exc.path), exc.reason))
        for i in L.black_frames(seq):
            n_black += 1
            problems.append(Problem(str(seq.images[i]), "black frame (no face; the face pipeline "
                                    "falls back to a centre crop)", "warning"))
    for au, n in sorted(unknown_codes.items()):
        problems.append(Problem(first_unknown[au], f"AU{au} is not among the 14 facs14 columns; "
                                f"ignored ({n} frame(s))", "warning"))
    for path, got, expected in mismatches[:20]:
        problems.append(Problem(path, f"PSPI {got:g} differs from the FACS formula {expected:g}",
                                "warning"))
    if len(mismatches) > 20:
        problems.append(Problem(str(tree.pspi_dir), f"{len(mismatches) - 20} more PSPI / FACS "
                                "mismatches not listed", "warning"))

    p = np.asarray(pspi_all, float)
    counts = {
        "subjects": len({s.subject for s in tree.sequences}),
        "recordings": len(tree.sequences),
        "frames": n_frames,
        "pspi": ({"labelled": int(p.size), "min": float(p.min()), "max": float(p.max()),
                  "mean": round(float(p.mean()), 4)} if p.size else {"labelled": 0}),
        "pain": {"no-pain": int((p <= 0).sum()), "pain": int((p > 0).sum())},
        "empty_facs_files": n_empty_facs,
        "black_frames": n_black,
        "nested_layout": tree.nested,
        "parts": {"FACS": tree.facs_dir is not None, "AAM_landmarks": tree.aam_dir is not None,
                  "Sequence_Labels": tree.seq_dir is not None},
    }
    for scale in L.SEQUENCE_SCALES:
        v = seq_values.get(scale, [])
        counts[scale.lower()] = ({"labelled": len(v), "min": min(v), "max": max(v)} if v
                                 else {"labelled": 0})
    report.counts = counts
