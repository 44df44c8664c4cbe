"""Agencies, placements (assignments), agencies' activities and the contact ledger.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("collection_cases", sa.Column("borrower_zone", sa.Text(), nullable=True))
    op.add_column(
        "collection_cases",
        sa.Column("holds", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.add_column("collection_cases", sa.Column("ended_reason", sa.Text(), nullable=True))
    op.add_column("collection_cases", _at("lender_recalled_at"))
    op.add_column("collection_cases", _at("placement_due_at"))
    op.add_column("collection_cases", sa.Column("placement_note", sa.Text(), nullable=True))
    op.create_index(
        "ix_collection_cases_placement_due_at",
        "collection_cases",
        ["placement_due_at"],
        postgresql_where=sa.text("placement_due_at IS NOT NULL"),
    )
    op.create_table(
        "borrower_preferences",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("borrower_ref", sa.Text(), nullable=False),
        sa.Column("cease", sa.Boolean(), nullable=False),
        sa.Column("attorney", sa.Boolean(), nullable=False),
        sa.Column("preferences", JSONB(), nullable=False),
        _at("as_of", nullable=False),
        sa.PrimaryKeyConstraint("lender_id", "borrower_ref", name="pk_borrower_preferences"),
    )
    op.create_table(
        "agencies",
        sa.Column("agency_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("jurisdictions", ARRAY(sa.Text()), nullable=False),
        sa.Column("regions", ARRAY(sa.Text()), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("share", sa.Integer(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _at("created_at", nullable=False),
        _at("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("agency_id", name="pk_agencies"),
    )
    op.create_table(
        "assignments",
        sa.Column("assignment_id", sa.Text(), nullable=False),
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("arm", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        _at("placed_at", nullable=False),
        _at("ack_due_at", nullable=False),
        _at("expires_at", nullable=False),
        _at("acknowledged_at"),
        _at("notice_sent_at"),
        _at("ended_at"),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("end_policy_version", sa.Text(), nullable=True),
        _at("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("assignment_id", name="pk_assignments"),
    )
    op.create_index(
        "ix_assignments_agency_updated",
        "assignments",
        ["agency_id", "updated_at", "assignment_id"],
    )
    op.create_index("ix_assignments_loan", "assignments", ["lender_id", "loan_id"])
    op.create_index(
        "uq_assignments_one_active_per_loan",
        "assignments",
        ["lender_id", "loan_id"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    for deadline in ("ack_due_at", "expires_at"):
        op.create_index(
            f"ix_assignments_active_{deadline}",
            "assignments",
            [deadline],
            postgresql_where=sa.text("ended_at IS NULL"),
        )
    op.create_table(
        "activities",
        sa.Column("agency_id", sa.Text(), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("assignment_id", sa.Text(), nullable=False),
        sa.Column("body", JSONB(), nullable=False),
        _at("recorded_at", nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "activity_id", name="pk_activities"),
    )
    op.create_table(
        "contacts",
        sa.Column("contact_id", sa.Text(), nullable=False),
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("borrower_ref", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.Text(), nullable=True, comment="none: the lender's own"),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        _at("at", nullable=False),
        sa.PrimaryKeyConstraint("contact_id", name="pk_contacts"),
    )
    op.create_index("ix_contacts_loan", "contacts", ["lender_id", "loan_id", "at"])


def downgrade() -> None:
    for table in ("contacts", "activities", "assignments", "agencies", "borrower_preferences"):
        op.drop_table(table)
    op.drop_index("ix_collection_cases_placement_due_at", table_name="collection_cases")
    for column in (
        "placement_note",
        "placement_due_at",
        "lender_recalled_at",
        "ended_reason",
        "holds",
        "borrower_zone",
    ):
        op.drop_column("collection_cases", column)
