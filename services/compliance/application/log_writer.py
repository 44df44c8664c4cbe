"""Appending to the audit log: entries, tree, the violations they reveal or retract and a
signed checkpoint, in the consumed batch's one transaction."""

from collections.abc import Sequence
from datetime import datetime

import structlog

from services.compliance.application.judge import Judge, Verdicts
from services.compliance.application.ports import (
    AuditLog,
    Checkpoints,
    Clock,
    SignedCheckpoint,
    Signer,
    UnitOfWork,
)
from services.compliance.domain.entries import NewEntry, new_entry
from shared.tlog.note import Checkpoint

log = structlog.get_logger(__name__)


class LogWriter:
    """Every append is signed at once: an entry is in a signed checkpoint when its
    transaction commits (no batching delay to wait out)."""

    def __init__(self, signer: Signer, judge: Judge, clock: Clock) -> None:
        self.signer = signer
        self._judge = judge
        self._clock = clock

    @property
    def key_id(self) -> str:
        """The signing key's C2SP key id, 8 hex digits."""
        return f"{self.signer.verifier.key_id:08x}"

    async def append(self, uow: UnitOfWork, entries: Sequence[NewEntry]) -> SignedCheckpoint:
        """Append the entries, then the violations they reveal or retract (entries too, and
        events published through ``uow``), and sign the new tree head once."""
        appended = await uow.log.append(entries)
        verdicts = await self._judged(uow, entries)
        envelopes = verdicts.envelopes
        if envelopes:
            appended = await uow.log.append([new_entry(e) for e in envelopes])
            first = appended.size - len(envelopes)  # found first, then retracted
            await uow.violations.add(
                [
                    (violation.lender_id, first + offset, violation.judged)
                    for offset, violation in enumerate(verdicts.found)
                ]
            )
            first += len(verdicts.found)
            await uow.violations.retract(
                [
                    (r.retraction.violation.violation_id, first + offset, r.envelope.time)
                    for offset, r in enumerate(verdicts.retracted)
                ]
            )
            for envelope in envelopes:
                uow.publish(envelope)
        return await self._sign(uow.checkpoints, appended.size, appended.root)

    async def _judged(self, uow: UnitOfWork, entries: Sequence[NewEntry]) -> Verdicts:
        """Violations found and retracted; a judging failure must never keep events out of
        the log, so it is logged and the loans are judged again with their next entries."""
        try:
            async with uow.savepoint():
                return await self._judge.verdicts(uow, entries)
        except Exception:
            log.exception("judging failed; the entries are logged unjudged")
            return Verdicts()

    async def latest(self, log_: AuditLog, checkpoints: Checkpoints) -> SignedCheckpoint:
        """The checkpoint of the current tree head, signed now if none is (an empty log, a new
        key)."""
        head = await log_.head()
        return await checkpoints.at(head.size, self.key_id) or await self._sign(
            checkpoints, head.size, head.root_hash
        )

    async def _sign(self, checkpoints: Checkpoints, size: int, root: bytes) -> SignedCheckpoint:
        """Sign the tree head and keep it (a size signed before is signed again, with the key
        in use now)."""
        signed = signed_checkpoint(self.signer, size, root, self._clock.now())
        await checkpoints.save(signed)
        return signed


def signed_checkpoint(signer: Signer, size: int, root: bytes, at: datetime) -> SignedCheckpoint:
    """The C2SP checkpoint of a tree head as a signed note."""
    note = signer.sign(Checkpoint(signer.name, size, root).text())
    return SignedCheckpoint(size, root, at, f"{signer.verifier.key_id:08x}", note)
