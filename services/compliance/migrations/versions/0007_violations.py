"""Violations found after the fact (each is also an entry of the audit log).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "violations",
        sa.Column("violation_id", sa.Text(), nullable=False),
        sa.Column(
            "leaf_index", sa.BigInteger(), nullable=False, comment="the violation's own log entry"
        ),
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("pack_version", sa.Text(), nullable=False),
        sa.Column("party", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.Text(), nullable=True),
        sa.Column("contact_id", sa.Text(), nullable=False),
        sa.Column("contact_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf_indexes", sa.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("violation_id", name="pk_violations"),
    )
    op.create_index("ix_violations_lender", "violations", ["lender_id", "leaf_index"])


def downgrade() -> None:
    op.drop_table("violations")
