"""The legal stage of a loan: its current stage on the case (placement and the contact check
read it there) and every change of it, with its note sealed.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("collection_cases", sa.Column("legal_stage", sa.Text))
    op.create_table(
        "legal_stage_changes",
        sa.Column("change_id", sa.Text, nullable=False),
        sa.Column("lender_id", sa.Text, nullable=False),
        sa.Column("loan_id", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("escalation_id", sa.Text, nullable=False),
        sa.Column("assignment_id", sa.Text),
        sa.Column("agency_id", sa.Text),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("previous", sa.Text),
        sa.Column("reported_by", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_by", sa.Date),
        sa.Column("note_sealed", JSONB(none_as_null=True)),
        sa.Column("idempotency_key", sa.Text),
        sa.PrimaryKeyConstraint("change_id"),
        sa.UniqueConstraint("lender_id", "loan_id", "seq"),
        sa.UniqueConstraint("lender_id", "loan_id", "idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("legal_stage_changes")
    op.drop_column("collection_cases", "legal_stage")
