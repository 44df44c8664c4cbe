"""The audit log and the kit tables (outbox, inbox, API keys).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from shared.db.kit_migrations import create_kit_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables_v1()
    op.create_table(
        "audit_entries",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "entry", sa.LargeBinary(), nullable=False, comment="canonical JSON, pseudonymous"
        ),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name="pk_audit_entries"),
        sa.UniqueConstraint("event_id", name="uq_audit_entries_event_id"),
    )
    op.create_index("ix_audit_entries_subject", "audit_entries", ["subject", "leaf_index"])
    log_state = op.create_table(
        "log_state",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_state"),
    )
    op.bulk_insert(log_state, [{"id": 1, "size": 0}])


def downgrade() -> None:
    op.drop_table("log_state")
    op.drop_table("audit_entries")
    for table in ("api_keys", "inbox", "outbox"):
        op.drop_table(table)
