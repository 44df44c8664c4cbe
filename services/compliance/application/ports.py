"""What compliance's use cases need from the outside: the audit log, violations, checkpoints,
the signer and the clock, a unit of work over them, and the read side the auditors' API uses.

The SQL adapters (``adapters/``) implement these for production and integration tests; unit
tests use in-memory fakes (``tests/unit/compliance/fakes.py``).
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, Self

from services.compliance.domain.entries import NewEntry
from services.compliance.domain.judgement import Judged
from services.compliance.domain.promises import LoanKey, LoggedPromise
from services.compliance.domain.retraction import StandingViolation
from shared.events.envelope import Envelope
from shared.promises import Paid
from shared.tlog.note import Verifier
from shared.tlog.tree import Appended, NodeKey

EntryRow = dict[str, Any]
"""A stored entry: ``leaf_index``, ``event_id``, ``event_type``, ``tenant_id``, ``loan_id``,
``agency_id``, ``event_time``, ``recorded_at``, ``entry`` (canonical bytes), ``leaf_hash``."""
LoanPair = tuple[str, str]  # (lender id, loan id)
BorrowerPair = tuple[str, str]  # (lender id, borrower pseudonym)
Status = Literal["standing", "retracted", "all"]


class MissingNodesError(LookupError):
    """Nodes of a tree larger than the log (or removed from the database)."""


@dataclass(frozen=True)
class TreeHead:
    size: int
    root_hash: bytes


@dataclass(frozen=True)
class SignedCheckpoint:
    tree_size: int
    root_hash: bytes
    signed_at: datetime
    key_id: str
    note: str


@dataclass(frozen=True)
class EntryFilter:
    lender_id: str | None = None  # None: every lender (an auditor of all)
    loan_id: str | None = None
    agency_id: str | None = None
    event_type: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    after_index: int = -1  # the cursor: entries past this leaf index


@dataclass(frozen=True)
class ViolationFilter:
    lender_id: str | None = None
    rule_id: str | None = None
    agency_id: str | None = None
    loan_id: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    status: Status = "all"
    after_index: int = -1


@dataclass(frozen=True)
class Period:
    """A report's filters: one lender (None: all) and ``[time_from, time_to)``, open-ended
    where a bound is None."""

    lender_id: str | None
    time_from: datetime | None
    time_to: datetime | None


class AuditLog(Protocol):
    async def append(self, entries: Sequence[NewEntry]) -> Appended:
        """Give the entries the next leaf indexes, store them and the tree nodes they complete,
        and move the tree head; concurrent writers queue (indexes stay gap-free)."""

    async def head(self) -> TreeHead: ...

    async def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        """The stored nodes; :class:`MissingNodesError` if any is not stored."""

    async def entries(self, where: EntryFilter, limit: int) -> list[EntryRow]:
        """Entries in leaf order past the cursor, at most ``limit``."""

    async def timeline(self, lender_id: str, loan_id: str) -> list[EntryRow]:
        """A loan's entries and its borrower's (which name no loan), in leaf order."""

    async def timelines(self, loans: Collection[LoanPair]) -> dict[LoanPair, list[EntryRow]]:
        """The timelines of these loans, read at once."""

    async def judged_timelines(
        self, loans: Collection[LoanPair], before: int
    ) -> dict[LoanPair, list[EntryRow]]:
        """``timelines`` with what judging reads of an entry only: ``leaf_index``,
        ``event_type``, ``entry`` and ``borrower_ref``, of the entries below the leaf index
        ``before``."""

    async def between(self, start: int, end: int) -> list[EntryRow]:
        """The entries ``[start, end)`` in leaf order, with what judging reads and
        ``tenant_id`` and ``loan_id``."""

    async def of_borrowers(
        self, borrowers: Collection[BorrowerPair]
    ) -> dict[BorrowerPair, list[EntryRow]]:
        """Every entry naming these borrowers (each at its lender), every loan of theirs, in
        leaf order, read at once."""


class Violations(Protocol):
    async def standing(
        self, loans: Collection[LoanPair]
    ) -> dict[LoanPair, list[StandingViolation]]:
        """The violations of these loans not retracted, by loan."""

    async def add(self, found: Sequence[tuple[str, int, Judged]]) -> None:
        """Store (lender, leaf index of its entry, violation); one found again after its
        retraction stands again, pointing at its new entry."""

    async def retract(self, retracted: Sequence[tuple[str, int, datetime]]) -> None:
        """Mark (violation id, retraction entry's leaf index, time) retracted."""

    async def page(self, where: ViolationFilter, limit: int) -> list[dict[str, Any]]: ...


class Judging(Protocol):
    """The judged-up-to watermark: entries below it are judged."""

    async def claim(self, *, wait: bool = False) -> int | None:
        """The size judged so far, held for the unit of work; None while another unit of work
        (a replica's round) holds it, unless ``wait``: then once it let go."""

    async def advance(self, size: int) -> None:
        """Entries below ``size`` are judged, with the unit of work."""


class Checkpoints(Protocol):
    async def save(self, signed: SignedCheckpoint) -> None:
        """Keep it (a size signed before is replaced)."""

    async def at(self, size: int, key_id: str) -> SignedCheckpoint | None:
        """The checkpoint of this size signed by this key, if there is one."""


class Signer(Protocol):
    """The log's checkpoint key (``shared.tlog.note.Signer``)."""

    @property
    def name(self) -> str: ...

    @property
    def verifier(self) -> Verifier: ...

    def sign(self, text: str) -> str:
        """The text as a signed note."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class LogStores(Protocol):
    """The log's stores, as the writer and the auditors' reads both see them."""

    @property
    def log(self) -> AuditLog: ...

    @property
    def violations(self) -> Violations: ...

    @property
    def checkpoints(self) -> Checkpoints: ...


class UnitOfWork(LogStores, Protocol):
    """One transaction over the log's stores; events published reach the outbox in it."""

    @property
    def judging(self) -> Judging: ...

    def publish(self, envelope: Envelope) -> None: ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Work inside it is undone, events included, if the block raises."""


class CommittedUnitOfWork(UnitOfWork, Protocol):
    """A unit of work its caller opens and commits (a judging round's)."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def commit(self) -> None: ...


class AgencyActivity(Protocol):
    async def contacts_by_agency(self, period: Period) -> Mapping[str, Mapping[str, int]]:
        """Agencies' activities logged in the period, by agency and type (notes too)."""

    async def standing_by_agency(self, period: Period) -> Mapping[str, Mapping[str, int]]:
        """Standing violations of agencies whose contact is in the period, by agency and
        rule."""


class PromiseEntries(Protocol):
    async def due(
        self, lender_id: str | None, time_from: datetime | None, time_to: datetime | None
    ) -> list[LoggedPromise]:
        """Promises whose due date starts in the period, each once."""

    async def lender_payments(self, loans: Collection[LoanKey]) -> dict[LoanKey, list[Paid]]:
        """The payments the lender reported on each loan, each once."""


class AuditReads(LogStores, Protocol):
    """What the auditors' API reads (and the checkpoint it may sign), on one connection."""

    @property
    def activity(self) -> AgencyActivity: ...

    @property
    def promises(self) -> PromiseEntries: ...
