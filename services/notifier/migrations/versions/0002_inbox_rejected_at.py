"""The kit inbox records dead-lettered events (``rejected_at``).

Revision ID: 0002
Revises: 0001
"""

from shared.db.kit_migrations import add_inbox_rejected_at_v2, drop_inbox_rejected_at_v2

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_inbox_rejected_at_v2()


def downgrade() -> None:
    drop_inbox_rejected_at_v2()
