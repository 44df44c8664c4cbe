"""Providers' callbacks applied: delivery reports settle messages, STOP replies opt out.

A report names the provider's message id; the notification id travels in the callback URL
too (``?notification=``), so a report about a message whose sender died before recording it
still finds its notification and settles it instead of letting it be sent again.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from services.notifier.application.errors import UnknownProviderError
from services.notifier.application.events import case_batch_events, notification_event
from services.notifier.application.ports import (
    Callback,
    CallbackParser,
    ContactDetails,
    DeliveryReport,
    InboundReply,
    LoanKey,
    UnitOfWork,
)
from services.notifier.domain.cadence_policies import CadencePolicies
from services.notifier.domain.files import Notification, Transition
from services.notifier.domain.opt_out import is_opt_out
from services.notifier.domain.outreach import intended_contact
from shared.contact_rules import Contact
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


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReceiptHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    policies: CadencePolicies
    contact_details: ContactDetails
    parsers: Mapping[str, CallbackParser]
    clock: Callable[[], datetime] = _now

    async def take(
        self,
        provider: str,
        *,
        url: str,
        headers: Mapping[str, str],
        body: Callable[[], Awaitable[bytes]],
        notification_id: UUID | None = None,
    ) -> None:
        """A provider's callback, authenticated as it signs them, applied in one transaction
        with its events. ``UnknownProviderError`` (before the body is read), ``CallbackRejected``
        otherwise."""
        parser = self.parsers.get(provider)
        if parser is None:
            raise UnknownProviderError(provider)
        items = parser.parse(url=url, headers=headers, body=await body())
        async with self.unit_of_work() as uow:
            await self.apply(uow, provider, items, notification_id)
            await uow.commit()

    async def apply(
        self,
        uow: UnitOfWork,
        provider: str,
        items: Sequence[Callback],
        notification_id: UUID | None,
    ) -> None:
        reports = [i for i in items if isinstance(i, DeliveryReport)]
        replies = [i for i in items if isinstance(i, InboundReply) and is_opt_out(i.body)]
        for event in await self._reports(uow, provider, reports, notification_id):
            uow.publish(event)
        for event in await self._opt_outs(uow, replies):
            uow.publish(event)

    async def _reports(
        self,
        uow: UnitOfWork,
        provider: str,
        reports: Sequence[DeliveryReport],
        notification_id: UUID | None,
    ) -> list[Envelope]:
        if not reports:
            return []
        named = {notification_id} if notification_id else set()
        named |= {key for r in reports if (key := _uuid(r.idempotency_key)) is not None}
        found = await uow.receipts.reported(
            provider, [r.provider_message_id for r in reports], named
        )
        unrecorded = {(n.lender_id, n.loan_id) for n in found.values() if n.status is SCHEDULED}
        cases = await uow.cases.cases_of(unrecorded)
        now = self.clock()
        changed: list[Notification] = []
        transitions: list[Transition] = []
        sent_contacts: list[tuple[Contact, LoanKey]] = []
        delivered: list[str] = []
        for report in reports:
            named_by = report.idempotency_key or (str(notification_id) if notification_id else None)
            n = found.get(report.provider_message_id) or (found.get(named_by) if named_by else None)
            status = _REPORTED.get(report.status)
            if n is None or status is None or _RANK.get(n.status, 3) >= _RANK[status]:
                continue
            if n.status is NotificationStatus.SCHEDULED:  # its sender died before recording
                n.provider, n.provider_message_id = provider, report.provider_message_id
                case = cases.get((n.lender_id, n.loan_id))
                if case is not None:
                    sent_contacts.append((intended_contact(n, case, report.at), case.key))
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
        await uow.receipts.settle(changed, transitions, sent_contacts, delivered)
        by_id = {n.id: n for n in changed}
        return [
            notification_event(by_id[t.notification_id], t.status, t.at, t.detail)
            for t in transitions
        ]

    async def _opt_outs(self, uow: UnitOfWork, replies: Sequence[InboundReply]) -> list[Envelope]:
        if not replies:
            return []
        refs = {
            ref: reply
            for reply in replies
            for ref in self.contact_details.phone_refs(reply.from_number)
        }
        borrowers: dict[tuple[str, str], datetime] = {}
        for lender_id, borrower_ref, phone_refs in await uow.receipts.by_phone(list(refs)):
            reply = next(refs[r] for r in phone_refs if r in refs)
            borrowers[(lender_id, borrower_ref)] = reply.at
        if not borrowers:
            return []
        batch = await uow.cases.load(self.policies, self.clock(), (), borrowers)
        for (lender_id, borrower_ref), at in sorted(borrowers.items()):
            batch.replied_stop(lender_id, borrower_ref, Channel.SMS, at)
        await uow.cases.save(batch)
        return case_batch_events(batch)


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None
