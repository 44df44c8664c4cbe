from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.metadata import new_metadata

metadata = new_metadata()


def _timestamp(name: str, *, nullable: bool = False, default: bool = False) -> Column[object]:
    return Column(
        name,
        DateTime(timezone=True),
        nullable=nullable,
        server_default=func.now() if default else None,
    )


loans = Table(
    "loans",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("borrower_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column("contact_sealed", JSONB, nullable=False, comment="name, phone, e-mail; AES-GCM"),
    Column("locale", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("jurisdiction", Text, nullable=False),
    Column("product", Text, nullable=False),
    Column("amount_overdue", Numeric(20, 4), nullable=False),
    Column("paid_since_report", Numeric(20, 4), nullable=False, server_default="0"),
    Column("currency", Text, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    _timestamp("as_of"),
    Column("status", Text, nullable=False),
    Column("closure_reason", Text),
    _timestamp("created_at", default=True),
    _timestamp("updated_at", default=True),
    PrimaryKeyConstraint("lender_id", "loan_id"),
    Index("ix_loans_borrower", "lender_id", "borrower_id"),
)

loan_events = Table(
    "loan_events",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("identity", Text, nullable=False, comment="what makes a resubmission the same"),
    _timestamp("occurred_at"),
    _timestamp("recorded_at", default=True),
    Column("details", JSONB, nullable=False, comment="pseudonymous; never personal data"),
    UniqueConstraint("lender_id", "identity", name="uq_loan_events_identity"),
    Index("ix_loan_events_loan", "lender_id", "loan_id", "recorded_at"),
)

holds = Table(
    "holds",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("hold_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("reason", Text, nullable=False),
    _timestamp("placed_at"),
    _timestamp("lifted_at", nullable=True),
    PrimaryKeyConstraint("lender_id", "hold_id"),
    Index("ix_holds_loan", "lender_id", "loan_id"),
)

contact_preferences = Table(
    "contact_preferences",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("borrower_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column("preferences", JSONB, nullable=False),
    Column("version", Integer, nullable=False),
    _timestamp("updated_at", default=True),
    PrimaryKeyConstraint("lender_id", "borrower_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("fingerprint", LargeBinary, nullable=False, comment="SHA-256 of method, path, body"),
    Column("status_code", Integer, nullable=False),
    Column("response", JSONB, nullable=False),
    _timestamp("created_at", default=True),
    PrimaryKeyConstraint("lender_id", "key"),
    Index("ix_idempotency_keys_created_at", "created_at"),  # what the retention job deletes
)
