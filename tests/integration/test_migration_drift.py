"""The migrations and storage.models describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from storage.db import Database, alembic_config
from storage.models import Base, BotSetting, UsageEntry, utcnow
from storage.repos.accounts import AccountsRepo, ledger_hash


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_a_freshly_migrated_database_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_the_ledger_key_is_created_once_by_the_migration(database: Database) -> None:
    async with database.session() as session:
        key = await session.scalar(select(BotSetting.value).where(BotSetting.key == "ledger_key"))
    assert isinstance(key, str) and len(bytes.fromhex(key)) == 32


async def _upgrade_to(database: Database, revision: str) -> None:
    def run(connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(run)


async def test_0003_hashes_existing_spending_and_keeps_a_used_allowlist_on(
    empty_database_url: str,
) -> None:
    database = Database.from_url(empty_database_url)
    try:
        await _upgrade_to(database, "0002_groups")
        async with database.engine.begin() as connection:
            now = utcnow()
            await connection.execute(
                text(
                    "INSERT INTO usage_ledger (user_id, chat_id, units, state, created_at,"
                    " updated_at) VALUES (7, NULL, 1.5, 'charged', :now, :now),"
                    " (NULL, -100, 2.0, 'reserved', :now, :now)"
                ),
                {"now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO access_entries (subject_id, status, changed_at)"
                    " VALUES (7, 'denied', :now), (8, 'refused', :now)"
                ),
                {"now": now},
            )
        await database.upgrade()
        async with database.session() as session:
            key = await session.scalar(
                select(BotSetting.value).where(BotSetting.key == "ledger_key")
            )
            rows = (await session.execute(select(UsageEntry).order_by(UsageEntry.id))).scalars()
            hashes = [(r.user_hash, r.kind) for r in rows]
            mode = await AccountsRepo(session).setting("access_mode")
        assert hashes == [(ledger_hash(key, 7), "take"), (None, "take")]
        assert mode == "allowlist"
    finally:
        await database.dispose()
