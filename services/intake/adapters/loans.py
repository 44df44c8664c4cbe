"""Loans, their event history, holds and contact preferences in intake's database.

Everything a request writes goes through here, a batch at a time where the caller has one.
"""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Text, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.tables import contact_preferences, holds, loan_events, loans
from services.intake.domain import KnownLoan, LoanState, LoanStatus
from shared.db.bulk import insert_new_rows, upsert_if_newer

LoanKey = tuple[str, str]  # (lender_id, loan_id)


class LoanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_known(
        self, lender_id: str, loan_ids: Collection[str]
    ) -> dict[LoanKey, KnownLoan]:
        """The lender's loans already known among ``loan_ids``, locked until the transaction ends.

        ``loan_id = ANY(array)``: one parameter and one index scan, where a list of (lender,
        loan) pairs was a thousand parameters and a thousand OR'ed conditions to plan.
        """
        rows = await self._session.execute(
            select(loans.c.lender_id, loans.c.loan_id, loans.c.as_of, loans.c.status)
            .where(
                loans.c.lender_id == lender_id,
                loans.c.loan_id == any_(bindparam("loan_ids", type_=ARRAY(Text))),
            )
            .order_by(loans.c.lender_id, loans.c.loan_id)
            .with_for_update(),
            {"loan_ids": list(loan_ids)},
        )
        return {
            (row.lender_id, row.loan_id): KnownLoan(as_of=row.as_of, status=LoanStatus(row.status))
            for row in rows
        }

    async def record_events(self, rows: Sequence[dict[str, Any]]) -> set[UUID]:
        """Add history rows; returns the event ids that were new (not resubmissions)."""
        return set(await insert_new_rows(self._session, loan_events, rows, returning="event_id"))

    async def event_ids_of(self, lender_id: str, identities: Collection[str]) -> dict[str, UUID]:
        """The event on record for each resubmission identity."""
        rows = await self._session.execute(
            select(loan_events.c.identity, loan_events.c.event_id).where(
                loan_events.c.lender_id == lender_id, loan_events.c.identity.in_(list(identities))
            )
        )
        return {row.identity: row.event_id for row in rows}

    async def recorded_event(self, lender_id: str, identity: str) -> tuple[UUID, str] | None:
        """The event on record for a resubmission identity, and the loan it is about."""
        row = (
            await self._session.execute(
                select(loan_events.c.event_id, loan_events.c.loan_id).where(
                    loan_events.c.lender_id == lender_id, loan_events.c.identity == identity
                )
            )
        ).first()
        return (row.event_id, row.loan_id) if row else None

    async def upsert_loans(self, values: Sequence[dict[str, Any]]) -> None:
        """Write loan state from reports, one row per loan; never over a newer report."""
        await upsert_if_newer(self._session, loans, values, key=("lender_id", "loan_id"))

    async def lock_state(self, lender_id: str, loan_id: str) -> LoanState | None:
        row = (
            await self._session.execute(
                select(
                    loans.c.status,
                    loans.c.currency,
                    loans.c.amount_overdue,
                    loans.c.as_of,
                    loans.c.paid_since_report,
                )
                .where(loans.c.lender_id == lender_id, loans.c.loan_id == loan_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        return LoanState(
            status=LoanStatus(row.status),
            currency=row.currency,
            amount_overdue=row.amount_overdue,
            as_of=row.as_of,
            paid_since_report=row.paid_since_report,
        )

    async def save_state(
        self, lender_id: str, loan_id: str, state: LoanState, closure_reason: str | None = None
    ) -> None:
        values: dict[str, Any] = {
            "status": state.status.value,
            "paid_since_report": state.paid_since_report,
            "updated_at": func.now(),
        }
        if closure_reason is not None:
            values["closure_reason"] = closure_reason
        await self._session.execute(
            update(loans)
            .where(loans.c.lender_id == lender_id, loans.c.loan_id == loan_id)
            .values(values)
        )

    async def loan(self, lender_id: str, loan_id: str) -> dict[str, Any] | None:
        """The loan as intake knows it, without its sealed contact details."""
        columns = [column for column in loans.c if column.name != "contact_sealed"]
        row = (
            await self._session.execute(
                select(*columns).where(loans.c.lender_id == lender_id, loans.c.loan_id == loan_id)
            )
        ).first()
        return dict(row._mapping) if row else None

    async def history(self, lender_id: str, loan_id: str) -> list[dict[str, Any]]:
        rows = await self._session.execute(
            select(
                loan_events.c.event_id,
                loan_events.c.event_type,
                loan_events.c.occurred_at,
                loan_events.c.recorded_at,
                loan_events.c.details,
            )
            .where(loan_events.c.lender_id == lender_id, loan_events.c.loan_id == loan_id)
            .order_by(loan_events.c.recorded_at, loan_events.c.occurred_at)
        )
        return [dict(row._mapping) for row in rows]

    async def add_hold(
        self, lender_id: str, loan_id: str, hold_id: str, reason: str, placed_at: datetime
    ) -> bool:
        inserted = await self._session.execute(
            pg_insert(holds)
            .values(
                lender_id=lender_id,
                loan_id=loan_id,
                hold_id=hold_id,
                reason=reason,
                placed_at=placed_at,
            )
            .on_conflict_do_nothing()
            .returning(holds.c.hold_id)
        )
        return inserted.first() is not None

    async def hold(self, lender_id: str, loan_id: str, hold_id: str) -> dict[str, Any] | None:
        row = (
            await self._session.execute(
                select(holds)
                .where(
                    holds.c.lender_id == lender_id,
                    holds.c.loan_id == loan_id,
                    holds.c.hold_id == hold_id,
                )
                .with_for_update()
            )
        ).first()
        return dict(row._mapping) if row else None

    async def lift_hold(self, lender_id: str, hold_id: str, lifted_at: datetime) -> None:
        await self._session.execute(
            update(holds)
            .where(holds.c.lender_id == lender_id, holds.c.hold_id == hold_id)
            .values(lifted_at=lifted_at)
        )

    async def holds_of(self, lender_id: str, loan_id: str) -> list[dict[str, Any]]:
        rows = await self._session.execute(
            select(holds.c.hold_id, holds.c.reason, holds.c.placed_at, holds.c.lifted_at)
            .where(holds.c.lender_id == lender_id, holds.c.loan_id == loan_id)
            .order_by(holds.c.placed_at)
        )
        return [dict(row._mapping) for row in rows]

    async def save_preferences(
        self, lender_id: str, borrower_id: str, borrower_ref: str, preferences: dict[str, Any]
    ) -> int:
        """Store a borrower's contact preferences; returns their new version number."""
        statement = pg_insert(contact_preferences).values(
            lender_id=lender_id,
            borrower_id=borrower_id,
            borrower_ref=borrower_ref,
            preferences=preferences,
            version=1,
        )
        version = await self._session.scalar(
            statement.on_conflict_do_update(
                index_elements=[contact_preferences.c.lender_id, contact_preferences.c.borrower_id],
                set_={
                    "preferences": statement.excluded.preferences,
                    "version": contact_preferences.c.version + 1,
                    "updated_at": func.now(),
                },
            ).returning(contact_preferences.c.version)
        )
        return int(version or 1)
