"""Collection cases and the kit tables (outbox, inbox, API keys).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.kit_migrations import create_kit_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables_v1()
    op.create_table(
        "collection_cases",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("borrower_ref", sa.Text(), nullable=False),
        sa.Column("contact_sealed", JSONB(), nullable=False, comment="as received: AES-GCM sealed"),
        sa.Column("jurisdiction", sa.Text(), nullable=False),
        sa.Column("amount_overdue", sa.Numeric(20, 4), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.Text(), nullable=True),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("lender_id", "loan_id", name="pk_collection_cases"),
    )


def downgrade() -> None:
    op.drop_table("collection_cases")
    for table in ("api_keys", "inbox", "outbox"):
        op.drop_table(table)
