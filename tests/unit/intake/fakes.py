"""An in-memory unit of work for intake's use cases: the ports, kept in dictionaries.

It keeps what a transaction keeps: changes become visible to the next unit of work only when
``commit`` is called, and published events reach ``outbox`` only then.
"""

import copy
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Self
from uuid import UUID

from services.intake.application.ports import (
    DataRequestRecord,
    EncodedEvent,
    HistoryEntry,
    HolderRecord,
    NoticeRecord,
    RecordedEvent,
    ReportedLoan,
    StoredAnswer,
    StoredBorrower,
    StoredPreferences,
    StoredReply,
)
from services.intake.domain.disputes import Dispute
from services.intake.domain.loan import Hold, Loan
from shared.crypto import SealedValue
from shared.events.borrowers import DataRequestKind
from shared.events.envelope import Envelope


@dataclass
class Database:
    """What the fake unit of work commits to."""

    loans: dict[tuple[str, str], Loan] = field(default_factory=dict)
    holds: dict[tuple[str, str], tuple[str, Hold]] = field(default_factory=dict)  # -> (loan, hold)
    history: dict[tuple[str, str], tuple[HistoryEntry, str]] = field(default_factory=dict)
    preferences: dict[tuple[str, str], int] = field(default_factory=dict)  # -> version
    stored_preferences: dict[tuple[str, str], StoredPreferences] = field(default_factory=dict)
    borrowers: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)
    disputes: dict[tuple[str, str], tuple[Dispute, SealedValue | None, SealedValue | None]] = field(
        default_factory=dict
    )  # -> (dispute, details, note)
    holders: dict[tuple[str, str], HolderRecord] = field(default_factory=dict)
    notices: dict[UUID, NoticeRecord] = field(default_factory=dict)
    revocations: dict[tuple[str, str], datetime] = field(default_factory=dict)
    requests: dict[str, DataRequestRecord] = field(default_factory=dict)
    answers: dict[tuple[str, str], StoredAnswer] = field(default_factory=dict)
    replies: dict[tuple[str, str], StoredReply] = field(default_factory=dict)
    outbox: list[Envelope] = field(default_factory=list)
    commits: int = 0

    def copy(self) -> "Database":
        return copy.deepcopy(self)


class FakeLoanStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def lock(self, lender_id: str, loan_ids: Collection[str]) -> dict[str, Loan]:
        return {
            loan_id: self.db.loans[(lender_id, loan_id)]
            for loan_id in sorted(loan_ids)
            if (lender_id, loan_id) in self.db.loans
        }

    async def get(self, lender_id: str, loan_id: str) -> Loan | None:
        return self.db.loans.get((lender_id, loan_id))

    async def save_reported(self, reported: Sequence[ReportedLoan]) -> None:
        for item in reported:
            key = (item.loan.lender_id, item.loan.loan_id)
            stored = self.db.loans.get(key)
            if stored is None or stored.as_of < item.loan.as_of:
                self.db.loans[key] = item.loan
                borrower = item.borrower.borrower
                self.db.borrowers[key] = {
                    "borrower_id": borrower.id,
                    "contact": item.borrower.at_rest(),
                    "locale": borrower.locale,
                    "timezone": borrower.timezone,
                    "region": borrower.region,
                }

    async def save(self, loan: Loan) -> None:
        self.db.loans[(loan.lender_id, loan.loan_id)] = loan

    async def holds_of(self, lender_id: str, loan_id: str) -> list[Hold]:
        return [
            hold
            for (lender, _), (loan, hold) in self.db.holds.items()
            if lender == lender_id and loan == loan_id
        ]

    async def lock_hold(self, lender_id: str, loan_id: str, hold_id: str) -> Hold | None:
        loan, hold = self.db.holds.get((lender_id, hold_id), ("", None))
        return hold if loan == loan_id else None

    async def add_hold(self, lender_id: str, loan_id: str, hold: Hold) -> bool:
        if (lender_id, hold.hold_id) in self.db.holds:
            return False
        self.db.holds[(lender_id, hold.hold_id)] = (loan_id, hold)
        return True

    async def lift_hold(self, lender_id: str, hold_id: str, at: datetime) -> None:
        loan, hold = self.db.holds[(lender_id, hold_id)]
        self.db.holds[(lender_id, hold_id)] = (loan, replace(hold, lifted_at=at))

    async def add_holds(self, lender_id: str, holds: Sequence[tuple[str, Hold]]) -> None:
        for loan_id, hold in holds:
            await self.add_hold(lender_id, loan_id, hold)

    async def preferences_of(self, lender_id: str, borrower_id: str) -> StoredPreferences | None:
        return self.db.stored_preferences.get((lender_id, borrower_id))

    async def save_preferences(
        self, lender_id: str, borrower_id: str, borrower_ref: str, preferences: StoredPreferences
    ) -> int:
        version = self.db.preferences.get((lender_id, borrower_id), 0) + 1
        self.db.preferences[(lender_id, borrower_id)] = version
        self.db.stored_preferences[(lender_id, borrower_id)] = preferences
        return version

    async def borrower_of(self, lender_id: str, loan_id: str) -> StoredBorrower | None:
        loan = self.db.loans.get((lender_id, loan_id))
        if loan is None:
            return None
        b = self.db.borrowers[(lender_id, loan_id)]
        return StoredBorrower(
            loan=copy.deepcopy(loan),
            borrower_id=str(b["borrower_id"]),
            contact=b["contact"],  # type: ignore[arg-type]
            locale=str(b["locale"]),
            timezone=str(b["timezone"]),
            region=b["region"],  # type: ignore[arg-type]
            updated_at=loan.as_of,
            recalled=any(
                entry.event_type == "collections.loan.placement-recalled"
                and entry.occurred_at >= loan.as_of
                for (lender, _), (entry, entry_loan) in self.db.history.items()
                if (lender, entry_loan) == (lender_id, loan_id)
            ),
        )

    async def loans_of_borrower(self, lender_id: str, borrower_ref: str) -> list[StoredBorrower]:
        found = []
        for (lender, loan_id), loan in sorted(self.db.loans.items()):
            if lender == lender_id and loan.borrower_ref == borrower_ref:
                stored = await self.borrower_of(lender, loan_id)
                assert stored is not None
                found.append(stored)
        return found

    async def erase_contacts(self, lender_id: str, loan_ids: Collection[str]) -> None:
        for loan_id in loan_ids:
            self.db.borrowers[(lender_id, loan_id)]["contact"] = None


class FakeDisputeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, dispute: Dispute, details: SealedValue | None) -> bool:
        key = (dispute.lender_id, dispute.dispute_id)
        if key in self.db.disputes:
            return False
        self.db.disputes[key] = (dispute, details, None)
        return True

    async def lock(self, lender_id: str, loan_id: str, dispute_id: str) -> Dispute | None:
        found = self.db.disputes.get((lender_id, dispute_id))
        return found[0] if found and found[0].loan_id == loan_id else None

    async def resolve(self, dispute: Dispute, note: SealedValue | None) -> None:
        _, details, _ = self.db.disputes[(dispute.lender_id, dispute.dispute_id)]
        self.db.disputes[(dispute.lender_id, dispute.dispute_id)] = (dispute, details, note)

    async def of_loan(self, lender_id: str, loan_id: str) -> list[Dispute]:
        found = [
            dispute
            for (lender, _), (dispute, _, _) in self.db.disputes.items()
            if lender == lender_id and dispute.loan_id == loan_id
        ]
        return sorted(found, key=lambda d: d.opened_at)

    async def erase_details(self, lender_id: str, loan_ids: Collection[str]) -> None:
        for key, (dispute, _, _) in list(self.db.disputes.items()):
            if dispute.lender_id == lender_id and dispute.loan_id in loan_ids:
                self.db.disputes[key] = (dispute, None, None)


class FakeBorrowerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def hold(self, holders: Sequence[HolderRecord]) -> None:
        for holder in holders:
            key = (holder.lender_id, holder.loan_id)
            known = self.db.holders.get(key)
            if known is None or known.since <= holder.since:
                self.db.holders[key] = holder

    async def release(self, ended: Sequence[tuple[str, str, str]]) -> None:
        for lender_id, loan_id, assignment_id in ended:
            known = self.db.holders.get((lender_id, loan_id))
            if known is not None and known.assignment_id == assignment_id:
                del self.db.holders[(lender_id, loan_id)]

    async def holder_of(self, lender_id: str, loan_id: str) -> HolderRecord | None:
        return self.db.holders.get((lender_id, loan_id))

    async def add_notices(self, notices: Sequence[NoticeRecord]) -> None:
        for notice in notices:
            self.db.notices.setdefault(notice.notification_id, notice)

    async def notices_of(self, lender_id: str, loan_id: str) -> list[NoticeRecord]:
        return sorted(
            (
                n
                for n in self.db.notices.values()
                if (n.lender_id, n.loan_id) == (lender_id, loan_id)
            ),
            key=lambda n: n.at,
        )

    async def revoke_links(self, lender_id: str, loan_id: str, before: datetime) -> None:
        known = self.db.revocations.get((lender_id, loan_id))
        self.db.revocations[(lender_id, loan_id)] = max(before, known) if known else before

    async def links_revoked_before(self, lender_id: str, loan_id: str) -> datetime | None:
        return self.db.revocations.get((lender_id, loan_id))

    async def add_request(self, request: DataRequestRecord) -> None:
        self.db.requests[request.request_id] = request

    async def requests_of(self, lender_id: str, borrower_ref: str) -> list[DataRequestRecord]:
        return sorted(
            (
                r
                for r in self.db.requests.values()
                if (r.lender_id, r.borrower_ref) == (lender_id, borrower_ref)
            ),
            key=lambda r: r.requested_at,
            reverse=True,
        )

    async def requests(self, request_ids: Collection[str]) -> dict[str, DataRequestRecord]:
        return {i: self.db.requests[i] for i in request_ids if i in self.db.requests}

    async def add_answers(self, answers: Sequence[StoredAnswer]) -> None:
        for answer in answers:
            self.db.answers.setdefault((answer.request_id, answer.service), answer)

    async def answers_of(self, request_id: str) -> list[StoredAnswer]:
        return [a for (r, _), a in self.db.answers.items() if r == request_id]

    async def mark_ready(
        self, request_ids: Collection[str], services: Collection[str], at: datetime
    ) -> None:
        for request_id in request_ids:
            request = self.db.requests[request_id]
            answered = {s for (r, s) in self.db.answers if r == request_id}
            if request.status == "pending" and set(services) <= answered:
                self.db.requests[request_id] = replace(request, status="ready", ready_at=at)

    async def erase_access_answers(self, lender_id: str, borrower_ref: str) -> None:
        theirs = {
            r.request_id
            for r in self.db.requests.values()
            if (r.lender_id, r.borrower_ref, r.kind)
            == (lender_id, borrower_ref, DataRequestKind.ACCESS)
        }
        for key in [key for key in self.db.answers if key[0] in theirs]:
            del self.db.answers[key]
        for request_id in theirs:
            self.db.requests[request_id] = replace(self.db.requests[request_id], status="erased")


class FakeHistory:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, lender_id: str, entries: Sequence[HistoryEntry]) -> set[UUID]:
        fresh = set()
        for entry in entries:
            if (lender_id, entry.identity) not in self.db.history:
                self.db.history[(lender_id, entry.identity)] = (entry, entry.loan_id)
                fresh.add(entry.event_id)
        return fresh

    async def on_record(
        self, lender_id: str, identities: Collection[str]
    ) -> dict[str, RecordedEvent]:
        return {
            identity: RecordedEvent(entry.event_id, loan_id)
            for identity in identities
            if (lender_id, identity) in self.db.history
            for entry, loan_id in [self.db.history[(lender_id, identity)]]
        }

    async def of(self, lender_id: str, loan_id: str) -> list[HistoryEntry]:
        return [
            entry
            for (lender, _), (entry, loan) in self.db.history.items()
            if lender == lender_id and loan == loan_id
        ]


class FakeIdempotencyKeys:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], StoredReply]:
        return {key: self.db.replies[key] for key in keys if key in self.db.replies}

    async def save(self, replies: Sequence[tuple[str, str, StoredReply]]) -> set[tuple[str, str]]:
        saved = set()
        for lender_id, key, reply in replies:
            if (lender_id, key) not in self.db.replies:
                self.db.replies[(lender_id, key)] = reply
                saved.add((lender_id, key))
        return saved


class FakeUnitOfWork:
    """Works on a copy of ``committed``; ``commit`` makes the copy the committed state."""

    def __init__(self, committed: Database) -> None:
        self.committed = committed

    async def __aenter__(self) -> Self:
        self._bind(self.committed.copy())
        self._events: list[Envelope] = []
        return self

    def _bind(self, db: Database) -> None:
        self.db = db
        self.loans = FakeLoanStore(db)
        self.history = FakeHistory(db)
        self.idempotency_keys = FakeIdempotencyKeys(db)
        self.disputes = FakeDisputeStore(db)
        self.borrowers = FakeBorrowerStore(db)

    async def __aexit__(self, *exc_info: object) -> None:
        self._bind(self.committed.copy())

    def publish(self, envelope: Envelope) -> None:
        self._events.append(envelope)

    async def publish_encoded(self, events: Sequence[EncodedEvent]) -> None:
        """Each event parsed back as the relay's consumers read it (a wrong payload fails),
        and published now, as the SQL unit of work stores each with its trace context now."""
        for event in events:
            self.publish(Envelope.model_validate_json(event.payload))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        before, published = self.db.copy(), len(self._events)
        try:
            yield
        except BaseException:
            vars(self.db).update(vars(before))
            del self._events[published:]
            raise

    async def commit(self) -> None:
        self.db.outbox.extend(self._events)
        self.db.commits += 1
        vars(self.committed).update(vars(self.db))
        self._events = []
