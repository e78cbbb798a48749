"""Ctrl-C and SIGTERM: held while a temporary file is unguarded, and, under the CLI, sticky.

Sticky, because a ``KeyboardInterrupt`` raised by a signal handler does not always reach the
caller: about one Ctrl-C in 20 to 40 sent during ``hopdyn figures``' first save vanished (the
handler ran inside matplotlib's font lookup, and the exception never unwound a frame: some C code
cleared it; no message, and the run went on to exit 0; CI caught it). Under :func:`interrupts`
the handler also notes the signal, and :func:`checkpoint` raises it again: ``atomic_path`` calls
it before it creates a file and before the rename, the CLI when a command returns. A lost
interrupt still stops the run before its next write, and the exit status is 130.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: The signal an :func:`interrupts` block received, or None.
_pending: int | None = None


def _raise(signum: int, frame) -> None:
    global _pending
    _pending = signum
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def interrupts() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise ``KeyboardInterrupt`` (so that ``finally``
    blocks, ``atomic_path``'s clean-up among them, run on a killed run too) and stay pending for
    :func:`checkpoint`. Only in the main thread, where Python runs signal handlers."""
    global _pending
    if not _main_thread():
        yield
        return
    outer, _pending = _pending, None
    previous = {s: signal.signal(s, _raise) for s in _SIGNALS}
    try:
        yield
    finally:
        _pending = outer
        for s, handler in previous.items():
            signal.signal(s, handler)


def interrupted() -> bool:
    """Whether the :func:`interrupts` block now running has received a signal."""
    return _pending is not None


def checkpoint() -> None:
    """Raise ``KeyboardInterrupt`` if an interrupt arrived, even one that was swallowed."""
    if _pending is not None:
        raise KeyboardInterrupt


def hold() -> tuple[dict, list] | None:
    """Hold Ctrl-C and SIGTERM: until :func:`release`, one that arrives is only noted. Python
    runs signal handlers in the main thread only, so elsewhere nothing can interrupt and this
    returns None. (A signal mask would not do: a process-directed signal goes to any thread not
    masking it, torch's and pytest-xdist's included.)"""
    if not _main_thread():
        return None
    noted: list = []
    previous = {s: signal.signal(s, lambda signum, _frame: noted.append(signum)) for s in _SIGNALS}
    return previous, noted


def release(held: tuple[dict, list] | None) -> None:
    """Restore the handlers :func:`hold` replaced and act on a signal noted meanwhile as they
    would have (``KeyboardInterrupt`` under the defaults and under :func:`interrupts`)."""
    if held is None:
        return
    previous, noted = held
    for s, handler in previous.items():
        signal.signal(s, handler)
    if noted:
        signum = noted[0]
        handler = previous[signum]
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:
            os.kill(os.getpid(), signum)
