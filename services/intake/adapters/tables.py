from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
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
    Column("currency", Text, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("lender_id", "loan_id"),
)

loan_reports = Table(
    "loan_reports",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("outcome", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("lender_id", "loan_id", "as_of", name="uq_loan_reports_identity"),
)
