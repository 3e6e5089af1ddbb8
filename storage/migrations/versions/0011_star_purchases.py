"""credit packs bought with Telegram Stars, and the part of spending they paid

Revision ID: 0011_star_purchases
Revises: 0010_project_narration
Create Date: 2026-12-07 13:40:00

`star_purchases` is the ledger of payments: one row per telegram_payment_charge_id
(unique, so a redelivered successful_payment never credits twice), paid or refunded.
`usage_ledger.credit_units` is the part of an entry paid with those credits: it never
counts against a free quota, and a user's balance is what they bought minus it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_star_purchases"
down_revision: str | None = "0010_project_narration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A batch that rebuilds the table on SQLite must keep AUTOINCREMENT: old buttons carry
# row ids, and an id must never be handed out again (0004).
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "star_purchases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("pack", sa.String(length=32), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("credits_taken_back", sa.Float(), nullable=False, server_default="0"),
        sa.Column("telegram_charge_id", sa.String(length=255), nullable=False),
        sa.Column("provider_charge_id", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_charge_id"),
        **_KEEP_IDS,
    )
    op.create_index("ix_star_purchases_user", "star_purchases", ["user_id"])
    with op.batch_alter_table("usage_ledger", table_kwargs=_KEEP_IDS) as batch:
        batch.add_column(sa.Column("credit_units", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("usage_ledger", table_kwargs=_KEEP_IDS) as batch:
        batch.drop_column("credit_units")
    op.drop_index("ix_star_purchases_user", table_name="star_purchases")
    op.drop_table("star_purchases")
