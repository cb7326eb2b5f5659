"""Synthetic affect world for emobench stand-ins.

One generative model: latent affect (valence/arousal OU processes, discrete emotion
episodes, pain following a stimulus) drives FACS action units through prototypes; the AUs
and the latent state drive rendered faces and landmarks, voice, eye behaviour and
physiology; simulated raters produce the labels; ceilings give the best score any model
could reach.  See docs/simulation.md for the equations.

Core API::

    from emobench.sim import World, annotate_continuous, annotate_discrete, pspi
    w = World(seed=0)
    subjects = w.subjects(3, groups={"culture": "DE"})
    s = w.continuous_session(subjects[0], 60.0, 10.0, rng=0)
    ann = annotate_continuous(s, rng=1)
"""
from .constants import (AU_INDEX, AU_NAMES, EMOTION_INDEX, EMOTION_VA, EMOTIONS, N_AUS,
                        OPENFACE_AUS, PAIN_LEVELS, PROTOTYPES, UNBC_AUS)
from .subjects import FaceGeometry, GroupEffect, Subject, group_effect
from .latent import Episode, ou_process
from .aus import compose_aus, pspi, select_aus
from .world import Session, World, pain_level_posterior
from .annotation import (ContinuousAnnotation, annotate_continuous, annotate_discrete,
                         annotate_facs, confusion_matrix, delayed, label_distribution, pain_reports)
from .ceilings import ccc, classification_ceiling, pain_ceiling, regression_ceiling

__all__ = [
    "AU_INDEX", "AU_NAMES", "EMOTION_INDEX", "EMOTION_VA", "EMOTIONS", "N_AUS", "OPENFACE_AUS",
    "PAIN_LEVELS", "PROTOTYPES", "UNBC_AUS", "FaceGeometry", "GroupEffect", "Subject",
    "group_effect", "Episode", "ou_process", "compose_aus", "pspi", "select_aus", "Session",
    "World", "pain_level_posterior", "ContinuousAnnotation", "annotate_continuous",
    "annotate_discrete", "annotate_facs", "confusion_matrix", "delayed", "label_distribution",
    "pain_reports", "ccc", "classification_ceiling", "pain_ceiling", "regression_ceiling",
]

# renderers
from .face import N_LANDMARKS, landmarks, make_background, render_face
from .video import VideoFrame, iter_video, render_video, write_video
from .voice import speaking_indicator, synth_voice
from .eyes import EyeTrace, eye_behaviour, fixation_map
from .physiology import physiology

__all__ += [
    "N_LANDMARKS", "landmarks", "make_background", "render_face", "VideoFrame", "iter_video",
    "render_video", "write_video", "speaking_indicator", "synth_voice", "EyeTrace",
    "eye_behaviour", "fixation_map", "physiology",
]
