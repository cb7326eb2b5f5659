"""Fixed vocabularies of the synthetic affect world: action units, emotions, pain levels.

Everything else in :mod:`emobench.sim` indexes arrays with these tuples, so a corpus
stand-in writer can select columns by name (``AU_NAMES.index("AU12")``) and never
depends on a position.
"""
from __future__ import annotations

import numpy as np

#: Every action unit the world simulates, in column order of ``Session.aus``.
#: The 17 OpenFace 1.0 intensity AUs plus AU16, AU27, AU43 (eyes closed) and
#: AU50 (speech), which UNBC-McMaster codes.
AU_NAMES: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14",
    "AU15", "AU16", "AU17", "AU20", "AU23", "AU25", "AU26", "AU27", "AU43", "AU45", "AU50",
)
AU_INDEX: dict[str, int] = {name: i for i, name in enumerate(AU_NAMES)}
N_AUS = len(AU_NAMES)

#: The 17 AUs whose intensity OpenFace 1.0 estimates (AVEC 2019 / SEWA baseline header order).
OPENFACE_AUS: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14",
    "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45",
)
#: AUs coded manually in UNBC-McMaster frame labels (AU43 binary).
UNBC_AUS: tuple[str, ...] = (
    "AU04", "AU06", "AU07", "AU09", "AU10", "AU12", "AU15", "AU20", "AU25", "AU26", "AU27", "AU43", "AU50",
)

#: Discrete emotion classes, index order used for ``Session.emotion_activation`` columns.
EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "surprise", "fear", "anger", "disgust")
EMOTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(EMOTIONS)}

#: Circumplex position (valence, arousal) of each emotion at full intensity.
EMOTION_VA: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.0),
    "happy": (0.7, 0.45),
    "sad": (-0.6, -0.4),
    "surprise": (0.15, 0.75),
    "fear": (-0.6, 0.7),
    "anger": (-0.65, 0.6),
    "disgust": (-0.6, 0.25),
}

#: BioVid heat-pain classes (class_id 0..4).
PAIN_LEVELS: tuple[str, ...] = ("BL1", "PA1", "PA2", "PA3", "PA4")


def _proto(**kw: float) -> np.ndarray:
    row = np.zeros(N_AUS)
    for name, value in kw.items():
        row[AU_INDEX[name]] = value
    return row


#: FACS prototypes: AU intensity (0..5 scale) at the apex of a full-intensity display.
#: Core AUs follow the EMFACS tables; a few secondary AUs (AU25 with jaw drop, AU17 with
#: sadness/anger) are added at lower intensity because they co-occur in spontaneous data.
PROTOTYPES: dict[str, np.ndarray] = {
    "neutral": _proto(),
    "happy": _proto(AU06=2.6, AU12=3.6, AU25=1.0),
    "sad": _proto(AU01=2.6, AU04=2.0, AU15=2.6, AU17=1.2),
    "surprise": _proto(AU01=3.0, AU02=3.0, AU05=2.6, AU26=3.0, AU25=1.6, AU27=0.6),
    "fear": _proto(AU01=2.6, AU02=2.0, AU04=2.0, AU05=2.6, AU20=2.6, AU26=1.6, AU25=1.4),
    "anger": _proto(AU04=3.2, AU05=1.6, AU07=2.6, AU23=2.6, AU17=1.0),
    "disgust": _proto(AU09=3.2, AU15=1.6, AU16=1.8, AU10=1.2),
    # Prkachin & Solomon pain cluster; AU43 handled separately as a binary eye closure.
    "pain": _proto(AU04=2.6, AU06=2.2, AU07=2.6, AU09=1.6, AU10=2.2, AU25=0.8, AU26=0.4),
}
#: Emotion prototypes as a (7, N_AUS) matrix, rows in :data:`EMOTIONS` order.
PROTOTYPE_MATRIX = np.stack([PROTOTYPES[e] for e in EMOTIONS])

#: How the continuous state drives AUs: columns are the features
#: [valence+, valence-, arousal+, arousal-] (rectified parts), rows are AUs.
VA_FEATURES: tuple[str, ...] = ("valence_pos", "valence_neg", "arousal_pos", "arousal_neg")
VA_MAP = np.zeros((N_AUS, 4))
for _au, _w in {"AU12": (3.0, 0, 0, 0), "AU06": (2.0, 0, 0.3, 0), "AU14": (0.5, 0.3, 0, 0),
                "AU04": (0, 2.2, 0.3, 0), "AU15": (0, 1.8, 0, 0.3), "AU17": (0, 0.9, 0, 0),
                "AU01": (0, 0.6, 1.4, 0), "AU02": (0, 0, 1.5, 0), "AU05": (0, 0, 1.8, 0),
                "AU25": (0.5, 0, 1.4, 0), "AU26": (0, 0, 1.3, 0), "AU07": (0, 0.6, 0.4, 0),
                "AU10": (0, 0.6, 0, 0), "AU43": (0, 0, 0, 0.0), "AU45": (0, 0, 0, 0.6)}.items():
    VA_MAP[AU_INDEX[_au]] = _w
del _au, _w
