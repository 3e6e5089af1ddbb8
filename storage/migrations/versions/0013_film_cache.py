"""films Telegram already holds, by the key of their inputs

Revision ID: 0013_film_cache
Revises: 0012_deep_links
Create Date: 2026-12-07 13:30:00

A film sent once is sent again by its Telegram file_id while its inputs (clips in order
and their files, music, words, cut, assembler version) are unchanged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_film_cache"
down_revision: str | None = "0012_deep_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "film_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("inputs_key", sa.String(length=64), nullable=False),
        sa.Column("file_id", sa.String(length=256), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("clips", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "inputs_key"),
        # Old buttons carry row ids: an id is never handed out again after a delete.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_film_copies_project_id", "film_copies", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_film_copies_project_id", table_name="film_copies")
    op.drop_table("film_copies")
