"""What receipts read and write (``SqlReceiptStore``, the ``ReceiptStore`` of
``application/ports.py``): the notifications a report names, locked in the order every writer
locks them; what the reports changed; the loans a STOP reply's number belongs to."""

from collections.abc import Collection, Sequence
from uuid import UUID

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.rows import notification_of
from services.notifier.adapters.tables import contacts, loans, notifications
from services.notifier.adapters.writes import add_contacts, add_history, update_notifications
from services.notifier.application.ports import LoanKey
from services.notifier.domain.files import Notification, Transition
from shared.contact_rules import Contact, Outcome


class SqlReceiptStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def reported(
        self, provider: str, message_ids: Collection[str], named: Collection[UUID]
    ) -> dict[str, Notification]:
        conditions = [
            tuple_(notifications.c.provider, notifications.c.provider_message_id).in_(
                [(provider, message_id) for message_id in message_ids]
            )
        ]
        if named:
            conditions.append(notifications.c.id.in_(named))
        rows = await self._session.execute(
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

    async def settle(
        self,
        changed: Sequence[Notification],
        transitions: Sequence[Transition],
        sent: Sequence[tuple[Contact, LoanKey]],
        delivered: Sequence[str],
    ) -> None:
        await update_notifications(self._session, changed)
        await add_history(self._session, transitions)
        await add_contacts(self._session, [c for c, _ in sent], {c.id: k for c, k in sent})
        if delivered:  # a delivery receipt upgrades the ledger entry of the message it reports
            await self._session.execute(
                contacts.update()
                .where(contacts.c.id.in_(delivered))
                .values(outcome=Outcome.DELIVERED.value)
            )

    async def by_phone(self, phone_refs: Collection[str]) -> list[tuple[str, str, list[str]]]:
        rows = await self._session.execute(
            select(loans.c.lender_id, loans.c.borrower_ref, loans.c.phone_refs).where(
                loans.c.phone_refs.overlap(list(phone_refs))
            )
        )
        return [(lender, borrower, list(refs)) for lender, borrower, refs in rows]
