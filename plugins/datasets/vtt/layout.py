"""The VTT AnotherMissOh tree (DramaQA / Korean VTT project; docs/corpora/vtt.md)::

    AnotherMissOh_images/AnotherMissOh01/001/0078/IMAGE_0000004295.jpg
    AnotherMissOh_Visual/AnotherMissOh01_ver3.2.json

One JSON per episode: ``visual_results`` lists shots (``vid`` =
``AnotherMissOh{EE}_{SSS}_{TTTT}``; shot ``0000`` is the whole scene), each with
``image_info`` frames whose ``persons`` carry ``person_info.face_rect``
(``{min_x, min_y, max_x, max_y}`` or the empty string) and ``emotion``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from emobench.layouts import DataError, find_part, inside

IMAGES_DIR, VISUAL_DIR = "AnotherMissOh_images", "AnotherMissOh_Visual"
#: DramaQA's seven emotions, named in the shared label space
CLASSES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
SYNONYMS = {"happy": "happiness", "sad": "sadness", "angry": "anger", "surprised": "surprise",
            "fearful": "fear", "disgusted": "disgust"}
_JSON = re.compile(r"AnotherMissOh(\d{2})(?:_ver(\d+(?:\.\d+)*))?\.json")
_VID = re.compile(r"AnotherMissOh(\d{2})_(\d{3})_(\d{4})")
_RECT = ("min_x", "min_y", "max_x", "max_y")


class VttFormatError(DataError):
    """A VTT file that does not have the documented form; names the file and the shot."""


@dataclass(frozen=True)
class Face:
    episode: int
    vid: str
    frame_id: str
    person: str
    rect: tuple[int, int, int, int]
    emotion: int | None
    image: Path


def episode_files(root: Path) -> dict[int, Path]:
    """Episode -> its visual JSON (the highest ``_verX.Y`` when several are present)."""
    visual, _ = find_part(Path(root), VISUAL_DIR)
    if visual is None:
        raise VttFormatError(root, f"no {VISUAL_DIR}/ folder (expected the AnotherMissOh tree of "
                                   "docs/corpora/vtt.md)")
    best: dict[int, tuple[tuple, Path]] = {}
    for p in visual.glob("*.json"):
        m = _JSON.fullmatch(p.name)
        if not m:
            continue
        version = tuple(int(v) for v in (m[2] or "0").split("."))
        ep = int(m[1])
        if ep not in best or version > best[ep][0]:
            best[ep] = (version, p)
    if not best:
        raise VttFormatError(visual, "no AnotherMissOh<EE>_ver<X>.json files")
    return {ep: p for ep, (_, p) in sorted(best.items())}


def _rect(value, where: str, path: Path) -> tuple[int, int, int, int] | None:
    if value in ("", None, {}):
        return None
    try:
        x0, y0, x1, y1 = (int(round(float(value[k]))) for k in _RECT)
    except (KeyError, TypeError, ValueError):
        raise VttFormatError(path, f"{where}: face_rect {str(value)[:60]!r} is not "
                                   "{min_x, min_y, max_x, max_y} nor \"\"") from None
    if x1 <= x0 or y1 <= y0:
        return None   # a degenerate box carries no face
    return x0, y0, x1, y1


def _emotion(value, where: str, path: Path) -> int | None:
    v = str(value or "").strip().lower()
    if not v:
        return None
    v = SYNONYMS.get(v, v)
    if v not in CLASSES:
        raise VttFormatError(path, f"{where}: emotion {value!r} is not one of {', '.join(CLASSES)}")
    return CLASSES.index(v)


def _frame_path(images: Path, vid: str, frame_id: str) -> Path:
    m = _VID.fullmatch(vid)
    ep, scene, shot = m[1], m[2], m[3]
    name = f"{frame_id}.jpg"
    p = inside(images, f"AnotherMissOh{ep}", scene, shot, name, what="frame")
    if not p.is_file() and shot == "0000":   # a whole-scene entry: the frame is in one of its shots
        hits = sorted((images / f"AnotherMissOh{ep}" / scene).glob(f"*/{name}"))
        if hits:
            return hits[0]
    return p


def read_episode(path: Path, episode: int, images: Path) -> list[Face]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
        shots = data["visual_results"]
        if not isinstance(shots, list):
            raise TypeError
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VttFormatError(path, f"not valid JSON ({exc})") from None
    except (KeyError, TypeError):
        raise VttFormatError(path, "no 'visual_results' list at the top level") from None
    faces = []
    for i, shot in enumerate(shots):
        vid = str(shot.get("vid", ""))
        m = _VID.fullmatch(vid)
        if not m or int(m[1]) != episode:
            raise VttFormatError(path, f"visual_results[{i}]: vid {vid!r} is not "
                                       f"AnotherMissOh{episode:02d}_SSS_TTTT")
        for frame in shot.get("image_info") or []:
            frame_id = str(frame.get("frame_id", ""))
            if not re.fullmatch(r"IMAGE_\d+", frame_id):
                raise VttFormatError(path, f"{vid}: frame_id {frame_id!r} is not IMAGE_<number>")
            seen = set()
            for person in frame.get("persons") or []:
                who = str(person.get("person_id", "")).strip()
                where = f"{vid} {frame_id} person {who or '?'}"
                info = person.get("person_info") or {}
                rect = _rect(info.get("face_rect", ""), where, path)
                if rect is None or not who:
                    continue   # no face drawn for this person in this frame
                if who in seen:
                    raise VttFormatError(path, f"{where}: listed twice in one frame")
                seen.add(who)
                faces.append(Face(episode, vid, frame_id, who, rect,
                                  _emotion(info.get("emotion", ""), where, path),
                                  _frame_path(images, vid, frame_id)))
    return faces
