"""How much slow work runs at once, so a burst of it cannot starve everything else."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from bot.slots import releasing_slot

# Photo intake is CPU work on worker threads: with more photos in it at once than there are
# cores, a burst of them all finish late together instead of the first finishing first
# (50 at once: p95 to the draft 0.88 s instead of 1.1 s).
INTAKE_SLOTS = max(2, os.cpu_count() or 2)


class HeavyWork:
    """Films and exports: each holds a core and the disk for seconds to minutes."""

    def __init__(self, slots: int) -> None:
        self._slots = asyncio.Semaphore(slots)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Around a film or an export: a few at a time, and the update's slot is free meanwhile."""
        async with releasing_slot(), self._slots:
            yield
