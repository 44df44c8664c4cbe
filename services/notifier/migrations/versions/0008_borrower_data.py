"""The borrower's data: when a loan ended and when its contact details were erased (retention
and deletion requests), and the data requests answered (one answer each).

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
    op.add_column("loans", sa.Column("ended_at", sa.DateTime(timezone=True)))
    op.add_column("loans", sa.Column("contact_erased_at", sa.DateTime(timezone=True)))
    op.alter_column("loans", "contact_sealed", nullable=True)  # NULL: erased (reseal skips it)
    # Loans that ended before this revision: their last change is when they ended.
    op.execute("UPDATE loans SET ended_at = updated_at WHERE state <> 'active'")
    op.create_index(
        "ix_loans_ended",
        "loans",
        ["ended_at"],
        postgresql_where=sa.text("state IN ('closed', 'cured')"),
    )
    op.create_table(
        "data_answers",
        sa.Column("request_id", sa.Text(), primary_key=True),
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("data_answers")
    op.drop_index("ix_loans_ended", table_name="loans")
    op.execute("UPDATE loans SET contact_sealed = '{}'::jsonb WHERE contact_sealed IS NULL")
    op.alter_column("loans", "contact_sealed", nullable=False)
    op.drop_column("loans", "contact_erased_at")
    op.drop_column("loans", "ended_at")
