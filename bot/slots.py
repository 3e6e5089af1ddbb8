"""How many updates work on the event loop at once, and how a long wait gives its turn away.

Every turn of the asyncio loop runs one step of every update in progress. With hundreds
in progress (a burst of Generate presses) a turn took 290 ms, and everything else on the
loop (the job runner, status edits, the health endpoint) waited that long. So at most
`slots` updates are in progress; the rest wait, first come first served.

An update that is only waiting for another service (an LLM draft, a Kling still, a film
being assembled on a worker thread) puts no load on the loop, and must not keep a slot
from everyone else for the 5 to 60 seconds that takes: around such a wait, it hands its
slot back (`releasing_slot`) and queues for one again when the answer is in. It queues
ahead of updates that have not started: under a burst of 50 captioned photos, a draft
whose LLM answer was in waited behind every newer photo's download and intake, so every
draft of the burst came out in the last few hundred milliseconds, where Telegram's
30 messages a second then held them back too (bench/bench_drafts.py). Finishing what
was started first answers the first photos at once and spreads the drafts out.

At most MAX_IN_FLIGHT updates are in flight (at work, or waiting on another service), as
PTB bounds them. An update waiting only for Telegram's flood limits (a group's 20 messages
a minute, a 429) leaves that count too (`releasing_slot(in_flight=True)`): a group
flooding the bot with commands would otherwise fill every place in flight with its own
waits, and a private /start would queue behind them all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from contextvars import ContextVar
from typing import Any

from telegram.ext import BaseUpdateProcessor

# PTB's own bound on updates in flight, those waiting elsewhere included (its default).
MAX_IN_FLIGHT = 256


class _Slots:
    """A semaphore whose waiters coming back from a wait go before those yet to start.

    Each queue is first come first served. asyncio.Semaphore has one queue, so an update
    back from its LLM answer would wait behind every update that arrived meanwhile.
    """

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._returning: deque[asyncio.Future[None]] = deque()
        self._starting: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, returning: bool) -> None:
        if self._free > 0 and not self._returning and (returning or not self._starting):
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._returning if returning else self._starting
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the slot as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # release() may have dropped it
                    queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the slot to the first update back from a wait, else to the next new one."""
        for queue in (self._returning, self._starting):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1


class _Slot:
    """The slot (and place in flight) one update's task holds; only that task hands it back."""

    __slots__ = ("_in_flight", "_slots", "flying", "held", "task")

    def __init__(self, slots: _Slots, in_flight: asyncio.Semaphore) -> None:
        self._slots, self._in_flight = slots, in_flight
        self.task = asyncio.current_task()
        self.held = self.flying = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self._slots.release()

    async def take(self) -> None:
        await self._slots.acquire(returning=True)
        self.held = True

    def land(self) -> None:
        """No longer counted in flight."""
        if self.flying:
            self.flying = False
            self._in_flight.release()

    async def take_off(self) -> None:
        await self._in_flight.acquire()
        self.flying = True


_current: ContextVar[_Slot | None] = ContextVar("claymate_update_slot", default=None)


class UpdateSlots(BaseUpdateProcessor):
    """PTB update processor: `slots` updates at work at once, the rest in arrival order."""

    def __init__(self, slots: int) -> None:
        super().__init__(max(slots, MAX_IN_FLIGHT))
        self.slots = slots
        self._free = _Slots(slots)
        self._in_flight = asyncio.Semaphore(self.max_concurrent_updates)

    # PTB marks it final; overriding it is how its bound gives way to ours (see docstring).
    async def process_update(  # type: ignore[misc]
        self, update: object, coroutine: Awaitable[Any]
    ) -> None:
        """PTB's bound on updates in flight is replaced by ours, which flood waits leave."""
        await self.do_process_update(update, coroutine)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await self._in_flight.acquire()
        try:
            await self._free.acquire(returning=False)
        except BaseException:
            self._in_flight.release()
            raise
        slot = _Slot(self._free, self._in_flight)
        token = _current.set(slot)
        try:
            await coroutine
        finally:
            _current.reset(token)
            slot.give_back()
            slot.land()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


@contextlib.asynccontextmanager
async def releasing_slot(*, in_flight: bool = False) -> AsyncIterator[None]:
    """Around a long wait for another service: the update's slot is free meanwhile.

    With in_flight, the update also stops counting as in flight while it waits: for waits
    that only time ends (Telegram's flood limits), however many updates wait so.
    Outside an update (the job runner, the CLI), or in a task an update spawned, there
    is no slot to give back and this does nothing.
    """
    slot = _current.get()
    if slot is None or not slot.held or slot.task is not asyncio.current_task():
        yield
        return
    slot.give_back()
    if in_flight:
        slot.land()
    try:
        yield
    finally:
        if in_flight:
            await slot.take_off()
        await slot.take()
