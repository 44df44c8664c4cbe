"""The gateway's cases read in one read-only transaction, for a placement policy's dry run:
nothing can be written through it."""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import borrower_preferences, collection_cases
from services.agency_gateway.application.ports import LoanKey, Row
from shared.db.bulk import among


class SqlDryRunReads:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def cases_open(self, time_from: datetime, time_to: datetime) -> list[LoanKey]:
        """Opened before the period ends and not ended before it starts."""
        c = collection_cases.c
        query = (
            select(c.lender_id, c.loan_id)
            .where(c.opened_at < time_to, or_(c.ended_at.is_(None), c.ended_at >= time_from))
            .order_by(c.lender_id, c.loan_id)
        )
        return [(r.lender_id, r.loan_id) for r in await self._session.execute(query)]

    async def cases(self, keys: Collection[LoanKey]) -> list[Row]:
        if not keys:
            return []
        c = collection_cases.c
        query = select(collection_cases).where(among([c.lender_id, c.loan_id], keys))
        return [dict(r._mapping) for r in await self._session.execute(query)]

    async def preferences(
        self, borrowers: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], Row]:
        if not borrowers:
            return {}
        p = borrower_preferences.c
        query = select(borrower_preferences).where(among([p.lender_id, p.borrower_ref], borrowers))
        return {
            (r.lender_id, r.borrower_ref): dict(r._mapping)
            for r in await self._session.execute(query)
        }
