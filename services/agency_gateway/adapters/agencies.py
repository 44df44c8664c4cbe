"""The agency registry in the gateway's database."""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import agencies
from services.agency_gateway.domain.allocation import AgencyLoad

EDITABLE = (
    "name",
    "phone",
    "jurisdictions",
    "regions",
    "capacity",
    "share",
    "webhook_url",
    "active",
    "webhook_secret_sealed",
)


class AgencyRegistry:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(self, agency_id: str, fields: dict[str, Any], now: datetime) -> bool:
        """Create or replace an agency; True when it is new."""
        existed = await self.get(agency_id) is not None
        row = {"agency_id": agency_id, **fields, "created_at": now, "updated_at": now}
        statement = pg_insert(agencies).values(row)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[agencies.c.agency_id],
                set_={name: statement.excluded[name] for name in (*EDITABLE, "updated_at")},
            )
        )
        return not existed

    async def get(self, agency_id: str) -> dict[str, Any] | None:
        row = (
            await self._session.execute(select(agencies).where(agencies.c.agency_id == agency_id))
        ).first()
        return dict(row._mapping) if row else None

    async def all(self) -> list[dict[str, Any]]:
        rows = await self._session.execute(select(agencies).order_by(agencies.c.agency_id))
        return [dict(r._mapping) for r in rows]

    async def loads(self, open_counts: dict[str, int]) -> list[AgencyLoad]:
        """Every active agency with the accounts it holds open now."""
        rows = await self._session.execute(select(agencies).where(agencies.c.active))
        return [
            AgencyLoad(
                agency_id=r.agency_id,
                jurisdictions=frozenset(r.jurisdictions),
                regions=frozenset(r.regions),
                capacity=r.capacity,
                share=r.share,
                open_accounts=open_counts.get(r.agency_id, 0),
            )
            for r in rows
        ]
