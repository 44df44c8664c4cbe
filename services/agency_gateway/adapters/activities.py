"""Agencies' reported activities, kept once per agency's own activity id."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import activities


class ActivityLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """Record the activity; None if it was recorded already, else the stored row."""
        inserted = await self._session.execute(
            pg_insert(activities).values(row).on_conflict_do_nothing().returning(activities)
        )
        found = inserted.first()
        return dict(found._mapping) if found else None

    async def get(self, agency_id: str, activity_id: str) -> dict[str, Any]:
        row = (
            await self._session.execute(
                select(activities).where(
                    activities.c.agency_id == agency_id, activities.c.activity_id == activity_id
                )
            )
        ).one()
        return dict(row._mapping)
