"""A loan's event history in intake's database, where resubmissions find their event."""

from collections.abc import Collection, Sequence
from uuid import UUID

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.driver import driver_connection
from services.intake.adapters.tables import loan_events
from services.intake.application.ports import HistoryEntry, RecordedEvent

# One statement a batch, one array a column; a repeated (lender, identity) is left out, and
# its event id is not returned: the caller finds the event on record instead.
_RECORD = """
INSERT INTO loan_events (event_id, lender_id, loan_id, event_type, identity, occurred_at, details)
SELECT given.event_id, $1, given.loan_id, given.event_type, given.identity, given.occurred_at,
       given.details
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[])
     AS given(event_id, loan_id, event_type, identity, occurred_at, details)
ON CONFLICT DO NOTHING
RETURNING event_id
"""


class SqlEventHistory:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, lender_id: str, entries: Sequence[HistoryEntry]) -> set[UUID]:
        if not entries:
            return set()
        connection = await driver_connection(self._session)
        rows = await connection.fetch(
            _RECORD,
            lender_id,
            [entry.event_id for entry in entries],
            [entry.loan_id for entry in entries],
            [entry.event_type for entry in entries],
            [entry.identity for entry in entries],
            [entry.occurred_at for entry in entries],
            [orjson.dumps(entry.details).decode() for entry in entries],
        )
        return {row[0] for row in rows}

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
