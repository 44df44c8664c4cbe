"""Collection cases in the gateway's database."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import collection_cases
from shared.db.bulk import upsert_if_newer


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Open or update cases; a report older than the stored one changes nothing."""
        await upsert_if_newer(self._session, collection_cases, rows, key=("lender_id", "loan_id"))

    async def get(self, lender_id: str, loan_id: str) -> dict[str, Any] | None:
        row = (
            await self._session.execute(
                select(collection_cases).where(
                    collection_cases.c.lender_id == lender_id, collection_cases.c.loan_id == loan_id
                )
            )
        ).first()
        return dict(row._mapping) if row else None
