"""Every change of a loan's legal stage, and the notes reported with them.

A note is free text, personal data: it is stored sealed under the gateway's data key ring,
bound to the loan and the change (``note_sealed``), never in an event.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import legal_stage_changes
from shared.crypto import KeyRing
from shared.db.reseal import SealedColumn

NOTE = SealedColumn(
    legal_stage_changes, "note_sealed", bound_to=("lender_id", "loan_id", "change_id")
)


@dataclass(frozen=True)
class LegalNotes:
    ring: KeyRing  # the gateway's data key ring

    def seal(self, text: str, row: Mapping[str, Any]) -> dict[str, str]:
        return NOTE.seal(self.ring, text.encode(), row)

    def open(self, row: Mapping[str, Any]) -> str | None:
        if row[NOTE.name] is None:
            return None
        return NOTE.open(self.ring, row).decode()


class LegalStageStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self._session.execute(pg_insert(legal_stage_changes).values(row))

    async def of_loan(self, lender_id: str, loan_id: str) -> list[dict[str, Any]]:
        rows = await self._session.execute(
            select(legal_stage_changes)
            .where(
                legal_stage_changes.c.lender_id == lender_id,
                legal_stage_changes.c.loan_id == loan_id,
            )
            .order_by(legal_stage_changes.c.seq)
        )
        return [dict(r._mapping) for r in rows]
