from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    Uuid,
    func,
)

from shared.db.metadata import new_metadata

metadata = new_metadata()

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("entry", LargeBinary, nullable=False, comment="canonical JSON, pseudonymous"),
    Column("leaf_hash", LargeBinary, nullable=False),
    Index("ix_audit_entries_subject", "subject", "leaf_index"),
)

log_state = Table(
    "log_state",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
)
