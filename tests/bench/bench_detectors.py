"""Haar vs MTCNN: detection rate and ms per 640x480 frame, on real photos and a stand-in frame.

Run: python tests/bench/bench_detectors.py   (prints a markdown table and the load average)
"""

from __future__ import annotations

import os
import time

import cv2
import numpy as np
from skimage import data

from emobench.media.faces import FaceDetector
from emobench.media.mtcnn import MTCNNDetector


def _on_canvas(face: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """Place a face image at a random spot on a 640x480 grey canvas."""
    face = cv2.resize(face, (side, side))
    canvas = np.full((480, 640, 3), 110, np.uint8)
    x, y = rng.integers(0, 640 - side), rng.integers(0, 480 - side)
    canvas[y:y + side, x:x + side] = face
    return canvas


def frame_sets() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    astro = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (640, 480))
    lfw = []
    for f in data.lfw_subset()[:40]:  # the first 100 of lfw_subset are faces
        # 25x25 tight crops: pad with replicated border so the whole head is visible.
        g = cv2.copyMakeBorder((f * 255).astype(np.uint8), 8, 8, 8, 8, cv2.BORDER_REPLICATE)
        lfw.append(_on_canvas(cv2.cvtColor(g, cv2.COLOR_GRAY2BGR), 160, rng))
    from emobench.sim import N_AUS
    from emobench.sim.face import render_face
    from emobench.sim.subjects import make_subject

    synth = [render_face(make_subject(0, i), np.zeros(N_AUS), size=(640, 480), crop=False,
                         rng=np.random.default_rng(i)) for i in range(10)]
    return {"astronaut 640x480": [astro] * 5, "LFW crop on 640x480": lfw, "sim render_face 640x480": synth}


def measure(detector, frames) -> tuple[float, float]:
    detector.detect(frames[0])  # warm-up
    hits, t0 = 0, time.perf_counter()
    for f in frames:
        hits += bool(detector.detect(f))
    return hits / len(frames), 1000 * (time.perf_counter() - t0) / len(frames)


def main() -> None:
    detectors = {"Haar (detect_scale 1.0)": FaceDetector(), "Haar (detect_scale 0.5)": FaceDetector(detect_scale=0.5),
                 "MTCNN (min_size 20)": MTCNNDetector(), "MTCNN (min_size 40)": MTCNNDetector(min_size=40)}
    load0 = os.getloadavg()
    print(f"torch threads {__import__('torch').get_num_threads()}, OpenCV threads {cv2.getNumThreads()}")
    print("| frames | detector | detection rate | ms / frame |\n|---|---|---|---|")
    for name, frames in frame_sets().items():
        for dname, det in detectors.items():
            rate, ms = measure(det, frames)
            print(f"| {name} ({len(frames)}) | {dname} | {rate:.2f} | {ms:.0f} |")
    print(f"load average before/after: {load0[0]:.1f} / {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
