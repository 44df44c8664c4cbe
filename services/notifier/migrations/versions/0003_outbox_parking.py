"""The kit outbox parks events Kafka refuses for good (``parked_at``, ``park_reason``).

Revision ID: 0003
Revises: 0002
"""

from shared.db.kit_migrations import add_outbox_parking_v3, drop_outbox_parking_v3

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_parking_v3()


def downgrade() -> None:
    drop_outbox_parking_v3()
