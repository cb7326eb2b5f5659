"""Per-window inputs of the agent: a face frame and a 96 x 64 log-mel patch per window.

The original centres 0.98 s windows on energy peaks; emobench steps 0.96 s VGGish
patches with a hop of half a patch over the whole clip (``vggish_patches``) and
pairs each with the video frame at the patch's centre time (frame index scaled by
the clip's duration, so no frame rate is needed). Faces are RGB in [-1, 1], CHW.
"""

from __future__ import annotations

import numpy as np

from emobench.data import Sample

AUDIO_RATE = 16000
HOP_FRAMES = 24  # 0.24 s between windows


def faces(sample: Sample, size: int) -> np.ndarray:
    """(T, 3, size, size) float32 in [-1, 1] (mean 0.5 / std 0.5 as the original)."""
    frames = np.asarray(sample.x("face_video", size=(size, size), gray=False))
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f"av-agent: face_video of sample {sample.id!r} must be (T, H, W, 3), "
                         f"got {frames.shape}")
    rgb = frames[..., ::-1].astype(np.float32) / 255.0  # the media room gives BGR
    return ((rgb - 0.5) / 0.5).transpose(0, 3, 1, 2).copy()


def patches(sample: Sample) -> np.ndarray:
    """(n, 1, 96, 64) float32 log-mel patches, hop 0.48 s."""
    from emobench.media.audio import vggish_patches

    wave = np.asarray(sample.x("audio"), np.float32).reshape(-1)
    if wave.size == 0:
        raise ValueError(f"av-agent: audio of sample {sample.id!r} is empty")
    return vggish_patches(wave, AUDIO_RATE, hop_frames=HOP_FRAMES)[:, None].astype(np.float32)


def paired(sample: Sample, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(faces (n, 3, s, s), patches (n, 1, 96, 64)) aligned window by window."""
    p = patches(sample)
    f = faces(sample, size)
    centre = (np.arange(len(p)) * HOP_FRAMES + 48) / 100.0  # seconds (10 ms log-mel hop)
    seconds = max(len(np.asarray(sample.x("audio")).reshape(-1)) / AUDIO_RATE, 1e-6)
    idx = np.clip(np.round(centre / seconds * len(f)).astype(int), 0, len(f) - 1)
    return f[idx], p
