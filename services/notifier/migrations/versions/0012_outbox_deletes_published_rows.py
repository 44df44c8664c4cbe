"""The outbox relay deletes the rows it publishes: the rows marked published go, and so do
the indexes that served them (``ix_outbox_published_at``, ``ix_outbox_unpublished``); the
retention job finds the rows given up (parked, then ``published_at`` set) by ``ix_outbox_given_up``.

Revision ID: 0012
Revises: 0011
"""

from shared.db.kit_migrations import (
    outbox_deletes_published_rows_v7,
    outbox_marks_published_rows_v7,
)

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    outbox_deletes_published_rows_v7()


def downgrade() -> None:
    outbox_marks_published_rows_v7()
