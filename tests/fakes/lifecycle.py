"""Stopping a fake server run as a process: on SIGTERM or SIGINT, cleanly, every time.

A Python signal handler runs in the main thread between two bytecodes, wherever that
thread is. One that sets a threading.Event takes the Event's lock: if the main thread
holds that lock at the moment (waiting on the Event), or a second signal lands while the
first handler holds it, the process deadlocks and never exits. Blocking the signals and
collecting them with sigwait does not do either: threads a library started at import
(numpy's BLAS pool) still take them, with the default action, and die of the next one.

So the handler does nothing, and the signal is read from a pipe instead: Python's own C
handler writes every signal's number to the wakeup fd, from whichever thread the kernel
picked, without a lock. The main thread waits on that pipe; later signals find a handler
that ignores them.
"""

from __future__ import annotations

import os
import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """Install in the main thread, first thing; `wait()` returns on SIGTERM or SIGINT."""

    def __init__(self) -> None:
        self._read, write = os.pipe()
        os.set_blocking(write, False)  # a storm of signals must never block the C handler
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        for number in STOP_SIGNALS:
            signal.signal(number, _ignore)

    def wait(self) -> signal.Signals:
        """Block until a stop signal has come (or had come already)."""
        return signal.Signals(os.read(self._read, 1)[0])


def _ignore(_number: int, _frame: object) -> None:
    """Nothing: the wakeup fd carries the signal. A handler must take no lock (see above)."""
