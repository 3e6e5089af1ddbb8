"""drop the locks table: nothing takes a named lease there any more

Revision ID: 0005_drop_locks
Revises: 0004_autoincrement
Create Date: 2026-12-07 02:00:00

Instances agree on who polls Telegram, who takes a provider slot and whose budget is
being spent through PostgreSQL advisory locks (storage.locks), and on SQLite there is one
writer anyway; the table of named leases was never read or written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_drop_locks"
down_revision: str | None = "0004_autoincrement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("locks")


def downgrade() -> None:
    op.create_table(
        "locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
