"""The agency registry in the gateway's database."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import agencies, agency_open_accounts
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


LOADS = (
    select(
        agencies,
        func.coalesce(agency_open_accounts.c.open_accounts, 0).label("open_accounts"),
    )
    .select_from(
        agencies.outerjoin(
            agency_open_accounts, agency_open_accounts.c.agency_id == agencies.c.agency_id
        )
    )
    .where(agencies.c.active)
    .order_by(agencies.c.agency_id)
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

    async def loads(self) -> list[tuple[AgencyLoad, dict[str, Any]]]:
        """Every active agency with the accounts it holds open now: its counter row
        (``agency_open_accounts``, kept by triggers on ``assignments``), in the same read."""
        rows = await self._session.execute(LOADS)
        return [
            (
                AgencyLoad(
                    agency_id=r.agency_id,
                    jurisdictions=frozenset(r.jurisdictions),
                    regions=frozenset(r.regions),
                    capacity=r.capacity,
                    share=r.share,
                    open_accounts=int(r.open_accounts),
                ),
                {column.key: r._mapping[column.key] for column in agencies.c},
            )
            for r in rows
        ]
