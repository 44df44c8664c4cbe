"""The audit log read in one read-only transaction, for a rule pack's dry run and for
``collections rules explain``: nothing can be written through it."""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.audit_log import SqlAuditLog
from services.compliance.adapters.tables import audit_entries
from services.compliance.application.ports import EntryRow, LoanPair


class SqlDryRunReads:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._log = SqlAuditLog(session)

    async def loans_logged(
        self, time_from: datetime, time_to: datetime, lender_id: str | None
    ) -> list[LoanPair]:
        c = audit_entries.c
        query = (
            select(c.tenant_id, c.loan_id)
            .where(c.loan_id.is_not(None), c.event_time >= time_from, c.event_time < time_to)
            .distinct()
            .order_by(c.tenant_id, c.loan_id)
        )
        if lender_id is not None:
            query = query.where(c.tenant_id == lender_id)
        return [(row.tenant_id, row.loan_id) for row in await self._session.execute(query)]

    async def timelines(self, loans: Collection[LoanPair]) -> dict[LoanPair, list[EntryRow]]:
        return await self._log.timelines(loans)
