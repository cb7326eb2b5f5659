"""The audio front-end: reading (wav, a video's audio track), resampling, voice
activity, VGGish log-mel patches, eGeMAPS, the content-key cache and bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emobench.media import ArrayCache, MediaError
from emobench.media import audio as A

SR = 16000


def _tone(freq, seconds, sr=SR, amp=0.3):
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x, sr):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / sr)[spec.argmax()]


def test_wav_is_read_mono_and_resampled(tmp_path):
    stereo = np.stack([_tone(440, 1.0, 22050), _tone(440, 1.0, 22050)], axis=1)
    sf.write(tmp_path / "a.wav", stereo, 22050)
    x = A.read_audio(tmp_path / "a.wav")
    assert x.dtype == np.float32 and x.shape == (16000,)
    assert abs(_peak_hz(x, SR) - 440) < 2
    raw, sr = A.read_audio_rate(tmp_path / "a.wav")
    assert sr == 22050 and raw.shape == (22050,)


def test_audio_track_of_a_video(tmp_path):
    frames = np.zeros((5, 48, 64, 3), np.uint8)
    A.write_av_clip(tmp_path / "c.avi", frames, 10.0, _tone(660, 0.5, 48000), 48000)
    x = A.read_audio(tmp_path / "c.avi")
    assert x.shape == (8000,) and abs(_peak_hz(x, SR) - 660) < 3
    A.write_av_clip(tmp_path / "mute.avi", frames, 10.0, None, 48000)
    with pytest.raises(MediaError, match="no audio track") as err:
        A.read_audio(tmp_path / "mute.avi")
    assert err.value.path == tmp_path / "mute.avi"


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00garbage" * 10])
def test_corrupt_audio_names_the_file(tmp_path, content):
    for name in ("bad.wav", "bad.avi"):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(MediaError) as err:
            A.read_audio(tmp_path / name)
        assert str(tmp_path / name) in str(err.value)
    with pytest.raises(MediaError, match="not found"):
        A.read_audio(tmp_path / "missing.wav")


def test_truncated_audio_track_is_an_error(tmp_path):
    frames = np.zeros((6, 48, 64, 3), np.uint8)
    path = tmp_path / "t.avi"
    A.write_av_clip(path, frames, 10.0, _tone(440, 0.6, 22050), 22050)
    assert A.read_audio(path).shape == (9600,)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # the AVI header still claims 0.6 s
    with pytest.raises(MediaError, match="truncated audio track") as err:
        A.read_audio(path)
    assert err.value.path == path


def test_voice_activity_finds_the_tone():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.zeros(4000), _tone(220, 1.0), np.zeros(5600), _tone(300, 0.5),
                        np.zeros(8000)]).astype(np.float32)
    x += 0.001 * rng.standard_normal(len(x)).astype(np.float32)
    win = A.voice_activity(x, SR)
    assert len(win) == 2
    (a0, a1), (b0, b1) = win
    # truth: 0.25-1.25 s and 1.60-2.10 s; a 25 ms frame straddles each edge
    assert abs(a0 - 0.25) < 0.03 and abs(a1 - 1.25) < 0.03
    assert abs(b0 - 1.60) < 0.03 and abs(b1 - 2.10) < 0.03
    # a gap shorter than min_gap_s is bridged
    assert len(A.voice_activity(x, SR, min_gap_s=0.5)) == 1
    # speech from end to end is not cut by the floor estimate
    assert A.speech_mask(_tone(200, 1.0), SR).all()


def test_log_mel_follows_vggish_conventions():
    w = A.mel_matrix()
    assert w.shape == (257, 64) and not w[0].any()
    centres = np.fft.rfftfreq(512, 1 / SR)[w.argmax(axis=0)]
    assert 100 < centres[0] < 160 and 7000 < centres[-1] < 7600
    x = _tone(1000, 1.0)
    mel = A.log_mel(x)
    assert mel.shape == (1 + (16000 - 400) // 160, 64) and mel.dtype == np.float32
    # independent: one frame by hand
    frame = x[160:560] * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400))
    ref = np.log(np.abs(np.fft.rfft(frame, 512)) @ w + 0.01)
    np.testing.assert_allclose(mel[1], ref, rtol=1e-4, atol=1e-4)
    band = int(mel.mean(0).argmax())
    assert abs(centres[band] - 1000) < 80
    # silence is log(0.01)
    np.testing.assert_allclose(A.log_mel(np.zeros(4000)), np.log(0.01), atol=1e-6)


def test_vggish_patches():
    assert A.vggish_patches(_tone(500, 2.0)).shape == (2, 96, 64)   # 198 frames
    short = A.vggish_patches(_tone(500, 0.5))                        # 48 frames, padded
    assert short.shape == (1, 96, 64)
    np.testing.assert_allclose(short[0, 60:], np.log(0.01), atol=1e-6)


def test_egemaps_functionals_and_llds():
    names = A.egemaps_names()
    assert len(names) == 88 and len(A.egemaps_names("lld")) == 25
    f0 = names.index("F0semitoneFrom27.5Hz_sma3nz_amean")
    loud = names.index("loudness_sma3_amean")
    t = np.arange(2 * SR) / SR
    wobble = 1 + 0.2 * np.sin(2 * np.pi * 3 * t)
    low = A.egemaps((0.3 * np.sin(2 * np.pi * 200 * t) * wobble).astype(np.float32))
    high = A.egemaps((0.6 * np.sin(2 * np.pi * 400 * t) * wobble).astype(np.float32))
    assert low.shape == (88,) and np.isfinite(low).all()
    assert low[f0] == pytest.approx(12 * np.log2(200 / 27.5), abs=0.3)
    assert high[f0] - low[f0] == pytest.approx(12.0, abs=0.3)  # one octave
    assert high[loud] > low[loud]
    lld = A.egemaps(_tone(200, 1.0), level="lld")
    assert lld.ndim == 2 and lld.shape[1] == 25 and 90 <= len(lld) <= 100


def test_second_call_computes_nothing(tmp_path):
    sf.write(tmp_path / "v.wav", _tone(250, 1.0), SR)
    cache = ArrayCache(tmp_path / "cache")
    A.reset_audio_stats()
    first = {k: A.audio_features(tmp_path / "v.wav", k, cache=cache)
             for k in ("egemaps", "logmel", "vggish")}
    assert A.audio_stats() == {"audio_decoded": 3, "audio_features": 3}
    again = {k: A.audio_features(tmp_path / "v.wav", k, cache=cache) for k in first}
    assert A.audio_stats() == {"audio_decoded": 3, "audio_features": 3}  # unchanged
    assert cache.stats()["hits"] == 3
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])
    x = _tone(250, 1.0)
    A.wave_features(x, "egemaps", cache=cache)
    A.wave_features(x, "egemaps", cache=cache)
    assert A.audio_stats()["audio_features"] == 4
    with pytest.raises(ValueError, match="kind"):
        A.audio_features(tmp_path / "v.wav", "mfcc", cache=cache)


def test_av_clip_writer_is_deterministic(tmp_path):
    frames = np.random.default_rng(1).integers(0, 255, (4, 48, 64, 3), dtype=np.uint8)
    for name in ("a.avi", "b.avi"):
        A.write_av_clip(tmp_path / name, frames, 10.0, _tone(300, 0.4, 22050), 22050)
    assert (tmp_path / "a.avi").read_bytes() == (tmp_path / "b.avi").read_bytes()


@pytest.mark.parametrize("suffix", [".wav", ".avi", ".mp4"])
def test_clip_audio_is_decoded_once_per_file(tmp_path, monkeypatch, suffix):
    """A corpus's audio stream (a wav, or the track of an avi/mp4, resampled to
    16 kHz) is decoded once and then read from the cache: a rerun decodes 0 files."""
    from emobench.media.av import clip_streams

    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    path = tmp_path / f"c{suffix}"
    wave = _tone(440, 0.8, 22050)
    if suffix == ".wav":
        sf.write(path, wave, 22050)
    else:
        A.write_av_clip(path, np.zeros((8, 48, 64, 3), np.uint8), 10.0, wave, 22050)
    expected = A.read_audio(path, 16000)
    A.reset_audio_stats()
    video = path if suffix != ".wav" else tmp_path / "v.avi"
    first = clip_streams(video, audio=path if suffix == ".wav" else None)["audio"]()
    assert A.audio_stats()["audio_decoded"] == 1 and np.array_equal(first, expected)
    again = clip_streams(video, audio=path if suffix == ".wav" else None)["audio"]()  # a rerun
    assert A.audio_stats()["audio_decoded"] == 1 and np.array_equal(again, expected)
    clip_streams(video, audio=path if suffix == ".wav" else None)["audio"](rate=8000)
    assert A.audio_stats()["audio_decoded"] == 2  # another rate is another entry
