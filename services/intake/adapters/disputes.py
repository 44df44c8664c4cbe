"""Disputes of intake's loans as rows: the one place a row becomes a ``Dispute``."""

from collections.abc import Collection

from sqlalchemy import RowMapping, Text, any_, bindparam, null, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.tables import disputes
from services.intake.domain.disputes import Dispute
from shared.crypto import SealedValue
from shared.events.borrowers import DisputeReason, DisputeSource
from shared.events.money import Money

_COLUMNS = (
    disputes.c.lender_id,
    disputes.c.dispute_id,
    disputes.c.loan_id,
    disputes.c.source,
    disputes.c.reason,
    disputes.c.hold_id,
    disputes.c.opened_at,
    disputes.c.status,
    disputes.c.resolved_at,
    disputes.c.corrected_amount,
    disputes.c.corrected_currency,
)


class SqlDisputeStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, dispute: Dispute, details: SealedValue | None) -> bool:
        inserted = await self._session.execute(
            pg_insert(disputes)
            .values(
                lender_id=dispute.lender_id,
                dispute_id=dispute.dispute_id,
                loan_id=dispute.loan_id,
                source=dispute.source.value,
                reason=dispute.reason.value,
                details_sealed=details.model_dump() if details else null(),
                status=dispute.status,
                hold_id=dispute.hold_id,
                opened_at=dispute.opened_at,
            )
            .on_conflict_do_nothing()
            .returning(disputes.c.dispute_id)
        )
        return inserted.first() is not None

    async def lock(self, lender_id: str, loan_id: str, dispute_id: str) -> Dispute | None:
        row = (
            await self._session.execute(
                select(*_COLUMNS)
                .where(
                    disputes.c.lender_id == lender_id,
                    disputes.c.loan_id == loan_id,
                    disputes.c.dispute_id == dispute_id,
                )
                .with_for_update()
            )
        ).first()
        return _dispute(row._mapping) if row else None

    async def resolve(self, dispute: Dispute, note: SealedValue | None) -> None:
        corrected = dispute.corrected_amount
        await self._session.execute(
            update(disputes)
            .where(
                disputes.c.lender_id == dispute.lender_id,
                disputes.c.dispute_id == dispute.dispute_id,
            )
            .values(
                status=dispute.status,
                resolved_at=dispute.resolved_at,
                note_sealed=note.model_dump() if note else null(),
                corrected_amount=corrected.amount if corrected else None,
                corrected_currency=corrected.currency if corrected else None,
            )
        )

    async def of_loan(self, lender_id: str, loan_id: str) -> list[Dispute]:
        rows = await self._session.execute(
            select(*_COLUMNS)
            .where(disputes.c.lender_id == lender_id, disputes.c.loan_id == loan_id)
            .order_by(disputes.c.opened_at, disputes.c.dispute_id)
        )
        return [_dispute(row._mapping) for row in rows]

    async def erase_details(self, lender_id: str, loan_ids: Collection[str]) -> None:
        if not loan_ids:
            return
        await self._session.execute(
            update(disputes)
            .where(
                disputes.c.lender_id == lender_id,
                disputes.c.loan_id == any_(bindparam("loan_ids", type_=ARRAY(Text))),
            )
            .values(details_sealed=null(), note_sealed=null()),  # SQL NULL, not JSON null
            {"loan_ids": list(loan_ids)},
        )


def _dispute(row: RowMapping) -> Dispute:
    amount, currency = row["corrected_amount"], row["corrected_currency"]
    return Dispute(
        lender_id=row["lender_id"],
        dispute_id=row["dispute_id"],
        loan_id=row["loan_id"],
        source=DisputeSource(row["source"]),
        reason=DisputeReason(row["reason"]),
        hold_id=row["hold_id"],
        opened_at=row["opened_at"],
        status=row["status"],
        resolved_at=row["resolved_at"],
        corrected_amount=Money.in_minor_units(amount, currency) if currency else None,
    )
