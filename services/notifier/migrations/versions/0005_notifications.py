"""Loan files follow the whole lifecycle; notifications with history replace the plan; the
borrowers' preferences and the contact ledger.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TEXT = sa.Text()
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.drop_table("reminders")
    op.execute("DELETE FROM loans")  # the plan-only files cannot be completed; intake replays
    for name, kind in (
        ("phone_refs", ARRAY(_TEXT)),
        ("product", _TEXT),
        ("due_date", sa.Date()),
        ("amount_overdue", _TEXT),
        ("currency", _TEXT),
        ("policy_id", _TEXT),
        ("policy_version", _TEXT),
        ("state", _TEXT),
        ("cycle", sa.Integer()),
        ("holds", JSONB()),
        ("placements", JSONB()),
    ):
        op.add_column("loans", sa.Column(name, kind, nullable=False))
    op.add_column("loans", sa.Column("state_reason", _TEXT))
    op.create_index("ix_loans_borrower", "loans", ["lender_id", "borrower_ref"])
    op.create_index("ix_loans_phone_refs", "loans", ["phone_refs"], postgresql_using="gin")
    op.create_table(
        "borrowers",
        sa.Column("lender_id", _TEXT, nullable=False),
        sa.Column("borrower_ref", _TEXT, nullable=False),
        sa.Column("preferences", JSONB(), nullable=False),
        sa.Column("reported_at", _WHEN),
        sa.Column("reply_opt_outs", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("lender_id", "borrower_ref", name="pk_borrowers"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        *(
            sa.Column(name, _TEXT, nullable=False)
            for name in ("lender_id", "loan_id", "borrower_ref", "kind")
        ),
        sa.Column("step", sa.Integer()),
        *(
            sa.Column(name, _TEXT, nullable=False)
            for name in ("channel", "template", "locale", "policy_id", "policy_version")
        ),
        sa.Column("pack_version", _TEXT),
        sa.Column("dedupe_key", _TEXT, nullable=False),
        sa.Column("status", _TEXT, nullable=False),
        sa.Column("due_at", _WHEN, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", _WHEN),
        sa.Column("rule_ids", ARRAY(_TEXT), nullable=False),
        sa.Column("next_allowed_at", _WHEN),
        *(
            sa.Column(name, _TEXT)
            for name in ("reason", "provider", "provider_message_id", "agency_id", "assignment_id")
        ),
        sa.Column("updated_at", _WHEN, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint(
            "lender_id", "loan_id", "dedupe_key", name="uq_notifications_lender_id"
        ),
    )
    op.create_index("ix_notifications_loan", "notifications", ["lender_id", "loan_id"])
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["due_at"],
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.create_index(
        "ix_notifications_leased",
        "notifications",
        ["lease_until"],
        postgresql_where=sa.text("lease_until IS NOT NULL"),
    )
    op.create_index(
        "ix_notifications_provider_id", "notifications", ["provider", "provider_message_id"]
    )
    op.create_table(
        "notification_history",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("notification_id", UUID(as_uuid=True), nullable=False),
        sa.Column("status", _TEXT, nullable=False),
        sa.Column("at", _WHEN, nullable=False),
        sa.Column("detail", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_notification_history"),
    )
    op.create_index(
        "ix_notification_history_notification",
        "notification_history",
        ["notification_id", "seq"],
    )
    op.create_table(
        "contacts",
        sa.Column("id", _TEXT, nullable=False),
        *(
            sa.Column(name, _TEXT, nullable=False)
            for name in ("lender_id", "loan_id", "borrower_ref")
        ),
        sa.Column("agency_id", _TEXT),
        *(sa.Column(name, _TEXT, nullable=False) for name in ("channel", "direction", "outcome")),
        sa.Column("at", _WHEN, nullable=False),
        sa.Column("recording_id", _TEXT),
        sa.Column("staff_count", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
    )
    op.create_index("ix_contacts_debt", "contacts", ["lender_id", "loan_id", "at"])


_ADDED_TO_LOANS = (
    "phone_refs",
    "product",
    "due_date",
    "amount_overdue",
    "currency",
    "policy_id",
    "policy_version",
    "state",
    "state_reason",
    "cycle",
    "holds",
    "placements",
)


def downgrade() -> None:
    """Back to 0004's tables. Notifications do not turn back into a reminder plan, and the
    loans' files cannot lose their new facts half-way: both start empty, as after 0004 on a
    fresh database, and intake's replay refills them."""
    for table in ("contacts", "notification_history", "notifications", "borrowers"):
        op.drop_table(table)
    op.drop_index("ix_loans_phone_refs", table_name="loans")
    op.drop_index("ix_loans_borrower", table_name="loans")
    op.execute("DELETE FROM loans")
    for name in _ADDED_TO_LOANS:
        op.drop_column("loans", name)
    op.create_table(
        "reminders",
        sa.Column("lender_id", _TEXT, nullable=False),
        sa.Column("loan_id", _TEXT, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("channel", _TEXT, nullable=False),
        sa.Column("scheduled_for", _WHEN, nullable=False),
        sa.Column("status", _TEXT, nullable=False),
        sa.Column("created_at", _WHEN, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("lender_id", "loan_id", "step", name="pk_reminders"),
    )
