"""Signed checkpoints of the audit log, one per tree size that was signed."""

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import checkpoints
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
