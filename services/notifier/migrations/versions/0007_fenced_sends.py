"""Fenced sends: a claim's token, the moment a send began (a message that may have gone out),
and the channels a loan's borrower can be reached on.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("claim_token", UUID(as_uuid=True)))
    op.add_column("notifications", sa.Column("send_began_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_notifications_send_began",
        "notifications",
        ["send_began_at"],
        postgresql_where=sa.text("send_began_at IS NOT NULL AND status = 'scheduled'"),
    )
    op.add_column(
        "loans",
        sa.Column(
            "reachable_channels",
            ARRAY(sa.Text()),
            nullable=False,
            server_default=sa.text("'{sms,email}'"),  # what was planned before this revision
        ),
    )


def downgrade() -> None:
    op.drop_column("loans", "reachable_channels")
    op.drop_index("ix_notifications_send_began", table_name="notifications")
    op.drop_column("notifications", "send_began_at")
    op.drop_column("notifications", "claim_token")
