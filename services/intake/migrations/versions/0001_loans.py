"""Loans, their event history, holds, contact preferences, idempotency keys, and the kit
tables (outbox, inbox, API keys).

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


def _timestamp(name: str, *, nullable: bool = False, default: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default else None,
    )


def upgrade() -> None:
    create_kit_tables_v1()
    op.create_table(
        "loans",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("borrower_id", sa.Text(), nullable=False),
        sa.Column("borrower_ref", sa.Text(), nullable=False),
        sa.Column(
            "contact_sealed", JSONB(), nullable=False, comment="name, phone, e-mail; AES-GCM"
        ),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("jurisdiction", sa.Text(), nullable=False),
        sa.Column("product", sa.Text(), nullable=False),
        sa.Column("amount_overdue", sa.Numeric(20, 4), nullable=False),
        sa.Column("paid_since_report", sa.Numeric(20, 4), server_default="0", nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        _timestamp("as_of"),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("closure_reason", sa.Text(), nullable=True),
        _timestamp("created_at", default=True),
        _timestamp("updated_at", default=True),
        sa.PrimaryKeyConstraint("lender_id", "loan_id", name="pk_loans"),
    )
    op.create_index("ix_loans_borrower", "loans", ["lender_id", "borrower_id"])
    op.create_table(
        "loan_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column(
            "identity", sa.Text(), nullable=False, comment="what makes a resubmission the same"
        ),
        _timestamp("occurred_at"),
        _timestamp("recorded_at", default=True),
        sa.Column("details", JSONB(), nullable=False, comment="pseudonymous; never personal data"),
        sa.PrimaryKeyConstraint("event_id", name="pk_loan_events"),
        sa.UniqueConstraint("lender_id", "identity", name="uq_loan_events_identity"),
    )
    op.create_index("ix_loan_events_loan", "loan_events", ["lender_id", "loan_id", "recorded_at"])
    op.create_table(
        "holds",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("hold_id", sa.Text(), nullable=False),
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _timestamp("placed_at"),
        _timestamp("lifted_at", nullable=True),
        sa.PrimaryKeyConstraint("lender_id", "hold_id", name="pk_holds"),
    )
    op.create_index("ix_holds_loan", "holds", ["lender_id", "loan_id"])
    op.create_table(
        "contact_preferences",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("borrower_id", sa.Text(), nullable=False),
        sa.Column("borrower_ref", sa.Text(), nullable=False),
        sa.Column("preferences", JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _timestamp("updated_at", default=True),
        sa.PrimaryKeyConstraint("lender_id", "borrower_id", name="pk_contact_preferences"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column(
            "fingerprint", sa.LargeBinary(), nullable=False, comment="SHA-256 of method, path, body"
        ),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", JSONB(), nullable=False),
        _timestamp("created_at", default=True),
        sa.PrimaryKeyConstraint("lender_id", "key", name="pk_idempotency_keys"),
    )


def downgrade() -> None:
    for table in ("idempotency_keys", "contact_preferences", "holds", "loan_events", "loans"):
        op.drop_table(table)
    for table in ("api_keys", "inbox", "outbox"):
        op.drop_table(table)
