"""The audio front-end shared by every speech corpus and the real-time pipeline.

    read_audio (wav/flac through soundfile; the audio track of avi/mp4/mkv
      through PyAV) -> mono float32 -> resample to 16 kHz (scipy resample_poly)
    voice_activity      energy-based speech windows (documented below)
    log_mel             VGGish log-mel: 25 ms periodic Hann, 10 ms hop, FFT 512,
                        64 HTK-mel bands 125-7500 Hz, log(mel + 0.01)
    vggish_patches      (n, 96, 64) non-overlapping 0.96 s patches of log_mel
    egemaps             eGeMAPS v02 functionals (88,) or LLDs (T, 25) at 100 Hz,
                        through the ``opensmile`` package
    audio_features      any of the above for a file, cached by content key

The log-mel is written in numpy (about 30 lines, VGGish's own conventions)
rather than taken from librosa, which would add numba and llvmlite to the
stack. Counters (:func:`audio_stats`) say how many files were decoded and how
many features computed, so a test or a run summary can show that a second run
computes nothing. Unreadable audio raises :class:`MediaError` naming the file.
See docs/audio.md.
"""

from __future__ import annotations

import functools
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from .cache import ArrayCache, content_key
from .decode import MediaError, _check_file

__all__ = ["AUDIO_VERSION", "TARGET_RATE", "FEATURE_KINDS", "read_audio", "read_audio_rate", "resample",
           "voice_activity", "speech_mask", "mel_matrix", "log_mel", "vggish_patches",
           "egemaps", "egemaps_names", "audio_features", "wave_features", "audio_stats",
           "reset_audio_stats", "write_av_clip"]

# Bump when any output below changes for the same input: old cache entries then miss.
AUDIO_VERSION = 1
TARGET_RATE = 16000
SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif")
TRUNCATION_TOLERANCE = 0.25
FEATURE_KINDS = ("waveform", "logmel", "vggish", "egemaps", "egemaps_lld")

# ------------------------------------------------------------------ counters

_lock = threading.Lock()
_STAT_NAMES = ("audio_decoded", "audio_features")
_stats = dict.fromkeys(_STAT_NAMES, 0)


def _bump(name: str) -> None:
    with _lock:
        _stats[name] += 1


def audio_stats() -> dict[str, int]:
    """Process-level counters: audio files decoded, audio features computed."""
    with _lock:
        return dict(_stats)


def reset_audio_stats() -> None:
    with _lock:
        for k in _STAT_NAMES:
            _stats[k] = 0


# ------------------------------------------------------------------ reading

def resample(x: np.ndarray, sr: int, rate: int = TARGET_RATE) -> np.ndarray:
    """Polyphase resampling (anti-aliased) of a 1-D signal from ``sr`` to ``rate`` Hz."""
    if int(sr) == int(rate):
        return np.asarray(x, np.float32)
    from scipy.signal import resample_poly  # lazy: `import emobench.media` stays light

    frac = Fraction(int(rate), int(sr))
    return resample_poly(x, frac.numerator, frac.denominator).astype(np.float32)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        raise MediaError(path, f"cannot read as audio ({exc})") from None
    return x.mean(axis=1), int(sr)


def _read_track(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(path, "no audio track")
            stream = container.streams.audio[0]
            sr = int(stream.rate or stream.codec_context.sample_rate or 0)
            # one packed mono float layout whatever the codec's sample format
            mono = av.AudioResampler(format="flt", layout="mono", rate=sr)
            chunks = [o.to_ndarray().reshape(-1) for f in container.decode(stream)
                      for o in mono.resample(f)]
            chunks += [o.to_ndarray().reshape(-1) for o in mono.resample(None)]
            claimed = _claimed_seconds(stream)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(path, f"cannot decode the audio track ({type(exc).__name__}: {exc})") \
            from None
    if sr <= 0:
        raise MediaError(path, "audio track has no sample rate")
    x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    # same tolerance as iter_frames: a container's claim may be an estimate
    if claimed and x.size / sr < (1.0 - TRUNCATION_TOLERANCE) * claimed:
        raise MediaError(path, f"truncated audio track: decoded {x.size / sr:.2f} s of the "
                               f"{claimed:.2f} s the container claims")
    return x, sr


def _claimed_seconds(stream) -> float | None:
    """Duration the container claims for an audio stream: its duration field, or for
    PCM (whose frame count is the sample count, as in AVI headers) frames / rate."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if stream.frames and stream.rate and stream.codec_context.name.startswith("pcm_"):
        return stream.frames / float(stream.rate)
    return None


def read_audio(path: str | Path, rate: int | None = TARGET_RATE) -> np.ndarray:
    """Mono float32 waveform of a sound file or of a video's audio track, resampled
    to ``rate`` Hz (``None``: the file's own rate; see :func:`read_audio_rate`)."""
    x, sr = read_audio_rate(path)
    return x if rate is None else resample(x, sr, int(rate))


def read_audio_rate(path: str | Path) -> tuple[np.ndarray, int]:
    """``(waveform, rate)`` at the file's own rate; channels are averaged."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        x, sr = _read_soundfile(path)
    else:
        x, sr = _read_track(path)
    _bump("audio_decoded")
    if x.size == 0:
        raise MediaError(path, "no audio samples (empty or truncated)")
    if not np.all(np.isfinite(x)):
        raise MediaError(path, "non-finite audio samples")
    return x.astype(np.float32, copy=False), sr


# ------------------------------------------------------------------ voice activity

def _frame_db(x: np.ndarray, sr: int, frame_s: float, hop_s: float) -> np.ndarray:
    win, hop = max(1, int(round(frame_s * sr))), max(1, int(round(hop_s * sr)))
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    n = 1 + (len(x) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    rms = np.sqrt(np.mean(np.square(x[idx], dtype=np.float64), axis=1))
    return 20 * np.log10(rms + 1e-10)


def speech_mask(x: np.ndarray, sr: int, *, frame_s: float = 0.025, hop_s: float = 0.010,
                rel_db: float = -35.0, floor_db: float = 10.0, max_db: float = -20.0
                ) -> np.ndarray:
    """Boolean speech flag per 10 ms frame.

    A frame is speech when its RMS level (dB) exceeds ``max(peak + rel_db, floor +
    floor_db)``, capped at ``peak + max_db``: ``peak`` is the loudest frame and
    ``floor`` the 5th percentile (the room noise between words). The cap keeps a
    clip that is speech from end to end (no noise to estimate) from being cut."""
    db = _frame_db(np.asarray(x, np.float32), int(sr), frame_s, hop_s)
    peak, floor = float(db.max()), float(np.percentile(db, 5))
    thr = min(max(peak + rel_db, floor + floor_db), peak + max_db)
    return db > thr


def voice_activity(x: np.ndarray, sr: int, *, min_speech_s: float = 0.10,
                   min_gap_s: float = 0.20, hop_s: float = 0.010, **kw) -> list[tuple[float, float]]:
    """Speech windows ``[(start_s, end_s), ...]`` from :func:`speech_mask`: gaps shorter
    than ``min_gap_s`` are bridged, then runs shorter than ``min_speech_s`` dropped."""
    mask = speech_mask(x, sr, hop_s=hop_s, **kw)
    runs, start = [], None
    for i, on in enumerate(np.append(mask, False)):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append([start, i])
            start = None
    merged: list[list[int]] = []
    for run in runs:
        if merged and (run[0] - merged[-1][1]) * hop_s < min_gap_s:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    return [(a * hop_s, b * hop_s) for a, b in merged if (b - a) * hop_s >= min_speech_s]


# ------------------------------------------------------------------ log-mel (VGGish)

def _hz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)  # HTK, as VGGish


@functools.cache
def mel_matrix(sr: int = TARGET_RATE, n_fft: int = 512, n_mels: int = 64, fmin: float = 125.0,
               fmax: float = 7500.0) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangular HTK-mel weights; the DC row is zero
    (VGGish ``spectrogram_to_mel_matrix``)."""
    bins = _hz_to_mel(np.linspace(0.0, sr / 2.0, n_fft // 2 + 1))
    edges = np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    up = (bins[:, None] - lo) / (mid - lo)
    down = (hi - bins[:, None]) / (hi - mid)
    w = np.maximum(0.0, np.minimum(up, down))
    w[0, :] = 0.0
    w.setflags(write=False)
    return w


def log_mel(x: np.ndarray, sr: int = TARGET_RATE, *, win_s: float = 0.025, hop_s: float = 0.010,
            n_mels: int = 64, fmin: float = 125.0, fmax: float = 7500.0,
            offset: float = 0.01) -> np.ndarray:
    """(T, n_mels) float32 log-mel frames, VGGish conventions: magnitude STFT with
    a periodic Hann window, FFT the next power of two above the window, frames
    only where a whole window fits, then ``log(mel + offset)``."""
    x = np.asarray(x, np.float64)
    win, hop = int(round(win_s * sr)), int(round(hop_s * sr))
    n_fft = 1 << int(np.ceil(np.log2(win)))
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    n = 1 + (len(x) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    spec = np.abs(np.fft.rfft(x[idx] * window, n_fft))
    return np.log(spec @ mel_matrix(int(sr), n_fft, n_mels, fmin, fmax) + offset).astype(np.float32)


def vggish_patches(x: np.ndarray, sr: int = TARGET_RATE, *, frames: int = 96,
                   hop_frames: int = 96, **kw) -> np.ndarray:
    """(n, 96, 64) log-mel patches of 0.96 s (VGGish's input examples), hop 0.96 s.
    A clip shorter than one patch is padded with silence (``log(offset)``) to one
    patch; a tail shorter than a patch is dropped, as VGGish does."""
    mel = log_mel(x, sr, **kw)
    if len(mel) < frames:
        pad = np.full((frames - len(mel), mel.shape[1]), np.log(kw.get("offset", 0.01)),
                      np.float32)
        mel = np.concatenate([mel, pad])
    n = 1 + (len(mel) - frames) // hop_frames
    return np.stack([mel[i * hop_frames:i * hop_frames + frames] for i in range(n)])


# ------------------------------------------------------------------ eGeMAPS (openSMILE)

@functools.cache
def _smile(level: str):
    import opensmile

    levels = {"functionals": opensmile.FeatureLevel.Functionals,
              "lld": opensmile.FeatureLevel.LowLevelDescriptors}
    if level not in levels:
        raise ValueError(f"egemaps: level must be 'functionals' or 'lld', got {level!r}")
    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=levels[level])


def egemaps_names(level: str = "functionals") -> tuple[str, ...]:
    """Feature names of eGeMAPS v02 (88 functionals or 25 LLDs)."""
    return tuple(_smile(level).feature_names)


def egemaps(x: np.ndarray, sr: int = TARGET_RATE, level: str = "functionals") -> np.ndarray:
    """eGeMAPS v02 through openSMILE: (88,) functionals or (T, 25) LLDs (10 ms hop)."""
    df = _smile(level).process_signal(np.asarray(x, np.float32), int(sr))
    out = df.to_numpy(dtype=np.float32, copy=True)
    out = out[0] if level == "functionals" else out
    # openSMILE reports undefined descriptors (e.g. no voiced frame) as NaN: 0 is
    # the neutral value after standardisation, and the array must stay finite
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


# ------------------------------------------------------------------ cached front-end

def _compute(kind: str, x: np.ndarray, rate: int) -> np.ndarray:
    if kind == "waveform":
        return x
    if kind == "logmel":
        return log_mel(x, rate)
    if kind == "vggish":
        return vggish_patches(x, rate)
    if kind == "egemaps":
        return egemaps(x, rate, "functionals")
    if kind == "egemaps_lld":
        return egemaps(x, rate, "lld")
    raise ValueError(f"audio feature kind must be one of {', '.join(FEATURE_KINDS)}, got {kind!r}")


def _versions(kind: str) -> tuple:
    if kind.startswith("egemaps"):
        import opensmile
        return ("opensmile", opensmile.__version__)
    return ()


def audio_features(path: str | Path, kind: str = "egemaps", *, rate: int = TARGET_RATE,
                   cache: ArrayCache | None = None) -> np.ndarray:
    """One front-end output for a file (see :data:`FEATURE_KINDS`), computed from
    its waveform at ``rate`` Hz. With a ``cache`` the result is stored under the
    content key of (file, kind, rate, front-end version) and a later call decodes
    and computes nothing. Unusable files raise :class:`MediaError` (never cached)."""
    path = Path(path)
    _check_file(path)
    if kind not in FEATURE_KINDS:
        raise ValueError(f"audio feature kind must be one of {', '.join(FEATURE_KINDS)}, "
                         f"got {kind!r}")

    def compute():
        x = read_audio(path, rate)
        if kind != "waveform":
            _bump("audio_features")
        return {"x": _compute(kind, x, rate)}

    if cache is None:
        return compute()["x"]
    key = content_key("emobench.audio", AUDIO_VERSION, kind, int(rate), path, _versions(kind))
    return cache.get_or_compute(key, compute)["x"]


def wave_features(x: np.ndarray, kind: str = "egemaps", *, rate: int = TARGET_RATE,
                  cache: ArrayCache | None = None) -> np.ndarray:
    """As :func:`audio_features` for a waveform already in memory (keyed by its bytes)."""
    x = np.asarray(x, np.float32)

    def compute():
        _bump("audio_features")
        return {"x": _compute(kind, x, rate)}

    if cache is None:
        return compute()["x"]
    key = content_key("emobench.audio.wave", AUDIO_VERSION, kind, int(rate), x, _versions(kind))
    return cache.get_or_compute(key, compute)["x"]


# ------------------------------------------------------------------ writing (stand-ins, tests)

def write_av_clip(path: str | Path, frames: np.ndarray, fps: float, wave: np.ndarray | None,
                  sr: int, *, vcodec: str = "mpeg4", bit_rate: int = 600_000,
                  face_boxes: np.ndarray | None = None) -> None:
    """Mux BGR frames (T, H, W, 3) uint8 and a mono waveform into one container
    with PyAV: MPEG-4 part 2 video, and 16-bit PCM audio in AVI or AAC in MP4
    (MP4 does not carry PCM). Single-threaded encoding, so one input gives
    byte-identical files. ``face_boxes`` (T, 4) x, y, w, h, when the caller drew
    the face itself, are recorded in the stand-in's face sidecar
    (:mod:`emobench.media.standin_faces`), read instead of the Haar tracker."""
    import av

    path = Path(path)
    if face_boxes is not None:
        from .standin_faces import write_face_boxes
        write_face_boxes(path, face_boxes)
    mp4 = path.suffix.lower() == ".mp4"
    frames = np.asarray(frames, np.uint8)
    with av.open(str(path), "w", format="mp4" if mp4 else
                 "avi" if path.suffix.lower() == ".avi" else None) as c:
        vs = c.add_stream(vcodec, rate=Fraction(fps).limit_denominator(1001))
        vs.width, vs.height, vs.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        vs.bit_rate = bit_rate
        vs.codec_context.thread_count = 1
        astream = None
        if wave is not None:
            astream = c.add_stream("aac" if mp4 else "pcm_s16le", rate=int(sr))
            astream.layout = "mono"
            if mp4:
                astream.codec_context.thread_count = 1
        for f in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="bgr24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if astream is not None:
            x = np.clip(np.asarray(wave, np.float32), -1, 1)[None]
            af = (av.AudioFrame.from_ndarray(np.ascontiguousarray(x), format="flt", layout="mono")
                  if mp4 else av.AudioFrame.from_ndarray((x * 32767).astype(np.int16),
                                                          format="s16", layout="mono"))
            af.sample_rate, af.pts = int(sr), 0
            for p in astream.encode(af):
                c.mux(p)
            for p in astream.encode():
                c.mux(p)
