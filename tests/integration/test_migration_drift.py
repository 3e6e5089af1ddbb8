"""The migrations and storage.models describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.db import Database
from storage.models import Base


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_a_freshly_migrated_database_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_the_ledger_key_is_created_once_by_the_migration(database: Database) -> None:
    from sqlalchemy import select

    from storage.models import BotSetting

    async with database.session() as session:
        key = await session.scalar(select(BotSetting.value).where(BotSetting.key == "ledger_key"))
    assert isinstance(key, str) and len(bytes.fromhex(key)) == 32
