"""The outbox keeps the W3C trace context of the work that wrote each row.

Revision ID: 0010
Revises: 0009
"""

from shared.db.kit_migrations import add_outbox_trace_context_v6, drop_outbox_trace_context_v6

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context_v6()


def downgrade() -> None:
    drop_outbox_trace_context_v6()
