"""PostgreSQL's pool: a connection is checked before use only when it has sat idle, so a
burst of updates pays no ping, and a server restart still goes unnoticed by users."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from storage.db import Database


def _count_pings(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pings: list[float] = []
    dialect = db.engine.sync_engine.dialect
    real = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(asyncio.get_running_loop().time())
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


async def _backend_pid(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_used_moments_ago_is_not_pinged(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ping is three round trips (BEGIN, ";", ROLLBACK): per unit of work it cost more
    # than the transaction itself. In a burst the pool's connections are seconds fresh.
    db = Database.from_url(postgres_database_url)
    try:
        first = await _backend_pid(db)
        pings = _count_pings(db, monkeypatch)
        for _ in range(5):
            assert await _backend_pid(db) == first
        assert pings == []
    finally:
        await db.dispose()


async def test_an_idle_connection_is_pinged_and_a_dead_one_replaced_unseen(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A restart, a failover or an idle timeout ends sessions while they sit in the pool:
    # the next unit of work gets a new connection instead of an error.
    db = Database.from_url(postgres_database_url, ping_after_idle_s=0.05)
    admin = Database.from_url(postgres_database_url)
    try:
        first = await _backend_pid(db)
        pings = _count_pings(db, monkeypatch)
        async with admin.session() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.2)
        second = await _backend_pid(db)
        assert second != first
        assert len(pings) >= 1
        # Idle again, but alive: pinged, and kept.
        await asyncio.sleep(0.2)
        assert await _backend_pid(db) == second
        assert len(pings) >= 2
    finally:
        await db.dispose()
        await admin.dispose()
