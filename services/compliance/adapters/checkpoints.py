"""Signed checkpoints of the audit log, one per tree size that was signed."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import checkpoints
from shared.tlog.note import Checkpoint, Signer


@dataclass(frozen=True)
class SignedCheckpoint:
    tree_size: int
    root_hash: bytes
    signed_at: datetime
    key_id: str
    note: str


class Checkpoints:
    def __init__(self, session: AsyncSession, signer: Signer) -> None:
        self._session = session
        self._signer = signer

    @property
    def key_id(self) -> str:
        return f"{self._signer.verifier.key_id:08x}"

    async def sign(self, size: int, root_hash: bytes) -> SignedCheckpoint:
        """Sign the tree head and keep it (a size signed before is signed again, with the key
        in use now)."""
        note = self._signer.sign(Checkpoint(self._signer.name, size, root_hash).text())
        signed = SignedCheckpoint(size, root_hash, datetime.now(UTC), self.key_id, note)
        values = {
            "tree_size": size,
            "root_hash": root_hash,
            "signed_at": signed.signed_at,
            "key_id": signed.key_id,
            "note": note,
        }
        await self._session.execute(
            insert(checkpoints)
            .values(values)
            .on_conflict_do_update(index_elements=[checkpoints.c.tree_size], set_=values)
        )
        return signed

    async def at(self, size: int) -> SignedCheckpoint | None:
        """The checkpoint of this size signed by the current key, if there is one."""
        row = (
            await self._session.execute(
                select(checkpoints).where(
                    checkpoints.c.tree_size == size, checkpoints.c.key_id == self.key_id
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return SignedCheckpoint(
            int(row.tree_size), bytes(row.root_hash), row.signed_at, row.key_id, row.note
        )
