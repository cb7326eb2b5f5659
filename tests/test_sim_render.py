"""Renderers of the synthetic world: faces, landmarks, video, voice, eyes, physiology."""
import cv2
import numpy as np
import pytest

from emobench.sim import (World, eye_behaviour, fixation_map, landmarks, physiology,
                          render_face, render_video, speaking_indicator, synth_voice, write_video)
from emobench.sim.preview import write_preview


def _apex(world, sub, emo):
    c = world.episode_clip(sub, emo, 2.0, 25.0, rng=0, intensity=1.0)
    return c.aus_clean[int(np.argmax(c.emotion_activation.sum(1)))] if emo != "neutral" else c.aus_clean[0]


def _diff(a, b):
    return float(np.mean(np.abs(a.astype(float) - b.astype(float))))


def test_faces_differ_between_emotions_and_subjects_more_than_noise():
    w = World(0)
    s0, s1 = w.subjects(2)
    neutral = _apex(w, s0, "neutral")
    base = render_face(s0, neutral, size=96, crop=True, rng=np.random.default_rng(0), noise_sd=3)
    same = render_face(s0, neutral, size=96, crop=True, rng=np.random.default_rng(1), noise_sd=3)
    bg = np.full((96, 96, 3), 128, np.uint8)
    clean = lambda s, au: render_face(s, au, size=96, crop=True, background=bg)  # noqa: E731
    noise_level = _diff(clean(s0, neutral), clean(s0, neutral + 0.05))
    for emo in ("happy", "surprise", "anger", "disgust", "sad", "fear"):
        assert _diff(clean(s0, neutral), clean(s0, _apex(w, s0, emo))) > 5 * max(noise_level, 0.05), emo
    assert _diff(clean(s0, neutral), clean(s1, neutral)) > 10
    assert base.tobytes() != same.tobytes()  # pixel noise follows the rng


def test_render_is_byte_identical_for_same_seed():
    w = World(7)
    s = w.subject(3)
    au = _apex(w, s, "happy")
    a = render_face(s, au, size=(320, 240), pose=(10, -5, 3), rng=np.random.default_rng(9))
    b = render_face(s, au, size=(320, 240), pose=(10, -5, 3), rng=np.random.default_rng(9))
    assert a.tobytes() == b.tobytes() and a.shape == (240, 320, 3) and a.dtype == np.uint8
    c = w.continuous_session(s, 1.0, 10.0, rng=0)
    v1, v2 = render_video(c, 10, size=(64, 64), crop=True, rng=1), render_video(c, 10, size=(64, 64), crop=True, rng=1)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(v1, v2))


def test_haar_detects_whole_frame_faces_and_landmarks_inside():
    casc = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    w = World(11)
    hits, inside, n = 0, 0, 0
    for i, s in enumerate(w.subjects(8)):
        for emo in ("neutral", "happy", "surprise"):
            r = np.random.default_rng([i, len(emo)])
            pose = tuple(r.normal(0, [8, 5, 4]))
            au = _apex(w, s, emo)
            size = (640, 480) if i % 2 else (320, 240)
            img = render_face(s, au, size=size, pose=pose, rng=r, lighting=r.uniform(0.8, 1.2),
                              light_direction=r.uniform(-1, 1))
            found = casc.detectMultiScale(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), 1.1, 3)
            n += 1
            if len(found):
                hits += 1
                x, y, bw, bh = max(found, key=lambda f: f[2] * f[3])
                lm = landmarks(s, au, size=size, pose=pose)
                nose = lm[30]
                inside += (x <= nose[0] <= x + bw) and (y <= nose[1] <= y + bh)
    assert hits / n >= 0.8
    assert inside == hits


def test_write_video_roundtrip(tmp_path):
    w = World(0)
    c = w.continuous_session(w.subject(0), 1.0, 10.0, rng=0)
    path = tmp_path / "clip.avi"
    assert write_video(path, c, 10, size=(96, 72), rng=0) == 10
    cap = cv2.VideoCapture(str(path))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == 10


def test_voice_follows_turns_and_arousal():
    w = World(0)
    s = w.subject(0)
    c = w.continuous_session(s, 12.0, 10.0, rng=2)
    wav = synth_voice(c, 8000, rng=0)
    assert wav.dtype == np.float32 and wav.size == 12 * 8000
    assert synth_voice(c, 8000, rng=0).tobytes() == wav.tobytes()
    talk = np.repeat(c.speaking, 800)
    assert talk.any() and (~talk).any()
    assert np.sqrt(np.mean(wav[talk] ** 2)) > 10 * np.sqrt(np.mean(wav[~talk] ** 2))
    np.testing.assert_array_equal(speaking_indicator(c, 10.0), c.speaking.astype(float))
    # higher arousal -> higher pitch: compare zero-crossing-free autocorrelation pitch estimates
    def f0(arousal):
        c2 = w.continuous_session(s, 4.0, 10.0, rng=5, sd_arousal=1e-6, sd_valence=1e-6, episodes_per_min=0)
        c2.arousal[:] = arousal
        c2.speaking[:] = True
        x = synth_voice(c2, 8000, rng=1).astype(float)[:8000]
        ac = np.correlate(x, x, "full")[x.size - 1:]
        lo, hi = 8000 // 400, 8000 // 60
        return 8000 / (lo + np.argmax(ac[lo:hi]))
    assert f0(0.8) > f0(-0.8)


def test_eyes_and_physiology_follow_state():
    w = World(0)
    s = w.subject(1)
    c = w.continuous_session(s, 20.0, 10.0, rng=0)
    tr = eye_behaviour(c, 60.0, rng=0)
    assert tr.gaze_x.size == 1200 and len(tr.fixations) > 20
    valid = ~np.isnan(tr.gaze_x)
    assert valid.mean() > 0.8 and np.all((tr.gaze_x[valid] >= 0) & (tr.gaze_x[valid] <= 1))
    assert np.corrcoef(tr.pupil_mm, np.interp(tr.time, c.time, c.arousal))[0, 1] > 0.3
    fm = fixation_map(tr, (32, 48))
    assert fm.shape == (32, 48) and fm.sum() == pytest.approx(1.0, abs=1e-4)
    lo, hi = w.pain_sample(s, "BL1", rng=0), w.pain_sample(s, "PA4", rng=0)
    p_lo, p_hi = physiology(lo, rng=0, duration_s=5.5), physiology(hi, rng=0, duration_s=5.5)
    assert p_hi["gsr"].size == int(round(5.5 * 512)) and p_hi["time_us"][-1] < 5.5e6
    assert np.ptp(p_hi["gsr"]) > 2 * np.ptp(p_lo["gsr"])
    assert np.std(p_hi["emg_trapezius"]) > 2 * np.std(p_lo["emg_trapezius"])
    from scipy.signal import find_peaks
    beats = lambda p: len(find_peaks(p["ecg"], height=0.6, distance=100)[0])  # noqa: E731
    assert beats(p_hi) >= beats(p_lo)


def test_preview_writes_pngs(tmp_path):
    paths = write_preview(tmp_path, seed=0, n_subjects=2, face_size=64)
    assert [p.name for p in paths] == ["faces.png", "trajectories.png", "pain.png"]
    faces = cv2.imread(str(paths[0]))
    assert faces.shape[0] == 7 * 64
    assert all(p.stat().st_size > 1000 for p in paths)
