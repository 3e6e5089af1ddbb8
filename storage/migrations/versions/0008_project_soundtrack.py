"""a project's soundtrack and whether its film shows words

Revision ID: 0008_project_soundtrack
Revises: 0007_project_sound
Create Date: 2026-12-07 11:00:00

`soundtrack` is "calm" (the generated loop) or the name of an audio file the chat sent,
kept under the data directory's music folder; NULL means a film with the clips' own sound
only. `subtitles`: each shot's line burned in and as a soft track.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_project_soundtrack"
down_revision: str | None = "0007_project_sound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A batch that rebuilds the table on SQLite must keep AUTOINCREMENT: old buttons carry
# row ids, and an id must never be handed out again (0004).
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(sa.Column("soundtrack", sa.String(128), nullable=True))
        batch.add_column(
            sa.Column("subtitles", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_column("subtitles")
        batch.drop_column("soundtrack")
