"""Stored replies of requests sent with an ``Idempotency-Key``."""

from collections.abc import Collection, Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.tables import idempotency_keys
from services.intake.application.ports import StoredReply

Key = tuple[str, str]  # (lender id, Idempotency-Key)


class SqlIdempotencyKeys:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, keys: Collection[Key]) -> dict[Key, StoredReply]:
        if not keys:
            return {}
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
            (row.lender_id, row.key): StoredReply(row.fingerprint, row.status_code, row.response)
            for row in rows
        }

    async def save(self, replies: Sequence[tuple[str, str, StoredReply]]) -> set[Key]:
        if not replies:
            return set()
        inserted = await self._session.execute(
            pg_insert(idempotency_keys)
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.lender_id, idempotency_keys.c.key),
            [
                {
                    "lender_id": lender_id,
                    "key": key,
                    "fingerprint": reply.fingerprint,
                    "status_code": reply.status,
                    "response": reply.body,
                }
                for lender_id, key, reply in replies
            ],
        )
        return {(row.lender_id, row.key) for row in inserted}
