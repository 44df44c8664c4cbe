"""The outbox keeps the W3C trace context of the work that wrote each row, and a webhook
delivery that of the event it announces (its posts continue that trace).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

from shared.db.kit_migrations import add_outbox_trace_context_v6, drop_outbox_trace_context_v6

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context_v6()
    op.add_column("webhook_deliveries", sa.Column("traceparent", sa.Text(), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("tracestate", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_deliveries", "tracestate")
    op.drop_column("webhook_deliveries", "traceparent")
    drop_outbox_trace_context_v6()
