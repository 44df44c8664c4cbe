"""Signed checkpoints of the audit log, one per tree size that was signed."""

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import checkpoints, log_state
from services.compliance.application.ports import SignedCheckpoint


class SqlCheckpoints:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save(self, signed: SignedCheckpoint) -> None:
        values = {
            "tree_size": signed.tree_size,
            "root_hash": signed.root_hash,
            "signed_at": signed.signed_at,
            "key_id": signed.key_id,
            "note": signed.note,
        }
        await self._session.execute(
            insert(checkpoints)
            .values(values)
            .on_conflict_do_update(index_elements=[checkpoints.c.tree_size], set_=values)
        )

    async def at(self, size: int, key_id: str) -> SignedCheckpoint | None:
        row = (
            await self._session.execute(
                select(checkpoints).where(
                    checkpoints.c.tree_size == size, checkpoints.c.key_id == key_id
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return SignedCheckpoint(
            int(row.tree_size), bytes(row.root_hash), row.signed_at, row.key_id, row.note
        )


async def log_gauges(session: AsyncSession) -> tuple[int, float | None]:
    """The log's size and the seconds since its newest checkpoint was signed (None: none yet),
    for the metrics: one row each (the primary keys)."""
    size = await session.scalar(select(func.max(log_state.c.size)))
    newest: datetime | None = await session.scalar(
        select(checkpoints.c.signed_at).order_by(checkpoints.c.tree_size.desc()).limit(1)
    )
    age = None if newest is None else (datetime.now(UTC) - newest).total_seconds()
    return int(size or 0), None if age is None else max(0.0, age)
