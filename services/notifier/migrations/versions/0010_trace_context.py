"""The outbox keeps the W3C trace context of the work that wrote each row, and a
notification that of the work that planned it (its send continues that trace).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from shared.db.kit_migrations import add_outbox_trace_context_v6, drop_outbox_trace_context_v6

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context_v6()
    op.add_column("notifications", sa.Column("traceparent", sa.Text(), nullable=True))
    op.add_column("notifications", sa.Column("tracestate", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("notifications", "tracestate")
    op.drop_column("notifications", "traceparent")
    drop_outbox_trace_context_v6()
