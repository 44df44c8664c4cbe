"""What the use cases need from storage: a unit of work and the stores it holds.

The SQL adapters (``adapters/``) implement these for production and integration tests; unit
tests use in-memory fakes. A unit of work rolls back unless ``commit()`` was called, and writes
the events it was given to the outbox in the transaction it commits.
"""

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Self
from uuid import UUID

from services.intake.application.sealing import SealedBorrower
from services.intake.domain.loan import Hold, Loan
from shared.events.envelope import Envelope
from shared.events.models import ContactPreferences


@dataclass(slots=True)  # not frozen: made a thousand times a batch, and frozen costs
class ReportedLoan:
    """A loan with the borrower of its newest report, as it is to be stored."""

    loan: Loan
    borrower: SealedBorrower


@dataclass(slots=True)  # not frozen: made a thousand times a batch, and frozen costs
class HistoryEntry:
    """One event in a loan's history, pseudonymous (never personal data)."""

    event_id: UUID
    loan_id: str
    event_type: str
    identity: str  # see domain/identities.py
    occurred_at: datetime
    details: dict[str, Any]
    recorded_at: datetime | None = None  # set by the database


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    event_id: UUID
    loan_id: str


@dataclass(frozen=True, slots=True)
class StoredReply:
    """The reply to a request sent with an ``Idempotency-Key``, kept to replay it."""

    fingerprint: bytes
    status: int
    body: dict[str, Any]


class LoanStore(Protocol):
    async def lock(self, lender_id: str, loan_ids: Collection[str]) -> dict[str, Loan]:
        """The lender's loans among ``loan_ids``, locked (in loan id order) until commit."""

    async def get(self, lender_id: str, loan_id: str) -> Loan | None: ...

    async def save_reported(self, reported: Sequence[ReportedLoan]) -> None:
        """One row per loan; a row is never replaced by an older report."""

    async def save(self, loan: Loan) -> None:
        """The state a payment or closure changed."""

    async def holds_of(self, lender_id: str, loan_id: str) -> list[Hold]: ...

    async def lock_hold(self, lender_id: str, loan_id: str, hold_id: str) -> Hold | None: ...

    async def add_hold(self, lender_id: str, loan_id: str, hold: Hold) -> bool:
        """False when the lender has a hold of that id already (on whichever loan)."""

    async def lift_hold(self, lender_id: str, hold_id: str, at: datetime) -> None: ...

    async def save_preferences(
        self, lender_id: str, borrower_id: str, borrower_ref: str, preferences: ContactPreferences
    ) -> int:
        """Replace a borrower's contact preferences; returns their new version number."""


class EventHistory(Protocol):
    async def record(self, lender_id: str, entries: Sequence[HistoryEntry]) -> set[UUID]:
        """Add entries; returns the ids of those that were new (a known identity is not)."""

    async def on_record(
        self, lender_id: str, identities: Collection[str]
    ) -> dict[str, RecordedEvent]:
        """The event on record for each known identity."""

    async def of(self, lender_id: str, loan_id: str) -> list[HistoryEntry]:
        """A loan's history, oldest first."""


class IdempotencyKeys(Protocol):
    async def find(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], StoredReply]:
        """The stored replies among (lender id, key) pairs."""

    async def save(self, replies: Sequence[tuple[str, str, StoredReply]]) -> set[tuple[str, str]]:
        """Keep (lender id, key, reply); returns the keys nobody had taken yet."""


class UnitOfWork(Protocol):
    @property
    def loans(self) -> LoanStore: ...

    @property
    def history(self) -> EventHistory: ...

    @property
    def idempotency_keys(self) -> IdempotencyKeys: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None:
        """Roll back unless committed."""

    def publish(self, envelope: Envelope) -> None:
        """Queue an event; it reaches the outbox in the transaction ``commit`` commits."""

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Work inside it is undone, events included, if the block raises."""

    async def commit(self) -> None: ...
