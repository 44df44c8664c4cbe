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
    Column(
        "contact_sealed",
        JSONB,
        nullable=True,
        comment="name, phone, e-mail; AES-GCM; NULL once a deletion request erased it",
    ),
    Column("locale", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("region", Text),
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
    Index("ix_loans_borrower_ref", "lender_id", "borrower_ref"),
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
    Column("preferences", JSONB, nullable=False, comment="in effect: reported + borrower's"),
    Column("reported", JSONB, comment="what the lender reported last"),
    Column("borrower_choices", JSONB, comment="opt-outs and times the borrower chose"),
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

disputes = Table(
    "disputes",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("dispute_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("source", Text, nullable=False, comment="borrower, agency"),
    Column("reason", Text, nullable=False),
    Column("details_sealed", JSONB, comment="free text; AES-GCM with intake's data keys"),
    Column("status", Text, nullable=False, comment="open, upheld, rejected"),
    Column("hold_id", Text, nullable=False),
    _timestamp("opened_at"),
    _timestamp("resolved_at", nullable=True),
    Column("note_sealed", JSONB, comment="the lender's note; AES-GCM with intake's data keys"),
    Column("corrected_amount", Numeric(20, 4)),
    Column("corrected_currency", Text),
    PrimaryKeyConstraint("lender_id", "dispute_id"),
    Index("ix_disputes_loan", "lender_id", "loan_id"),
)

loan_holders = Table(
    "loan_holders",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("assignment_id", Text, nullable=False),
    Column("agency_id", Text, nullable=False),
    Column("agency_name", Text, nullable=False),
    Column("agency_phone", Text, comment="the agency's public number (business data)"),
    _timestamp("since"),
    PrimaryKeyConstraint("lender_id", "loan_id"),
)

notices = Table(
    "notices",
    metadata,
    Column("notification_id", Uuid, primary_key=True),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    _timestamp("at"),
    Column("channel", Text, nullable=False),
    Column("kind", Text, nullable=False, comment="no content, ever"),
    Index("ix_notices_loan", "lender_id", "loan_id", "at"),
)

link_revocations = Table(
    "link_revocations",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    _timestamp("revoked_before"),
    PrimaryKeyConstraint("lender_id", "loan_id"),
)

data_requests = Table(
    "data_requests",
    metadata,
    Column("request_id", Text, primary_key=True),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column("kind", Text, nullable=False, comment="access, deletion"),
    Column("status", Text, nullable=False, comment="pending, ready"),
    _timestamp("requested_at"),
    _timestamp("due_by"),
    _timestamp("ready_at", nullable=True),
    Index("ix_data_requests_borrower", "lender_id", "borrower_ref"),
)

data_answers = Table(
    "data_answers",
    metadata,
    Column("request_id", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("answer_sealed", JSONB, nullable=False, comment="AES-GCM with intake's data keys"),
    _timestamp("answered_at"),
    PrimaryKeyConstraint("request_id", "service"),
)
