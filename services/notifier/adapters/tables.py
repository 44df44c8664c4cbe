"""Notifier's tables: loan files, borrowers' preferences, notifications, the contact ledger,
the data requests answered."""

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.db.metadata import new_metadata

metadata = new_metadata()

loans = Table(
    "loans",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column(
        "contact_sealed",
        JSONB(none_as_null=True),
        comment="AES-GCM sealed, never logged; NULL once erased",
    ),
    Column("phone_refs", ARRAY(Text), nullable=False, comment="keyed hashes, for STOP replies"),
    Column("reachable_channels", ARRAY(Text), nullable=False, comment="channels with an address"),
    Column("locale", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("jurisdiction", Text, nullable=False),
    Column("product", Text, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("amount_overdue", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("policy_id", Text, nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("state_reason", Text),
    Column("cycle", Integer, nullable=False),
    Column("ended_at", DateTime(timezone=True), comment="closed, cured or recalled: when"),
    Column(
        "contact_erased_at",
        DateTime(timezone=True),
        comment="when contact details were last erased (retention, a deletion request)",
    ),
    Column("holds", JSONB, nullable=False),
    Column("placements", JSONB, nullable=False),
    Column("legal_stage", Text, comment="the escalation's legal stage, if one was granted"),
    Column(
        "demand",
        JSONB(none_as_null=True),
        comment="the demand letter's terms (amount, respond_by, agency): no personal data",
    ),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("lender_id", "loan_id"),
    Index("ix_loans_borrower", "lender_id", "borrower_ref"),
    Index("ix_loans_phone_refs", "phone_refs", postgresql_using="gin"),
    Index("ix_loans_ended", "ended_at", postgresql_where=text("state IN ('closed', 'cured')")),
    postgresql_with={"fillfactor": 80},  # room on the page for updates (migration 0011)
)

borrowers = Table(
    "borrowers",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column("preferences", JSONB, nullable=False),
    Column("reported_at", DateTime(timezone=True)),
    Column("reply_opt_outs", JSONB, nullable=False, comment="channel -> when STOP was replied"),
    PrimaryKeyConstraint("lender_id", "borrower_ref"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("step", Integer),
    Column("channel", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("locale", Text, nullable=False),
    Column("policy_id", Text, nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("pack_version", Text),
    Column("dedupe_key", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_until", DateTime(timezone=True), comment="set while a sender holds it"),
    Column("claim_token", UUID(as_uuid=True), comment="the fence: only its holder records"),
    Column(
        "send_began_at",
        DateTime(timezone=True),
        comment="a send began and its outcome is not recorded yet: it may have gone out",
    ),
    Column("rule_ids", ARRAY(Text), nullable=False),
    Column("next_allowed_at", DateTime(timezone=True)),
    Column("reason", Text),
    Column("provider", Text),
    Column("provider_message_id", Text),
    Column("agency_id", Text),
    Column("assignment_id", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The W3C context of the work that planned it (the consumed event's): the send continues it.
    Column("traceparent", Text),
    Column("tracestate", Text),
    UniqueConstraint("lender_id", "loan_id", "dedupe_key"),  # also the index by loan
    Index(
        "ix_notifications_due",
        "due_at",
        postgresql_where=text("status = 'scheduled'"),
    ),
    Index(
        "ix_notifications_leased", "lease_until", postgresql_where=text("lease_until IS NOT NULL")
    ),
    Index("ix_notifications_provider_id", "provider", "provider_message_id"),
    Index(
        "ix_notifications_send_began",
        "send_began_at",
        postgresql_where=text("send_began_at IS NOT NULL AND status = 'scheduled'"),
    ),
)

notification_history = Table(
    "notification_history",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("notification_id", UUID(as_uuid=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", JSONB, nullable=False),
    Index("ix_notification_history_notification", "notification_id", "seq"),
)

data_answers = Table(
    "data_answers",
    metadata,
    Column("request_id", Text, primary_key=True, comment="one answer per data request"),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column(
        "id", Text, primary_key=True, comment="notifier:<notification> or agency:<id>:<activity>"
    ),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column("agency_id", Text, comment="null: the lender's notifier"),
    Column("channel", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recording_id", Text),
    Column("staff_count", Integer),
    Index("ix_contacts_debt", "lender_id", "loan_id", "at"),
)
