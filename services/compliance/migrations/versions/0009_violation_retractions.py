"""Violations can be retracted (a fact logged later excuses the contact): when, and by which
log entry; and the judge's read of a loan's violations by (lender, loan).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "violations",
        sa.Column(
            "retracted_at", sa.DateTime(timezone=True), nullable=True, comment="null: standing"
        ),
    )
    op.add_column(
        "violations",
        sa.Column(
            "retraction_leaf_index",
            sa.BigInteger(),
            nullable=True,
            comment="the retraction's log entry",
        ),
    )
    op.create_index("ix_violations_loan", "violations", ["lender_id", "loan_id"])


def downgrade() -> None:
    op.drop_index("ix_violations_loan", table_name="violations")
    op.drop_column("violations", "retraction_leaf_index")
    op.drop_column("violations", "retracted_at")
