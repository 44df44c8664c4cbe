"""Promises, payments, disputes and escalation decisions in the gateway's database."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import (
    agency_payments,
    disputes,
    escalations,
    lender_payments,
    promises,
)
from shared.db.bulk import insert_rows

KEYED = {"promise": (promises, "promise_id"), "payment": (agency_payments, "payment_id")}
KEYED["dispute"] = (disputes, "dispute_id")


class CommitmentStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_once(self, kind: str, row: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Record a promise, payment or dispute under the agency's own id: the stored row and
        whether it is new (a repeat of the id returns what was stored first)."""
        table, key = KEYED[kind]
        inserted = (
            await self._session.execute(
                pg_insert(table).values(row).on_conflict_do_nothing().returning(table)
            )
        ).first()
        if inserted is not None:
            return dict(inserted._mapping), True
        stored = await self._session.execute(
            select(table).where(table.c.agency_id == row["agency_id"], table.c[key] == row[key])
        )
        return dict(stored.one()._mapping), False

    async def of_assignment(self, table: Table, assignment_id: str) -> list[dict[str, Any]]:
        rows = await self._session.execute(
            select(table)
            .where(table.c.assignment_id == assignment_id)
            .order_by(table.c.recorded_at)
        )
        return [dict(r._mapping) for r in rows]

    async def promises(self, assignment_id: str) -> list[dict[str, Any]]:
        return await self.of_assignment(promises, assignment_id)

    async def payments(self, assignment_id: str) -> list[dict[str, Any]]:
        return await self.of_assignment(agency_payments, assignment_id)

    async def disputes(self, assignment_id: str) -> list[dict[str, Any]]:
        return await self.of_assignment(disputes, assignment_id)

    async def lender_payments(self, lender_id: str, loan_id: str) -> list[dict[str, Any]]:
        rows = await self._session.execute(
            select(lender_payments).where(
                lender_payments.c.lender_id == lender_id, lender_payments.c.loan_id == loan_id
            )
        )
        return [dict(r._mapping) for r in rows]

    async def record_lender_payments(self, rows: Sequence[dict[str, Any]]) -> None:
        """The lender's payments (one seen before is left as it is)."""
        await insert_rows(self._session, lender_payments, rows, skip_conflicts=True)

    async def add_escalation(self, row: dict[str, Any]) -> None:
        await self._session.execute(pg_insert(escalations).values(row))
