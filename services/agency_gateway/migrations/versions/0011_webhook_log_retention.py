"""Indexes for the webhook log's retention: settled deliveries by age, attempts by time.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_settled_created",
        "webhook_deliveries",
        ["created_at"],
        postgresql_where=sa.text("status <> 'pending'"),
    )
    op.create_index("ix_webhook_attempts_at", "webhook_attempts", ["at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_attempts_at", table_name="webhook_attempts")
    op.drop_index("ix_webhook_deliveries_settled_created", table_name="webhook_deliveries")
