"""Borrowers' personal data as a whole (``SqlPersonalDataStore``, the ``PersonalDataStore`` of
``application/ports.py``): what a data request reads, the erasure of contact details (a
deletion request, retention) and the requests answered.

Erasure sets the sealed contact details to NULL (which re-sealing skips) and empties the
phone's keyed hashes and reachable channels, one statement per batch; retention takes its batch
with ``FOR UPDATE SKIP LOCKED``, so replicas never wait on each other nor on the consumer,
which holds the loans it is changing.
"""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, exists, func, literal, null, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.case_batch_store import SqlCaseBatchStore
from services.notifier.adapters.rows import case_of_row
from services.notifier.adapters.tables import (
    data_answers,
    loans,
    notification_history,
    notifications,
)
from services.notifier.application.ports import BorrowerRecords, ContactMade, LoanKey
from shared.events.notifications import NotificationStatus
from shared.vocabulary import Channel

ENDED_STATES = ("closed", "cured")
_ERASED = {
    "contact_sealed": null(),
    "phone_refs": literal([], loans.c.phone_refs.type),
    "reachable_channels": literal([], loans.c.reachable_channels.type),
}


class SqlPersonalDataStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def answered(self, request_ids: Collection[str]) -> set[str]:
        if not request_ids:
            return set()
        rows = await self._session.execute(
            select(data_answers.c.request_id).where(
                data_answers.c.request_id.in_(list(request_ids))
            )
        )
        return set(rows.scalars())

    async def records_of(self, lender_id: str, borrower_ref: str) -> BorrowerRecords:
        rows = await self._session.execute(
            select(loans)
            .where(loans.c.lender_id == lender_id, loans.c.borrower_ref == borrower_ref)
            .order_by(loans.c.loan_id)
            .with_for_update()
        )
        cases = [case_of_row(row) for row in rows.mappings()]
        found = await SqlCaseBatchStore(self._session).preferences([(lender_id, borrower_ref)])
        sent_at = func.min(notification_history.c.at).label("sent_at")
        made = await self._session.execute(
            select(
                notifications.c.loan_id,
                notifications.c.channel,
                notifications.c.kind,
                notifications.c.status,
                notifications.c.provider,
                sent_at,
            )
            .join(
                notification_history,
                and_(
                    notification_history.c.notification_id == notifications.c.id,
                    notification_history.c.status == NotificationStatus.SENT.value,
                ),
            )
            .where(
                notifications.c.lender_id == lender_id,
                notifications.c.borrower_ref == borrower_ref,
            )
            .group_by(notifications.c.id)
            .order_by(sent_at)
        )
        contacts = [
            ContactMade(
                loan_id=row.loan_id,
                at=row.sent_at,
                channel=Channel(row.channel),
                kind=row.kind,
                outcome=row.status,
                provider=row.provider,
            )
            for row in made
        ]
        return BorrowerRecords(cases, found.get((lender_id, borrower_ref)), contacts)

    async def erase_contacts(self, keys: Collection[LoanKey], at: datetime) -> None:
        if keys:
            await self._session.execute(
                update(loans)
                .where(tuple_(loans.c.lender_id, loans.c.loan_id).in_(list(keys)))
                .values(**_ERASED, contact_erased_at=at)
            )

    async def note_answer(
        self, request_id: str, lender_id: str, loan_id: str, kind: str, at: datetime
    ) -> bool:
        written = await self._session.execute(
            insert(data_answers)
            .values(
                request_id=request_id,
                lender_id=lender_id,
                loan_id=loan_id,
                kind=kind,
                answered_at=at,
            )
            .on_conflict_do_nothing()
            .returning(data_answers.c.request_id)
        )
        return written.first() is not None

    async def erase_ended(self, ended_before: datetime, limit: int, at: datetime) -> int:
        pending = exists().where(
            notifications.c.lender_id == loans.c.lender_id,
            notifications.c.loan_id == loans.c.loan_id,
            notifications.c.status == NotificationStatus.SCHEDULED.value,
        )
        due = (
            select(loans.c.lender_id, loans.c.loan_id)
            .where(
                loans.c.state.in_(ENDED_STATES),
                loans.c.ended_at <= ended_before,
                loans.c.contact_sealed.is_not(None),
                ~pending,
            )
            .order_by(loans.c.ended_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._session.execute(
            update(loans)
            .where(tuple_(loans.c.lender_id, loans.c.loan_id).in_(due))
            .values(**_ERASED, contact_erased_at=at)
            .returning(loans.c.loan_id)
        )
        return len(result.all())
