from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.metadata import new_metadata

metadata = new_metadata()

collection_cases = Table(
    "collection_cases",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column(
        "contact_sealed",
        JSONB,
        nullable=False,
        comment="AES-GCM sealed under the gateway's data key, bound to lender_id and loan_id",
    ),
    Column("jurisdiction", Text, nullable=False),
    Column("amount_overdue", Numeric(20, 4), nullable=False),
    Column("currency", Text, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("agency_id", Text),
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("lender_id", "loan_id"),
)
