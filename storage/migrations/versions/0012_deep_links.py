"""project share links: random tokens that deep links (t.me/<bot>?start=…) carry

Revision ID: 0012_deep_links
Revises: 0011_star_purchases
Create Date: 2026-12-07 13:30:00

A link names its project by a random token, never by the row id, and expires.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_deep_links"
down_revision: str | None = "0011_star_purchases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
        # Ids are never handed out again after a delete, as for every other table (0004).
        sqlite_autoincrement=True,
    )
    op.create_index("ix_project_links_project_id", "project_links", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_project_links_project_id", table_name="project_links")
    op.drop_table("project_links")
