"""Webhook deliveries claimed through the kit's job queue (``shared.db.jobs``): a lease and the
claim's fencing token, instead of pushing ``next_attempt_at`` past the lease.

A delivery leased the old way (``next_attempt_at`` in the future) is simply due then.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "webhook_deliveries", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("webhook_deliveries", sa.Column("claim_token", postgresql.UUID(), nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_deliveries", "claim_token")
    op.drop_column("webhook_deliveries", "lease_until")
