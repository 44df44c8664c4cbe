"""Loans and reminder plans in notifier's database."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.tables import loans, reminders
from shared.db.bulk import insert_rows, upsert_if_newer


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert_loans(self, rows: Sequence[dict[str, Any]]) -> None:
        """One row per loan; a report older than the stored one changes nothing."""
        await upsert_if_newer(self._session, loans, rows, key=("lender_id", "loan_id"))

    async def add_reminders(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add planned reminders; a plan already laid out for a loan is kept as it is."""
        await insert_rows(self._session, reminders, rows, skip_conflicts=True)

    async def loan_exists(self, lender_id: str, loan_id: str) -> bool:
        found = await self._session.scalar(
            select(loans.c.loan_id).where(
                loans.c.lender_id == lender_id, loans.c.loan_id == loan_id
            )
        )
        return found is not None

    async def reminders_of(self, lender_id: str, loan_id: str) -> list[dict[str, Any]]:
        rows = await self._session.execute(
            select(
                reminders.c.step, reminders.c.channel, reminders.c.scheduled_for, reminders.c.status
            )
            .where(reminders.c.lender_id == lender_id, reminders.c.loan_id == loan_id)
            .order_by(reminders.c.step)
        )
        return [dict(row._mapping) for row in rows]
