"""Several instances migrating one fresh database at once: all succeed, the schema once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from storage.db import Database, alembic_config
from tests.conftest import _pg_admin_url
from tests.databases import execute_autocommit, with_database

INSTANCES = 4


def alembic_heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all, as a first deployment finds it."""
    if request.param == "sqlite":
        yield f"sqlite+claymate:///{tmp_path / 'fresh.db'}"
        return
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL variant not run")
    name = f"claymate_fresh_{uuid.uuid4().hex[:12]}"
    await execute_autocommit(admin, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin, name)
    finally:
        await execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _versions(url: str) -> list[str]:
    db = Database.from_url(url)
    try:
        async with db.engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return sorted(row[0] for row in rows)
    finally:
        await db.dispose()


async def test_concurrent_upgrades_of_a_fresh_database_all_succeed(
    fresh_database_url: str,
) -> None:
    databases = [Database.from_url(fresh_database_url) for _ in range(INSTANCES)]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(db.upgrade() for db in databases), return_exceptions=True),
            timeout=60,
        )
    finally:
        for db in databases:
            await db.dispose()
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await _versions(fresh_database_url) == sorted(alembic_heads())


async def test_a_failed_migration_releases_the_lock(fresh_database_url: str) -> None:
    blocker = Database.from_url(fresh_database_url)
    async with blocker.engine.begin() as connection:  # the initial migration creates it too
        await connection.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY)"))
    failed = Database.from_url(fresh_database_url)
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
    assert await _versions(fresh_database_url) == sorted(alembic_heads())
