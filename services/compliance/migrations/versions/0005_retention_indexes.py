"""Indexes for the retention job's deletes: published outbox rows by ``published_at``, inbox
rows by ``received_at``.

Revision ID: 0005
Revises: 0004
"""

from shared.db.kit_migrations import add_retention_indexes_v5, drop_retention_indexes_v5

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_retention_indexes_v5()


def downgrade() -> None:
    drop_retention_indexes_v5()
