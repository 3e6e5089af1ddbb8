"""groups, budgets and access: allowlist, usage ledger, quota overrides, votes

Revision ID: 0002_groups
Revises: 0001
Create Date: 2026-11-24 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_groups"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_entries",
        sa.Column("subject_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("changed_by", sa.BigInteger(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_id"),
    )
    op.create_table(
        "usage_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("take_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("units", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["take_id"], ["takes.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("take_id"),
    )
    op.create_index("ix_usage_user_at", "usage_ledger", ["user_id", "created_at"])
    op.create_index("ix_usage_chat_at", "usage_ledger", ["chat_id", "created_at"])
    op.create_table(
        "quota_overrides",
        sa.Column("subject_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("units", sa.Float(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "period"),
    )
    op.create_table(
        "take_votes",
        sa.Column("shot_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("take_id", sa.Integer(), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shot_id"], ["shots.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["take_id"], ["takes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shot_id", "user_id"),
    )
    op.create_index("ix_take_votes_take_id", "take_votes", ["take_id"])
    with op.batch_alter_table("shots") as batch:
        batch.add_column(
            sa.Column("kept_by_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("shots") as batch:
        batch.drop_column("kept_by_admin")
    op.drop_index("ix_take_votes_take_id", table_name="take_votes")
    op.drop_table("take_votes")
    op.drop_table("quota_overrides")
    op.drop_index("ix_usage_chat_at", table_name="usage_ledger")
    op.drop_index("ix_usage_user_at", table_name="usage_ledger")
    op.drop_table("usage_ledger")
    op.drop_table("access_entries")
