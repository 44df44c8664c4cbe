"""Collection cases in the gateway's database."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import collection_cases


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Open or update cases; a report older than the stored one changes nothing."""
        statement = pg_insert(collection_cases).values(list(rows))
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[collection_cases.c.lender_id, collection_cases.c.loan_id],
                set_={
                    column: statement.excluded[column]
                    for column in rows[0]
                    if column not in ("lender_id", "loan_id")
                },
                where=collection_cases.c.as_of < statement.excluded.as_of,
            )
        )

    async def get(self, lender_id: str, loan_id: str) -> dict[str, Any] | None:
        row = (
            await self._session.execute(
                select(collection_cases).where(
                    collection_cases.c.lender_id == lender_id, collection_cases.c.loan_id == loan_id
                )
            )
        ).first()
        return dict(row._mapping) if row else None
