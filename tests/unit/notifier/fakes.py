"""In-memory fakes of the notifier's ports (``application/ports.py``), for the use cases' unit
tests: one ``FakeDatabase`` that every fake unit of work reads and writes, the providers of a
channel as a script, contact details in the clear."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Self
from uuid import UUID

from services.notifier.application.ports import (
    BorrowerKey,
    BorrowerRecords,
    Callback,
    ContactMade,
    LoanKey,
    NotificationRecord,
    OutgoingMessage,
    SendReceipt,
    SendResults,
    StoredContactDetails,
)
from services.notifier.domain.cadence_policies import CadencePolicies
from services.notifier.domain.files import Case, LoanState, Notification, Preferences, Transition
from services.notifier.domain.lifecycle import CaseBatch
from shared.contact_rules import Contact, Outcome
from shared.crypto import SealedValue
from shared.events.borrowers import DataAnswer
from shared.events.envelope import Envelope
from shared.events.models import BorrowerContact, BorrowerProfile
from shared.events.notifications import NotificationStatus
from shared.vocabulary import Channel

LEDGER_WINDOW = timedelta(days=31)
REPORTED = {NotificationStatus.SENT, NotificationStatus.DELIVERED, NotificationStatus.FAILED}


@dataclass
class Clock:
    now: datetime = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class FakeDatabase:
    """What the notifier's tables would hold."""

    clock: Clock = field(default_factory=Clock)
    cases: dict[LoanKey, Case] = field(default_factory=dict)
    preferences: dict[BorrowerKey, Preferences] = field(default_factory=dict)
    notifications: dict[UUID, Notification] = field(default_factory=dict)
    leases: dict[UUID, datetime] = field(default_factory=dict)  # lease_until
    history: list[Transition] = field(default_factory=list)
    contacts: dict[str, tuple[Contact, LoanKey]] = field(default_factory=dict)
    outbox: list[Envelope] = field(default_factory=list)
    answered: dict[str, str] = field(default_factory=dict)  # request id -> kind

    def add(self, batch: CaseBatch) -> None:
        """What a consumed batch planned, as its store would save it."""
        FakeCaseBatchStore(self).save_now(batch)

    def stored(self, notification_id: UUID) -> Notification:
        return self.notifications[notification_id]

    def statuses(self, notification_id: UUID) -> list[NotificationStatus]:
        return [t.status for t in self.history if t.notification_id == notification_id]

    def event_types(self) -> list[str]:
        return [e.type for e in self.outbox]


class FakeCaseBatchStore:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def load(
        self,
        policies: CadencePolicies,
        now: datetime,
        loan_keys: Iterable[LoanKey],
        borrower_keys: Iterable[BorrowerKey] = (),
    ) -> CaseBatch:
        batch = CaseBatch(policies, now)
        loan_keys, borrower_keys = set(loan_keys), set(borrower_keys)
        for key, case in self.db.cases.items():
            if key in loan_keys or (case.lender_id, case.borrower_ref) in borrower_keys:
                batch.loans[key] = copy.deepcopy(case)
                borrower_keys.add((case.lender_id, case.borrower_ref))
        for n in sorted(self.db.notifications.values(), key=lambda n: n.id):
            key = (n.lender_id, n.loan_id)
            if key in batch.loans and n.status is NotificationStatus.SCHEDULED:
                batch.pending.setdefault(key, []).append(replace(n))
        batch.preferences.update(await self.preferences(borrower_keys))
        return batch

    async def save(self, batch: CaseBatch) -> None:
        self.save_now(batch)

    def save_now(self, batch: CaseBatch) -> None:
        for key in batch.touched_loans:
            self.db.cases[key] = copy.deepcopy(batch.loans[key])
        for key in batch.touched_borrowers:
            self.db.preferences[key] = copy.deepcopy(batch.preferences[key])
        for n in [*batch.created, *batch.changed.values()]:
            self.db.notifications[n.id] = replace(n)
        self.db.history += batch.transitions
        for contact in batch.contacts:
            self.db.contacts.setdefault(contact.id, (contact, batch.contact_keys[contact.id]))

    async def cases_of(self, keys: Iterable[LoanKey]) -> dict[LoanKey, Case]:
        return {k: copy.deepcopy(self.db.cases[k]) for k in set(keys) if k in self.db.cases}

    async def preferences(self, keys: Iterable[BorrowerKey]) -> dict[BorrowerKey, Preferences]:
        found = self.db.preferences
        return {k: copy.deepcopy(found[k]) for k in set(keys) if k in found}


class FakeSendingStore:
    """The claims, fence and record of ``adapters/sending_store.py``, on the fake tables."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def _free(self, n: Notification) -> bool:
        lease = self.db.leases.get(n.id)
        return lease is None or lease < self.db.clock()

    def _claim(
        self, found: list[Notification], limit: int, lease: timedelta, token: UUID
    ) -> list[Notification]:
        claimed = found[:limit]
        for n in claimed:
            n.claim_token = token
            self.db.leases[n.id] = self.db.clock() + lease
        return [replace(n) for n in claimed]

    async def claim_due(self, limit: int, lease: timedelta, token: UUID) -> list[Notification]:
        now = self.db.clock()
        due = [
            n
            for n in self.db.notifications.values()
            if n.status is NotificationStatus.SCHEDULED
            and n.due_at <= now
            and n.send_began_at is None
            and self._free(n)
        ]
        return self._claim(sorted(due, key=lambda n: n.due_at), limit, lease, token)

    async def claim_in_doubt(self, limit: int, lease: timedelta, token: UUID) -> list[Notification]:
        in_doubt = [
            n
            for n in self.db.notifications.values()
            if n.status is NotificationStatus.SCHEDULED
            and n.send_began_at is not None
            and self._free(n)
        ]
        return self._claim(
            sorted(in_doubt, key=lambda n: n.send_began_at or n.due_at), limit, lease, token
        )

    async def begin_sends(
        self, token: UUID, ids: Collection[UUID], lease: timedelta
    ) -> dict[UUID, int]:
        now, began = self.db.clock(), {}
        for notification_id in sorted(ids):
            n = self.db.notifications[notification_id]
            if (
                n.claim_token == token
                and n.status is NotificationStatus.SCHEDULED
                and n.send_began_at is None
                and self.db.leases.get(n.id, now) > now
            ):
                n.send_began_at, n.attempts = now, n.attempts + 1
                self.db.leases[n.id] = now + lease
                began[n.id] = n.attempts
        return began

    async def ledger_of(
        self, keys: Iterable[LoanKey], borrowers: Iterable[BorrowerKey], now: datetime
    ) -> dict[LoanKey, list[Contact]]:
        keys, borrowers = set(keys), set(borrowers)
        ledger: dict[LoanKey, list[Contact]] = {}
        for contact, key in self.db.contacts.values():
            mine = key in keys or (key[0], contact.person_ref) in borrowers
            if mine and contact.at >= now - LEDGER_WINDOW:
                ledger.setdefault(key, []).append(contact)
        return ledger

    async def record(self, results: SendResults) -> set[UUID]:
        written = set()
        for n in results.settled:
            held = self.db.notifications.get(n.id)
            if held is None:
                continue
            if n.id in results.went_out:
                may = held.status not in REPORTED
            else:
                may = (
                    held.status is NotificationStatus.SCHEDULED
                    and held.claim_token == results.token
                )
            if may:
                written.add(n.id)
        for n in results.settled:
            if n.id in written:
                doubt = results.in_doubt.get(n.id)
                self.db.notifications[n.id] = replace(
                    n,
                    attempts=self.db.notifications[n.id].attempts,
                    claim_token=None,
                    send_began_at=n.send_began_at if doubt else None,
                )
                self.db.leases.pop(n.id, None)
                if doubt:
                    self.db.leases[n.id] = doubt
        self.db.history += [t for t in results.transitions if t.notification_id in written]
        own = {f"notifier:{i}" for i in written}
        for contact, key in results.sent:
            if contact.id in own:
                self.db.contacts.setdefault(contact.id, (contact, key))
        for key, assignment, at in results.notices:
            for placement in self.db.cases[key].placements:
                if placement.assignment_id == assignment and placement.notice_sent_at is None:
                    placement.notice_sent_at = at
        return written


class FakeReceiptStore:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def reported(
        self, provider: str, message_ids: Collection[str], named: Collection[UUID]
    ) -> dict[str, Notification]:
        found: dict[str, Notification] = {}
        for n in self.db.notifications.values():
            by_message = n.provider == provider and n.provider_message_id in message_ids
            if by_message or n.id in named:
                copied = replace(n)
                found[str(n.id)] = copied
                if n.provider_message_id:
                    found[n.provider_message_id] = copied
        return found

    async def settle(
        self,
        changed: Sequence[Notification],
        transitions: Sequence[Transition],
        sent: Sequence[tuple[Contact, LoanKey]],
        delivered: Sequence[str],
    ) -> None:
        for n in changed:
            self.db.notifications[n.id] = replace(n)
        self.db.history += transitions
        for contact, key in sent:
            self.db.contacts.setdefault(contact.id, (contact, key))
        for contact_id in delivered:
            if contact_id in self.db.contacts:
                contact, key = self.db.contacts[contact_id]
                self.db.contacts[contact_id] = (replace(contact, outcome=Outcome.DELIVERED), key)

    async def by_phone(self, phone_refs: Collection[str]) -> list[tuple[str, str, list[str]]]:
        return [
            (case.lender_id, case.borrower_ref, list(case.phone_refs))
            for case in self.db.cases.values()
            if set(case.phone_refs) & set(phone_refs)
        ]


class FakeNotificationReads:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def of_loan(self, lender_id: str, loan_id: str) -> list[NotificationRecord] | None:
        if (lender_id, loan_id) not in self.db.cases:
            return None
        mine = [
            n
            for n in self.db.notifications.values()
            if (n.lender_id, n.loan_id) == (lender_id, loan_id)
        ]
        return [
            NotificationRecord(n, [t for t in self.db.history if t.notification_id == n.id])
            for n in sorted(mine, key=lambda n: (n.due_at, n.id))
        ]


class FakePersonalDataStore:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def answered(self, request_ids: Collection[str]) -> set[str]:
        return set(request_ids) & set(self.db.answered)

    async def records_of(self, lender_id: str, borrower_ref: str) -> BorrowerRecords:
        cases = [
            copy.deepcopy(c)
            for _, c in sorted(self.db.cases.items())
            if (c.lender_id, c.borrower_ref) == (lender_id, borrower_ref)
        ]
        made = []
        for n in self.db.notifications.values():
            if (n.lender_id, n.borrower_ref) != (lender_id, borrower_ref):
                continue
            sent = [
                t.at
                for t in self.db.history
                if t.notification_id == n.id and t.status is NotificationStatus.SENT
            ]
            if sent:
                made.append(
                    ContactMade(
                        n.loan_id, min(sent), n.channel, n.kind.value, n.status.value, n.provider
                    )
                )
        prefs = self.db.preferences.get((lender_id, borrower_ref))
        return BorrowerRecords(cases, copy.deepcopy(prefs), sorted(made, key=lambda m: m.at))

    async def erase_contacts(self, keys: Collection[LoanKey], at: datetime) -> None:
        for key in keys:
            case = self.db.cases[key]
            case.contact_sealed, case.phone_refs, case.reachable = {}, [], frozenset()

    async def note_answer(
        self, request_id: str, lender_id: str, loan_id: str, kind: str, at: datetime
    ) -> bool:
        if request_id in self.db.answered:
            return False
        self.db.answered[request_id] = kind
        return True

    async def erase_ended(self, ended_before: datetime, limit: int, at: datetime) -> int:
        pending = {(n.lender_id, n.loan_id) for n in self.db.notifications.values() if n.pending}
        due = [
            key
            for key, c in sorted(self.db.cases.items(), key=lambda kc: kc[1].ended_at or at)
            if c.state in (LoanState.CLOSED, LoanState.CURED)
            and c.ended_at is not None
            and c.ended_at <= ended_before
            and c.contact_sealed
            and key not in pending
        ][:limit]
        await self.erase_contacts(due, at)
        return len(due)


class FakeUnitOfWork:
    """Writes go straight to the fake tables; published events reach the outbox on commit."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.cases = FakeCaseBatchStore(db)
        self.sending = FakeSendingStore(db)
        self.receipts = FakeReceiptStore(db)
        self.notifications = FakeNotificationReads(db)
        self.personal_data = FakePersonalDataStore(db)
        self._events: list[Envelope] = []

    async def __aenter__(self) -> Self:
        self._events = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._events = []

    def publish(self, envelope: Envelope) -> None:
        self._events.append(envelope)

    async def commit(self) -> None:
        self.db.outbox += self._events
        self._events = []


@dataclass
class ScriptedProviders:
    """A channel's providers: each send answers with the next of ``answers`` (a receipt, or
    an error to raise), a lookup with ``found`` (or raises it)."""

    answers: list[SendReceipt | Exception] = field(default_factory=list)
    found: SendReceipt | Exception | None = None
    sent: list[OutgoingMessage] = field(default_factory=list)
    asked: list[tuple[OutgoingMessage, datetime, str | None]] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        self.sent.append(message)
        answer = self.answers.pop(0) if self.answers else accepted(f"SM{len(self.sent)}")
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def find(
        self, message: OutgoingMessage, since: datetime, provider: str | None
    ) -> SendReceipt | None:
        self.asked.append((message, since, provider))
        if isinstance(self.found, Exception):
            raise self.found
        return self.found


def accepted(message_id: str, provider: str = "twilio", at: datetime | None = None) -> SendReceipt:
    return SendReceipt(provider, message_id, at or datetime(2026, 3, 2, 2, 0, tzinfo=UTC))


class ClearContactDetails:
    """Contact details "sealed" as plain JSON; a loan in ``unreadable`` has a key gone."""

    def __init__(self) -> None:
        self.unreadable: set[str] = set()

    def receive(
        self,
        lender_id: str,
        loan_id: str,
        borrower: BorrowerProfile,
        stored: StoredContactDetails | None = None,
    ) -> StoredContactDetails:
        raise NotImplementedError("the use cases under test open contact details only")

    def open(self, lender_id: str, loan_id: str, sealed: dict[str, str]) -> BorrowerContact:
        if loan_id in self.unreadable:
            raise ValueError("no key 'gone' in the ring")
        return BorrowerContact.model_validate_json(sealed["clear"])

    def phone_refs(self, phone: str) -> list[str]:
        return [phone_ref(phone)]

    def seal_answer(self, request_id: str, answer: DataAnswer) -> SealedValue:
        return SealedValue(kid=f"clear:{request_id}", ct=answer.model_dump_json())


def opened_answer(sealed: SealedValue) -> DataAnswer:
    """What ``ClearContactDetails.seal_answer`` "sealed"."""
    return DataAnswer.model_validate_json(sealed.ct)


def sealed(contact: BorrowerContact) -> dict[str, str]:
    return {"clear": contact.model_dump_json()}


def phone_ref(phone: str) -> str:
    return f"ref:{phone}"


@dataclass
class FakeParser:
    items: list[Callback]

    def parse(self, *, url: str, headers: Mapping[str, str], body: bytes) -> list[Callback]:
        return list(self.items)


def channels(*names: str) -> frozenset[Channel]:
    return frozenset(Channel(name) for name in names)
