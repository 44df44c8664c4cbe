"""In-memory fakes of the gateway's ports: its stores in dictionaries, a unit of work, sealing,
a webhook poster and a clock.

The unit of work keeps what a transaction keeps: its changes reach ``Database`` (and its
events ``outbox``) only when ``commit`` is called. Locks are not modelled (one worker).
"""

import copy
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Self
from uuid import UUID, uuid4

from services.agency_gateway.application.ports import BorrowerKey, LoanKey, Row
from services.agency_gateway.domain.allocation import AgencyLoad
from services.agency_gateway.domain.cases import recalled_by_hold
from services.agency_gateway.domain.webhooks import announced, payload
from shared.contact_rules import Contact, OptOut, Outcome
from shared.crypto import SealedValue
from shared.events.envelope import Envelope
from shared.events.models import BorrowerContact
from shared.vocabulary import Channel

ACTIVE = ("placed", "acknowledged")
UNCLAIMED: Row = {"lease_until": None, "claim_token": None}  # every case write ends a claim


@dataclass
class Database:
    """What the fake unit of work commits to."""

    cases: dict[LoanKey, Row] = field(default_factory=dict)
    preferences: dict[BorrowerKey, Row] = field(default_factory=dict)
    opt_outs: dict[tuple[str, str, str], Row] = field(default_factory=dict)
    assignments: dict[str, Row] = field(default_factory=dict)
    agencies: dict[str, Row] = field(default_factory=dict)
    activities: dict[tuple[str, str], Row] = field(default_factory=dict)
    commitments: dict[tuple[str, str, str], Row] = field(default_factory=dict)  # kind, agency, id
    lender_payments: dict[tuple[str, str, str], Row] = field(default_factory=dict)
    escalations: list[Row] = field(default_factory=list)
    legal: list[Row] = field(default_factory=list)  # changes of legal stages, in order
    contacts: dict[str, tuple[Contact, LoanKey]] = field(default_factory=dict)
    deliveries: dict[str, Row] = field(default_factory=dict)
    attempts: list[Row] = field(default_factory=list)
    outbox: list[Envelope] = field(default_factory=list)
    commits: int = 0
    clock: Callable[[], datetime] | None = None  # the database's clock, that leases end on

    def copy(self) -> "Database":
        return copy.deepcopy(self, {id(self.clock): self.clock})  # one clock for all copies

    def events(self, name: str) -> list[Envelope]:
        return [e for e in self.outbox if e.type == name]


class FakeCaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert(self, rows: Sequence[Row]) -> None:
        for row in rows:
            key = (row["lender_id"], row["loan_id"])
            stored = self.db.cases.get(key)
            if stored is None:
                self.db.cases[key] = {
                    "holds": {},
                    "ended_reason": None,
                    "lender_recalled_at": None,
                    "agency_id": None,
                    "placement_note": None,
                    "escalation_approved_at": None,
                    "opened_at": row["updated_at"],
                    "lease_until": None,
                    "claim_token": None,
                    "ended_at": None,
                    "contact_erased_at": None,
                    **row,
                }
            elif stored["as_of"] <= row["as_of"]:
                stored.update({k: v for k, v in row.items() if k != "status"} | UNCLAIMED)

    async def record_decided(self, rows: Sequence[Row]) -> None:
        await self.upsert(rows)
        for row in rows:
            self.db.cases[(row["lender_id"], row["loan_id"])]["status"] = row["status"]

    async def get(self, lender_id: str, loan_id: str) -> Row | None:
        found = self.db.cases.get((lender_id, loan_id))
        return dict(found) if found else None

    async def for_update(self, keys: Collection[LoanKey]) -> dict[LoanKey, Row]:
        return {k: dict(self.db.cases[k]) for k in sorted(keys) if k in self.db.cases}

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, token: UUID
    ) -> list[LoanKey]:
        """Leases are measured on ``now`` (the database's clock in production)."""
        due = [
            c
            for c in self.db.cases.values()
            if c["placement_due_at"] is not None
            and c["placement_due_at"] <= now
            and (c["lease_until"] is None or c["lease_until"] < now)
        ]
        due.sort(key=lambda c: c["placement_due_at"])
        for c in due[:limit]:
            c.update(lease_until=now + lease, claim_token=token)
        return [(c["lender_id"], c["loan_id"]) for c in due[:limit]]

    async def held(self, keys: Collection[LoanKey], token: UUID) -> list[Row]:
        """Leases are measured on the database's clock (``Database.clock``)."""
        if self.db.clock is None:
            raise AssertionError("give the Database a clock to measure leases on")
        now = self.db.clock()
        cases = [self.db.cases[k] for k in keys if k in self.db.cases]
        held = [c for c in cases if c["claim_token"] == token and c["lease_until"] > now]
        return [dict(c) for c in sorted(held, key=lambda c: c["placement_due_at"])]

    async def change_each(self, rows: Sequence[Row]) -> None:
        for row in rows:
            self.db.cases[(row["lender_id"], row["loan_id"])].update(row | UNCLAIMED)

    async def change(self, key: LoanKey, **values: Any) -> None:
        if key in self.db.cases:
            self.db.cases[key].update(values | UNCLAIMED)

    async def borrowers_due_now(self, lender_id: str, borrower_ref: str, now: datetime) -> None:
        for case in self.db.cases.values():
            if (case["lender_id"], case["borrower_ref"]) == (lender_id, borrower_ref):
                case.update(placement_due_at=now, **UNCLAIMED)

    async def of_borrower(self, lender_id: str, borrower_ref: str) -> list[Row]:
        return [
            dict(c)
            for k, c in sorted(self.db.cases.items())
            if (c["lender_id"], c["borrower_ref"]) == (lender_id, borrower_ref)
        ]

    async def erasable(self, ended_by: datetime, limit: int) -> list[LoanKey]:
        placed = {
            (a["lender_id"], a["loan_id"])
            for a in self.db.assignments.values()
            if a["ended_at"] is None
        }
        found = [
            (c.get("ended_at") or c["lender_recalled_at"], key)
            for key, c in self.db.cases.items()
            if c["contact_sealed"] is not None
            and (c.get("ended_at") or c["lender_recalled_at"]) is not None
            and (c.get("ended_at") or c["lender_recalled_at"]) <= ended_by
            and key not in placed
        ]
        return [key for _, key in sorted(found)[:limit]]

    async def erase_contacts(self, keys: Collection[LoanKey], now: datetime) -> None:
        for key in keys:
            self.db.cases[key].update(
                contact_sealed=None, region=None, borrower_zone=None, contact_erased_at=now
            )


class FakePreferenceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert(self, row: Row) -> None:
        key = (row["lender_id"], row["borrower_ref"])
        stored = self.db.preferences.get(key)
        if stored is None or stored["as_of"] <= row["as_of"]:
            self.db.preferences[key] = dict(row)

    async def of(self, borrowers: Collection[BorrowerKey]) -> dict[BorrowerKey, Row]:
        return {k: dict(self.db.preferences[k]) for k in borrowers if k in self.db.preferences}


class FakeOptOutStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, rows: Sequence[Row]) -> None:
        for row in rows:
            key = (row["lender_id"], row["borrower_ref"], row["channel"])
            stored = self.db.opt_outs.get(key)
            if stored is None or row["at"] < stored["at"]:
                self.db.opt_outs[key] = dict(row)

    async def of(self, lender_id: str, borrower_ref: str) -> list[OptOut]:
        return [
            OptOut(Channel(row["channel"]), row["at"])
            for (lender, ref, _), row in self.db.opt_outs.items()
            if (lender, ref) == (lender_id, borrower_ref)
        ]


ASSIGNMENT_DEFAULTS: Row = {
    "acknowledged_at": None,
    "notice_sent_at": None,
    "ended_at": None,
    "end_reason": None,
    "end_policy_version": None,
    "expiring_announced_at": None,
}


class FakeAssignmentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, rows: Sequence[Row]) -> None:
        for row in rows:
            self.db.assignments[row["assignment_id"]] = ASSIGNMENT_DEFAULTS | row

    async def get(self, assignment_id: str, *, lock: bool = False) -> Row | None:
        found = self.db.assignments.get(assignment_id)
        return dict(found) if found else None

    async def active(self, keys: Collection[LoanKey]) -> dict[LoanKey, Row]:
        return {
            (a["lender_id"], a["loan_id"]): dict(a)
            for a in self.db.assignments.values()
            if (a["lender_id"], a["loan_id"]) in keys and a["ended_at"] is None
        }

    async def past_agencies(self, keys: Collection[LoanKey]) -> dict[LoanKey, set[str]]:
        found: dict[LoanKey, set[str]] = {}
        for a in self.db.assignments.values():
            if recalled_by_hold(a["status"], a["end_reason"]):
                continue
            if (a["lender_id"], a["loan_id"]) in keys:
                found.setdefault((a["lender_id"], a["loan_id"]), set()).add(a["agency_id"])
        return found

    async def of_loan(self, lender_id: str, loan_id: str) -> list[Row]:
        rows = [
            dict(a)
            for a in self.db.assignments.values()
            if (a["lender_id"], a["loan_id"]) == (lender_id, loan_id)
        ]
        return sorted(rows, key=lambda a: a["placed_at"], reverse=True)

    async def of_loans(self, keys: Collection[LoanKey]) -> list[Row]:
        rows = [
            dict(a)
            for a in self.db.assignments.values()
            if (a["lender_id"], a["loan_id"]) in set(keys)
        ]
        return sorted(rows, key=lambda a: (a["placed_at"], a["assignment_id"]))

    async def claim_lapsed(self, now: datetime, limit: int) -> list[Row]:
        lapsed = [
            dict(a)
            for a in self.db.assignments.values()
            if a["ended_at"] is None
            and ((a["status"] == "placed" and a["ack_due_at"] <= now) or a["expires_at"] <= now)
        ]
        return lapsed[:limit]

    async def announce_expiring(self, now: datetime, within: timedelta, limit: int) -> list[Row]:
        expiring = [
            a
            for a in self.db.assignments.values()
            if a["ended_at"] is None
            and a["expiring_announced_at"] is None
            and a["expires_at"] <= now + within
        ][:limit]
        for a in expiring:
            a["expiring_announced_at"] = now
        return [dict(a) for a in expiring]

    async def change(self, assignment_id: str, **values: Any) -> None:
        self.db.assignments[assignment_id].update(values)

    async def notice_sent(self, lender_id: str, loan_id: str, agency_id: str, at: datetime) -> None:
        for a in self.db.assignments.values():
            same = (a["lender_id"], a["loan_id"], a["agency_id"]) == (lender_id, loan_id, agency_id)
            if same and a["ended_at"] is None and a["notice_sent_at"] is None:
                a["notice_sent_at"] = at


class FakeAgencyRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, agency_id: str, fields: Row, now: datetime) -> bool:
        stored = self.db.agencies.get(agency_id)
        created = stored["created_at"] if stored else now
        self.db.agencies[agency_id] = {"agency_id": agency_id, **fields} | {
            "created_at": created,
            "updated_at": now,
        }
        return stored is None

    async def get(self, agency_id: str) -> Row | None:
        found = self.db.agencies.get(agency_id)
        return dict(found) if found else None

    async def all(self) -> list[Row]:
        return [dict(self.db.agencies[k]) for k in sorted(self.db.agencies)]

    async def loads(self) -> list[tuple[AgencyLoad, Row]]:
        counts: dict[str, int] = {}
        for a in self.db.assignments.values():
            if a["ended_at"] is None:
                counts[a["agency_id"]] = counts.get(a["agency_id"], 0) + 1
        return [
            (
                AgencyLoad(
                    agency_id=a["agency_id"],
                    jurisdictions=frozenset(a["jurisdictions"]),
                    regions=frozenset(a["regions"]),
                    capacity=a["capacity"],
                    share=a["share"],
                    open_accounts=counts.get(a["agency_id"], 0),
                ),
                dict(a),
            )
            for _, a in sorted(self.db.agencies.items())
            if a["active"]
        ]


class FakeActivityLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, row: Row) -> Row | None:
        key = (row["agency_id"], row["activity_id"])
        if key in self.db.activities:
            return None
        self.db.activities[key] = dict(row)
        return dict(row)

    async def get(self, agency_id: str, activity_id: str) -> Row:
        return dict(self.db.activities[(agency_id, activity_id)])

    async def of_assignments(self, assignment_ids: Collection[str]) -> list[Row]:
        rows = [
            {k: v for k, v in a.items() if k != "text_sealed"}
            for a in self.db.activities.values()
            if a["assignment_id"] in set(assignment_ids)
        ]
        return sorted(rows, key=lambda a: (a["recorded_at"], a["activity_id"]))

    async def erase_texts(self, keys: Collection[LoanKey]) -> None:
        ids = {
            a["assignment_id"]
            for a in self.db.assignments.values()
            if (a["lender_id"], a["loan_id"]) in set(keys)
        }
        for activity in self.db.activities.values():
            if activity["assignment_id"] in ids:
                activity["text_sealed"] = None


KEYS = {"promise": "promise_id", "payment": "payment_id", "dispute": "dispute_id"}


class FakeCommitmentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_once(self, kind: str, row: Row) -> tuple[Row, bool]:
        key = (kind, row["agency_id"], row[KEYS[kind]])
        if key in self.db.commitments:
            return dict(self.db.commitments[key]), False
        self.db.commitments[key] = dict(row)
        return dict(row), True

    def _of(self, kind: str, assignment_id: str) -> list[Row]:
        rows = [
            dict(r)
            for (k, _, _), r in self.db.commitments.items()
            if k == kind and r["assignment_id"] == assignment_id
        ]
        return sorted(rows, key=lambda r: r["recorded_at"])

    async def promises(self, assignment_id: str) -> list[Row]:
        return self._of("promise", assignment_id)

    async def payments(self, assignment_id: str) -> list[Row]:
        return self._of("payment", assignment_id)

    async def disputes(self, assignment_id: str) -> list[Row]:
        return self._of("dispute", assignment_id)

    async def lender_payments(self, lender_id: str, loan_id: str) -> list[Row]:
        return [
            dict(r)
            for (lender, loan, _), r in self.db.lender_payments.items()
            if (lender, loan) == (lender_id, loan_id)
        ]

    async def record_lender_payments(self, rows: Sequence[Row]) -> None:
        for row in rows:
            key = (row["lender_id"], row["loan_id"], row["payment_id"])
            self.db.lender_payments.setdefault(key, dict(row))

    async def add_escalation(self, row: Row) -> None:
        self.db.escalations.append(dict(row))


class FakeLegalStageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, row: Row) -> None:
        self.db.legal.append(dict(row))

    async def of_loan(self, lender_id: str, loan_id: str) -> list[Row]:
        return [
            dict(r) for r in self.db.legal if (r["lender_id"], r["loan_id"]) == (lender_id, loan_id)
        ]


class FakeContactLedger:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, made: Sequence[tuple[Contact, LoanKey]]) -> None:
        for contact, key in made:
            known = self.db.contacts.get(contact.id)
            if known is None:
                self.db.contacts[contact.id] = (contact, key)
            elif contact.outcome is not Outcome.ATTEMPTED:
                self.db.contacts[contact.id] = (replace(known[0], outcome=contact.outcome), key)

    async def of_loan(self, lender_id: str, loan_id: str, person_ref: str) -> list[Contact]:
        found = [
            replace(c, person_ref=person_ref)
            for c, key in self.db.contacts.values()
            if key == (lender_id, loan_id)
        ]
        return sorted(found, key=lambda c: c.at)


class FakeDeliveryLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def owe(self, events: Sequence[tuple[str, Row]], now: datetime) -> None:
        for event, data in events:
            agency = self.db.agencies.get(data["agency_id"])
            if agency is None or agency["webhook_url"] is None:
                continue
            delivery_id = f"wh-{uuid4().hex}"
            self.db.deliveries[delivery_id] = {
                "delivery_id": delivery_id,
                "agency_id": data["agency_id"],
                "event": event,
                "assignment_id": data["assignment_id"],
                "body": payload(event, delivery_id, data),
                "status": "pending",
                "attempts": 0,
                "round_start": 0,
                "next_attempt_at": now,
                "created_at": now,
                "delivered_at": None,
                "lease_until": None,
                "claim_token": None,
            }

    async def owe_for(self, envelopes: Sequence[Envelope], now: datetime) -> None:
        await self.owe(
            [(event, e.data) for e in envelopes if (event := announced(e)) is not None], now
        )

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, token: UUID
    ) -> list[Row]:
        """Leases are measured on ``now`` (the database's clock in production)."""
        due = [
            d
            for d in self.db.deliveries.values()
            if d["status"] == "pending"
            and d["next_attempt_at"] <= now
            and (d["lease_until"] is None or d["lease_until"] < now)
        ]
        due.sort(key=lambda d: d["next_attempt_at"])
        for d in due[:limit]:
            d.update(lease_until=now + lease, claim_token=token)
        return [dict(d) | {"agency": dict(self.db.agencies[d["agency_id"]])} for d in due[:limit]]

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
        delivered = status_code is not None and 200 <= status_code < 300
        self.db.attempts.append(
            {
                "delivery_id": delivery_id,
                "attempt": attempt,
                "at": at,
                "status_code": status_code,
                "error": error,
            }
        )
        delivery = self.db.deliveries[delivery_id]
        if delivery["claim_token"] != token or delivery["lease_until"] <= at:
            return  # no longer this claim's: what happened since stays
        delivery.update(
            status="delivered" if delivered else ("pending" if next_attempt_at else "failed"),
            attempts=attempt,
            next_attempt_at=None if delivered else next_attempt_at,
            delivered_at=at if delivered else None,
            lease_until=None,
            claim_token=None,
        )

    async def redeliver(
        self,
        agency_id: str,
        delivery_ids: Sequence[str] | None,
        since: datetime | None,
        now: datetime,
    ) -> int:
        chosen = [
            d
            for d in self.db.deliveries.values()
            if d["agency_id"] == agency_id
            and (delivery_ids is None or d["delivery_id"] in delivery_ids)
            and (since is None or d["created_at"] >= since)
        ]
        for d in chosen:
            d.update(
                status="pending",
                next_attempt_at=now,
                round_start=d["attempts"],
                lease_until=None,
                claim_token=None,
            )
        return len(chosen)

    async def log(self, agency_id: str, limit: int) -> list[Row]:
        rows = [dict(d) for d in self.db.deliveries.values() if d["agency_id"] == agency_id]
        rows.sort(key=lambda d: d["created_at"], reverse=True)
        for row in rows:
            row["log"] = [a for a in self.db.attempts if a["delivery_id"] == row["delivery_id"]]
        return rows[:limit]


class FakeUnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._events: list[Envelope] = []

    async def __aenter__(self) -> Self:
        self.work = self.db.copy()
        self.cases = FakeCaseStore(self.work)
        self.preferences = FakePreferenceStore(self.work)
        self.opt_outs = FakeOptOutStore(self.work)
        self.assignments = FakeAssignmentStore(self.work)
        self.agencies = FakeAgencyRegistry(self.work)
        self.activities = FakeActivityLog(self.work)
        self.commitments = FakeCommitmentStore(self.work)
        self.legal = FakeLegalStageStore(self.work)
        self.ledger = FakeContactLedger(self.work)
        self.deliveries = FakeDeliveryLog(self.work)
        self._events = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._events = []

    def publish(self, envelope: Envelope) -> None:
        self._events.append(envelope)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        saved, published = self.work.copy(), len(self._events)
        try:
            yield
        except BaseException:
            for f in fields(Database):
                setattr(self.work, f.name, getattr(saved, f.name))
            del self._events[published:]
            raise

    async def commit(self) -> None:
        self.work.outbox.extend(self._events)
        self.work.commits += 1
        for f in fields(Database):
            setattr(self.db, f.name, getattr(self.work, f.name))
        self._events = []


class FakeContactSealing:
    """A contact 'sealed' as its plain JSON, under the key id ``fake``."""

    def __init__(self, contact: BorrowerContact) -> None:
        self.contact = contact

    def stored(self, in_event: SealedValue, case: Mapping[str, Any]) -> dict[str, str]:
        return {"kid": "fake", "ct": self.contact.model_dump_json()}

    def opened(self, case: Mapping[str, Any]) -> BorrowerContact:
        return BorrowerContact.model_validate_json(case["contact_sealed"]["ct"])


class FakeActivityTexts:
    def seal(self, text: str, row: Mapping[str, Any]) -> dict[str, str]:
        return {"kid": "fake", "ct": text}

    def open(self, row: Mapping[str, Any]) -> str | None:
        sealed = row["text_sealed"]
        return None if sealed is None else str(sealed["ct"])

    def digest(self, text: str) -> str:
        return f"fake:{len(text)}"


@dataclass
class FakePoster:
    """Answers each post with the next of ``answers`` (the last one again when they run out)."""

    answers: list[tuple[int | None, str | None]] = field(default_factory=lambda: [(200, None)])
    posted: list[str] = field(default_factory=list)

    async def post(self, delivery: Mapping[str, Any]) -> tuple[int | None, str | None]:
        self.posted.append(delivery["delivery_id"])
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@dataclass
class FakeClock:
    now: datetime = datetime(2026, 12, 1, 2, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


def agency_row(agency_id: str, **changes: Any) -> Row:
    """An active agency of CN and US, with room, a webhook URL and a secret."""
    return {
        "agency_id": agency_id,
        "name": agency_id.title(),
        "phone": "+864001234567",
        "jurisdictions": ["CN", "US"],
        "regions": [],
        "capacity": 100,
        "share": 1,
        "webhook_url": f"https://{agency_id}.example/hooks",
        "webhook_secret_sealed": {"kid": "fake", "ct": "whsec"},
        "active": True,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    } | changes


def case_row(lender_id: str, loan_id: str, **changes: Any) -> Row:
    """An open case 50 days past due, 1250.00 CNY, due for a placement decision now."""
    return {
        "lender_id": lender_id,
        "loan_id": loan_id,
        "borrower_ref": f"bref_{loan_id}",
        "jurisdiction": "CN",
        "amount_overdue": Decimal("1250.00"),
        "currency": "CNY",
        "days_past_due": 50,
        "as_of": datetime(2026, 11, 30, tzinfo=UTC),
        "borrower_zone": "Asia/Shanghai",
        "region": None,
        "contact_sealed": {"kid": "fake", "ct": "{}"},
        "status": "ready_for_placement",
        "holds": {},
        "ended_reason": None,
        "lender_recalled_at": None,
        "agency_id": None,
        "placement_note": None,
        "escalation_approved_at": None,
        "opened_at": datetime(2026, 11, 30, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 30, tzinfo=UTC),
        "placement_due_at": datetime(2026, 11, 30, tzinfo=UTC),
        "lease_until": None,
        "claim_token": None,
        "ended_at": None,
        "contact_erased_at": None,
    } | changes


class FakeNotes:
    """A note 'sealed' as itself, under the key id ``fake``."""

    def seal(self, text: str, row: Mapping[str, Any]) -> dict[str, str]:
        return {"kid": "fake", "ct": text}

    def open(self, row: Mapping[str, Any]) -> str | None:
        sealed = row["note_sealed"]
        return None if sealed is None else str(sealed["ct"])
