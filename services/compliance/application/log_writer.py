"""Appending to the audit log: a consumed batch's entries, the tree and a signed checkpoint in
the batch's one transaction (provable when it commits); then, in a judging round of its own,
the violations the entries logged since the last round reveal or retract, with the
judged-up-to watermark that makes each entry judged once (``judge_pending``)."""

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

JUDGED_PER_ROUND = 5000
"""Entries a judging round takes at most (its transaction stays short after a backlog)."""


class LogWriter:
    """Every append is signed at once: an entry is in a signed checkpoint when its
    transaction commits (no batching delay, no judging to wait out). Judging follows in rounds
    of its own: the violations an entry reveals are appended (and signed) once, in the round
    that moves the watermark past it, whether or not the process stopped between."""

    def __init__(self, signer: Signer, judge: Judge, clock: Clock) -> None:
        self.signer = signer
        self._judge = judge
        self._clock = clock

    @property
    def key_id(self) -> str:
        """The signing key's C2SP key id, 8 hex digits."""
        return f"{self.signer.verifier.key_id:08x}"

    async def append(
        self, uow: UnitOfWork, entries: Sequence[NewEntry], *, judged: bool = False
    ) -> SignedCheckpoint:
        """Append the entries and sign the new tree head; a judging round judges them after
        this unit of work commits. ``judged``: every entry pending, these too, is judged in
        ``uow`` before it returns (what reads violations next in ``uow`` sees theirs): the
        watermark is claimed first, waiting for a round in flight, the order rounds take the
        watermark and the log's head in."""
        if judged:
            await uow.judging.claim(wait=True)
        appended = await uow.log.append(entries)
        signed = await self._sign(uow.checkpoints, appended.size, appended.root)
        if judged:
            while await self.judge_pending(uow):
                pass
        return signed

    async def judge_pending(self, uow: UnitOfWork, limit: int = JUDGED_PER_ROUND) -> int:
        """A judging round: the loans the entries past the watermark name (at most ``limit``
        entries) judged whole by the log up to the last of them; the violations found or
        retracted appended (entries too, and events published through ``uow``) and signed
        once; the watermark moved past those entries, all in ``uow``. The number of entries
        judged: 0 when none was pending or another replica's round holds the watermark."""
        start = await uow.judging.claim()
        if start is None:
            return 0
        end = min((await uow.log.head()).size, start + limit)
        if end <= start:
            return 0
        await self._conclude(uow, await self._judged(uow, start, end))
        await uow.judging.advance(end)
        return end - start

    async def _conclude(self, uow: UnitOfWork, verdicts: Verdicts) -> None:
        """Append and sign the verdicts' entries, store the violations, publish the events."""
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
            await self._sign(uow.checkpoints, appended.size, appended.root)

    async def _judged(self, uow: UnitOfWork, start: int, end: int) -> Verdicts:
        """Violations found and retracted; a judging failure must never hold the log's judging
        up, so it is logged and the loans are judged again with their next entries."""
        try:
            async with uow.savepoint():
                return await self._judge.verdicts_between(uow, start, end)
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
