"""Appending to the audit log: entries, tree, the violations they reveal or retract and a
signed checkpoint, in the consumed batch's one transaction."""

from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.audit_log import AuditLog
from services.compliance.adapters.checkpoints import Checkpoints, SignedCheckpoint
from services.compliance.adapters.violations import Violations
from services.compliance.domain.entries import NewEntry, new_entry
from services.compliance.judge import Judge, Verdicts
from shared.db.unit_of_work import enqueue
from shared.tlog.note import Signer

log = structlog.get_logger(__name__)


class LogWriter:
    """Every append is signed at once: an entry is in a signed checkpoint when its
    transaction commits (no batching delay to wait out)."""

    def __init__(self, signer: Signer, judge: Judge, violations_topic: str) -> None:
        self.signer = signer
        self._judge = judge
        self._topic = violations_topic

    async def append(self, session: AsyncSession, entries: Sequence[NewEntry]) -> SignedCheckpoint:
        audit_log = AuditLog(session)
        appended = await audit_log.append(entries)
        verdicts = await self._judged(session, entries)
        envelopes = verdicts.envelopes
        if envelopes:
            appended = await audit_log.append([new_entry(e) for e in envelopes])
            first = appended.size - len(envelopes)  # found first, then retracted
            store = Violations(session)
            await store.add(
                [
                    (violation.lender_id, first + offset, violation.judged)
                    for offset, violation in enumerate(verdicts.found)
                ]
            )
            first += len(verdicts.found)
            await store.retract(
                [
                    (r.retraction.violation.violation_id, first + offset, r.envelope.time)
                    for offset, r in enumerate(verdicts.retracted)
                ]
            )
            await enqueue(session, self._topic, envelopes)
        return await Checkpoints(session, self.signer).sign(appended.size, appended.root)

    async def _judged(self, session: AsyncSession, entries: Sequence[NewEntry]) -> Verdicts:
        """Violations found and retracted; a judging failure must never keep events out of
        the log, so it is logged and the loans are judged again with their next entries."""
        try:
            async with session.begin_nested():
                return await self._judge.verdicts(session, entries)
        except Exception:
            log.exception("judging failed; the entries are logged unjudged")
            return Verdicts()

    async def latest(self, session: AsyncSession) -> SignedCheckpoint:
        """The checkpoint of the current tree head, signed now if none is (an empty log, a new
        key)."""
        head = await AuditLog(session).head()
        checkpoints = Checkpoints(session, self.signer)
        return await checkpoints.at(head.size) or await checkpoints.sign(head.size, head.root_hash)
