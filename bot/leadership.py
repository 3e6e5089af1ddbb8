"""Which instance long-polls Telegram: one at a time, or Telegram answers 409 Conflict.

On PostgreSQL the polling leader is whoever holds a session advisory lock on a dedicated
connection; the others run jobs only and retry every few seconds, so when the leader dies
(and PostgreSQL drops its connection and lock) one of them takes over. SQLite means one
instance, which always polls. In webhook mode Telegram pushes to every instance behind the
load balancer, so there is no leader at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from storage.db import Database
from storage.locks import TELEGRAM_POLLING, SessionLock, lock_key

log = logging.getLogger("claymate.leadership")

Transition = Callable[[], Awaitable[None]]


class PollingLeadership:
    """Hold the polling lock when possible; call `on_lead` / `on_lose` as that changes."""

    def __init__(self, db: Database, bot_id: str, *, retry_s: float = 5.0) -> None:
        # Keyed by bot id: bots that share one database don't block each other.
        key = lock_key(TELEGRAM_POLLING, bot_id)
        self.lock = SessionLock(db, key) if db.is_postgres else None
        self.retry_s = retry_s
        self.is_leader = False

    async def run(self, stop: asyncio.Event, on_lead: Transition, on_lose: Transition) -> None:
        """Until `stop`: become leader when the lock is free, step down if it is lost."""
        if self.lock is None:
            log.info("role: polling leader (SQLite: a single instance)")
            await self._lead(on_lead)
            await stop.wait()
            await self._step_down(on_lose)
            return
        said_standby = False
        try:
            while not stop.is_set():
                try:
                    if not self.is_leader:
                        if await self.lock.try_acquire():
                            log.info("role: polling leader (holds the polling lock)")
                            said_standby = False
                            await self._lead(on_lead)
                        elif not said_standby:
                            log.info(
                                "role: standby, jobs only (another instance polls; "
                                "retrying every %.0fs)",
                                self.retry_s,
                            )
                            said_standby = True
                    elif not await self.lock.still_held():
                        log.warning("role: lost the polling lock, stepping down to jobs only")
                        await self._step_down(on_lose)
                except Exception:  # the database is down: keep the jobs side running
                    log.warning("leadership check failed", exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.retry_s)
        finally:
            await self._step_down(on_lose)
            with contextlib.suppress(Exception):
                await self.lock.release()

    async def _lead(self, on_lead: Transition) -> None:
        try:
            await on_lead()
        except Exception:
            if self.lock is not None:  # let another instance try
                await self.lock.release()
            raise
        self.is_leader = True

    async def _step_down(self, on_lose: Transition) -> None:
        if self.is_leader:
            self.is_leader = False
            await on_lose()
