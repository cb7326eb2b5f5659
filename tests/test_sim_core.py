"""The synthetic world: determinism, PSPI, annotation, ceilings and that the signal is real."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emobench.sim import (AU_INDEX, AU_NAMES, EMOTIONS, OPENFACE_AUS, PAIN_LEVELS, World,
                          annotate_continuous, annotate_discrete, annotate_facs, ccc,
                          classification_ceiling, pain_ceiling, pspi, regression_ceiling,
                          select_aus)


def test_pspi_by_hand():
    row = np.zeros(len(AU_NAMES))
    for au, v in {"AU04": 2.0, "AU06": 1.0, "AU07": 3.0, "AU09": 4.0, "AU10": 0.5, "AU43": 1.0, "AU12": 5.0}.items():
        row[AU_INDEX[au]] = v
    assert pspi(row) == pytest.approx(2 + 3 + 4 + 1)
    two = np.stack([row, np.zeros_like(row)])
    np.testing.assert_allclose(pspi(two), [10.0, 0.0])
    # subset columns by name, in another order
    names = ["AU43", "AU10", "AU09", "AU07", "AU06", "AU04"]
    assert pspi(select_aus(row, names), names) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="AU43"):
        pspi(row[:3], ["AU04", "AU06", "AU07"])


def test_ccc_matches_formula():
    r = np.random.default_rng(0)
    x, y = r.normal(size=50), r.normal(size=50) + 0.5
    sx, sy = x.std(ddof=1), y.std(ddof=1)
    rho = np.corrcoef(x, y)[0, 1]
    assert ccc(x, y) == pytest.approx(2 * rho * sx * sy / (sx**2 + sy**2 + (x.mean() - y.mean()) ** 2))


def test_same_seed_byte_identical_and_other_seed_differs():
    def make(seed):
        w = World(seed)
        s = w.subjects(2, groups={"culture": "HU"})
        c = w.continuous_session(s[0], 8.0, 10.0, rng=3)
        a = annotate_continuous(c, rng=4)
        e = w.episode_clip(s[1], "fear", 2.0, 25.0, rng=1)
        p = w.pain_sample(s[1], "PA3", rng=2)
        return [c.aus, c.valence, a.gold["arousal"], e.aus, p.aus, p.pain]
    one, two, other = make(5), make(5), make(6)
    for x, y in zip(one, two):
        assert x.tobytes() == y.tobytes()
    assert any(x.tobytes() != z.tobytes() for x, z in zip(one, other))


def test_rng_must_be_explicit():
    w = World(0)
    with pytest.raises(TypeError, match="rng"):
        w.continuous_session(w.subject(0), 5.0, 10.0, rng=None)
    with pytest.raises(ValueError, match="level"):
        w.pain_sample(w.subject(0), "PA9")


def _clip_features(world, subjects, per_class=4, classes=EMOTIONS, seed=0):
    X, y, groups, dists = [], [], [], []
    r = np.random.default_rng(seed)
    for si, sub in enumerate(subjects):
        for e in classes:
            for k in range(per_class):
                c = world.episode_clip(sub, e, 2.0, 10.0, rng=k)
                aus = select_aus(c.aus, OPENFACE_AUS)
                X.append(np.concatenate([aus.mean(0), aus.max(0)]))
                label, dist = annotate_discrete(c, r)
                y.append(classes.index(label))
                groups.append(si)
                dists.append(dist)
    return np.array(X), np.array(y), np.array(groups), np.array(dists)


def _fit_score(Xtr, ytr, Xte, yte):
    m = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5)).fit(Xtr, ytr)
    return float((m.predict(Xte) == yte).mean())


def test_emotion_signal_real_below_ceiling_and_subject_effects():
    w = World(1)
    subs = w.subjects(12, groups={"culture": "DE"})
    X, y, g, dists = _clip_features(w, subs)
    ceiling = classification_ceiling(dists)
    assert 0.85 < ceiling < 1.0
    test = g >= 8
    si = _fit_score(X[~test], y[~test], X[test], y[test])
    chance = 1 / len(EMOTIONS)
    assert si > chance + 0.3
    assert si < ceiling
    # subject-dependent: half of each test subject's clips join the training set; scored on
    # the same held-out clips as the subject-independent model, averaged over 3 subject folds
    clip_idx = np.tile(np.arange(4), len(y) // 4)
    sd, si_same = [], []
    for fold in range(3):
        held = g % 3 == fold
        te = held & (clip_idx >= 2)
        sd.append(_fit_score(X[~te & (~held | (clip_idx < 2))], y[~te & (~held | (clip_idx < 2))], X[te], y[te]))
        si_same.append(_fit_score(X[~held], y[~held], X[te], y[te]))
    assert np.mean(sd) > np.mean(si_same)
    # shuffled labels: chance
    perm = np.random.default_rng(0).permutation(len(y))
    assert _fit_score(X[~test], y[perm][~test], X[test], y[test]) < chance + 0.12


def test_cross_culture_harder_than_within():
    w = World(2)
    de = w.subjects(14, groups={"culture": "DE"})
    cn = w.subjects(6, groups={"culture": "CN"}, start=100)
    de_test = w.subjects(6, groups={"culture": "DE"}, start=200)

    def series(subs):
        X, Y = [], []
        for i, s in enumerate(subs):
            c = w.continuous_session(s, 60.0, 5.0, rng=i)
            X.append(select_aus(c.aus, OPENFACE_AUS))
            Y.append(c.valence)
        return np.concatenate(X), np.concatenate(Y)
    Xtr, ytr = series(de)
    m = Ridge(alpha=1.0).fit(Xtr, ytr)
    within = ccc(m.predict(series(de_test)[0]), series(de_test)[1])
    Xc, yc = series(cn)
    cross = ccc(m.predict(Xc), yc)
    assert within > 0.4
    assert cross < within


def test_annotation_delay_and_regression_ceiling():
    w = World(3)
    subs = w.subjects(6)
    lat, gold, feats = [], [], []
    for i, s in enumerate(subs):
        c = w.continuous_session(s, 60.0, 10.0, rng=i)
        a = annotate_continuous(c, np.random.default_rng(i), delay_s={"arousal": 3.5, "valence": 2.0})
        lat.append(c.arousal)
        gold.append(a.gold["arousal"])
        feats.append(select_aus(c.aus, OPENFACE_AUS))
    ceil = regression_ceiling(lat, gold, 10.0)
    assert abs(ceil["delay_s"] - 3.5) <= 0.6
    assert 0.6 < ceil["score"] < 1.0
    # a linear model on AUs (delay-compensated with the oracle delay) stays below the ceiling
    d = int(round(ceil["delay_s"] * 10))
    Xs = [np.vstack([np.repeat(f[:1], d, 0), f[:-d]]) for f in feats]
    m = Ridge(alpha=1.0).fit(np.concatenate(Xs[:4]), np.concatenate(gold[:4]))
    score = ccc(m.predict(np.concatenate(Xs[4:])), np.concatenate(gold[4:]))
    shuffled = ccc(np.random.default_rng(0).permutation(m.predict(np.concatenate(Xs[4:]))), np.concatenate(gold[4:]))
    assert 0.2 < score < ceil["score"]
    assert abs(shuffled) < 0.1


def test_pain_levels_ordered_and_ceiling():
    w = World(4)
    subs = w.subjects(6)
    sessions = [w.pain_sample(s, lv, rng=k) for s in subs for lv in PAIN_LEVELS for k in range(4)]
    peak = {lv: np.mean([pspi(s.aus).max() for s in sessions if s.label == lv]) for lv in PAIN_LEVELS}
    assert peak["BL1"] < peak["PA2"] < peak["PA4"]
    binary = pain_ceiling(sessions, ("BL1", "PA4"))
    five = pain_ceiling(sessions, PAIN_LEVELS)
    assert 0.2 < five < binary <= 1.0
    # UNBC-style sessions: most frames without pain, FACS coding is integer and AU43 binary
    u = [w.pain_session(s, 10.0, 30.0, rng=0) for s in subs]
    frac_zero = np.mean(np.concatenate([s.pain == 0 for s in u]))
    assert frac_zero > 0.5
    coded = annotate_facs(u[0].aus, 0)
    assert np.all(coded == np.rint(coded)) and set(np.unique(coded[:, AU_INDEX["AU43"]])) <= {0.0, 1.0}
    assert pspi(coded).max() <= 16


def test_group_effects_shift_mapping():
    w = World(0)
    a, b = w.subject(1, {"culture": "DE"}), w.subject(1, {"culture": "CN"})
    assert a.geometry == b.geometry  # identity is the person, groups are shared effects
    assert not np.allclose(a.va_map, b.va_map)
    assert np.allclose(w.subject(2, {"culture": "DE"}).effects[0].au_gain, a.effects[0].au_gain)


def test_ambiguous_clips_lower_the_ceiling_and_subsets_work():
    w = World(5)
    s = w.subject(0)
    clear = w.episode_clip(s, "happy", 2.0, 10.0, rng=0)
    mixed = w.episode_clip(s, "happy", 2.0, 10.0, rng=0, mix={"happy": 0.6, "surprise": 0.4})
    assert mixed.label == "happy"
    np.testing.assert_allclose(mixed.state_posterior[[EMOTIONS.index("happy"), EMOTIONS.index("surprise")]], [0.6, 0.4])
    from emobench.sim import label_distribution
    c_clear = classification_ceiling([label_distribution(clear)])
    c_mixed = classification_ceiling([label_distribution(mixed)])
    assert c_mixed < c_clear
    subset = ("neutral", "happy", "sad")
    sub = w.episode_clip(s, "sad", 2.0, 10.0, rng=1, label_set=subset)
    label, dist = annotate_discrete(sub, 0, classes=subset)
    assert label in subset and dist.shape == (3,) and dist.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="label_set"):
        w.episode_clip(s, "anger", 2.0, 10.0, label_set=subset)


def test_heat_protocol_and_resample():
    w = World(6)
    s = w.subject(2)
    h = w.pain_session(s, 60.0, 10.0, rng=0, protocol="heat", levels=["PA4", "PA1"])
    assert h.stimulus.max() == pytest.approx(s.heat_tolerance_c)
    assert len(h.episodes) >= 3 and h.pain.max() > 0.3
    r = h.resample(25.0)
    assert r.n == 1500 and r.aus.shape == (1500, len(AU_NAMES))
    np.testing.assert_allclose(r.pain[::5][:100], np.interp(r.time[::5][:100], h.time, h.pain))
