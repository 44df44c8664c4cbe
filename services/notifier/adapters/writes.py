"""Batch writes of notifications, their history and the contact ledger: one statement per
table for a whole batch, never one per row."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.tables import contacts, notification_history, notifications
from services.notifier.domain.files import Notification, Transition
from shared.contact_rules import Contact
from shared.contact_rules.sources import ledger_row

LoanKey = tuple[str, str]


async def update_notifications(session: AsyncSession, changed: Sequence[Notification]) -> None:
    """Write what the consumer or a provider's report changed. The columns of a send in
    progress (attempts, lease, claim token, send began) are the sender's and stay as they
    are: see ``sending_store``."""
    if not changed:
        return
    await session.execute(
        update(notifications)
        .where(notifications.c.id == _bind("b_id"))
        .values(
            status=_bind("b_status"),
            due_at=_bind("b_due_at"),
            pack_version=_bind("b_pack_version"),
            rule_ids=_bind("b_rule_ids"),
            next_allowed_at=_bind("b_next_allowed_at"),
            reason=_bind("b_reason"),
            provider=_bind("b_provider"),
            provider_message_id=_bind("b_provider_message_id"),
            updated_at=_bind("b_now"),
        )
        .execution_options(synchronize_session=False),
        [
            {
                "b_id": n.id,
                "b_status": n.status.value,
                "b_due_at": n.due_at,
                "b_pack_version": n.pack_version,
                "b_rule_ids": list(n.rule_ids),
                "b_next_allowed_at": n.next_allowed_at,
                "b_reason": n.reason,
                "b_provider": n.provider,
                "b_provider_message_id": n.provider_message_id,
                "b_now": datetime.now().astimezone(),
            }
            for n in changed
        ],
    )


async def add_history(session: AsyncSession, transitions: Sequence[Transition]) -> None:
    await insert_rows(
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
    )


async def add_contacts(
    session: AsyncSession, ledger: Sequence[Contact], keys: dict[str, LoanKey]
) -> None:
    rows = [ledger_row(c, *keys[c.id]) for c in ledger]
    if rows:
        await session.execute(insert(contacts).on_conflict_do_nothing(), rows)


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
