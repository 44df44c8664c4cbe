"""Migration steps for the kit tables, called from each service's first revision.

Written out as explicit DDL (not ``create_all``) so a later change to the kit is a new step,
never a silent rewrite of a migration that already ran.
"""

import sqlalchemy as sa
from alembic import op


def create_kit_tables_v1() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("message_key", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["id"], postgresql_where="published_at IS NULL"
    )
    op.create_table(
        "inbox",
        sa.Column("consumer_group", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("consumer_group", "event_id", name="pk_inbox"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("principal_id", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
    )


def add_inbox_rejected_at_v2() -> None:
    """Inbox rows of dead-lettered events: a redelivery is a no-op, a replay retries it."""
    op.add_column("inbox", sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True))


def drop_inbox_rejected_at_v2() -> None:
    op.drop_column("inbox", "rejected_at")


def add_outbox_parking_v3() -> None:
    """Outbox rows Kafka refused for good: parked with a reason, found by topic and key."""
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("park_reason", sa.Text(), nullable=True))
    op.create_index(
        "ix_outbox_parked",
        "outbox",
        ["topic", "message_key"],
        postgresql_where="parked_at IS NOT NULL AND published_at IS NULL",
    )


def drop_outbox_parking_v3() -> None:
    op.drop_index("ix_outbox_parked", table_name="outbox")
    op.drop_column("outbox", "park_reason")
    op.drop_column("outbox", "parked_at")


def api_keys_become_registry_mirror_v4() -> None:
    """``api_keys`` becomes this service's copy of the credential registry (the compacted
    credentials topic): keys seeded into this table alone are dropped, since the registry could
    neither list nor revoke them; they are issued again with ``collections keys``."""
    op.execute("DELETE FROM api_keys")
    op.alter_column("api_keys", "principal_id", new_column_name="tenant")
    op.alter_column("api_keys", "created_at", new_column_name="issued_at", server_default=None)


def api_keys_stop_mirroring_v4() -> None:
    op.alter_column(
        "api_keys", "issued_at", new_column_name="created_at", server_default=sa.func.now()
    )
    op.alter_column("api_keys", "tenant", new_column_name="principal_id")


def add_retention_indexes_v5() -> None:
    """Indexes the retention job's deletes walk (``shared.db.retention``): published outbox
    rows by ``published_at`` and inbox rows by ``received_at``, so a pass reads only the rows
    it deletes instead of scanning tables that grow with every event."""
    op.create_index(
        "ix_outbox_published_at",
        "outbox",
        ["published_at"],
        postgresql_where="published_at IS NOT NULL AND parked_at IS NULL",
    )
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"])


def drop_retention_indexes_v5() -> None:
    op.drop_index("ix_inbox_received_at", table_name="inbox")
    op.drop_index("ix_outbox_published_at", table_name="outbox")


def add_outbox_trace_context_v6() -> None:
    """The W3C trace context of the work that wrote each outbox row (``traceparent``,
    ``tracestate``), which the relay puts in the Kafka record's headers."""
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True))
    op.add_column("outbox", sa.Column("tracestate", sa.Text(), nullable=True))


def drop_outbox_trace_context_v6() -> None:
    op.drop_column("outbox", "tracestate")
    op.drop_column("outbox", "traceparent")


def outbox_deletes_published_rows_v7() -> None:
    """The relay deletes the rows it publishes instead of marking them; ``published_at`` stays
    for the parked rows an operator gives up. The rows marked published go now (the retention
    job would have deleted them; left, the relay would walk past them), and so do the indexes
    that served them: ``ix_outbox_unpublished`` (every row left is to publish, parked or given
    up: the primary key gives the relay its id order) and ``ix_outbox_published_at``, replaced
    by ``ix_outbox_given_up`` (the retention job's walk over rows given up, empty as a rule)."""
    op.execute("DELETE FROM outbox WHERE published_at IS NOT NULL AND parked_at IS NULL")
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.create_index(
        "ix_outbox_given_up",
        "outbox",
        ["published_at"],
        postgresql_where="published_at IS NOT NULL",
    )


def outbox_marks_published_rows_v7() -> None:
    op.drop_index("ix_outbox_given_up", table_name="outbox")
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["id"], postgresql_where="published_at IS NULL"
    )
    op.create_index(
        "ix_outbox_published_at",
        "outbox",
        ["published_at"],
        postgresql_where="published_at IS NOT NULL AND parked_at IS NULL",
    )
