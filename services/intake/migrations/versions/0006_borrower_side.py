"""The borrower's side: disputes, the agency holding each loan, notices sent, link
revocations, data requests and their answers; the borrower's own contact choices; the
borrower's region; contact details a deletion request may erase.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _at(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("loans", sa.Column("region", sa.Text()))
    op.alter_column("loans", "contact_sealed", nullable=True)
    op.create_index("ix_loans_borrower_ref", "loans", ["lender_id", "borrower_ref"])
    op.add_column("contact_preferences", sa.Column("reported", JSONB()))
    op.add_column("contact_preferences", sa.Column("borrower_choices", JSONB()))
    op.execute("UPDATE contact_preferences SET reported = preferences")
    op.create_table(
        "disputes",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("dispute_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details_sealed", JSONB()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("hold_id", sa.Text(), nullable=False),
        _at("opened_at"),
        _at("resolved_at", nullable=True),
        sa.Column("note_sealed", JSONB()),
        sa.Column("corrected_amount", sa.Numeric(20, 4)),
        sa.Column("corrected_currency", sa.Text()),
        sa.PrimaryKeyConstraint("lender_id", "dispute_id"),
    )
    op.create_index("ix_disputes_loan", "disputes", ["lender_id", "loan_id"])
    op.create_table(
        "loan_holders",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("assignment_id", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.Text(), nullable=False),
        sa.Column("agency_name", sa.Text(), nullable=False),
        sa.Column("agency_phone", sa.Text()),
        _at("since"),
        sa.PrimaryKeyConstraint("lender_id", "loan_id"),
    )
    op.create_table(
        "notices",
        sa.Column("notification_id", sa.Uuid(), primary_key=True),
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        _at("at"),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
    )
    op.create_index("ix_notices_loan", "notices", ["lender_id", "loan_id", "at"])
    op.create_table(
        "link_revocations",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        _at("revoked_before"),
        sa.PrimaryKeyConstraint("lender_id", "loan_id"),
    )
    op.create_table(
        "data_requests",
        sa.Column("request_id", sa.Text(), primary_key=True),
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("borrower_ref", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        _at("requested_at"),
        _at("due_by"),
        _at("ready_at", nullable=True),
    )
    op.create_index("ix_data_requests_borrower", "data_requests", ["lender_id", "borrower_ref"])
    op.create_table(
        "data_answers",
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("answer_sealed", JSONB(), nullable=False),
        _at("answered_at"),
        sa.PrimaryKeyConstraint("request_id", "service"),
    )


def downgrade() -> None:
    for table in (
        "data_answers",
        "data_requests",
        "link_revocations",
        "notices",
        "loan_holders",
        "disputes",
    ):
        op.drop_table(table)
    op.drop_column("contact_preferences", "borrower_choices")
    op.drop_column("contact_preferences", "reported")
    op.drop_index("ix_loans_borrower_ref", table_name="loans")
    op.alter_column("loans", "contact_sealed", nullable=False)
    op.drop_column("loans", "region")
