"""projects.aspect: the picture shape a project's photos are cropped to

Revision ID: 0009_project_aspect
Revises: 0008_project_soundtrack
Create Date: 2026-12-07 13:30:00

"16:9", "9:16" or "1:1". NULL (every project made before) keeps what such a project
always did: each shot follows its own photo, and the film the first clip's shape.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_project_aspect"
down_revision: str | None = "0008_project_soundtrack"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A batch that rebuilds the table on SQLite must keep AUTOINCREMENT: old buttons carry
# row ids, and an id must never be handed out again (0004).
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(sa.Column("aspect", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_column("aspect")
