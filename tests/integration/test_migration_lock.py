"""Several instances migrating one fresh database at once: all succeed, the schema once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from storage.db import Database, alembic_config

INSTANCES = 4


def alembic_heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())


async def _versions(url: str) -> list[str]:
    db = Database.from_url(url)
    try:
        async with db.engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return sorted(row[0] for row in rows)
    finally:
        await db.dispose()


async def test_concurrent_upgrades_of_a_fresh_database_all_succeed(
    empty_database_url: str,
) -> None:
    databases = [Database.from_url(empty_database_url) for _ in range(INSTANCES)]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(db.upgrade() for db in databases), return_exceptions=True),
            timeout=60,
        )
    finally:
        for db in databases:
            await db.dispose()
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await _versions(empty_database_url) == sorted(alembic_heads())


async def test_a_failed_migration_releases_the_lock(empty_database_url: str) -> None:
    blocker = Database.from_url(empty_database_url)
    async with blocker.engine.begin() as connection:  # the initial migration creates it too
        await connection.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY)"))
    failed = Database.from_url(empty_database_url)
    try:
        with pytest.raises(Exception, match="users"):
            await failed.upgrade()
        async with blocker.engine.begin() as connection:
            await connection.execute(text("DROP TABLE users"))
        # `failed` stays open: a connection of its pool holding the lock would block this.
        await asyncio.wait_for(blocker.upgrade(), timeout=30)
    finally:
        await failed.dispose()
        await blocker.dispose()
    assert await _versions(empty_database_url) == sorted(alembic_heads())


async def test_a_fresh_sqlite_file_held_by_another_writer_waits_instead_of_failing(
    tmp_path: Path,
) -> None:
    """Switching a new file to WAL needs the exclusive lock, and SQLite refuses at once
    (no busy wait) while another connection holds the write lock in rollback-journal mode;
    a second instance starting beside the first met exactly that."""
    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE scratch (id INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO scratch VALUES (1)")
    release = asyncio.get_running_loop().call_later(0.5, holder.execute, "COMMIT")
    database = Database.from_url(f"sqlite+aiosqlite:///{path}", lock_wait_s=10)
    try:
        await asyncio.wait_for(database.upgrade(), timeout=30)
    finally:
        release.cancel()
        holder.close()
        await database.dispose()
    assert await _versions(f"sqlite+aiosqlite:///{path}") == sorted(alembic_heads())
