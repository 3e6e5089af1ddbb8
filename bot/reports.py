"""Error reports to the operators: one per kind a minute, however many errors a storm brings.

A broken handler under load fails for every user at once; one report per failure would
bury the operators' chat (and spend the bot's Telegram budget) in identical messages. The
first error of a kind is reported at once; the rest of its window are counted, and the
count is told when the window ends ("…and 37 more like this in the last minute"). Memory
stays bounded: at most `max_kinds` kinds are tracked, the rest share one window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("claymate.reports")

OTHER_KINDS = "other errors"


@dataclass
class _Window:
    """One kind's current window: when it ends and how many reports it held back."""

    ends: float
    suppressed: int = 0
    summary: asyncio.Task[None] | None = None


SendSummary = Callable[[str, int], Awaitable[object]]


class ErrorReports:
    """Decides which error reports go out now; tells the held-back count later."""

    def __init__(
        self, send_summary: SendSummary, *, window_s: float = 60.0, max_kinds: int = 64
    ) -> None:
        self._send_summary = send_summary
        self.window_s = window_s
        self.max_kinds = max_kinds
        self._windows: dict[str, _Window] = {}

    def admit(self, kind: str) -> bool:
        """True: report this error now. False: it is counted into its kind's summary."""
        now = asyncio.get_running_loop().time()
        self._sweep(now)
        if kind not in self._windows and len(self._windows) >= self.max_kinds:
            kind = OTHER_KINDS
        window = self._windows.get(kind)
        if window is None:
            self._windows[kind] = _Window(ends=now + self.window_s)
            return True
        window.suppressed += 1
        if window.summary is None:
            window.summary = asyncio.create_task(self._summarise(kind, window))
        return False

    def _sweep(self, now: float) -> None:
        """Forget windows that ended with nothing held back (those with a summary end it)."""
        ended = [k for k, w in self._windows.items() if w.ends <= now and w.summary is None]
        for kind in ended:
            del self._windows[kind]

    async def _summarise(self, kind: str, window: _Window) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(window.ends - loop.time(), 0.0))
        # The summary is this kind's report for the next window: a storm that goes on gets
        # one message a window, not one per error.
        self._windows[kind] = _Window(ends=loop.time() + self.window_s)
        try:
            await self._send_summary(kind, window.suppressed)
        except Exception:
            log.warning("could not send the error summary to the admin chat")
