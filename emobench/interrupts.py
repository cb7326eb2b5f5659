"""The harness owns SIGINT and SIGTERM.

A library may swallow ``KeyboardInterrupt`` (scikit-learn's MLP catches it,
prints "Training interrupted by user" and returns a half-trained model), so the
signal itself is not enough: the handler records which signal arrived, then
raises ``KeyboardInterrupt`` as Python's default handler would. The runner calls
:func:`check` after every trial and before committing a fold, which raises again
when a signal arrived and was swallowed: an interrupted fold is released, never
stored.
"""

from __future__ import annotations

import signal
import threading

_state = {"signal": None}
_installed: dict[int, object] = {}


def _handler(signum, _frame):
    _state["signal"] = signum
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install() -> bool:
    """Install the handlers in this process (main thread only; elsewhere, e.g. a
    Dask worker thread, nothing happens and False is returned)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in (signal.SIGINT, signal.SIGTERM):
        if sig not in _installed:
            _installed[sig] = signal.signal(sig, _handler)
    return True


def restore() -> None:
    """Put back the handlers :func:`install` replaced."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, old in list(_installed.items()):
        signal.signal(sig, old)
        del _installed[sig]


def received() -> int | None:
    """The signal number that interrupted this process, or None."""
    return _state["signal"]


def clear() -> None:
    _state["signal"] = None


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a signal arrived (even one a library swallowed)."""
    if _state["signal"] is not None:
        raise KeyboardInterrupt(signal.Signals(_state["signal"]).name)


def exit_code(signum: int | None) -> int:
    """The shell's convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signum or signal.SIGINT)
