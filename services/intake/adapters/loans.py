"""Loans and their reports in intake's database, read and written a batch at a time."""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.tables import loan_reports, loans
from services.intake.domain import KnownLoan

LoanKey = tuple[str, str]  # (lender_id, loan_id)
ReportIdentity = tuple[str, str, datetime]  # (lender_id, loan_id, as_of)


class LoanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_known(self, keys: Collection[LoanKey]) -> dict[LoanKey, KnownLoan]:
        """The loans already known among ``keys``, locked until the transaction ends."""
        rows = await self._session.execute(
            select(loans.c.lender_id, loans.c.loan_id, loans.c.as_of)
            .where(tuple_(loans.c.lender_id, loans.c.loan_id).in_(list(keys)))
            .order_by(loans.c.lender_id, loans.c.loan_id)
            .with_for_update()
        )
        return {(row.lender_id, row.loan_id): KnownLoan(as_of=row.as_of) for row in rows}

    async def record_reports(self, rows: Sequence[dict[str, Any]]) -> set[UUID]:
        """Insert report rows; returns the event ids that were new (not repeats)."""
        inserted = await self._session.execute(
            pg_insert(loan_reports)
            .values(list(rows))
            .on_conflict_do_nothing()
            .returning(loan_reports.c.event_id)
        )
        return set(inserted.scalars())

    async def event_ids_of(
        self, identities: Collection[ReportIdentity]
    ) -> dict[ReportIdentity, UUID]:
        """The event id on record for each report identity."""
        identity = tuple_(loan_reports.c.lender_id, loan_reports.c.loan_id, loan_reports.c.as_of)
        rows = await self._session.execute(
            select(
                loan_reports.c.event_id,
                loan_reports.c.lender_id,
                loan_reports.c.loan_id,
                loan_reports.c.as_of,
            ).where(identity.in_(list(identities)))
        )
        return {(row.lender_id, row.loan_id, row.as_of): row.event_id for row in rows}

    async def upsert_loans(self, values: Sequence[dict[str, Any]]) -> None:
        """Write loan state, one row per loan; never over a newer stored report."""
        statement = pg_insert(loans).values(list(values))
        updates = {
            column: statement.excluded[column]
            for column in values[0]
            if column not in ("lender_id", "loan_id")
        }
        updates["updated_at"] = statement.excluded.updated_at
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[loans.c.lender_id, loans.c.loan_id],
                set_=updates,
                where=loans.c.as_of < statement.excluded.as_of,
            )
        )
