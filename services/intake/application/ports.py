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
from services.intake.domain.disputes import ENDED, BorrowerChoices, Dispute
from services.intake.domain.loan import Hold, Loan
from shared.crypto import SealedValue
from shared.events.borrowers import DataRequestKind
from shared.events.envelope import Envelope
from shared.events.models import ContactPreferences
from shared.vocabulary import Channel


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
class EncodedEvent:
    """An event serialized once, as the outbox stores it (``Envelope.to_bytes()``): what a
    batch of reports publishes instead of a thousand ``Envelope`` models."""

    event_id: UUID
    type: str  # in the event catalogue: it names the topic
    key: str  # the Kafka message key (tenant/subject)
    payload: bytes


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


@dataclass(frozen=True, slots=True)
class StoredBorrower:
    """A loan with what intake keeps of its borrower (contact details sealed at rest)."""

    loan: Loan
    borrower_id: str
    contact: SealedValue | None  # None once a deletion request erased it
    locale: str
    timezone: str
    region: str | None
    updated_at: datetime
    recalled: bool = False  # the lender recalled it after its latest report

    @property
    def ended(self) -> bool:
        """Closed, cured or recalled: no collection goes on (a deletion erases its contacts)."""
        return self.recalled or self.loan.status in ENDED


@dataclass(frozen=True, slots=True)
class StoredPreferences:
    reported: ContactPreferences  # what the lender reported
    choices: BorrowerChoices  # what the borrower chose on their page
    effective: ContactPreferences  # the two merged: what was published


@dataclass(frozen=True, slots=True)
class HolderRecord:
    """The agency an assignment entrusted the loan to."""

    lender_id: str
    loan_id: str
    assignment_id: str
    agency_id: str
    name: str
    phone: str | None
    since: datetime


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    """A message sent to the borrower about a loan (no content)."""

    lender_id: str
    loan_id: str
    notification_id: UUID
    at: datetime
    channel: Channel
    kind: str


@dataclass(frozen=True, slots=True)
class DataRequestRecord:
    request_id: str
    lender_id: str
    loan_id: str
    borrower_ref: str
    kind: DataRequestKind
    status: str  # pending, ready
    requested_at: datetime
    due_by: datetime
    ready_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """A service's answer to a data request, sealed with intake's data keys."""

    request_id: str
    service: str
    sealed: SealedValue
    answered_at: datetime


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

    async def add_holds(self, lender_id: str, holds: Sequence[tuple[str, Hold]]) -> None:
        """(loan id, hold) pairs; a hold id the lender has already is left as it is."""

    async def preferences_of(
        self, lender_id: str, borrower_id: str
    ) -> StoredPreferences | None: ...

    async def save_preferences(
        self, lender_id: str, borrower_id: str, borrower_ref: str, preferences: StoredPreferences
    ) -> int:
        """Replace a borrower's contact preferences; returns their new version number."""

    async def borrower_of(self, lender_id: str, loan_id: str) -> StoredBorrower | None: ...

    async def loans_of_borrower(self, lender_id: str, borrower_ref: str) -> list[StoredBorrower]:
        """Every loan of the borrower at the lender, in loan id order."""

    async def erase_contacts(self, lender_id: str, loan_ids: Collection[str]) -> None:
        """Erase the sealed contact details of these loans (a deletion request)."""


class DisputeStore(Protocol):
    async def add(self, dispute: Dispute, details: SealedValue | None) -> bool:
        """False when the lender has a dispute of that id already."""

    async def lock(self, lender_id: str, loan_id: str, dispute_id: str) -> Dispute | None: ...

    async def resolve(self, dispute: Dispute, note: SealedValue | None) -> None: ...

    async def of_loan(self, lender_id: str, loan_id: str) -> list[Dispute]:
        """Oldest first."""

    async def erase_details(self, lender_id: str, loan_ids: Collection[str]) -> None:
        """Erase the sealed free text of the disputes of these loans."""


class BorrowerStore(Protocol):
    """What intake learns of a loan from the other services, its links and data requests."""

    async def hold(self, holders: Sequence[HolderRecord]) -> None:
        """Each loan's holder now (an older placement never replaces a newer one)."""

    async def release(self, ended: Sequence[tuple[str, str, str]]) -> None:
        """(lender, loan, assignment id): that placement ended, no agency holds the loan."""

    async def holder_of(self, lender_id: str, loan_id: str) -> HolderRecord | None: ...

    async def add_notices(self, notices: Sequence[NoticeRecord]) -> None:
        """A notice already known (by its notification id) is left as it is."""

    async def notices_of(self, lender_id: str, loan_id: str) -> list[NoticeRecord]: ...

    async def revoke_links(self, lender_id: str, loan_id: str, before: datetime) -> None: ...

    async def links_revoked_before(self, lender_id: str, loan_id: str) -> datetime | None: ...

    async def add_request(self, request: DataRequestRecord) -> None: ...

    async def requests_of(self, lender_id: str, borrower_ref: str) -> list[DataRequestRecord]:
        """Newest first."""

    async def requests(self, request_ids: Collection[str]) -> dict[str, DataRequestRecord]: ...

    async def add_answers(self, answers: Sequence[StoredAnswer]) -> None:
        """An answer already known (request, service) is left as it is."""

    async def answers_of(self, request_id: str) -> list[StoredAnswer]: ...

    async def mark_ready(
        self, request_ids: Collection[str], services: Collection[str], at: datetime
    ) -> None:
        """Requests still pending that every one of ``services`` answered become ready."""

    async def erase_access_answers(self, lender_id: str, borrower_ref: str) -> None:
        """The copies kept of this borrower's access answers are deleted and their requests
        become ``erased`` (an answer that arrives after is not kept)."""


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

    @property
    def disputes(self) -> DisputeStore: ...

    @property
    def borrowers(self) -> BorrowerStore: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None:
        """Roll back unless committed."""

    def publish(self, envelope: Envelope) -> None:
        """Queue an event; it reaches the outbox in the transaction ``commit`` commits."""

    async def publish_encoded(self, events: Sequence[EncodedEvent]) -> None:
        """Write events serialized already to the outbox now, in this transaction: they come
        before every event ``publish`` queued (which reaches the outbox at ``commit``)."""

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Work inside it is undone, events included, if the block raises."""

    async def commit(self) -> None: ...
