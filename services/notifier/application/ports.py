"""What the use cases need from the world: a unit of work and its stores, the providers, the
borrowers' contact details, and the values they trade.

The SQL adapters (``adapters/``) and the provider adapters (``adapters/providers/``) implement
these for production and integration tests; unit tests use in-memory fakes
(``tests/unit/notifier/fakes.py``). A unit of work rolls back unless ``commit()`` was called,
and writes the events it was given to the outbox in the transaction it commits.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol, Self
from uuid import UUID

from services.notifier.domain.cadence_policies import CadencePolicies
from services.notifier.domain.files import Case, Notification, Preferences, Transition
from services.notifier.domain.lifecycle import CaseBatch
from shared.contact_rules import Contact
from shared.crypto import SealedValue
from shared.events.borrowers import DataAnswer
from shared.events.envelope import Envelope
from shared.events.models import BorrowerContact, BorrowerProfile
from shared.vocabulary import Channel

LoanKey = tuple[str, str]  # (lender, loan)
BorrowerKey = tuple[str, str]  # (lender, borrower_ref)


@dataclass(frozen=True)
class Attachment:
    """A file an e-mail carries (the demand letter's PDF)."""

    filename: str
    content_type: str  # "application/pdf"
    data: bytes


@dataclass(frozen=True)
class OutgoingMessage:
    """One reminder to send: ``to`` is E.164 for SMS, an e-mail address for e-mail."""

    channel: Channel
    to: str
    subject: str | None
    body: str
    idempotency_key: str
    sender_name: str | None = None
    unsubscribe_url: str | None = None  # e-mail: RFC 8058 one-click (holds a link token)
    attachments: tuple[Attachment, ...] = ()  # e-mail only
    traceparent: str | None = None  # the W3C context of the work that planned it (opaque)
    tracestate: str | None = None


class LetterPrinter(Protocol):
    def pdf(self, title: str, text: str, locale: str) -> bytes:
        """A letter (its title and plain text, in ``locale``) as PDF bytes."""


@dataclass(frozen=True)
class SendReceipt:
    """The provider accepted the message; ``provider_message_id`` names it in its receipts."""

    provider: str
    provider_message_id: str
    accepted_at: datetime


class ProviderError(Exception):
    """A provider did not accept a message, or could not say. ``reason`` never holds personal
    data (no number, no address, no text): it is logged and stored.

    ``ambiguous``: the request may have reached the provider and the message may have gone out
    (a read timeout, a connection dropped before the answer). Such a send is never retried
    blindly, nor handed to another provider: the provider is asked first (``find``).
    """

    def __init__(
        self, reason: str, *, retriable: bool, provider: str = "", ambiguous: bool = False
    ) -> None:
        super().__init__(f"{provider}: {reason}" if provider else reason)
        self.reason = reason
        self.retriable = retriable and not ambiguous
        self.provider = provider
        self.ambiguous = ambiguous


class Dispatcher(Protocol):
    """One channel's providers (``adapters/providers/dispatch.py``)."""

    async def send(self, message: OutgoingMessage) -> SendReceipt: ...

    async def find(
        self, message: OutgoingMessage, since: datetime, provider: str | None
    ) -> SendReceipt | None:
        """The message if a provider accepted it since ``since``; None if the providers show
        it did not go out; ProviderError if they cannot tell."""


class Composer(Protocol):
    def compose(self, n: Notification, case: Case, now: datetime) -> OutgoingMessage:
        """The message for ``n``; LookupError if the borrower has no address on its channel,
        any other error if it cannot be made (a template, a key gone from the ring)."""


DeliveryStatus = Literal["sent", "delivered", "failed"]


@dataclass(frozen=True)
class DeliveryReport:
    provider: str
    provider_message_id: str
    status: DeliveryStatus
    error_code: str | None
    at: datetime
    idempotency_key: str | None = None  # echoed by providers that keep it (Aliyun's out_id)


@dataclass(frozen=True)
class InboundReply:
    provider: str
    from_number: str  # E.164
    body: str
    at: datetime


Callback = DeliveryReport | InboundReply


class CallbackParser(Protocol):
    """One provider's callbacks, authenticated as it signs them
    (``adapters/providers/callbacks.py``); ``CallbackRejected`` when they are not."""

    def parse(self, *, url: str, headers: Mapping[str, str], body: bytes) -> list[Callback]: ...


@dataclass(frozen=True)
class StoredContactDetails:
    """A borrower's contact details as the notifier stores them: sealed, with keyed hashes of
    the phone number and the channels there is an address for."""

    sealed: dict[str, str]
    phone_refs: list[str]
    reachable: frozenset[Channel]


class ContactDetails(Protocol):
    """Borrowers' contact details (``adapters/contact_details.py``)."""

    def receive(
        self,
        lender_id: str,
        loan_id: str,
        borrower: BorrowerProfile,
        stored: StoredContactDetails | None = None,
    ) -> StoredContactDetails:
        """Open an event's contact details and seal them for the notifier's own table, or
        keep ``stored`` (the loan's as stored now) when they are the same and under the
        current key."""

    def open(self, lender_id: str, loan_id: str, sealed: dict[str, str]) -> BorrowerContact: ...

    def phone_refs(self, phone: str) -> list[str]:
        """The number's keyed hash under every key (to find it whatever its age)."""

    def seal_answer(self, request_id: str, answer: DataAnswer) -> SealedValue:
        """A data request's answer sealed with the transit keys, for intake alone."""


@dataclass(frozen=True)
class SendResults:
    """What a sender decided and did for its claimed notifications, to be recorded at once."""

    token: UUID
    settled: Sequence[Notification]
    transitions: Sequence[Transition]
    went_out: Collection[UUID]  # sent, or confirmed sent: true whoever holds the claim now
    in_doubt: Mapping[UUID, datetime]  # may have gone out: when to ask the provider
    sent: Sequence[tuple[Contact, LoanKey]]
    notices: Sequence[tuple[LoanKey, str, datetime]]  # (loan, assignment, sent at)


class CaseBatchStore(Protocol):
    async def load(
        self,
        policies: CadencePolicies,
        now: datetime,
        loan_keys: Iterable[LoanKey],
        borrower_keys: Iterable[BorrowerKey] = (),
    ) -> CaseBatch:
        """The cases (and the borrowers' other cases), their pending notifications and the
        borrowers' preferences, locked until commit."""

    async def save(self, batch: CaseBatch) -> None:
        """Write what applying events to the batch changed."""

    async def cases_of(self, keys: Iterable[LoanKey]) -> dict[LoanKey, Case]:
        """The cases, as they are now (not locked)."""

    async def preferences(self, keys: Iterable[BorrowerKey]) -> dict[BorrowerKey, Preferences]: ...


class SendingStore(Protocol):
    """The sender's queue of notifications: claims with a lease and a fencing token."""

    async def claim_due(self, limit: int, lease: timedelta, token: UUID) -> list[Notification]:
        """Due notifications no send has begun for, held under ``token`` for ``lease``."""

    async def claim_in_doubt(self, limit: int, lease: timedelta, token: UUID) -> list[Notification]:
        """Notifications whose send began but whose sender's lease ran out with no outcome."""

    async def begin_sends(
        self, token: UUID, ids: Collection[UUID], lease: timedelta
    ) -> dict[UUID, int]:
        """Fence the sends about to start: those still claimed by ``token`` and still
        scheduled, with their attempts counted (by id); the others must not go out."""

    async def ledger_of(
        self, keys: Iterable[LoanKey], borrowers: Iterable[BorrowerKey], now: datetime
    ) -> dict[LoanKey, list[Contact]]:
        """Every party's contacts of the last weeks, per loan (and the borrowers' other
        loans at the same lender)."""

    async def record(self, results: SendResults) -> set[UUID]:
        """Write the results this sender may still write; the ids written. A message that
        went out is recorded unless a provider's report settled it first; any other result
        only while the claim is still ``results.token``'s and the notification scheduled."""


class ReceiptStore(Protocol):
    async def reported(
        self, provider: str, message_ids: Collection[str], named: Collection[UUID]
    ) -> dict[str, Notification]:
        """The notifications reported on, locked, by provider message id and by their own
        id (as text)."""

    async def settle(
        self,
        changed: Sequence[Notification],
        transitions: Sequence[Transition],
        sent: Sequence[tuple[Contact, LoanKey]],
        delivered: Sequence[str],
    ) -> None:
        """Write what reports changed: states, history, ledger contacts of messages their
        sender never recorded, and the ledger contacts ``delivered`` (by contact id)."""

    async def by_phone(self, phone_refs: Collection[str]) -> list[tuple[str, str, list[str]]]:
        """(lender, borrower_ref, the loan's phone refs) of every loan whose number has one
        of ``phone_refs``."""


@dataclass(frozen=True)
class ContactMade:
    """A message that went out to the borrower (no content, no address)."""

    loan_id: str
    at: datetime  # when it was sent
    channel: Channel
    kind: str  # reminder, agency_notice, dispute_outcome
    outcome: str  # sent, delivered, failed (the provider's report)
    provider: str | None  # who carried it (a processor the address was shared with)


@dataclass(frozen=True)
class BorrowerRecords:
    """Everything the notifier holds about one borrower at one lender."""

    cases: Sequence[Case]
    preferences: Preferences | None
    contacts: Sequence[ContactMade]


class PersonalDataStore(Protocol):
    """Borrowers' personal data as a whole: data requests and retention."""

    async def answered(self, request_ids: Collection[str]) -> set[str]:
        """The requests among ``request_ids`` already answered."""

    async def records_of(self, lender_id: str, borrower_ref: str) -> BorrowerRecords:
        """The borrower's cases (locked until commit), preferences and contacts made."""

    async def erase_contacts(self, keys: Collection[LoanKey], at: datetime) -> None:
        """Erase the sealed contact details (and phone hashes) of these loans."""

    async def note_answer(
        self, request_id: str, lender_id: str, loan_id: str, kind: str, at: datetime
    ) -> bool:
        """Record that the request was answered; False if it already was."""

    async def erase_ended(self, ended_before: datetime, limit: int, at: datetime) -> int:
        """Erase the contact details of up to ``limit`` loans closed or cured before
        ``ended_before`` with nothing left to send; how many were erased."""


@dataclass(frozen=True)
class NotificationRecord:
    notification: Notification
    history: Sequence[Transition]


class NotificationReads(Protocol):
    async def of_loan(self, lender_id: str, loan_id: str) -> list[NotificationRecord] | None:
        """A loan's notifications with their history, by due time; None: no such loan."""


class UnitOfWork(Protocol):
    @property
    def cases(self) -> CaseBatchStore: ...

    @property
    def sending(self) -> SendingStore: ...

    @property
    def receipts(self) -> ReceiptStore: ...

    @property
    def notifications(self) -> NotificationReads: ...

    @property
    def personal_data(self) -> PersonalDataStore: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None:
        """Roll back unless committed."""

    def publish(self, envelope: Envelope) -> None:
        """Queue an event; it reaches the outbox in the transaction ``commit`` commits."""

    async def commit(self) -> None: ...
