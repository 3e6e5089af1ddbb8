"""The schema: migrations applied twice change nothing — on SQLite and PostgreSQL."""

from __future__ import annotations

from storage.db import Database


async def test_migrations_are_idempotent(database_url: str) -> None:
    db = Database.from_url(database_url)
    try:
        await db.upgrade()  # already at head: a no-op, not an error
    finally:
        await db.dispose()
