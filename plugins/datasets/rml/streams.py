"""Lazy stream loaders of one audio-visual clip (a video file with its audio track).

Shared by the acted-emotion clip corpora (RML, eNTERFACE'05): face crops through
``emobench.media.preprocess_video``, the 16 kHz waveform, and the audio front-end's
eGeMAPS functionals / LLDs and log-mel frames, every heavy result cached by
content key in ``emobench.media.default_cache()``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emobench.data import Modality

FACE_SIZE = (112, 112)
AUDIO_RATE = 16000


def clip_modalities(fps: float, where: str) -> dict[str, Modality]:
    """The modalities of a corpus whose clips are video files with an audio track."""
    return {
        "face_video": Modality("face_video", (None, None), fps, (),
                               f"face crops of the {where} video (Haar track, cached); "
                               "spec size=(H, W), gray=True|False"),
        "audio": Modality("audio", (), float(AUDIO_RATE), (),
                          f"mono waveform of the {where} audio track resampled to 16 kHz"),
        "egemaps": Modality("features", (88,), None, (),
                            "eGeMAPS v02 functionals of the clip's audio (openSMILE), one row "
                            "(1, 88); names: emobench.media.audio.egemaps_names()"),
        "egemaps_lld": Modality("features", (25,), 100.0, (),
                                "eGeMAPS v02 low-level descriptors, (T, 25) at 100 Hz"),
        "logmel": Modality("features", (64,), 100.0, (),
                           "VGGish log-mel frames (T, 64): 25 ms window, 10 ms hop, "
                           "64 HTK-mel bands 125-7500 Hz"),
    }


def clip_streams(path: Path) -> dict:
    """``{modality name: loader}`` for one clip file."""
    from emobench.media import default_cache
    from emobench.media.audio import audio_features, read_audio

    def face_video(size=FACE_SIZE, gray: bool = False, **spec) -> np.ndarray:
        from emobench.media import FaceClipSpec, preprocess_video
        return preprocess_video(path, FaceClipSpec(size=tuple(size), gray=bool(gray), **spec),
                                cache=default_cache())

    def audio(rate: int = AUDIO_RATE) -> np.ndarray:
        return read_audio(path, int(rate))

    def feature(kind: str):
        def load() -> np.ndarray:
            x = audio_features(path, kind, cache=default_cache())
            return x[None, :] if x.ndim == 1 else x
        return load

    return {"face_video": face_video, "audio": audio, "egemaps": feature("egemaps"),
            "egemaps_lld": feature("egemaps_lld"), "logmel": feature("logmel")}


def check_clip(path: Path, min_seconds: float = 0.5) -> str | None:
    """Why a clip is unusable (truncated video, no decodable audio), or None.
    Decodes the whole video (a truncated AVI often claims its full frame count)."""
    from emobench.media import MediaError, iter_frames, video_info
    from emobench.media.audio import read_audio_rate

    try:
        info = video_info(path)
        frames = sum(1 for _ in iter_frames(path, step=1))
        if info["fps"] and frames / info["fps"] < min_seconds:
            return f"truncated: {frames} frames ({frames / info['fps']:.2f} s)"
        x, sr = read_audio_rate(path)
        if x.size / sr < min_seconds:
            return f"truncated audio track: {x.size / sr:.2f} s"
    except MediaError as exc:
        return exc.reason
    return None
