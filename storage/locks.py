"""Process-lifetime database locks and a liveness probe (the SQL stays in storage/)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

if TYPE_CHECKING:  # storage.db takes the migrations lock from here
    from storage.db import Database

log = logging.getLogger(__name__)

# One name per purpose: two purposes sharing a name would make unrelated work wait on each
# other (or, worse, let two instances into the same critical section under different names).
MIGRATIONS = "migrations"  # held while Alembic runs: instances starting together take turns
TELEGRAM_POLLING = "telegram-polling"  # per bot id: only one instance long-polls Telegram
PROVIDER_SLOTS = "provider-slots"  # per provider: one instance at a time takes a slot
USER_TAKES = "user-takes"  # per user: one instance at a time counts a user's takes at work
BUDGET = "budget"  # per user or group: reservations against one budget take turns


async def ping(db: Database) -> None:
    """Raise if the database cannot answer a trivial query."""
    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def lock_key(name: str, *parts: object) -> int:
    """The signed 64-bit PostgreSQL advisory-lock key for a purpose and what it guards.

    Every advisory lock in Claymate takes its key from here, so keys of different purposes
    cannot collide by construction (short of SHA-256). Parts are encoded with their types,
    so ("budget", 5) and ("budget", "5") or ("a", "b:c") and ("a:b", "c") differ.
    """
    encoded = json.dumps(["claymate", name, *(_part(p) for p in parts)], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(encoded.encode()).digest()[:8], "big", signed=True)


def _part(part: object) -> object:
    if isinstance(part, bool) or not isinstance(part, int | str):
        raise TypeError(f"lock key parts are ints or strings, not {type(part).__name__}")
    return part


async def hold_for_transaction(session: AsyncSession, key: int) -> None:
    """Wait for a PostgreSQL advisory lock that the end of the transaction releases."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


class SessionLock:
    """A PostgreSQL session advisory lock held on a dedicated connection.

    The lock lives as long as the connection: if this process dies, or the connection
    breaks, PostgreSQL releases it and another instance can take it.
    """

    def __init__(self, db: Database, key: int) -> None:
        self.db = db
        self.key = key
        self._connection: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    async def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits."""
        if self._connection is not None:
            return True
        connection = await self.db.engine.connect()
        try:
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            )
            # End the implicit transaction: the session lock outlives it, a transaction
            # left open would hold back vacuum for the process's lifetime.
            await connection.commit()
        except BaseException:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def still_held(self) -> bool:
        """Check the connection (and so the lock) is alive; drop it if not."""
        if self._connection is None:
            return False
        try:
            await self._connection.execute(text("SELECT 1"))
            await self._connection.commit()
            return True
        except Exception:
            log.warning("leadership connection lost", exc_info=True)
            await self._discard(invalidate=True)
            return False

    async def release(self) -> None:
        if self._connection is None:
            return
        try:
            await self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}
            )
            await self._connection.commit()
        except Exception:
            log.warning("could not unlock; dropping the connection frees it", exc_info=True)
            await self._discard(invalidate=True)
            return
        await self._discard(invalidate=False)

    async def _discard(self, *, invalidate: bool) -> None:
        # A pooled connection would keep a session lock: one that may hold it is thrown away.
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if invalidate:
                await connection.invalidate()
            await connection.close()
        except Exception:
            log.debug("closing the leadership connection failed", exc_info=True)
