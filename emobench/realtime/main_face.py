"""Which face the live pipeline follows: the rule behind ``emobench annotate``.

The detector runs on each of the first ``settle`` frames (default 8). Its
boxes are linked into tracks across frames: a box joins the track whose last
box it overlaps most, when that overlap (intersection over union) is at least
``MIN_IOU``; otherwise it starts a new track. The **main face is the track
detected in the most of those frames; a tie goes to the larger mean box
area.** A false detection that fires on one frame (a patterned shirt, a
poster beside the face) therefore loses to the face that is found on most of
them, whatever their sizes.

The pipeline then replays those frames through ``FaceTracker`` with only the
main track's boxes (:class:`ReplayDetector`), so the first frames are labelled
with the same face as the rest; from there on the tracker follows the box
nearest to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SETTLE_FRAMES = 8
MIN_IOU = 0.3


def iou(a, b) -> float:
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    boxes: dict[int, tuple] = field(default_factory=dict)  # frame index -> box

    @property
    def last(self):
        return self.boxes[max(self.boxes)]

    @property
    def mean_area(self) -> float:
        return sum(float(b[2]) * float(b[3]) for b in self.boxes.values()) / len(self.boxes)


def link_tracks(detections: list[list], min_iou: float = MIN_IOU) -> list[Track]:
    """Tracks over frames from per-frame box lists (greedy, by overlap with
    each track's most recent box; a track takes at most one box per frame)."""
    tracks: list[Track] = []
    for i, boxes in enumerate(detections):
        taken: set[int] = set()
        for box in boxes:
            best, best_iou = None, min_iou
            for t_index, t in enumerate(tracks):
                if t_index in taken:
                    continue
                o = iou(t.last, box)
                if o >= best_iou:
                    best, best_iou = t_index, o
            if best is None:
                tracks.append(Track({i: tuple(box)}))
                taken.add(len(tracks) - 1)
            else:
                tracks[best].boxes[i] = tuple(box)
                taken.add(best)
    return tracks


def choose_main_track(detections: list[list], min_iou: float = MIN_IOU) -> Track | None:
    """The main face's track (see the module docstring), or None when no frame
    had a detection."""
    tracks = link_tracks(detections, min_iou)
    if not tracks:
        return None
    return max(tracks, key=lambda t: (len(t.boxes), t.mean_area))


class ReplayDetector:
    """A detector for ``FaceTracker`` that answers the first frames from the
    settle phase (only the main track's box, or nothing) and runs the real
    detector on every later frame. Frames are matched by identity, so the
    buffered frame objects must be the ones passed to the tracker."""

    def __init__(self, detector, frames: list, main: Track | None):
        self.detector = detector
        self._answers = {id(f): ([main.boxes[i]] if main is not None and i in main.boxes else [])
                         for i, f in enumerate(frames)}

    @property
    def n_detections(self) -> int:
        return self.detector.n_detections

    def forget(self) -> None:
        """Drop the replayed answers once the buffered frames are through."""
        self._answers.clear()

    def detect(self, frame):
        answer = self._answers.get(id(frame))
        if answer is None:
            return self.detector.detect(frame)
        from emobench.media import Box

        return [b if isinstance(b, Box) else Box(*(int(v) for v in b)) for b in answer]
