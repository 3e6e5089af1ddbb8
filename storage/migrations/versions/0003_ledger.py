"""ledger survives /forget: bot_settings, usage_ledger.user_hash and kind, pruning index

Revision ID: 0003_ledger
Revises: 0002_groups
Create Date: 2026-12-07 01:00:00
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003_ledger"
down_revision: str | None = "0002_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_KEY = "ledger_key"


def _user_hash(key: str, user_id: int) -> str:
    # Frozen copy of storage.accounts.ledger_hash: migrations never import app code.
    return hmac.new(bytes.fromhex(key), str(user_id).encode(), hashlib.sha256).hexdigest()


def upgrade() -> None:
    settings = op.create_table(
        "bot_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.BigInteger(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("usage_ledger") as batch:
        batch.add_column(sa.Column("user_hash", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="take")
        )
    op.create_index("ix_usage_user_hash_at", "usage_ledger", ["user_hash", "created_at"])
    op.create_index("ix_processed_updates_received_at", "processed_updates", ["received_at"])

    # The per-installation hashing key, and the hashed user id of every existing row.
    key = secrets.token_hex(32)
    op.bulk_insert(
        settings,
        [{"key": LEDGER_KEY, "value": key, "changed_by": None, "changed_at": datetime.now(UTC)}],
    )
    connection = op.get_bind()
    ledger = sa.table(
        "usage_ledger",
        sa.column("id", sa.Integer()),
        sa.column("user_id", sa.BigInteger()),
        sa.column("user_hash", sa.String()),
    )
    rows: Sequence[tuple[int, int]] = connection.execute(
        sa.select(ledger.c.id, ledger.c.user_id).where(ledger.c.user_id.is_not(None))
    ).all()
    if rows:
        connection.execute(
            sa.update(ledger)
            .where(ledger.c.id == sa.bindparam("row_id"))
            .values(user_hash=sa.bindparam("hashed")),
            [{"row_id": i, "hashed": _user_hash(key, int(u))} for i, u in rows],
        )

    # An installation whose allowlist was ever on (an allowed id, or a stranger refused)
    # keeps it on, even if every allowed id has since been denied.
    access = sa.table("access_entries", sa.column("status", sa.String()))
    listed = connection.execute(
        sa.select(access.c.status).where(access.c.status.in_(("allowed", "refused"))).limit(1)
    ).first()
    if listed is not None:
        op.bulk_insert(
            settings,
            [
                {
                    "key": "access_mode",
                    "value": "allowlist",
                    "changed_by": None,
                    "changed_at": datetime.now(UTC),
                }
            ],
        )


def downgrade() -> None:
    op.drop_index("ix_processed_updates_received_at", table_name="processed_updates")
    op.drop_index("ix_usage_user_hash_at", table_name="usage_ledger")
    with op.batch_alter_table("usage_ledger") as batch:
        batch.drop_column("kind")
        batch.drop_column("user_hash")
    op.drop_table("bot_settings")
