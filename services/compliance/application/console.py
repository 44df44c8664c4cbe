"""What the console reads beyond the JSON API's use cases: violations with the entries they
cite, one entry by its leaf index (for the in-browser inclusion check) and the checkpoint's
status (its age), each within the reader's lender."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.compliance.application.errors import LoanNotFoundError
from services.compliance.application.log_writer import LogWriter
from services.compliance.application.ports import (
    AuditReads,
    EntryRow,
    SignedCheckpoint,
    ViolationFilter,
)


class CitedEntries(Protocol):
    async def at(self, lender_id: str | None, leaf_indexes: Collection[int]) -> dict[int, EntryRow]:
        """The entries at these leaf indexes within the lender (None: any), in one read."""


class ConsoleReads(AuditReads, Protocol):
    @property
    def cited(self) -> CitedEntries: ...


class EntryNotFoundError(LookupError):
    """No entry at that leaf index that the reader may see."""


@dataclass(frozen=True)
class CitedViolation:
    violation: dict[str, Any]  # as the violations' page lists it
    evidence: list[EntryRow]  # the entries it cites, in its order (the contact first)


async def violations_with_evidence(
    reads: ConsoleReads, where: ViolationFilter, limit: int
) -> list[CitedViolation]:
    """A page of violations and every entry they cite, read in one statement."""
    rows = await reads.violations.page(where, limit)
    wanted = {index for row in rows for index in row["leaf_indexes"]}
    cited = await reads.cited.at(where.lender_id, wanted)
    return [
        CitedViolation(
            violation=row,
            evidence=[
                cited[index]
                for index in row["leaf_indexes"]
                if index in cited and cited[index]["tenant_id"] == row["lender_id"]
            ],
        )
        for row in rows
    ]


async def entry_at(reads: ConsoleReads, lender_id: str | None, leaf_index: int) -> EntryRow:
    """The entry at ``leaf_index`` if it is the lender's (any lender's, for None)."""
    found = (await reads.cited.at(lender_id, [leaf_index])).get(leaf_index)
    if found is None:
        raise EntryNotFoundError(f"No entry {leaf_index} is visible to this key.")
    return found


async def loan_timeline(reads: ConsoleReads, lender_id: str, loan_id: str) -> list[EntryRow]:
    """A loan's timeline (its entries and its borrower's), as the JSON API reads it."""
    rows = await reads.log.timeline(lender_id, loan_id)
    if not rows:
        raise LoanNotFoundError(f"No audit entry names loan {loan_id!r}.")
    return rows


@dataclass(frozen=True)
class CheckpointStatus:
    signed: SignedCheckpoint
    age: timedelta


async def checkpoint_status(
    reads: ConsoleReads, writer: LogWriter, now: datetime
) -> CheckpointStatus:
    """The latest signed checkpoint (signed now if the head moved since) and its age."""
    signed = await writer.latest(reads.log, reads.checkpoints)
    return CheckpointStatus(signed, max(timedelta(0), now - signed.signed_at))
