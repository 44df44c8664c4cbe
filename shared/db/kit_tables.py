"""Tables every service database has: the outbox, the inbox of processed events, and the
service's copy of the credential registry (``api_keys``, see ``shared.auth``).

They live in their own ``MetaData`` so a service can list them next to its own tables
(Alembic accepts several) without defining them again.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
)

from shared.db.metadata import new_metadata

KIT_METADATA = new_metadata()

outbox = Table(
    "outbox",
    KIT_METADATA,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("topic", Text, nullable=False),
    Column("message_key", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The relay deletes the rows it publishes: set only on a parked row an operator gave up
    # (never published; kept as its history until the retention job deletes it).
    Column("published_at", DateTime(timezone=True)),
    # Set when Kafka refused the event for good (e.g. too large): the relay goes on without it
    # and holds the later events of its topic and key until an operator deals with it.
    Column("parked_at", DateTime(timezone=True)),
    Column("park_reason", Text),
    # The W3C context of the work that published the event (shared.observability.tracing),
    # put in the Kafka record's headers by the relay.
    Column("traceparent", Text),
    Column("tracestate", Text),
    # Rows to publish are found by the primary key (the relay's id order): the table holds
    # little else, so no partial index (kit_migrations.outbox_deletes_published_rows_v7).
    Index(
        "ix_outbox_parked",
        "topic",
        "message_key",
        postgresql_where="parked_at IS NOT NULL AND published_at IS NULL",
    ),
    # What the retention job deletes (shared.db.retention.outbox_rule): rows given up.
    Index("ix_outbox_given_up", "published_at", postgresql_where="published_at IS NOT NULL"),
)

inbox = Table(
    "inbox",
    KIT_METADATA,
    Column("consumer_group", Text, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set when the group dead-lettered the event instead of applying it (a replay clears it).
    Column("rejected_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("consumer_group", "event_id"),
    Index("ix_inbox_received_at", "received_at"),  # what the retention job deletes
)

api_keys = Table(
    "api_keys",
    KIT_METADATA,
    Column("key_id", Text, primary_key=True),
    Column("secret_hash", LargeBinary, nullable=False),
    Column("role", Text, nullable=False),
    Column("tenant", Text, nullable=False),
    Column("label", Text, nullable=False, server_default=""),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
