"""Stand-in IEMOCAP tree from the synthetic affect world, in the real layout.

Per session one dyad (speakers ``Ses0nF`` and ``Ses0nM``) and its dialogs
(``Ses0nF_impro01``, ``Ses0nM_script01_1b``: the id suffix of the real copy). Each
turn is an ``emobench.sim.voice.talking_clip`` of its speaker: the turn's wav
(16 kHz, 16-bit) under ``sentences/wav/<dialog>/``, and the dialog AVI under
``dialog/avi/DivX/`` is the turns' frames and voices back to back (the speaking
actor's face; the real video shows both actors), so the summary lines' times cut
each turn out of it. EmoEvaluation and transcription files are latin-1 (a comment
holds an accented word), with ``%`` comments, ``C-E1``/``C-E2``/self-evaluation
``C-F``/``C-M`` and ``A-E3`` lines, and AppleDouble ``._*`` twins beside real files.

Turn codes per speaker follow the corpus's mix (:data:`CODES`): neutral, happy,
excited (rendered as happiness, at the same prosody), sad, angry, frustrated
(rendered as disgust-like tension) and ``xxx`` (evaluators disagreed: the face
acts one emotion, the voice another). In :data:`P_DISAGREE` of the labelled turns
one modality stays neutral (half the face, half the voice), so fusion has
something to gain.
"""

from __future__ import annotations

import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench.media.av import write_clip
from emobench.sim import World
from emobench.sim.rng import derive
from emobench.sim.voice import talking_clip

from . import layout as L

SIM = {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "anger",
       "fru": "disgust"}
NO_AGREEMENT = ("happy", "sad")  # face, voice of an "xxx" turn (the evaluators disagreed)
NAMES = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "sad": "Sadness",
         "ang": "Anger", "fru": "Frustration"}
VAD = {"neu": (3.0, 2.5, 2.5), "hap": (4.0, 3.0, 3.0), "exc": (4.0, 4.0, 3.5),
       "sad": (2.0, 2.0, 2.0), "ang": (1.5, 4.0, 4.0), "fru": (2.0, 3.5, 3.0), "xxx": (3.0, 3.0, 3.0)}
P_DISAGREE = 0.2
AUDIO_RATE = L.AUDIO_RATE


@dataclass(frozen=True)
class Scale:
    sessions: int
    codes: tuple[str, ...]  # per speaker, spread over the session's dialogs
    dialogs: tuple[str, ...]
    seconds: float
    fps: float
    frame_size: tuple[int, int]
    jobs: int


SMALL_CODES = ("neu", "neu", "neu", "hap", "hap", "exc", "exc", "sad", "sad", "sad",
               "ang", "ang", "ang", "fru", "xxx")
SCALES = {
    "tiny": Scale(3, ("neu", "hap", "exc", "sad", "ang", "fru"), ("F_impro01",), 1.2, 10.0,
                  (128, 96), 1),
    # 5 sessions x 2 speakers x 15 turns: 150 turns, 130 in the 4-class task; the
    # capped default run tests every session (2 speakers each) once
    "small": Scale(5, SMALL_CODES, ("F_impro01", "M_script01_1b"), 1.2, 10.0, (160, 120), 2),
    "full": Scale(5, SMALL_CODES * 6, ("F_impro01", "F_impro02", "M_script01_1b",
                                      "M_script02_2"), 2.0, 30.0, (320, 240), 2),
}


def disagreement(seed: int, turn: str) -> str | None:
    u = derive(seed, "iemocap-disagree", turn).random()
    return None if u >= P_DISAGREE else ("face" if u < P_DISAGREE / 2 else "voice")


def plan(sc: Scale) -> dict[str, list[tuple[str, str]]]:
    """dialog -> [(turn id, code)] in speaking order (F and M alternate)."""
    out = {}
    for s in range(1, sc.sessions + 1):
        per = {g: [c for c in sc.codes] for g in "FM"}
        for d_i, suffix in enumerate(sc.dialogs):
            dialog = f"Ses{s:02d}{suffix}"
            rows, counters = [], {"F": 0, "M": 0}
            mine = {g: per[g][d_i::len(sc.dialogs)] for g in "FM"}
            for k in range(max(len(v) for v in mine.values())):
                for g in ("F", "M") if (s + k) % 2 else ("M", "F"):
                    if k < len(mine[g]):
                        rows.append((f"{dialog}_{g}{counters[g]:03d}", mine[g][k]))
                        counters[g] += 1
            out[dialog] = rows
    return out


def _render(seed: int, turn: str, code: str, sc: Scale):
    session, gender = int(turn[3:5]), turn.rsplit("_", 1)[1][0]
    world = World(seed)
    person = world.subject(2 * (session - 1) + (gender == "M"),
                           {"corpus": "iemocap", "gender": gender})
    name = zlib.crc32(turn.encode("ascii")) % 1_000_003  # names the clip reproducibly
    if code == "xxx":
        face, voice = NO_AGREEMENT
    else:
        quiet = disagreement(seed, turn)
        face = "neutral" if quiet == "face" else SIM[code]
        voice = "neutral" if quiet == "voice" else SIM[code]
    frames, wave, _ = talking_clip(world, person, face, sc.seconds, sc.fps, size=sc.frame_size,
                                   sample_rate=AUDIO_RATE, rng=name, face_emotion=face,
                                   voice_emotion=voice)
    return frames, wave


def _write_dialog(out: Path, seed: int, dialog: str, rows, sc: Scale) -> None:
    sess = out / f"Session{int(dialog[3:5])}"
    wavdir = sess / "sentences" / "wav" / dialog
    wavdir.mkdir(parents=True, exist_ok=True)
    frames_all, waves = [], []
    for turn, code in rows:
        frames, wave = _render(seed, turn, code, sc)
        n = int(round(sc.seconds * sc.fps))
        frames_all.append(frames[:n])
        waves.append(wave[:int(round(sc.seconds * AUDIO_RATE))])
        write_clip(wavdir / f"{turn}.wav", None, sc.fps, waves[-1], AUDIO_RATE)
    avi = sess / "dialog" / "avi" / "DivX" / f"{dialog}.avi"
    avi.parent.mkdir(parents=True, exist_ok=True)
    write_clip(avi, np.concatenate(frames_all), sc.fps, np.concatenate(waves), AUDIO_RATE)


def _evaluation(dialog: str, rows, sc: Scale) -> str:
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]",
             "% stand-in written by emobench.sim (synthétique, latin-1)", ""]
    for k, (turn, code) in enumerate(rows):
        start, end = k * sc.seconds, (k + 1) * sc.seconds
        v, a, d = VAD[code]
        lines.append(f"[{start:.4f} - {end:.4f}]\t{turn}\t{code}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
        if code == "xxx":
            evals = ("Happiness", "Sadness", "Anger")
        else:
            evals = (NAMES[code], NAMES[code], "Neutral" if code != "neu" else NAMES[code])
        for i, name in enumerate(evals[:2], 1):
            lines.append(f"C-E{i}:\t{name};\t()")
        lines.append(f"C-{turn.rsplit('_', 1)[1][0]}:\t{evals[2]};\t()")
        lines.append(f"A-E3:\tval {int(v)}; act {int(a)}; dom  {int(d)};\t()")
        lines.append("")
    return "\n".join(lines) + "\n"


def _transcription(rows, sc: Scale) -> str:
    words = {"neu": "I see.", "hap": "That is wonderful!", "exc": "Oh, really? Yes!",
             "sad": "I miss her so much.", "ang": "Don't you dare!", "fru": "This never works.",
             "xxx": "Well... I don't know."}
    return "".join(f"{t} [{k * sc.seconds:08.4f}-{(k + 1) * sc.seconds:08.4f}]: {words[c]}\n"
                   for k, (t, c) in enumerate(rows))


APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + b"\x00" * 40


def write_standin(out: Path, scale: str = "small", seed: int = 0) -> dict:
    if scale not in SCALES:
        raise ValueError(f"iemocap stand-in: unknown scale {scale!r} (known: {', '.join(SCALES)})")
    sc = SCALES[scale]
    out = Path(out)
    for d in out.glob("Session*"):
        shutil.rmtree(d, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    dialogs = plan(sc)
    for dialog, rows in dialogs.items():
        sess = out / f"Session{int(dialog[3:5])}" / "dialog"
        for sub, text in (("EmoEvaluation", _evaluation(dialog, rows, sc)),
                          ("transcriptions", _transcription(rows, sc))):
            (sess / sub).mkdir(parents=True, exist_ok=True)
            (sess / sub / f"{dialog}.txt").write_bytes(text.encode("latin-1"))
        (sess / "EmoEvaluation" / f"._{dialog}.txt").write_bytes(APPLEDOUBLE)
    jobs = [(out, seed, d, rows, sc) for d, rows in dialogs.items()]
    if sc.jobs > 1:
        from joblib import Parallel, delayed
        Parallel(n_jobs=sc.jobs)(delayed(_write_dialog)(*j) for j in jobs)
    else:
        for j in jobs:
            _write_dialog(*j)
    for dialog, rows in dialogs.items():  # an AppleDouble twin of one wav per dialog
        wavdir = out / f"Session{int(dialog[3:5])}" / "sentences" / "wav" / dialog
        (wavdir / f"._{rows[0][0]}.wav").write_bytes(APPLEDOUBLE)
    turns = [(t, c) for rows in dialogs.values() for t, c in rows]
    quiet = [disagreement(seed, t) for t, c in turns if c != "xxx"]
    per_code = {c: sum(x == c for _, x in turns) for c in sorted({c for _, c in turns})}
    four = {name: sum(L.labels_of(c) == i for _, c in turns) for i, name in enumerate(L.CLASSES_4)}
    return {
        "scale": scale, "seed": seed,
        # the label is the state the turn was generated from (excited is rendered as
        # happiness and merged with it, frustration has its own rendering), so an oracle on
        # the latent state is exact on every test set
        "ceilings": {t: {"exact": "the label is the generator's class of the turn"}
                     for t in ("emotion-4", "emotion-4-noexc", "emotion-5")},
        "counts": {"recordings": sum(c != "xxx" for _, c in turns), "turns": len(turns),
                   "subjects": 2 * sc.sessions, "sessions": sc.sessions,
                   "dialogs": len(dialogs), "per_code": per_code, "emotion-4": four,
                   "disagreeing_turns": sum(q is not None for q in quiet),
                   "face_neutral": quiet.count("face"), "voice_neutral": quiet.count("voice")},
        "p_disagree": P_DISAGREE, "seconds": sc.seconds, "fps": sc.fps,
        "frame_size": list(sc.frame_size), "audio_rate": AUDIO_RATE,
    }
