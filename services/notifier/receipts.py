"""Providers' callbacks applied: delivery reports settle messages, STOP replies opt out.

A report names the provider's message id; the notification id travels in the callback URL
too (``?notification=``), so a report about a message whose sender died before recording it
still finds its notification and settles it instead of letting it be sent again.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.casebook_store import CasebookStore, notification_event
from services.notifier.adapters.contacts import ContactVault
from services.notifier.adapters.providers.callbacks import DeliveryReport, InboundReply
from services.notifier.adapters.providers.opt_out import is_opt_out
from services.notifier.adapters.rows import notification_of
from services.notifier.adapters.sending_store import files_of, mark_delivered
from services.notifier.adapters.tables import loans, notifications
from services.notifier.adapters.writes import add_contacts, add_history, update_notifications
from services.notifier.domain.files import Notification, Transition
from services.notifier.domain.outreach import intended_contact
from services.notifier.domain.policy_book import PolicyBook
from shared.events.envelope import Envelope
from shared.events.notifications import NotificationStatus
from shared.vocabulary import Channel

SCHEDULED = NotificationStatus.SCHEDULED
_REPORTED = {
    "sent": NotificationStatus.SENT,
    "delivered": NotificationStatus.DELIVERED,
    "failed": NotificationStatus.FAILED,
}
_RANK = {
    NotificationStatus.SCHEDULED: 0,
    NotificationStatus.SENT: 1,
    NotificationStatus.DELIVERED: 2,
    NotificationStatus.FAILED: 2,
}


@dataclass(frozen=True)
class Receipts:
    policies: PolicyBook
    vault: ContactVault

    async def apply(
        self,
        session: AsyncSession,
        provider: str,
        items: Sequence[DeliveryReport | InboundReply],
        notification_id: UUID | None,
    ) -> list[Envelope]:
        reports = [i for i in items if isinstance(i, DeliveryReport)]
        replies = [i for i in items if isinstance(i, InboundReply) and is_opt_out(i.body)]
        events = await self._reports(session, provider, reports, notification_id)
        return events + await self._opt_outs(session, replies)

    async def _reports(
        self,
        session: AsyncSession,
        provider: str,
        reports: Sequence[DeliveryReport],
        notification_id: UUID | None,
    ) -> list[Envelope]:
        if not reports:
            return []
        found = await _notifications(session, provider, reports, notification_id)
        unrecorded = {(n.lender_id, n.loan_id) for n in found.values() if n.status is SCHEDULED}
        files = await files_of(session, unrecorded)
        now = datetime.now(UTC)
        changed: list[Notification] = []
        transitions: list[Transition] = []
        sent_contacts = []
        delivered: list[str] = []
        for report in reports:
            named = report.idempotency_key or (str(notification_id) if notification_id else None)
            n = found.get(report.provider_message_id) or (found.get(named) if named else None)
            status = _REPORTED.get(report.status)
            if n is None or status is None or _RANK.get(n.status, 3) >= _RANK[status]:
                continue
            if n.status is NotificationStatus.SCHEDULED:  # its sender died before recording
                n.provider, n.provider_message_id = provider, report.provider_message_id
                file = files.get((n.lender_id, n.loan_id))
                if file is not None:
                    sent_contacts.append((intended_contact(n, file, report.at), file.key))
                transitions.append(
                    n.move(
                        NotificationStatus.SENT,
                        now,
                        provider=provider,
                        provider_message_id=report.provider_message_id,
                        reason="settled by the provider's report",
                    )
                )
            if status is not NotificationStatus.SENT:
                n.reason = report.error_code if status is NotificationStatus.FAILED else None
                transitions.append(n.move(status, now, reason=n.reason))
            if status is NotificationStatus.DELIVERED:
                delivered.append(f"notifier:{n.id}")
            changed.append(n)
        await update_notifications(session, changed)
        await add_history(session, transitions)
        await add_contacts(
            session, [c for c, _ in sent_contacts], {c.id: k for c, k in sent_contacts}
        )
        await mark_delivered(session, delivered)
        by_id = {n.id: n for n in changed}
        return [
            notification_event(by_id[t.notification_id], t.status, t.at, t.detail)
            for t in transitions
        ]

    async def _opt_outs(
        self, session: AsyncSession, replies: Sequence[InboundReply]
    ) -> list[Envelope]:
        if not replies:
            return []
        refs = {ref: reply for reply in replies for ref in self.vault.phone_refs(reply.from_number)}
        rows = await session.execute(
            select(loans.c.lender_id, loans.c.borrower_ref, loans.c.phone_refs).where(
                loans.c.phone_refs.overlap(list(refs))
            )
        )
        borrowers: dict[tuple[str, str], datetime] = {}
        for lender_id, borrower_ref, phone_refs in rows:
            reply = next(refs[r] for r in phone_refs if r in refs)
            borrowers[(lender_id, borrower_ref)] = reply.at
        if not borrowers:
            return []
        store = CasebookStore(session)
        book = await store.load(self.policies, datetime.now(UTC), (), borrowers)
        for (lender_id, borrower_ref), at in sorted(borrowers.items()):
            book.replied_stop(lender_id, borrower_ref, Channel.SMS, at)
        return await store.save(book)


async def _notifications(
    session: AsyncSession,
    provider: str,
    reports: Sequence[DeliveryReport],
    notification_id: UUID | None,
) -> Mapping[str, Notification]:
    """The reported notifications by provider message id (and by their own id)."""
    conditions = [
        tuple_(notifications.c.provider, notifications.c.provider_message_id).in_(
            [(provider, r.provider_message_id) for r in reports]
        )
    ]
    named = {notification_id} if notification_id else set()
    named |= {key for r in reports if (key := _uuid(r.idempotency_key)) is not None}
    if named:
        conditions.append(notifications.c.id.in_(named))
    rows = await session.execute(
        select(notifications)
        .where(or_(*conditions))
        .order_by(notifications.c.id)  # the order every writer locks them in
        .with_for_update()
    )
    found: dict[str, Notification] = {}
    for row in rows.mappings():
        n = notification_of(row)
        found[str(n.id)] = n
        if n.provider_message_id:
            found[n.provider_message_id] = n
    return found


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None
