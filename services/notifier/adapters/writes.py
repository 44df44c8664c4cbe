"""Batch writes of notifications, their history and the contact ledger: one statement per
table for a whole batch, never one per row.

History and ledger rows go through ``shared/db/bulk.py`` (one array per column). New
notifications, loans and borrowers, and state updates, are ``executemany`` statements here:
they hold array columns (``rule_ids``, ``phone_refs``), which bulk's ``unnest`` would flatten,
loans and borrowers are replaced whatever their version (bulk's upsert keeps the newer), and
an update stamps ``updated_at`` with the database's ``now()``.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, Update, bindparam, func, update
from sqlalchemy.dialects.postgresql import insert
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


def state_update(**more: Any) -> Update:
    """``UPDATE notifications`` of the state columns (and ``more``), one row per parameter
    set of :func:`state_params`."""
    values = {name: _bind(f"b_{name}") for name in STATE_COLUMNS}
    return (
        update(notifications)
        .where(notifications.c.id == _bind("b_id"))
        .values(**values, updated_at=func.now(), **more)
        .execution_options(synchronize_session=False)
    )


def state_params(n: Notification) -> dict[str, Any]:
    return {
        "b_id": n.id,
        **{f"b_{name}": getattr(n, name) for name in STATE_COLUMNS},
        "b_status": n.status.value,
        "b_rule_ids": list(n.rule_ids),
    }


async def update_notifications(session: AsyncSession, changed: Sequence[Notification]) -> None:
    """Write what the consumer or a provider's report changed: the state columns only."""
    if changed:
        await session.execute(state_update(), [state_params(n) for n in changed])


async def add_history(session: AsyncSession, transitions: Sequence[Transition]) -> None:
    await bulk.insert_rows(
        session,
        notification_history,
        [
            {
                "notification_id": t.notification_id,
                "status": t.status.value,
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


def _bind(name: str) -> Any:
    return bindparam(name)


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(table).on_conflict_do_nothing(), list(rows))


async def upsert(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], key: tuple[str, ...]
) -> None:
    if not rows:
        return
    statement = insert(table)
    columns = {name: statement.excluded[name] for name in rows[0] if name not in key}
    await session.execute(
        statement.on_conflict_do_update(index_elements=list(key), set_=columns), list(rows)
    )
