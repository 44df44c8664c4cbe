"""A loan's event history in intake's database, where resubmissions find their event."""

from collections.abc import Collection, Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.tables import loan_events
from services.intake.application.ports import HistoryEntry, RecordedEvent
from shared.db.bulk import insert_new_rows


class SqlEventHistory:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, lender_id: str, entries: Sequence[HistoryEntry]) -> set[UUID]:
        rows = [
            {
                "event_id": entry.event_id,
                "lender_id": lender_id,
                "loan_id": entry.loan_id,
                "event_type": entry.event_type,
                "identity": entry.identity,
                "occurred_at": entry.occurred_at,
                "details": entry.details,
            }
            for entry in entries
        ]
        return set(await insert_new_rows(self._session, loan_events, rows, returning="event_id"))

    async def on_record(
        self, lender_id: str, identities: Collection[str]
    ) -> dict[str, RecordedEvent]:
        rows = await self._session.execute(
            select(loan_events.c.identity, loan_events.c.event_id, loan_events.c.loan_id).where(
                loan_events.c.lender_id == lender_id, loan_events.c.identity.in_(list(identities))
            )
        )
        return {row.identity: RecordedEvent(row.event_id, row.loan_id) for row in rows}

    async def of(self, lender_id: str, loan_id: str) -> list[HistoryEntry]:
        rows = await self._session.execute(
            select(
                loan_events.c.event_id,
                loan_events.c.loan_id,
                loan_events.c.event_type,
                loan_events.c.identity,
                loan_events.c.occurred_at,
                loan_events.c.details,
                loan_events.c.recorded_at,
            )
            .where(loan_events.c.lender_id == lender_id, loan_events.c.loan_id == loan_id)
            .order_by(loan_events.c.recorded_at, loan_events.c.occurred_at)
        )
        return [HistoryEntry(**row._mapping) for row in rows]
