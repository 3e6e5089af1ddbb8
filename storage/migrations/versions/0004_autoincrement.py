"""ids never repeat on SQLite (AUTOINCREMENT); shots get a random folder name for their files

Revision ID: 0004_autoincrement
Revises: 0003_ledger
Create Date: 2026-12-07 01:00:00

Old buttons in a chat carry row ids, and SQLite hands out the id of a deleted newest row
again unless the table is AUTOINCREMENT; so these tables are rebuilt with it, and
sqlite_sequence starts at the current largest id. PostgreSQL's sequences never go back:
nothing to do there. storage.db.Database.upgrade turns foreign keys off around SQLite
migrations (a table rebuild's DROP would otherwise cascade into its children) and checks
every reference before committing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_autoincrement"
down_revision: str | None = "0003_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Parents before children, as SQLite's ALTER procedure has it.
TABLES = (
    "projects",
    "shots",
    "prompt_revisions",
    "takes",
    "take_events",
    "usage_ledger",
    "media_groups",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=True)
        _seed_sequences()
    with op.batch_alter_table("shots") as batch:
        batch.add_column(sa.Column("files_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shots") as batch:
        batch.drop_column("files_id")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def _seed_sequences() -> None:
    """Start each table's sequence at its largest id (copying rows may already have)."""
    bind = op.get_bind()
    for table in TABLES:
        top = bind.execute(sa.text(f"SELECT max(id) FROM {table}")).scalar()
        if top is None:
            continue
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :seq)"),
            {"t": table, "seq": top},
        )
