from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    Uuid,
    func,
    text,
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
    Column("loan_id", Text, nullable=True),
    Column("agency_id", Text, nullable=True),
    Column("borrower_ref", Text, nullable=True),
    Index("ix_audit_entries_subject", "subject", "leaf_index"),
    Index("ix_audit_entries_loan", "tenant_id", "loan_id", "leaf_index"),
    Index("ix_audit_entries_borrower", "tenant_id", "borrower_ref", "leaf_index"),
    Index("ix_audit_entries_agency", "agency_id", "leaf_index"),
    Index(
        "ix_audit_entries_promises",
        "tenant_id",
        "leaf_index",
        postgresql_where=text("event_type = 'collections.agency.promise-recorded'"),
    ),
)

log_state = Table(
    "log_state",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary, nullable=False),
)

judging = Table(
    "judging",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column(
        "judged_size",
        BigInteger,
        nullable=False,
        comment="entries below this leaf index are judged",
    ),
)

merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("level", SmallInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    PrimaryKeyConstraint("level", "idx", name="pk_merkle_nodes"),
    comment="complete perfect subtrees: node (level, idx) hashes leaves "
    "[idx<<level, (idx+1)<<level)",
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
    Column("key_id", Text, nullable=False),
    Column("note", Text, nullable=False, comment="the C2SP signed checkpoint"),
)

violations = Table(
    "violations",
    metadata,
    Column("violation_id", Text, primary_key=True),
    Column("leaf_index", BigInteger, nullable=False, comment="the violation's own log entry"),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("rule_id", Text, nullable=False),
    Column("pack_version", Text, nullable=False),
    Column("party", Text, nullable=False),
    Column("agency_id", Text, nullable=True),
    Column("contact_id", Text, nullable=False),
    Column("contact_at", DateTime(timezone=True), nullable=False),
    Column("leaf_indexes", ARRAY(BigInteger), nullable=False),
    Column("explanation", Text, nullable=False),
    Column("retracted_at", DateTime(timezone=True), nullable=True, comment="null: standing"),
    Column(
        "retraction_leaf_index", BigInteger, nullable=True, comment="the retraction's log entry"
    ),
    Index("ix_violations_lender", "lender_id", "leaf_index"),
    Index("ix_violations_loan", "lender_id", "loan_id"),
)
