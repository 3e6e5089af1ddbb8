"""projects.sound: native sound on a project's takes, off by default

Revision ID: 0007_project_sound
Revises: 0006_take_charged_units
Create Date: 2026-12-07 11:00:00

Kling 2.6 and 3.0 can make sound with the picture; it costs more (2.6: twice pro's
price), so it is a per-project choice and existing projects stay silent.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_project_sound"
down_revision: str | None = "0006_take_charged_units"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A batch that rebuilds the table on SQLite must keep AUTOINCREMENT: old buttons carry
# row ids, and an id must never be handed out again (0004).
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(
            sa.Column("sound", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_column("sound")
