from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    Numeric,
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


def _at(name: str, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


collection_cases = Table(
    "collection_cases",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column(
        "contact_sealed",
        JSONB(none_as_null=True),
        comment="AES-GCM sealed under the gateway's data key, bound to lender_id and loan_id; "
        "null once erased (a later report stores it again)",
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
    Column("borrower_zone", Text),
    Column("region", Text, comment="ISO 3166-2, when reported"),
    Column("holds", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("ended_reason", Text),
    _at("lender_recalled_at"),
    _at("placement_due_at"),
    Column("placement_note", Text),
    _at("escalation_approved_at"),
    _at("lease_until"),  # a placement claim's lease (shared.db.jobs)
    Column("claim_token", UUID(as_uuid=True)),  # the claim's fencing token
    _at("ended_at"),  # when the loan was cured or closed (ended_reason set)
    _at("contact_erased_at"),  # when its contact details (and region, zone) were erased
    Column("legal_stage", Text, comment="the legal stage (shared.events.legal); none: none"),
    PrimaryKeyConstraint("lender_id", "loan_id"),
)

borrower_preferences = Table(
    "borrower_preferences",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column("cease", Boolean, nullable=False),
    Column("attorney", Boolean, nullable=False),
    Column("preferences", JSONB, nullable=False),
    _at("as_of", nullable=False),
    PrimaryKeyConstraint("lender_id", "borrower_ref"),
)

borrower_opt_outs = Table(
    "borrower_opt_outs",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column("channel", Text, nullable=False),
    _at("at", nullable=False),
    PrimaryKeyConstraint("lender_id", "borrower_ref", "channel"),
)

agencies = Table(
    "agencies",
    metadata,
    Column("agency_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("phone", Text),
    Column("jurisdictions", ARRAY(Text), nullable=False),
    Column("regions", ARRAY(Text), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("share", Integer, nullable=False),
    Column("webhook_url", Text),
    Column("active", Boolean, nullable=False),
    Column(
        "webhook_secret_sealed",
        JSONB(none_as_null=True),
        comment="AES-GCM sealed under the gateway's data key, bound to agency_id",
    ),
    _at("created_at", nullable=False),
    _at("updated_at", nullable=False),
    PrimaryKeyConstraint("agency_id"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("assignment_id", Text, nullable=False),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("agency_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("arm", Text, nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("amount", Numeric(20, 4), nullable=False),
    Column("currency", Text, nullable=False),
    _at("placed_at", nullable=False),
    _at("ack_due_at", nullable=False),
    _at("expires_at", nullable=False),
    _at("acknowledged_at"),
    _at("notice_sent_at"),
    _at("ended_at"),
    Column("end_reason", Text),
    Column("end_policy_version", Text),
    _at("updated_at", nullable=False),
    _at("expiring_announced_at"),
    PrimaryKeyConstraint("assignment_id"),
)

# Each agency's open assignments, kept by triggers on ``assignments`` (migration 0019) in the
# transaction of every write that places, ends or removes one: capacity reads one row per agency.
agency_open_accounts = Table(
    "agency_open_accounts",
    metadata,
    Column("agency_id", Text, nullable=False),
    Column("open_accounts", BigInteger, nullable=False),
    PrimaryKeyConstraint("agency_id"),
)

activities = Table(
    "activities",
    metadata,
    Column("agency_id", Text, nullable=False),
    Column("activity_id", Text, nullable=False),
    Column("assignment_id", Text, nullable=False),
    Column("body", JSONB, nullable=False, comment="the report without its text"),
    _at("recorded_at", nullable=False),
    Column(
        "text_sealed",
        JSONB,
        comment="the report's text, AES-GCM sealed under the gateway's data key, bound to "
        "agency_id and activity_id; null when none (or erased)",
    ),
    PrimaryKeyConstraint("agency_id", "activity_id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", Text, nullable=False),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("borrower_ref", Text, nullable=False),
    Column("agency_id", Text, comment="none: the lender's own"),
    Column("channel", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    _at("at", nullable=False),
    PrimaryKeyConstraint("contact_id"),
)


def _common() -> list[Column[object]]:
    return [
        Column("agency_id", Text, nullable=False),
        Column("assignment_id", Text, nullable=False),
        Column("lender_id", Text, nullable=False),
        Column("loan_id", Text, nullable=False),
        _at("recorded_at", nullable=False),
    ]


def _money() -> list[Column[object]]:
    return [
        Column("amount", Numeric(20, 4), nullable=False),
        Column("currency", Text, nullable=False),
    ]


promises = Table(
    "promises",
    metadata,
    Column("promise_id", Text, nullable=False),
    *_common(),
    *_money(),
    Column("due_date", Date, nullable=False),
    PrimaryKeyConstraint("agency_id", "promise_id"),
)

agency_payments = Table(
    "agency_payments",
    metadata,
    Column("payment_id", Text, nullable=False),
    *_common(),
    *_money(),
    _at("paid_at", nullable=False),
    PrimaryKeyConstraint("agency_id", "payment_id"),
)

lender_payments = Table(
    "lender_payments",
    metadata,
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("payment_id", Text, nullable=False),
    *_money(),
    _at("paid_at", nullable=False),
    PrimaryKeyConstraint("lender_id", "loan_id", "payment_id"),
)

disputes = Table(
    "disputes",
    metadata,
    Column("dispute_id", Text, nullable=False),
    *_common(),
    Column("reason", Text, nullable=False),
    PrimaryKeyConstraint("agency_id", "dispute_id"),
)

escalations = Table(
    "escalations",
    metadata,
    Column("escalation_id", Text, nullable=False),
    *_common(),
    Column("requested_by", Text, nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("unmet", JSONB, nullable=False),
    Column("policy_version", Text, nullable=False),
    PrimaryKeyConstraint("escalation_id"),
)

legal_stage_changes = Table(
    "legal_stage_changes",
    metadata,
    Column("change_id", Text, nullable=False),
    Column("lender_id", Text, nullable=False),
    Column("loan_id", Text, nullable=False),
    Column("seq", Integer, nullable=False, comment="the change's place in the loan's history"),
    Column("escalation_id", Text, nullable=False),
    Column("assignment_id", Text),
    Column("agency_id", Text),
    Column("stage", Text, nullable=False),
    Column("previous", Text),
    Column("reported_by", Text, nullable=False, comment="lender or agency"),
    _at("at", nullable=False),
    Column("respond_by", Date, comment="with demand_sent: the demand's deadline"),
    Column(
        "note_sealed",
        JSONB(none_as_null=True),
        comment="the reporter's note, AES-GCM sealed under the gateway's data key, bound to "
        "lender_id, loan_id and change_id; null when none",
    ),
    Column("idempotency_key", Text),
    PrimaryKeyConstraint("change_id"),
    UniqueConstraint("lender_id", "loan_id", "seq"),
    UniqueConstraint("lender_id", "loan_id", "idempotency_key"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", Text, nullable=False),
    Column("agency_id", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("assignment_id", Text, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("round_start", Integer, nullable=False),
    _at("next_attempt_at"),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    _at("created_at", nullable=False),
    _at("delivered_at"),
    _at("lease_until"),  # a claim's lease (shared.db.jobs)
    Column("claim_token", UUID(as_uuid=True)),  # the claim's fencing token
    # The W3C context of the event it announces (shared.observability.tracing): its posts
    # continue that trace.
    Column("traceparent", Text),
    Column("tracestate", Text),
    PrimaryKeyConstraint("delivery_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("delivery_id", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    _at("at", nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    PrimaryKeyConstraint("delivery_id", "attempt"),
)
