"""Promises, agencies' and the lender's payments, agencies' disputes, escalation decisions.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    return [
        sa.Column("agency_id", sa.Text(), nullable=False),
        sa.Column("assignment_id", sa.Text(), nullable=False),
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _money() -> list[sa.Column]:
    return [
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
    ]


def upgrade() -> None:
    op.add_column(
        "collection_cases",
        sa.Column("escalation_approved_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "promises",
        sa.Column("promise_id", sa.Text(), nullable=False),
        *_common(),
        *_money(),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "promise_id", name="pk_promises"),
    )
    op.create_table(
        "agency_payments",
        sa.Column("payment_id", sa.Text(), nullable=False),
        *_common(),
        *_money(),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "payment_id", name="pk_agency_payments"),
    )
    op.create_table(
        "lender_payments",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.Text(), nullable=False),
        *_money(),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lender_id", "loan_id", "payment_id", name="pk_lender_payments"),
    )
    op.create_table(
        "disputes",
        sa.Column("dispute_id", sa.Text(), nullable=False),
        *_common(),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "dispute_id", name="pk_disputes"),
    )
    op.create_table(
        "escalations",
        sa.Column("escalation_id", sa.Text(), nullable=False),
        *_common(),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("unmet", JSONB(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("escalation_id", name="pk_escalations"),
    )
    for table in ("promises", "agency_payments", "disputes", "escalations"):
        op.create_index(f"ix_{table}_assignment", table, ["assignment_id"])


def downgrade() -> None:
    for table in ("escalations", "disputes", "lender_payments", "agency_payments", "promises"):
        op.drop_table(table)
    op.drop_column("collection_cases", "escalation_approved_at")
