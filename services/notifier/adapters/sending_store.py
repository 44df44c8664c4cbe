"""The sender's queries: claim due notifications, read what deciding needs, record outcomes.

Claiming sets a lease (``lease_until``) in a short transaction with ``FOR UPDATE SKIP
LOCKED``, so any number of replicas share the work and none waits for another's network calls.
A sender that dies mid-batch leaves leases that expire: the notifications are claimed again
(a provider's delivery callback that arrives first settles them; see ``api/receipts``).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.rows import loan_file, loan_row, notification_of
from services.notifier.adapters.tables import contacts, loans, notifications
from services.notifier.adapters.writes import (
    add_contacts,
    add_history,
    update_notifications,
    upsert,
)
from services.notifier.domain.files import LoanFile, Notification, Transition
from services.notifier.domain.lifecycle import debt_id
from shared.contact_rules import Contact, Direction, Outcome, Party
from shared.vocabulary import Channel

LoanKey = tuple[str, str]
LEDGER_WINDOW = timedelta(days=31)  # longer than any cap's or rule's look-back

_CLAIM = text(
    """
    UPDATE notifications SET lease_until = now() + make_interval(secs => :lease),
                             attempts = attempts + 1
    WHERE id IN (
        SELECT id FROM notifications
        WHERE status = 'scheduled' AND due_at <= now()
          AND (lease_until IS NULL OR lease_until < now())
        ORDER BY due_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING *
    """
)


async def claim_due(session: AsyncSession, limit: int, lease: timedelta) -> list[Notification]:
    rows = await session.execute(_CLAIM, {"lease": lease.total_seconds(), "limit": limit})
    return [notification_of(row) for row in rows.mappings()]


async def files_of(session: AsyncSession, keys: Iterable[LoanKey]) -> dict[LoanKey, LoanFile]:
    keys = set(keys)
    if not keys:
        return {}
    rows = await session.execute(
        select(loans).where(tuple_(loans.c.lender_id, loans.c.loan_id).in_(keys))
    )
    return {(r["lender_id"], r["loan_id"]): loan_file(r) for r in rows.mappings()}


async def ledger_of(
    session: AsyncSession,
    keys: Iterable[LoanKey],
    borrowers: Iterable[tuple[str, str]],
    now: datetime,
) -> dict[LoanKey, list[Contact]]:
    """Every party's contacts of the last weeks, per loan (and the borrower's other loans at
    the same lender, which the engine counts when a conversation covered them)."""
    keys, borrowers = set(keys), set(borrowers)
    if not keys:
        return {}
    rows = await session.execute(
        select(contacts).where(
            or_(
                tuple_(contacts.c.lender_id, contacts.c.loan_id).in_(keys),
                tuple_(contacts.c.lender_id, contacts.c.borrower_ref).in_(borrowers),
            ),
            contacts.c.at >= now - LEDGER_WINDOW,
        )
    )
    ledger: dict[LoanKey, list[Contact]] = {}
    for row in rows.mappings():
        ledger.setdefault((row["lender_id"], row["loan_id"]), []).append(contact_of(row))
    return ledger


def contact_of(row: Any) -> Contact:
    agency = row["agency_id"]
    return Contact(
        id=row["id"],
        debt_id=debt_id(row["lender_id"], row["loan_id"]),
        person_ref=row["borrower_ref"],
        party=Party.agency(agency) if agency else Party.lender(),
        channel=Channel(row["channel"]),
        at=row["at"],
        direction=Direction(row["direction"]),
        outcome=Outcome(row["outcome"]),
        recording_id=row["recording_id"],
        staff_count=row["staff_count"],
    )


async def reported_meanwhile(session: AsyncSession, ids: Sequence[UUID]) -> set[UUID]:
    """Lock a batch's notifications; those a provider's report settled while the batch was
    being sent (its callback can beat the sender's own record) are left as the report put them.
    A notification cancelled meanwhile is not among them: if it went out, ``sent`` is the truth.
    """
    rows = await session.execute(
        select(notifications.c.id, notifications.c.status)
        .where(notifications.c.id.in_(ids))
        .order_by(notifications.c.id)
        .with_for_update()
    )
    reported = {"sent", "delivered", "failed"}
    return {row.id for row in rows if row.status in reported}


async def record(
    session: AsyncSession,
    settled: Sequence[Notification],
    transitions: Sequence[Transition],
    sent: Sequence[tuple[Contact, LoanKey]],
    files: Sequence[LoanFile],
) -> None:
    """Write a batch's outcomes: statuses (leases released), history, ledger, loan files."""
    await update_notifications(session, settled)
    await add_history(session, transitions)
    await add_contacts(session, [c for c, _ in sent], {c.id: key for c, key in sent})
    await upsert(session, loans, [loan_row(f) for f in files], ("lender_id", "loan_id"))


async def mark_delivered(session: AsyncSession, contact_ids: Sequence[str]) -> None:
    """A delivery receipt upgrades the ledger entry of the message it reports."""
    if contact_ids:
        await session.execute(
            contacts.update()
            .where(contacts.c.id.in_(contact_ids))
            .values(outcome=Outcome.DELIVERED.value)
        )


async def due_count(session: AsyncSession) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(notifications)
        .where(notifications.c.status == "scheduled", notifications.c.due_at <= func.now())
    )
    return int(found or 0)
