"""Stored responses of requests sent with an ``Idempotency-Key``."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
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

    async def find_many(
        self, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredResponse]:
        """The stored responses among ``keys`` (lender id, key)."""
        rows = await self._session.execute(
            select(
                idempotency_keys.c.lender_id,
                idempotency_keys.c.key,
                idempotency_keys.c.fingerprint,
                idempotency_keys.c.status_code,
                idempotency_keys.c.response,
            ).where(tuple_(idempotency_keys.c.lender_id, idempotency_keys.c.key).in_(list(keys)))
        )
        return {
            (row.lender_id, row.key): StoredResponse(row.fingerprint, row.status_code, row.response)
            for row in rows
        }

    async def save_many(
        self, responses: Sequence[tuple[str, str, StoredResponse]]
    ) -> set[tuple[str, str]]:
        """Keep (lender id, key, response) triples; returns the keys no one had taken yet."""
        inserted = await self._session.execute(
            pg_insert(idempotency_keys)
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.lender_id, idempotency_keys.c.key),
            [
                {
                    "lender_id": lender_id,
                    "key": key,
                    "fingerprint": response.fingerprint,
                    "status_code": response.status_code,
                    "response": response.body,
                }
                for lender_id, key, response in responses
            ],
        )
        return {(row.lender_id, row.key) for row in inserted}
