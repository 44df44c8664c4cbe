"""The borrower's personal data at the gateway, on fakes: an access request answers what is
held, with whom it was shared and the contacts agencies made; a deletion request erases the
contact details of loans that ended and keeps those of loans still owed, each with its reason;
the retention worker erases them a set time after the loan ended; an agency sees an erased
borrower as erased; a later report brings the details back; an agency's dispute holds the loan
under the hold id every party uses, and the lender's lift of that id resumes contact."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.agency_gateway.application.assignments import Activity, AssignmentHandlers
from services.agency_gateway.application.commitments import CommitmentHandlers, Dispute
from services.agency_gateway.application.personal_data import (
    SHARING_PURPOSE,
    ContactRetention,
    DataRequestHandlers,
    agency_notes,
    collection_history,
    contact_details,
)
from services.agency_gateway.domain.contact_check import banned_phrases
from services.agency_gateway.domain.policy import PlacementPolicy
from services.agency_gateway.workers import RetentionWorker
from shared.contact_rules.sources import dispute_hold
from shared.crypto import SealedValue
from shared.events.assignments import (
    ActivityDirection,
    ActivityOutcome,
    ActivityType,
    DisputeRaised,
)
from shared.events.borrowers import (
    DataAnswer,
    DataRequestAnswered,
    DataRequested,
    DataRequestKind,
)
from shared.events.catalog import (
    DATA_REQUEST_ANSWERED,
    DATA_REQUESTED,
    HOLD_LIFTED,
    LOAN_CLOSED,
    OVERDUE_REPORTED,
)
from shared.events.models import ClosureReason, HoldLifted, LoanClosed
from shared.events.topics import Topic
from shared.personal_data import collection_records, debt_owed
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.agency_gateway.fakes import (
    Database,
    FakeActivityTexts,
    FakeClock,
    FakeContactSealing,
    FakeUnitOfWork,
    agency_row,
    case_row,
)
from tests.unit.agency_gateway.test_assignment_handlers import CONTACT, PACKS
from tests.unit.agency_gateway.test_lifecycle_handlers import Got, handlers, report

LENDER, BORROWER, OTHER = "lender-1", "bref_ann", "bref_bob"
NORTH, SOUTH = "agency-north", "agency-south"
ENDED, OWED, ELSE = "L-ended", "L-owed", "L-other"  # ELSE is another borrower's
POLICY = PlacementPolicy(version="test-1", threshold_days=30)


@dataclass
class Sealer:
    """Seals an answer as its JSON under the key id ``fake``, remembering each."""

    sealed: dict[str, DataAnswer] = field(default_factory=dict)

    def __call__(self, request_id: str, answer: DataAnswer) -> SealedValue:
        self.sealed[request_id] = answer
        return SealedValue(kid="fake", ct=answer.model_dump_json())


def assignment(
    assignment_id: str, loan_id: str, agency_id: str, placed_at: datetime, **changes: Any
) -> dict[str, Any]:
    return {
        "assignment_id": assignment_id,
        "lender_id": LENDER,
        "loan_id": loan_id,
        "agency_id": agency_id,
        "status": "acknowledged",
        "arm": "champion",
        "policy_version": "test-1",
        "reason": "test",
        "amount": Decimal("1250.00"),
        "currency": "CNY",
        "placed_at": placed_at,
        "ack_due_at": placed_at + timedelta(hours=24),
        "expires_at": placed_at + timedelta(days=90),
        "acknowledged_at": placed_at,
        "notice_sent_at": placed_at,
        "ended_at": None,
        "end_reason": None,
        "end_policy_version": None,
        "updated_at": placed_at,
        "expiring_announced_at": None,
    } | changes


def world() -> tuple[Database, FakeClock]:
    """Ann's two loans: one closed (it was with North, then recalled), one owed and with
    South; Bob's loan with North. Agencies recorded a call, a note and a promise."""
    db, clock = Database(), FakeClock()
    sealing = FakeContactSealing(CONTACT)
    for agency_id in (NORTH, SOUTH):
        db.agencies[agency_id] = agency_row(agency_id)
    t0 = clock.now - timedelta(days=40)
    cases = {
        ENDED: case_row(
            LENDER,
            ENDED,
            borrower_ref=BORROWER,
            region="CN-GD",
            ended_reason="closed:settled",
            ended_at=clock.now - timedelta(days=10),
        ),
        OWED: case_row(LENDER, OWED, borrower_ref=BORROWER, region="CN-GD", agency_id=SOUTH),
        ELSE: case_row(LENDER, ELSE, borrower_ref=OTHER, agency_id=NORTH),
    }
    for key, case in cases.items():
        case["contact_sealed"] = sealing.stored(None, case)  # type: ignore[arg-type]
        db.cases[(LENDER, key)] = case
    db.assignments = {
        "A-1": assignment(
            "A-1", ENDED, NORTH, t0, status="recalled", ended_at=clock.now - timedelta(days=10)
        ),
        "A-2": assignment("A-2", OWED, SOUTH, t0 + timedelta(days=1)),
        "A-3": assignment("A-3", ELSE, NORTH, t0),
    }
    call = {
        "type": "call",
        "direction": "outbound",
        "outcome": "answered",
        "at": (t0 + timedelta(days=2)).isoformat(),
    }
    note = call | {"type": "note", "outcome": "delivered"}
    for n, (assignment_id, body) in enumerate([("A-1", call), ("A-1", note), ("A-2", call)]):
        db.activities[(NORTH, f"act-{n}")] = {
            "agency_id": db.assignments[assignment_id]["agency_id"],
            "activity_id": f"act-{n}",
            "assignment_id": assignment_id,
            "body": body,
            "recorded_at": t0 + timedelta(days=2, minutes=n),
            "text_sealed": {"kid": "fake", "ct": "Ann said she would pay"},
        }
    db.commitments[("promise", SOUTH, "p-1")] = {
        "promise_id": "p-1",
        "agency_id": SOUTH,
        "assignment_id": "A-2",
        "lender_id": LENDER,
        "loan_id": OWED,
        "recorded_at": t0 + timedelta(days=2),
        "amount": Decimal("500.00"),
        "currency": "CNY",
        "due_date": date(2026, 12, 20),
    }
    return db, clock


def requested(kind: DataRequestKind, request_id: str = "R-1") -> Got:
    data = DataRequested(
        request_id=request_id,
        loan_id=OWED,
        borrower_ref=BORROWER,
        kind=kind,
        requested_at=datetime(2026, 12, 1, tzinfo=UTC),
        due_by=datetime(2026, 12, 31, tzinfo=UTC),
    )
    envelope = DATA_REQUESTED.envelope(source="/test", subject=OWED, tenant=LENDER, data=data)
    return Got(envelope, data)


async def answer(db: Database, clock: FakeClock, *events: Got) -> Sealer:
    sealer = Sealer()
    use_case = DataRequestHandlers(FakeContactSealing(CONTACT), sealer, clock=clock)
    async with FakeUnitOfWork(db) as uow:
        await use_case.answer(uow, list(events))
        await uow.commit()
    return sealer


async def test_an_access_request_answers_what_is_held_shared_and_done_sealed() -> None:
    db, clock = world()
    sealer = await answer(db, clock, requested(DataRequestKind.ACCESS))

    [published] = db.events(DATA_REQUEST_ANSWERED.name)
    assert DATA_REQUEST_ANSWERED.topic == Topic.DATA_ANSWERS
    assert (published.subject, published.tenantid) == (OWED, LENDER)
    data = DataRequestAnswered.model_validate(published.data)
    assert (data.request_id, data.service, data.kind, data.answer) == (
        "R-1",
        "agency_gateway",
        DataRequestKind.ACCESS,
        None,
    )
    got = sealer.sealed["R-1"]
    assert data.sealed_answer == SealedValue(kid="fake", ct=got.model_dump_json())

    held = {(i.category, i.value) for i in got.personal_data}
    for category, value in [
        ("name", CONTACT.name),
        ("phone", CONTACT.phone),
        ("email", CONTACT.email),
        ("region", "CN-GD"),
        ("timezone", "Asia/Shanghai"),
    ]:
        assert (category, value) in held
    assert all(i.purpose for i in got.personal_data)
    assert ("promise_to_pay", "500.00 CNY by 2026-12-20 (recorded by agency agency-south)") in held
    assert [(s.party_id, s.name, s.ended_at is None, s.purpose) for s in got.shared_with] == [
        (NORTH, "Agency-North", False, SHARING_PURPOSE),
        (SOUTH, "Agency-South", True, SHARING_PURPOSE),
    ]
    # The call on each loan, not the note (no contact), and no text.
    assert sorted((c.party, c.channel, c.kind, c.outcome) for c in got.contacts) == [
        (f"agency:{NORTH}", "phone_call", "call", "answered"),
        (f"agency:{SOUTH}", "phone_call", "call", "answered"),
    ]
    assert "Ann said" not in got.model_dump_json()
    assert got.retention == []
    assert db.cases[(LENDER, ENDED)]["contact_sealed"] is not None  # access erases nothing


async def test_a_deletion_erases_ended_loans_and_keeps_owed_ones_with_reasons() -> None:
    db, clock = world()
    sealer = await answer(db, clock, requested(DataRequestKind.DELETION))

    ended, owed, other = (db.cases[(LENDER, k)] for k in (ENDED, OWED, ELSE))
    assert (ended["contact_sealed"], ended["region"], ended["borrower_zone"]) == (None, None, None)
    assert ended["contact_erased_at"] == clock.now
    assert owed["contact_sealed"] is not None
    assert other["contact_sealed"] is not None
    texts = {a["assignment_id"]: a["text_sealed"] for a in db.activities.values()}
    assert texts["A-1"] is None  # the ended loan's notes
    assert texts["A-2"] is not None  # the owed loan's stay
    assert len(db.activities) == 3  # the records of the activities stay

    got = sealer.sealed["R-1"]
    assert (got.personal_data, got.shared_with, got.contacts) == ([], [], [])
    items = {r.category: r for r in got.retention}
    for category in (contact_details(ENDED), agency_notes(ENDED)):
        assert (items[category].erased, items[category].legal_basis) == (True, None)
    for category in (contact_details(OWED), agency_notes(OWED)):
        assert items[category].erased is False
        assert items[category].legal_basis == debt_owed().legal_basis
    last_call = db.assignments["A-1"]["placed_at"] + timedelta(days=2)
    records = collection_records(Jurisdiction.CN, clock.now - timedelta(days=10))
    kept = items[collection_history(ENDED)]
    assert (kept.erased, kept.legal_basis, kept.kept_until) == (
        False,
        records.legal_basis,
        records.until,
    )
    assert "CN-08" in records.legal_basis
    assert last_call < clock.now - timedelta(days=10)  # the recall was the last activity
    assert items[collection_history(OWED)].erased is False
    assert not any(ELSE in r.category for r in got.retention)  # another borrower's loan


async def test_a_repeated_deletion_erases_nothing_new_and_answers_each_request_once() -> None:
    db, clock = world()
    await answer(db, clock, requested(DataRequestKind.DELETION))
    erased_at = db.cases[(LENDER, ENDED)]["contact_erased_at"]
    clock.advance(timedelta(minutes=5))
    first = requested(DataRequestKind.DELETION, "R-2")
    sealer = await answer(db, clock, first, first)
    assert db.cases[(LENDER, ENDED)]["contact_erased_at"] == erased_at
    assert len(db.events(DATA_REQUEST_ANSWERED.name)) == 2  # R-1, then R-2 once
    items = {r.category: r.erased for r in sealer.sealed["R-2"].retention}
    assert (items[contact_details(ENDED)], items[contact_details(OWED)]) == (True, False)


async def test_a_borrower_the_gateway_never_held_gets_an_empty_answer() -> None:
    db, clock = Database(), FakeClock()
    sealer = await answer(db, clock, requested(DataRequestKind.ACCESS))
    assert sealer.sealed["R-1"] == DataAnswer(service="agency_gateway")
    assert len(db.events(DATA_REQUEST_ANSWERED.name)) == 1


def retention_worker(db: Database, clock: FakeClock, days: float) -> RetentionWorker:
    return RetentionWorker(
        lambda: FakeUnitOfWork(db),
        ContactRetention(timedelta(days=days)),
        batch_size=1,
        clock=clock,
    )


async def test_the_retention_worker_erases_contacts_a_set_time_after_the_loan_ended() -> None:
    db, clock = world()
    recalled = case_row(LENDER, "L-recalled", lender_recalled_at=clock.now - timedelta(days=31))
    db.cases[(LENDER, "L-recalled")] = recalled
    worker = retention_worker(db, clock, days=30)

    assert await worker.step() == 1  # the recalled loan, 31 days ago; a batch of one
    assert db.cases[(LENDER, "L-recalled")]["contact_sealed"] is None
    assert await worker.step() == 0  # the closed loan ended 10 days ago: not yet
    assert db.cases[(LENDER, ENDED)]["contact_sealed"] is not None

    clock.advance(timedelta(days=21))
    assert await worker.step() == 1
    assert db.cases[(LENDER, ENDED)]["contact_sealed"] is None
    assert db.activities[(NORTH, "act-0")]["text_sealed"] is None
    # Owed loans, and one whose agency still holds it, keep theirs.
    assert await worker.step() == 0
    assert db.cases[(LENDER, OWED)]["contact_sealed"] is not None
    db.cases[(LENDER, ELSE)]["ended_at"] = clock.now - timedelta(days=60)
    assert await worker.step() == 0


async def test_retention_zero_erases_at_the_next_pass() -> None:
    db, clock = world()
    assert await retention_worker(db, clock, days=0).step() == 1
    assert db.cases[(LENDER, ENDED)]["contact_sealed"] is None


async def test_a_closure_dates_the_end_and_a_later_report_brings_the_contact_back() -> None:
    db, clock = Database(), FakeClock()
    use_cases = handlers(clock)
    opened = report("L-1", 40, clock.now)
    envelope = OVERDUE_REPORTED.envelope(source="/t", subject="L-1", tenant=LENDER, data=opened)
    async with FakeUnitOfWork(db) as uow:
        await use_cases.reports(uow, [Got(envelope, opened)])
        closed = LoanClosed(loan_id="L-1", reason=ClosureReason.DISPUTE_UPHELD, closed_at=clock.now)
        closing = LOAN_CLOSED.envelope(source="/t", subject="L-1", tenant=LENDER, data=closed)
        await use_cases.lifecycle(uow, [Got(closing, closed)])
        await uow.commit()
    case = db.cases[(LENDER, "L-1")]
    assert (case["ended_reason"], case["ended_at"]) == ("closed:dispute_upheld", clock.now)

    await retention_worker(db, clock, days=0).step()
    assert db.cases[(LENDER, "L-1")]["contact_erased_at"] == clock.now
    again = report("L-1", 41, clock.now + timedelta(days=1))
    envelope = OVERDUE_REPORTED.envelope(source="/t", subject="L-1", tenant=LENDER, data=again)
    async with FakeUnitOfWork(db) as uow:
        await use_cases.reports(uow, [Got(envelope, again)])
        await uow.commit()
    case = db.cases[(LENDER, "L-1")]
    assert use_cases.contacts.opened(case) == CONTACT
    assert (case["contact_erased_at"], case["region"]) == (None, "CN-GD")


def agency_api(db: Database, clock: FakeClock) -> AssignmentHandlers:
    return AssignmentHandlers(
        lambda: FakeUnitOfWork(db),
        contacts=FakeContactSealing(CONTACT),
        texts=FakeActivityTexts(),
        packs=PACKS,
        banned=banned_phrases(PACKS.values()),
        clock=clock,
    )


async def test_an_agency_sees_an_erased_borrower_as_erased() -> None:
    db, clock = world()
    api = agency_api(db, clock)
    view = await api.detail(SOUTH, "A-2")
    assert (view.borrower, view.withheld) == (CONTACT, None)
    async with FakeUnitOfWork(db) as uow:
        await uow.cases.erase_contacts([(LENDER, OWED)], clock.now)
        await uow.commit()
    view = await api.detail(SOUTH, "A-2")
    assert (view.borrower, view.withheld) == (None, "contact_erased")


async def test_an_agency_dispute_holds_under_the_shared_id_until_the_lender_lifts_it() -> None:
    db, clock = world()
    api = agency_api(db, clock)
    at = datetime(2026, 12, 2, 4, tzinfo=UTC)  # noon in Shanghai
    assert (await api.contact_check(SOUTH, "A-2", Channel.PHONE_CALL, at)).allowed

    commitments = CommitmentHandlers(lambda: FakeUnitOfWork(db), POLICY, clock=clock)
    await commitments.dispute(SOUTH, "A-2", Dispute("d-7", "not my loan"))
    [raised] = db.events("collections.agency.dispute-raised")
    hold = dispute_hold(DisputeRaised.model_validate(raised.data))
    assert db.cases[(LENDER, OWED)]["holds"] == {hold.hold_id: "dispute"}
    assert hold.hold_id == "agency-dispute:d-7"
    refused = await api.contact_check(SOUTH, "A-2", Channel.PHONE_CALL, at)
    assert (refused.allowed, refused.rules) == (False, ("POL-01",))

    lifted = HoldLifted(loan_id=OWED, hold_id=hold.hold_id, lifted_at=clock.now)
    envelope = HOLD_LIFTED.envelope(source="/t", subject=OWED, tenant=LENDER, data=lifted)
    async with FakeUnitOfWork(db) as uow:
        await handlers(clock).lifecycle(uow, [Got(envelope, lifted)])
        await uow.commit()
    assert db.cases[(LENDER, OWED)]["holds"] == {}
    assert (await api.contact_check(SOUTH, "A-2", Channel.PHONE_CALL, at)).allowed


def test_activity_words_used_above_are_the_agency_apis() -> None:
    """The world's activity bodies are what the agency API stores (``Activity.details``)."""
    stored = Activity(
        "act-x",
        ActivityType.CALL,
        ActivityDirection.OUTBOUND,
        ActivityOutcome.ANSWERED,
        datetime(2026, 12, 1, tzinfo=UTC),
    ).details()
    assert {"type", "direction", "outcome", "at"} <= set(stored)
