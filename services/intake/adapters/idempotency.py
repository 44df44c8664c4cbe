"""Stored responses of requests sent with an ``Idempotency-Key``."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.tables import idempotency_keys


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: bytes
    status_code: int
    body: dict[str, Any]


class IdempotencyStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, lender_id: str, key: str) -> StoredResponse | None:
        row = (
            await self._session.execute(
                select(
                    idempotency_keys.c.fingerprint,
                    idempotency_keys.c.status_code,
                    idempotency_keys.c.response,
                ).where(idempotency_keys.c.lender_id == lender_id, idempotency_keys.c.key == key)
            )
        ).first()
        return StoredResponse(row.fingerprint, row.status_code, row.response) if row else None

    async def save(self, lender_id: str, key: str, response: StoredResponse) -> bool:
        """Keep a response; False when a concurrent request with the key got there first."""
        inserted = await self._session.execute(
            pg_insert(idempotency_keys)
            .values(
                lender_id=lender_id,
                key=key,
                fingerprint=response.fingerprint,
                status_code=response.status_code,
                response=response.body,
            )
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.key)
        )
        return inserted.first() is not None
