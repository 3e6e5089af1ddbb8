"""The database as `claymate doctor` sees it: reachable, and at which Alembic revision."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.domain.health import SchemaState
from storage.db import Database, alembic_config


async def schema_state(db: Database) -> SchemaState:
    """Where the database's migrations stand; raises when it cannot be reached.

    Only reads: the doctor must never migrate, lock or create anything.
    """
    script = ScriptDirectory.from_config(alembic_config())
    heads = tuple(sorted(script.get_heads()))
    async with db.engine.connect() as connection:
        current = await connection.run_sync(_current_heads)
    known = all(_has_revision(script, revision) for revision in current)
    return SchemaState(current=tuple(sorted(current)), heads=heads, known=known)


def _current_heads(connection: Any) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def _has_revision(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic's ResolutionError / CommandError for an unknown id
        return False
