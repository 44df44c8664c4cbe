"""Contact details erasable: a case's sealed contact may be null (erased by a data deletion
request or once its retention period after the loan ended is over), with when the loan ended
and when its contact was erased.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("collection_cases", "contact_sealed", nullable=True)
    op.add_column("collection_cases", sa.Column("ended_at", sa.DateTime(timezone=True)))
    op.add_column("collection_cases", sa.Column("contact_erased_at", sa.DateTime(timezone=True)))
    # Cases that ended before: their last change is when they ended, near enough.
    op.execute("UPDATE collection_cases SET ended_at = updated_at WHERE ended_reason IS NOT NULL")
    op.create_index(
        "ix_collection_cases_erasable",
        "collection_cases",
        [sa.text("coalesce(ended_at, lender_recalled_at)")],
        postgresql_where=sa.text(
            "contact_sealed IS NOT NULL "
            "AND (ended_at IS NOT NULL OR lender_recalled_at IS NOT NULL)"
        ),
    )
    op.create_index(
        "ix_collection_cases_borrower", "collection_cases", ["lender_id", "borrower_ref"]
    )


def downgrade() -> None:
    op.drop_index("ix_collection_cases_borrower", "collection_cases")
    op.drop_index("ix_collection_cases_erasable", "collection_cases")
    op.drop_column("collection_cases", "contact_erased_at")
    op.drop_column("collection_cases", "ended_at")
    op.execute("DELETE FROM collection_cases WHERE contact_sealed IS NULL")
    op.alter_column("collection_cases", "contact_sealed", nullable=False)
