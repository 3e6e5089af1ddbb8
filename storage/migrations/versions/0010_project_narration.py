"""whether a project's film is narrated

Revision ID: 0010_project_narration
Revises: 0009_project_aspect
Create Date: 2026-12-07 13:30:00

`narration`: each shot's line spoken over the film (by an OpenAI-compatible speech
endpoint), the music ducked under it. Off by default: it costs a call per shot.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_project_narration"
down_revision: str | None = "0009_project_aspect"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A batch that rebuilds the table on SQLite must keep AUTOINCREMENT: old buttons carry
# row ids, and an id must never be handed out again (0004).
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(
            sa.Column("narration", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_column("narration")
