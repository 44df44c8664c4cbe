"""What the gateway's use cases need: a unit of work with its stores, sealing, a webhook poster.

The SQL adapters (``adapters/``) implement these; unit tests use in-memory fakes
(``tests/unit/agency_gateway/fakes.py``). Rows are dicts named as the tables' columns. A unit
of work rolls back unless ``commit()`` was called, and writes the events published through it
to the outbox (each on its type's topic) in the transaction it commits.
"""

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel

from services.agency_gateway.domain.allocation import AgencyLoad
from shared.contact_rules import Contact, OptOut
from shared.crypto import SealedValue
from shared.events.borrowers import DataAnswer
from shared.events.envelope import Envelope
from shared.events.models import BorrowerContact

LoanKey = tuple[str, str]  # (lender id, loan id)
BorrowerKey = tuple[str, str]  # (lender id, borrower ref)
Row = dict[str, Any]
M = TypeVar("M", bound=BaseModel, covariant=True)


class Received(Protocol, Generic[M]):
    """A consumed event, as the consumer's use cases read it: its envelope and typed data."""

    @property
    def envelope(self) -> Envelope: ...

    @property
    def data(self) -> M: ...


class CaseStore(Protocol):
    """Every write to a case ends any placement claim on it (it is claimed afresh)."""

    async def upsert(self, rows: Sequence[Row]) -> None:
        """Open or update cases; a report older than the stored one changes nothing."""

    async def record_decided(self, rows: Sequence[Row]) -> None:
        """Open or update cases with their placement decision (status included), in one
        write; the caller locked them and left out the reports older than the stored ones."""

    async def get(self, lender_id: str, loan_id: str) -> Row | None: ...

    async def for_update(self, keys: Collection[LoanKey]) -> dict[LoanKey, Row]:
        """The known cases among ``keys``, locked until the transaction ends."""

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, token: UUID
    ) -> list[LoanKey]:
        """The cases due for a placement decision (oldest due first), claimed under ``token``
        for ``lease``: no other worker takes them until it ends."""

    async def held(self, keys: Collection[LoanKey], token: UUID) -> list[Row]:
        """The cases among ``keys`` the claim ``token`` still holds, as they are now, oldest
        due first, locked until the transaction ends (one being written elsewhere is left
        out: that write ends the claim)."""

    async def change_each(self, rows: Sequence[Row]) -> None:
        """Give each case (``lender_id``, ``loan_id``) the other values of its row."""

    async def change(self, key: LoanKey, **values: Any) -> None: ...

    async def borrowers_due_now(self, lender_id: str, borrower_ref: str, now: datetime) -> None:
        """Every case of the borrower is due for a new placement decision."""

    async def of_borrower(self, lender_id: str, borrower_ref: str) -> list[Row]:
        """Every case of the borrower at the lender, locked until the transaction ends."""

    async def erasable(self, ended_by: datetime, limit: int) -> list[LoanKey]:
        """Up to ``limit`` cases still holding contact details whose loan ended (cured, closed
        or recalled: ``ended_at``, else ``lender_recalled_at``) by ``ended_by`` and that no
        agency holds, locked (another worker skips them)."""

    async def erase_contacts(self, keys: Collection[LoanKey], now: datetime) -> None:
        """The cases' sealed contact details, region and time zone erased (``contact_sealed``
        null, ``contact_erased_at`` now); a later report stores them again."""


class PreferenceStore(Protocol):
    async def upsert(self, row: Row) -> None:
        """A borrower's preferences, unless newer ones are stored."""

    async def of(self, borrowers: Collection[BorrowerKey]) -> dict[BorrowerKey, Row]: ...


class OptOutStore(Protocol):
    async def add(self, rows: Sequence[Row]) -> None:
        """Channels opted out of by reply; the earliest reply per channel stays."""

    async def of(self, lender_id: str, borrower_ref: str) -> list[OptOut]: ...


class AssignmentStore(Protocol):
    async def add(self, rows: Sequence[Row]) -> None: ...

    async def get(self, assignment_id: str, *, lock: bool = False) -> Row | None: ...

    async def active(self, keys: Collection[LoanKey]) -> dict[LoanKey, Row]: ...

    async def past_agencies(self, keys: Collection[LoanKey]) -> dict[LoanKey, set[str]]:
        """The agencies that held each loan before (a re-placement goes elsewhere), but for
        those a hold recalled it from (``domain.cases.recalled_by_hold``): once the hold is
        lifted the loan may go back to them."""

    async def of_loan(self, lender_id: str, loan_id: str) -> list[Row]:
        """Every assignment of the loan, newest first."""

    async def of_loans(self, keys: Collection[LoanKey]) -> list[Row]:
        """Every assignment of the loans, oldest first."""

    async def claim_lapsed(self, now: datetime, limit: int) -> list[Row]:
        """Active assignments past their acknowledgement deadline or their term, locked."""

    async def announce_expiring(self, now: datetime, within: timedelta, limit: int) -> list[Row]:
        """Active assignments expiring within ``within`` not announced yet, marked announced."""

    async def change(self, assignment_id: str, **values: Any) -> None: ...

    async def notice_sent(
        self, lender_id: str, loan_id: str, agency_id: str, at: datetime
    ) -> None: ...


class AgencyRegistry(Protocol):
    async def put(self, agency_id: str, fields: Row, now: datetime) -> bool:
        """Create or replace an agency; True when it is new."""

    async def get(self, agency_id: str) -> Row | None: ...

    async def all(self) -> list[Row]: ...

    async def loads(self) -> list[tuple[AgencyLoad, Row]]:
        """Every active agency with the accounts it holds open now (one counter row per
        agency, not a count of its assignments), and its row."""


class ActivityLog(Protocol):
    async def add(self, row: Row) -> Row | None:
        """Record the activity; None if it was recorded already, else the stored row."""

    async def get(self, agency_id: str, activity_id: str) -> Row: ...

    async def of_assignments(self, assignment_ids: Collection[str]) -> list[Row]:
        """The activities recorded on the assignments, without their texts, oldest first."""

    async def erase_texts(self, keys: Collection[LoanKey]) -> None:
        """The texts of every activity on the loans' assignments erased (the records stay)."""


class CommitmentStore(Protocol):
    async def add_once(self, kind: str, row: Row) -> tuple[Row, bool]:
        """Record a ``promise``, ``payment`` or ``dispute`` under the agency's own id: the
        stored row and whether it is new."""

    async def promises(self, assignment_id: str) -> list[Row]: ...

    async def payments(self, assignment_id: str) -> list[Row]: ...

    async def disputes(self, assignment_id: str) -> list[Row]: ...

    async def lender_payments(self, lender_id: str, loan_id: str) -> list[Row]: ...

    async def record_lender_payments(self, rows: Sequence[Row]) -> None:
        """The lender's payments (one seen before is left as it is)."""

    async def add_escalation(self, row: Row) -> None: ...


class LegalStageStore(Protocol):
    async def add(self, row: Row) -> None:
        """Record one change of a loan's legal stage."""

    async def of_loan(self, lender_id: str, loan_id: str) -> list[Row]:
        """Every change of the loan's legal stage, in order (``seq``)."""


class ContactLedger(Protocol):
    async def record(self, made: Sequence[tuple[Contact, LoanKey]]) -> None:
        """Add contacts; one known already takes the furthest outcome reported."""

    async def of_loan(self, lender_id: str, loan_id: str, person_ref: str) -> list[Contact]: ...


class DeliveryLog(Protocol):
    async def owe(self, events: Sequence[tuple[str, Row]], now: datetime) -> None:
        """A delivery of each (webhook event, data) to the agency it names, if it has a URL."""

    async def owe_for(self, envelopes: Sequence[Envelope], now: datetime) -> None:
        """The deliveries the events announced to agencies make."""

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, token: UUID
    ) -> list[Row]:
        """Due deliveries, claimed under ``token`` for ``lease``, each with its ``agency``
        row."""

    async def attempted(
        self,
        delivery_id: str,
        attempt: int,
        at: datetime,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        *,
        token: UUID,
    ) -> None:
        """Log an attempt; the delivery changes only while the claim ``token`` holds it."""

    async def redeliver(
        self,
        agency_id: str,
        delivery_ids: Sequence[str] | None,
        since: datetime | None,
        now: datetime,
    ) -> int: ...

    async def log(self, agency_id: str, limit: int) -> list[Row]:
        """The agency's deliveries, newest first, each with its attempts (``log``)."""


class AssignmentList(Protocol):
    async def page(
        self,
        agency_id: str,
        status: str | None,
        updated_since: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> Sequence[Sequence[Any]]:
        """Up to ``limit`` of the agency's assignments after the (``updated_at``,
        ``assignment_id``) ``after``, oldest change first: rows of the list's columns."""


class UnitOfWork(Protocol):
    @property
    def cases(self) -> CaseStore: ...

    @property
    def preferences(self) -> PreferenceStore: ...

    @property
    def opt_outs(self) -> OptOutStore: ...

    @property
    def assignments(self) -> AssignmentStore: ...

    @property
    def agencies(self) -> AgencyRegistry: ...

    @property
    def activities(self) -> ActivityLog: ...

    @property
    def commitments(self) -> CommitmentStore: ...

    @property
    def legal(self) -> LegalStageStore: ...

    @property
    def ledger(self) -> ContactLedger: ...

    @property
    def deliveries(self) -> DeliveryLog: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None:
        """Roll back unless committed."""

    def publish(self, envelope: Envelope) -> None:
        """Queue an event; it reaches the outbox in the transaction ``commit`` commits."""

    def savepoint(self) -> AbstractAsyncContextManager[None]: ...

    async def commit(self) -> None: ...


class ContactSealing(Protocol):
    """Borrowers' contact details: opened from events, sealed at rest under the data key."""

    def stored(self, in_event: SealedValue, case: Mapping[str, Any]) -> dict[str, str]:
        """The contact of a case's event, as the case stores it."""

    def opened(self, case: Mapping[str, Any]) -> BorrowerContact: ...


class ActivityTexts(Protocol):
    """Activities' free texts, sealed at rest; events carry a keyed hash instead."""

    def seal(self, text: str, row: Mapping[str, Any]) -> dict[str, str]: ...

    def open(self, row: Mapping[str, Any]) -> str | None: ...

    def digest(self, text: str) -> str: ...


class NoteSealing(Protocol):
    """Notes of the legal stage's changes, sealed at rest (never in an event)."""

    def seal(self, text: str, row: Mapping[str, Any]) -> dict[str, str]: ...

    def open(self, row: Mapping[str, Any]) -> str | None: ...


class AnswerSealing(Protocol):
    def __call__(self, request_id: str, answer: DataAnswer) -> SealedValue:
        """A data request's answer sealed for intake alone, bound to the request."""


class WebhookPoster(Protocol):
    async def post(self, delivery: Mapping[str, Any]) -> tuple[int | None, str | None]:
        """Send one delivery, signed for its agency: the status code and the error, if any."""


class Backoff(Protocol):
    def __call__(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failure in a row."""


class Clock(Protocol):
    def __call__(self) -> datetime: ...


def utc_now() -> datetime:
    """The clock of production: now, in UTC."""
    return datetime.now(UTC)
