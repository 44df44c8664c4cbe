"""Appending to the audit log: entries, tree and a signed checkpoint in one transaction."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.audit_log import AuditLog
from services.compliance.adapters.checkpoints import Checkpoints, SignedCheckpoint
from services.compliance.domain.entries import NewEntry
from shared.tlog.note import Signer


class LogWriter:
    """Every append is signed at once: an entry is in a signed checkpoint when its
    transaction commits (no batching delay to wait out)."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    async def append(self, session: AsyncSession, entries: Sequence[NewEntry]) -> SignedCheckpoint:
        appended = await AuditLog(session).append(entries)
        return await Checkpoints(session, self.signer).sign(appended.size, appended.root)

    async def latest(self, session: AsyncSession) -> SignedCheckpoint:
        """The checkpoint of the current tree head, signed now if none is (an empty log, a new
        key)."""
        head = await AuditLog(session).head()
        checkpoints = Checkpoints(session, self.signer)
        return await checkpoints.at(head.size) or await checkpoints.sign(head.size, head.root_hash)
