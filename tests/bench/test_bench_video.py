"""Video pipeline throughput (pytest-benchmark; not part of the default test run).

Run with::

    python -m pytest tests/bench/test_bench_video.py --benchmark-only -p no:cacheprovider -s

Figures go to docs/video.md. No assertion on speed: the machine is shared and
noisy, so these only print and record numbers (ratios in ``extra_info``).
"""

from __future__ import annotations

import time

import cv2
import pytest

from emobench import media as V
from emobench.media import ArrayCache
from emobench.sim.video_synth import write_face_video

N_FRAMES = 150  # 6 s at 25 fps, 640x480
N_PIPE = 50


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "vga.mp4"
    write_face_video(path, N_FRAMES, (480, 640), fourcc="mp4v")
    return path


def _fps(benchmark, frames: int) -> float:
    return frames / benchmark.stats.stats.median


def test_decode_only(benchmark, clip):
    benchmark.pedantic(V.read_frames, args=(clip,), rounds=5, warmup_rounds=1)
    fps = _fps(benchmark, N_FRAMES)
    benchmark.extra_info["fps"] = round(fps, 1)
    print(f"\ndecode 640x480 mp4v: {fps:.0f} frames/s")


@pytest.mark.parametrize("detect_every", [1, 5])
@pytest.mark.parametrize("detect_scale", [1.0, 0.5])
def test_decode_detect_crop(benchmark, clip, detect_every, detect_scale):
    # The first N_PIPE frames only: full-resolution detection on every frame is slow.
    spec = V.FaceClipSpec(
        size=(112, 112), detect_every=detect_every, detect_scale=detect_scale, max_frames=N_PIPE
    )
    out = benchmark.pedantic(V.face_clip, args=(clip, spec), rounds=2, warmup_rounds=0)
    assert out.frames.shape == (N_PIPE, 112, 112, 3)
    fps = _fps(benchmark, N_PIPE)
    benchmark.extra_info.update(fps=round(fps, 1), found=out.found_fraction)
    print(
        f"\ndecode+track+crop 640x480, detect_every={detect_every}, detect_scale={detect_scale}: "
        f"{fps:.0f} frames/s, face found in {out.found_fraction:.0%} of frames"
    )


@pytest.mark.parametrize("detect_scale", [1.0, 0.5])
@pytest.mark.parametrize("image", ["synthetic", "astronaut"])
def test_detect_only(benchmark, clip, image, detect_scale):
    if image == "synthetic":
        frame = V.read_frames(clip, max_frames=1)[0]
    else:  # the photo resized to 640x480, as in the stack baselines
        from skimage import data

        frame = cv2.resize(data.astronaut()[:, :, ::-1], (640, 480))
    det = V.FaceDetector(detect_scale=detect_scale)
    boxes = benchmark.pedantic(det.detect, args=(frame,), rounds=10, warmup_rounds=1)
    assert len(boxes) == 1
    fps = 1.0 / benchmark.stats.stats.median
    benchmark.extra_info["fps"] = round(fps, 1)
    print(f"\nHaar detect 640x480 {image}, detect_scale={detect_scale}: {fps:.1f} frames/s "
          f"(cv2 threads {cv2.getNumThreads()})")


def test_preprocess_cold_vs_cached(benchmark, clip, tmp_path):
    cache = ArrayCache(tmp_path / "cache")
    spec = V.FaceClipSpec(size=(112, 112), gray=True)
    colds = []
    for _ in range(3):
        cache.clear()
        t = time.perf_counter()
        V.preprocess_video(clip, spec, cache)
        colds.append(time.perf_counter() - t)
    cold = sorted(colds)[1]
    V.reset_video_stats()
    benchmark.pedantic(V.preprocess_video, args=(clip, spec, cache), rounds=20, warmup_rounds=2)
    assert V.video_stats()["frames_decoded"] == 0
    warm = benchmark.stats.stats.median
    ratio = cold / warm
    benchmark.extra_info.update(cold_s=cold, cached_s=warm, speedup=round(ratio, 1))
    print(
        f"\npreprocess_video 150 frames 640x480 -> 112x112 gray: cold {cold * 1e3:.0f} ms, "
        f"cached {warm * 1e3:.2f} ms, speed-up x{ratio:.0f}, entry {cache.size_bytes() / 1e6:.2f} MB"
    )


def test_cpu_cost_per_frame_single_thread(benchmark, clip):
    """CPU time (not wall time) per frame with OpenCV on one thread: robust to
    other jobs sharing the machine, and the figure to multiply by frame counts."""
    spec_cfgs = [(1, 1.0), (5, 1.0), (1, 0.5), (5, 0.5)]
    old = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        t = time.process_time()
        V.read_frames(clip, max_frames=N_PIPE)
        decode_ms = (time.process_time() - t) / N_PIPE * 1e3
        print(f"\nCPU per frame, 1 thread: decode {decode_ms:.2f} ms")
        for every, scale in spec_cfgs:
            spec = V.FaceClipSpec(
                size=(112, 112), detect_every=every, detect_scale=scale, max_frames=N_PIPE
            )
            t = time.process_time()
            V.face_clip(clip, spec)
            ms = (time.process_time() - t) / N_PIPE * 1e3
            benchmark.extra_info[f"cpu_ms_every{every}_scale{scale}"] = round(ms, 2)
            print(f"CPU per frame, 1 thread: decode+track+crop detect_every={every} "
                  f"detect_scale={scale}: {ms:.1f} ms ({1e3 / ms:.0f} frames/s per core)")
        benchmark.pedantic(V.read_frames, args=(clip,), kwargs={"max_frames": 10}, rounds=1)
    finally:
        cv2.setNumThreads(old)
