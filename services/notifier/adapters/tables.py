from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
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
    Column("borrower_ref", Text, nullable=False),
    Column("contact_sealed", JSONB, nullable=False, comment="as received: AES-GCM sealed"),
    Column("locale", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("jurisdiction", Text, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("lender_id", "loan_id"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("step", Integer, nullable=False),
    Column("channel", Text, nullable=False),
    Column("scheduled_for", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("lender_id", "loan_id", "step"),
)
