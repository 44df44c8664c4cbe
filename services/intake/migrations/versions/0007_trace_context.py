"""The outbox keeps the W3C trace context of the work that wrote each row.

Revision ID: 0007
Revises: 0006
"""

from shared.db.kit_migrations import add_outbox_trace_context_v6, drop_outbox_trace_context_v6

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context_v6()


def downgrade() -> None:
    drop_outbox_trace_context_v6()
