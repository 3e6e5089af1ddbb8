"""takes.charged_units: the units a provider says it actually charged for a take

Revision ID: 0006_take_charged_units
Revises: 0005_drop_locks
Create Date: 2026-12-07 11:10:00

Kling reports `final_unit_deduction` on a finished task: the authoritative cost, which
can differ from our price table. It is kept per take (NULL where a provider doesn't say)
so the admin report can show what was really spent.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_take_charged_units"
down_revision: str | None = "0005_drop_locks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A batch that rebuilds the table on SQLite must keep AUTOINCREMENT: old buttons carry
# row ids, and an id must never be handed out again (0004).
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("takes", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(sa.Column("charged_units", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("takes", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_column("charged_units")
