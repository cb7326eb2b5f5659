"""Audio-visual clips: the stream loaders, checks and writer shared by the clip corpora.

Every acted or spontaneous emotion corpus whose unit is a video with a voice
(eNTERFACE'05, RML, BAUM-1s, IEMOCAP, ICT YouTube) offers the same modalities:
face crops of the video (:func:`emobench.media.preprocess_video`), the 16 kHz
waveform, and the audio front-end's eGeMAPS functionals / LLDs and log-mel frames
(:mod:`emobench.media.audio`), every heavy result cached by content key.

* :func:`clip_modalities` / :func:`clip_streams`: the modalities and their lazy
  loaders for one clip. The voice comes from the video's own audio track or from a
  separate sound file (IEMOCAP's per-utterance wav); the face may be a time window
  of a longer video (an IEMOCAP turn inside its dialog AVI).
* :func:`check_clip` / :func:`check_clips`: why a media file is unusable
  (truncated video, no decodable audio), decoding all of it; the doctors use them.
* :func:`clip_verdict` / :func:`unusable`: the same check, cached by content key,
  so a loader can skip unusable clips on every run at the cost of one decode on
  the first (docs/video.md, corrupt media rule).
* :func:`write_clip`: mux frames and a voice into AVI (PCM) or MP4 (AAC) for stand-ins.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np

from emobench.data import Modality

FACE_SIZE = (112, 112)
AUDIO_RATE = 16000
VERDICT_VERSION = "1"


def clip_modalities(fps: float, where: str, audio_where: str | None = None) -> dict[str, Modality]:
    """The modalities of a corpus whose clips are videos with a voice. ``where``
    names the video ("clip's AVI"), ``audio_where`` the voice's file when it is not
    the video's own audio track."""
    voice = audio_where or f"{where} audio track"
    return {
        "face_video": Modality("face_video", (None, None), fps, (),
                               f"face crops of the {where} video (Haar track, cached); "
                               "spec size=(H, W), gray=True|False"),
        "audio": Modality("audio", (), float(AUDIO_RATE), (),
                          f"mono waveform of the {voice} resampled to 16 kHz"),
        "egemaps": Modality("features", (88,), None, (),
                            f"eGeMAPS v02 functionals of the {voice} (openSMILE), one row "
                            "(1, 88); names: emobench.media.audio.egemaps_names()"),
        "egemaps_lld": Modality("features", (25,), 100.0, (),
                                "eGeMAPS v02 low-level descriptors, (T, 25) at 100 Hz"),
        "logmel": Modality("features", (64,), 100.0, (),
                           "VGGish log-mel frames (T, 64): 25 ms window, 10 ms hop, "
                           "64 HTK-mel bands 125-7500 Hz"),
    }


def _window(crops: np.ndarray, fps: float, step: int, start: float, end: float) -> np.ndarray:
    """The crops of source frames in [start, end) s; crop i is source frame i * step."""
    if not fps > 0:
        raise ValueError("a time window needs the video's frame rate")
    lo = max(0, math.ceil(start * fps / step - 1e-9))
    hi = min(len(crops), max(lo + 1, math.ceil(end * fps / step - 1e-9)))
    return crops[lo:hi]


def clip_streams(video: Path, audio: Path | None = None,
                 window: tuple[float, float] | None = None) -> dict:
    """``{modality name: loader}`` for one clip: face crops of ``video`` (only the
    ``window`` (start, end) in seconds when given), the voice of ``audio`` (else the
    video's own audio track)."""
    from emobench.media import default_cache
    from emobench.media.audio import audio_features

    video = Path(video)
    voice = Path(audio) if audio is not None else video

    def face_video(size=FACE_SIZE, gray: bool = False, **spec) -> np.ndarray:
        from dataclasses import replace

        from emobench.media import FaceClipSpec, preprocess_video, video_info
        full = FaceClipSpec(size=tuple(size), gray=bool(gray), **spec)
        if window is None:
            return preprocess_video(video, full, cache=default_cache())
        # the whole video's crops are cached once and shared by all its windows
        crops = preprocess_video(video, replace(full, max_frames=None), cache=default_cache())
        fps = video_info(video)["fps"]
        out = _window(crops, fps, full.step_for(fps), *window)
        return out[:full.max_frames] if full.max_frames else out

    def audio_(rate: int = AUDIO_RATE) -> np.ndarray:
        # decoded and resampled once per file and rate, then read from the cache
        # (a rerun decodes no audio): the waveform read_audio gives, bit for bit
        return audio_features(voice, "waveform", rate=int(rate), cache=default_cache())

    def feature(kind: str):
        def load() -> np.ndarray:
            x = audio_features(voice, kind, cache=default_cache())
            return x[None, :] if x.ndim == 1 else x
        return load

    return {"face_video": face_video, "audio": audio_, "egemaps": feature("egemaps"),
            "egemaps_lld": feature("egemaps_lld"), "logmel": feature("logmel")}


def check_clip(path: Path, min_seconds: float = 0.5, *, audio: bool = True,
               video: bool = True) -> str | None:
    """Why a media file is unusable (truncated video, no decodable audio), or None.
    Decodes the whole video (a truncated AVI often claims its full frame count).
    ``audio=False`` for a video without a voice track, ``video=False`` for a sound file."""
    from emobench.media import MediaError, iter_frames, video_info
    from emobench.media.audio import read_audio_rate

    try:
        if video:
            info = video_info(path)
            frames = sum(1 for _ in iter_frames(path, step=1))
            if info["fps"] and frames / info["fps"] < min_seconds:
                return f"truncated: {frames} frames ({frames / info['fps']:.2f} s)"
        if audio:
            x, sr = read_audio_rate(path)
            if x.size / sr < min_seconds:
                return f"truncated audio track: {x.size / sr:.2f} s"
    except MediaError as exc:
        return exc.reason
    return None


def check_clips(paths: Iterable[Path], **kw) -> tuple[int, list[tuple[Path, str]]]:
    """(how many of ``paths`` are usable, [(path, why) for each unusable one]):
    the loop behind every clip corpus's ``emobench doctor``."""
    usable, bad = 0, []
    for p in paths:
        why = check_clip(Path(p), **kw)
        if why:
            bad.append((Path(p), why))
        else:
            usable += 1
    return usable, bad


def clip_verdict(path: Path, **kw) -> str | None:
    """:func:`check_clip`, remembered in the media cache under the file's content key
    (path, size, mtime): the first call decodes, later ones read a tiny entry. A
    missing file is unusable and never cached."""
    from emobench.media import default_cache
    from emobench.media.cache import content_key

    path = Path(path)
    if not path.is_file():
        return "file not found"

    def compute():
        why = check_clip(path, **kw)
        return {"why": np.frombuffer((why or "").encode("utf-8"), np.uint8).copy()}

    key = content_key("emobench.av.verdict", VERDICT_VERSION, path, sorted(kw.items()))
    why = bytes(default_cache().get_or_compute(key, compute)["why"]).decode("utf-8")
    return why or None


def unusable(paths: Iterable[Path], corpus: str, **kw) -> dict[Path, str]:
    """``{path: why}`` for the unusable files among ``paths`` (:func:`clip_verdict`),
    each announced by a warning naming the file: a loader drops their recordings,
    so a run skips a truncated clip instead of failing a fold on it."""
    import warnings

    out = {}
    for p in dict.fromkeys(Path(x) for x in paths):
        why = clip_verdict(p, **kw)
        if why:
            warnings.warn(f"{corpus}: {p}: {why}; its recording is skipped", stacklevel=2)
            out[p] = why
    return out


def write_clip(path: Path, frames: np.ndarray | None, fps: float, wave: np.ndarray | None,
               sr: int, *, bit_rate: int = 600_000, face_boxes: np.ndarray | None = None) -> None:
    """Write BGR frames (T, H, W, 3) uint8 and a mono voice into one file: ``.avi``
    (MPEG-4 video, 16-bit PCM, :func:`emobench.media.audio.write_av_clip`), ``.mp4``
    (MPEG-4 video, AAC audio; MP4 does not carry PCM), or a sound file (``.wav``,
    frames None). ``face_boxes``: where the caller drew the face on each frame,
    recorded in the stand-in's face sidecar (see :func:`~emobench.media.audio.write_av_clip`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".wav", ".flac"):
        import soundfile as sf
        sf.write(str(path), np.clip(np.asarray(wave, np.float32), -1, 1), int(sr), subtype="PCM_16")
        return
    from emobench.media.audio import write_av_clip

    write_av_clip(path, frames, fps, wave, sr, bit_rate=bit_rate, face_boxes=face_boxes)
