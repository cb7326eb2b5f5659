"""The ``emobench`` command line: list, run, leaderboard, export, clean, synth,
doctor, explain, check, profile, annotate.

One module per group of commands, all registered on :data:`app`
(emobench.cli.base); ``main`` is the console script. Exit codes: 0 ok,
1 failed folds or checks, 2 usage errors, 130 interrupted.
"""

from __future__ import annotations

import os

from emobench.cli import corpus, listing, results, running  # noqa: F401  (they register commands)
from emobench.cli import score as _score  # noqa: F401  (emobench score)
from emobench.cli.base import app
from emobench.cli.common import command


def _mount_realtime() -> None:
    from emobench.realtime_cli import annotate_command, profile_command

    app.command("profile", help="Latency, FPS, FLOPs and memory of a model on this machine.")(
        command(profile_command))
    app.command("annotate", help="Annotate a video or camera stream with a model, live.")(
        command(annotate_command))


_mount_realtime()


def main() -> None:
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    # corrupt media are reported by emobench with their path; FFmpeg's own chatter is noise
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    app()


__all__ = ["app", "main"]
