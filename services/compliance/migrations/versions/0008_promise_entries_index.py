"""A partial index of the promises in the log, which the agencies report reads (a small share
of the entries: without it every report would scan the whole log).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_entries_promises",
        "audit_entries",
        ["tenant_id", "leaf_index"],
        postgresql_where=sa.text("event_type = 'collections.agency.promise-recorded'"),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_entries_promises", table_name="audit_entries")
