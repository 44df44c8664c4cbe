"""Batch writes of notifications, their history, the contact ledger, loans and borrowers: one
statement per table for a whole batch, never one per row, all through ``shared/db/bulk.py``
(one array per column; ``rule_ids``, ``phone_refs`` and ``reachable_channels`` go as a JSONB
per row and come back as ``text[]``).

Every row a write changes is already locked by its writer, loans before notifications and
notifications in id order (``case_batch_store``, ``receipt_store``, ``sending_store``).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.tables import contacts, notification_history, notifications
from services.notifier.domain.files import Notification, Transition
from shared.contact_rules import Contact
from shared.contact_rules.sources import ledger_row
from shared.db import bulk

LoanKey = tuple[str, str]


STATE_COLUMNS = (
    "status",
    "due_at",
    "pack_version",
    "rule_ids",
    "next_allowed_at",
    "reason",
    "provider",
    "provider_message_id",
)
"""A notification's state as decided: every writer's. A send in progress (attempts, lease,
claim token, send began) is the sender's alone: see ``sending_store``."""


def state_row(n: Notification) -> dict[str, Any]:
    """The row :func:`write_states` writes for a notification: its id and state columns."""
    return {
        "id": n.id,
        **{name: getattr(n, name) for name in STATE_COLUMNS},
        "status": str(n.status),
        "rule_ids": list(n.rule_ids),
    }


async def write_states(
    session: AsyncSession,
    rows: Sequence[dict[str, Any]],
    set_also: Mapping[str, ColumnElement[Any]] | None = None,
) -> None:
    """``UPDATE notifications`` of each row's columns (:func:`state_row`'s, and any more the
    rows share) by id, ``updated_at`` the database's ``now()``, and ``set_also``'s columns.

    A notification given twice gets its last row, as a statement per row left it."""
    last = {row["id"]: row for row in rows}
    await bulk.update_rows(
        session,
        notifications,
        [last[i] for i in sorted(last)],
        key=("id",),
        set_also={"updated_at": func.now(), **(set_also or {})},
    )


async def update_notifications(session: AsyncSession, changed: Sequence[Notification]) -> None:
    """Write what the consumer or a provider's report changed: the state columns only."""
    await write_states(session, [state_row(n) for n in changed])


async def add_history(session: AsyncSession, transitions: Sequence[Transition]) -> None:
    await bulk.insert_rows(
        session,
        notification_history,
        [
            {
                "notification_id": t.notification_id,
                "status": str(t.status),
                "at": t.at,
                "detail": t.detail,
            }
            for t in transitions
        ],
        skip_conflicts=True,
    )


async def add_contacts(
    session: AsyncSession, ledger: Sequence[Contact], keys: dict[str, LoanKey]
) -> None:
    rows = [ledger_row(c, *keys[c.id]) for c in ledger]
    await bulk.insert_rows(session, contacts, rows, skip_conflicts=True)
