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
    HistoryEntry,
    RecordedEvent,
    ReportedLoan,
    StoredReply,
)
from services.intake.domain.loan import Hold, Loan
from shared.events.envelope import Envelope
from shared.events.models import ContactPreferences


@dataclass
class Database:
    """What the fake unit of work commits to."""

    loans: dict[tuple[str, str], Loan] = field(default_factory=dict)
    holds: dict[tuple[str, str], tuple[str, Hold]] = field(default_factory=dict)  # -> (loan, hold)
    history: dict[tuple[str, str], tuple[HistoryEntry, str]] = field(default_factory=dict)
    preferences: dict[tuple[str, str], int] = field(default_factory=dict)
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

    async def save_preferences(
        self, lender_id: str, borrower_id: str, borrower_ref: str, preferences: ContactPreferences
    ) -> int:
        version = self.db.preferences.get((lender_id, borrower_id), 0) + 1
        self.db.preferences[(lender_id, borrower_id)] = version
        return version


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

    async def __aexit__(self, *exc_info: object) -> None:
        self._bind(self.committed.copy())

    def publish(self, envelope: Envelope) -> None:
        self._events.append(envelope)

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
