"""In-memory fakes of compliance's ports (``application/ports.py``): the audit log (a real
Merkle tree, as ``shared.tlog.tree`` builds it), violations, checkpoints, a counting signer, a
fixed clock and the unit of work over them; the report's reads (agencies' activity, promises)
and the auditors' reads over them all."""

from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from services.compliance.application.ports import (
    EntryFilter,
    EntryRow,
    LoanPair,
    MissingNodesError,
    Period,
    SignedCheckpoint,
    TreeHead,
    ViolationFilter,
)
from services.compliance.domain.entries import NewEntry, new_entry
from services.compliance.domain.judgement import Judged
from services.compliance.domain.promises import LoanKey, LoggedPromise
from services.compliance.domain.retraction import StandingViolation
from shared.events.envelope import Envelope
from shared.promises import Paid
from shared.tlog.merkle import EMPTY_ROOT
from shared.tlog.note import Signer, Verifier
from shared.tlog.tree import Appended, NodeKey, append_leaves, range_nodes

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def envelope(event_type: str, lender: str = "lender-1", **data: Any) -> Envelope:
    """An event as another service publishes it (data as it would be logged)."""
    return Envelope(
        id=uuid4(),
        source="/tests",
        type=event_type,
        time=NOW,
        subject=str(data.get("loan_id") or data.get("borrower_ref") or "-"),
        schemaversion=1,
        tenantid=lender,
        data=data,
    )


def entry(event_type: str, lender: str = "lender-1", **data: Any) -> NewEntry:
    return new_entry(envelope(event_type, lender, **data))


class FakeAuditLog:
    def __init__(self) -> None:
        self.rows: list[EntryRow] = []
        self.nodes_stored: dict[NodeKey, bytes] = {}
        self.root = EMPTY_ROOT

    async def append(self, entries: Sequence[NewEntry]) -> Appended:
        size = len(self.rows)
        frontier = await self.nodes(range_nodes(0, size))
        appended = append_leaves(size, frontier, [e.leaf_hash for e in entries])
        for i, e in enumerate(entries):
            self.rows.append({**e.row(), "leaf_index": size + i, "recorded_at": NOW})
        self.nodes_stored.update(appended.nodes)
        self.root = appended.root
        return appended

    async def head(self) -> TreeHead:
        return TreeHead(len(self.rows), self.root)

    async def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = set(keys)
        found = {key: self.nodes_stored[key] for key in wanted if key in self.nodes_stored}
        if len(found) != len(wanted):
            raise MissingNodesError(f"{len(wanted) - len(found)} Merkle nodes are not stored")
        return found

    async def entries(self, where: EntryFilter, limit: int) -> list[EntryRow]:
        rows = [r for r in self.rows if r["leaf_index"] > where.after_index]
        if where.lender_id is not None:
            rows = [r for r in rows if r["tenant_id"] == where.lender_id]
        if where.loan_id is not None:
            rows = [r for r in rows if r["loan_id"] == where.loan_id]
        return rows[:limit]

    async def timeline(self, lender_id: str, loan_id: str) -> list[EntryRow]:
        return (await self.timelines([(lender_id, loan_id)])).get((lender_id, loan_id), [])

    async def judged_timelines(
        self, loans: Collection[LoanPair], before: int
    ) -> dict[LoanPair, list[EntryRow]]:
        judged = ("leaf_index", "event_type", "entry", "borrower_ref")
        return {
            loan: [
                {name: row[name] for name in judged} for row in rows if row["leaf_index"] < before
            ]
            for loan, rows in (await self.timelines(loans)).items()
        }

    async def between(self, start: int, end: int) -> list[EntryRow]:
        return self.rows[start:end]

    async def timelines(self, loans: Collection[LoanPair]) -> dict[LoanPair, list[EntryRow]]:
        found: dict[LoanPair, list[EntryRow]] = {}
        for lender, loan in loans:
            own = [r for r in self.rows if (r["tenant_id"], r["loan_id"]) == (lender, loan)]
            refs = {r["borrower_ref"] for r in own if r["borrower_ref"] is not None}
            theirs = [
                r
                for r in self.rows
                if r["tenant_id"] == lender and r["loan_id"] is None and r["borrower_ref"] in refs
            ]
            rows = sorted(own + theirs, key=lambda r: r["leaf_index"])
            if rows:
                found[(lender, loan)] = rows
        return found

    async def of_borrowers(
        self, borrowers: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], list[EntryRow]]:
        found: dict[tuple[str, str], list[EntryRow]] = {}
        for row in self.rows:
            key = (row["tenant_id"], row["borrower_ref"])
            if key in borrowers:
                found.setdefault(key, []).append(row)
        return found

    def types(self) -> list[str]:
        return [r["event_type"] for r in self.rows]


class FakeViolations:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def standing(
        self, loans: Collection[LoanPair]
    ) -> dict[LoanPair, list[StandingViolation]]:
        found: dict[LoanPair, list[StandingViolation]] = {}
        for row in self.rows.values():
            key = (row["lender_id"], row["loan_id"])
            if key in loans and row["retracted_at"] is None:
                found.setdefault(key, []).append(
                    StandingViolation(
                        row["violation_id"],
                        row["rule_id"],
                        row["pack_version"],
                        row["loan_id"],
                        row["party"],
                        row["agency_id"],
                        row["contact_id"],
                        row["leaf_index"],
                    )
                )
        return found

    async def add(self, found: Sequence[tuple[str, int, Judged]]) -> None:
        for lender_id, leaf_index, v in found:
            self.rows[v.violation_id] = {
                "violation_id": v.violation_id,
                "leaf_index": leaf_index,
                "lender_id": lender_id,
                "loan_id": v.loan_id,
                "rule_id": v.rule_id,
                "pack_version": v.pack_version,
                "party": v.party,
                "agency_id": v.agency_id,
                "contact_id": v.contact_id,
                "contact_at": v.contact_at,
                "leaf_indexes": list(v.leaf_indexes),
                "explanation": v.explanation,
                "retracted_at": None,
                "retraction_leaf_index": None,
            }

    async def retract(self, retracted: Sequence[tuple[str, int, datetime]]) -> None:
        for violation_id, leaf, at in retracted:
            self.rows[violation_id].update(retracted_at=at, retraction_leaf_index=leaf)

    async def page(self, where: ViolationFilter, limit: int) -> list[dict[str, Any]]:
        rows = sorted(self.rows.values(), key=lambda r: r["leaf_index"])
        return [r for r in rows if r["leaf_index"] > where.after_index][:limit]

    def by_rule(self, *, standing: bool = True) -> dict[str, dict[str, Any]]:
        return {
            r["rule_id"]: r for r in self.rows.values() if (r["retracted_at"] is None) == standing
        }


class FakeCheckpoints:
    def __init__(self) -> None:
        self.saved: list[SignedCheckpoint] = []

    async def save(self, signed: SignedCheckpoint) -> None:
        self.saved.append(signed)

    async def at(self, size: int, key_id: str) -> SignedCheckpoint | None:
        found = [s for s in self.saved if (s.tree_size, s.key_id) == (size, key_id)]
        return found[-1] if found else None


class CountingSigner:
    """A real Ed25519 note signer that counts what it signs."""

    def __init__(self) -> None:
        self._signer = Signer.generate("log.example/audit")
        self.signed: list[str] = []

    @property
    def name(self) -> str:
        return self._signer.name

    @property
    def verifier(self) -> Verifier:
        return self._signer.verifier

    def sign(self, text: str) -> str:
        self.signed.append(text)
        return self._signer.sign(text)


@dataclass
class FixedClock:
    at: datetime = NOW

    def now(self) -> datetime:
        return self.at


@dataclass
class FakeJudging:
    """The judged-up-to watermark; ``held``: another replica's round holds it."""

    size: int = 0
    held: bool = False

    async def claim(self, *, wait: bool = False) -> int | None:
        if self.held and wait:
            raise AssertionError("waits forever: the fake's holder never lets go")
        return None if self.held else self.size

    async def advance(self, size: int) -> None:
        self.size = size


@dataclass
class FakeUnitOfWork:
    log: FakeAuditLog = field(default_factory=FakeAuditLog)
    violations: FakeViolations = field(default_factory=FakeViolations)
    checkpoints: FakeCheckpoints = field(default_factory=FakeCheckpoints)
    judging: FakeJudging = field(default_factory=FakeJudging)
    published: list[Envelope] = field(default_factory=list)

    def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        published = len(self.published)
        try:
            yield
        except BaseException:
            del self.published[published:]
            raise

    def published_types(self) -> list[str]:
        return [e.type for e in self.published]


@dataclass
class FakeAgencyActivity:
    """The report's per-agency counts, as given (the SQL filters by period: not faked)."""

    contacts: dict[str, dict[str, int]] = field(default_factory=dict)
    standing: dict[str, dict[str, int]] = field(default_factory=dict)
    periods: list[Period] = field(default_factory=list)

    async def contacts_by_agency(self, period: Period) -> dict[str, dict[str, int]]:
        self.periods.append(period)
        return self.contacts

    async def standing_by_agency(self, period: Period) -> dict[str, dict[str, int]]:
        return self.standing


@dataclass
class FakePromiseEntries:
    promises: list[LoggedPromise] = field(default_factory=list)
    payments: dict[LoanKey, list[Paid]] = field(default_factory=dict)

    async def due(
        self, lender_id: str | None, time_from: datetime | None, time_to: datetime | None
    ) -> list[LoggedPromise]:
        return [p for p in self.promises if lender_id in (None, p.lender_id)]

    async def lender_payments(self, loans: Collection[LoanKey]) -> dict[LoanKey, list[Paid]]:
        return {loan: paid for loan, paid in self.payments.items() if loan in loans}


@dataclass
class FakeAuditReads:
    log: FakeAuditLog = field(default_factory=FakeAuditLog)
    violations: FakeViolations = field(default_factory=FakeViolations)
    checkpoints: FakeCheckpoints = field(default_factory=FakeCheckpoints)
    activity: FakeAgencyActivity = field(default_factory=FakeAgencyActivity)
    promises: FakePromiseEntries = field(default_factory=FakePromiseEntries)
