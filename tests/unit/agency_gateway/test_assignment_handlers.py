"""The agency API's use cases on fakes: acknowledge, activities, contact check, the notes
screen, return; another agency's or an ended assignment is refused."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.agency_gateway.application.assignments import Activity, AssignmentHandlers
from services.agency_gateway.application.errors import (
    ActivityIdReusedError,
    AssignmentEndedError,
    AssignmentNotFoundError,
    InvalidReportError,
)
from services.agency_gateway.domain.contact_check import banned_phrases
from shared.contact_rules import load_pack
from shared.events.assignments import ActivityDirection, ActivityOutcome, ActivityType
from shared.events.catalog import (
    AGENCY_ACTIVITY_RECORDED,
    ASSIGNMENT_ACKNOWLEDGED,
    ASSIGNMENT_RETURNED,
)
from shared.events.models import BorrowerContact
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

LENDER, LOAN, NORTH, ASSIGNMENT = "lender-1", "L-1", "agency-north", "A-1"
PACKS = {j: load_pack(j) for j in Jurisdiction}
CONTACT = BorrowerContact(name="张三", phone="+8613800138000", email="z@example.com")


def world(notified: bool = False) -> tuple[Database, AssignmentHandlers, FakeClock]:
    db, clock = Database(), FakeClock()
    db.agencies[NORTH] = agency_row(NORTH)
    sealing = FakeContactSealing(CONTACT)
    case = case_row(LENDER, LOAN, status="placed", agency_id=NORTH, placement_due_at=None)
    case["contact_sealed"] = sealing.stored(None, case)  # type: ignore[arg-type]
    db.cases[(LENDER, LOAN)] = case
    placed_at = clock.now - timedelta(days=1)
    db.assignments[ASSIGNMENT] = {
        "assignment_id": ASSIGNMENT,
        "lender_id": LENDER,
        "loan_id": LOAN,
        "agency_id": NORTH,
        "status": "placed",
        "arm": "champion",
        "policy_version": "test-1",
        "reason": "test",
        "amount": case["amount_overdue"],
        "currency": "CNY",
        "placed_at": placed_at,
        "ack_due_at": placed_at + timedelta(hours=24),
        "expires_at": placed_at + timedelta(days=90),
        "acknowledged_at": None,
        "notice_sent_at": placed_at if notified else None,
        "ended_at": None,
        "end_reason": None,
        "end_policy_version": None,
        "updated_at": placed_at,
    }
    handlers = AssignmentHandlers(
        lambda: FakeUnitOfWork(db),
        contacts=sealing,
        texts=FakeActivityTexts(),
        packs=PACKS,
        banned=banned_phrases(PACKS.values()),
        clock=clock,
    )
    return db, handlers, clock


def activity(**changes: Any) -> Activity:
    fields: dict[str, Any] = {
        "activity_id": "act-1",
        "type": ActivityType.CALL,
        "direction": ActivityDirection.OUTBOUND,
        "outcome": ActivityOutcome.ANSWERED,
        "at": datetime(2026, 12, 1, 2, tzinfo=UTC),
    }
    return Activity(**(fields | changes))


async def test_acknowledge_once_with_its_event() -> None:
    db, handlers, clock = world()
    row = await handlers.acknowledge(NORTH, ASSIGNMENT)
    assert (row["status"], row["acknowledged_at"]) == ("acknowledged", clock.now)
    again = await handlers.acknowledge(NORTH, ASSIGNMENT)
    assert again["acknowledged_at"] == clock.now
    assert len(db.events(ASSIGNMENT_ACKNOWLEDGED.name)) == 1


async def test_another_agencys_or_an_unknown_assignment_is_not_found() -> None:
    _db, handlers, _clock = world()
    with pytest.raises(AssignmentNotFoundError):
        await handlers.detail("agency-south", ASSIGNMENT)
    with pytest.raises(AssignmentNotFoundError):
        await handlers.acknowledge(NORTH, "A-unknown")


async def test_the_borrower_is_withheld_until_told() -> None:
    _db, handlers, _clock = world()
    assert (await handlers.detail(NORTH, ASSIGNMENT)).borrower is None
    _db, handlers, _clock = world(notified=True)
    assert (await handlers.detail(NORTH, ASSIGNMENT)).borrower == CONTACT


async def test_an_activity_is_recorded_once_counted_in_the_ledger_and_published() -> None:
    db, handlers, _clock = world(notified=True)
    made = await handlers.activity(NORTH, ASSIGNMENT, activity(text="promised to pay"))
    assert not made.replayed
    stored = db.activities[(NORTH, "act-1")]
    assert "text" not in stored["body"]
    assert stored["text_sealed"]["ct"] == "promised to pay"
    [event] = db.events(AGENCY_ACTIVITY_RECORDED.name)
    assert event.data["text_hmac"] == "fake:15"
    assert "text" not in event.data
    [(contact, key)] = db.contacts.values()
    assert (contact.channel, key) == (Channel.PHONE_CALL, (LENDER, LOAN))
    replay = await handlers.activity(NORTH, ASSIGNMENT, activity(text="promised to pay"))
    assert replay.replayed
    assert replay.recorded_at == made.recorded_at
    assert len(db.events(AGENCY_ACTIVITY_RECORDED.name)) == 1
    with pytest.raises(ActivityIdReusedError):
        await handlers.activity(NORTH, ASSIGNMENT, activity(text="something else"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": ActivityType.NOTE, "text": "he will go to jail"}, "text"),
        ({"type": ActivityType.NOTE, "text": "ＪＡＩＬ for him"}, "text"),  # full width
        ({"type": ActivityType.NOTE}, "text"),
        ({"type": ActivityType.VISIT, "outcome": ActivityOutcome.CONVERSATION}, "recording_id"),
        ({"type": ActivityType.SMS, "outcome": ActivityOutcome.CONVERSATION}, "outcome"),
    ],
)
async def test_the_notes_screen_refuses_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    db, handlers, _clock = world(notified=True)
    with pytest.raises(InvalidReportError) as refused:
        await handlers.activity(NORTH, ASSIGNMENT, activity(**changes))
    assert [p.field for p in refused.value.problems] == [field]
    assert not db.activities
    assert not db.outbox


async def test_the_contact_check_waits_for_the_notice() -> None:
    _db, handlers, clock = world()
    answer = await handlers.contact_check(NORTH, ASSIGNMENT, Channel.PHONE_CALL, clock.now)
    assert not answer.allowed
    assert answer.rules == ("CN-09",)
    _db, handlers, clock = world(notified=True)
    answer = await handlers.contact_check(NORTH, ASSIGNMENT, Channel.PHONE_CALL, clock.now)
    assert answer.allowed, answer.explanation


async def test_the_contact_check_honours_a_stop_reply() -> None:
    db, handlers, clock = world(notified=True)
    db.opt_outs[(LENDER, "bref_L-1", "sms")] = {
        "lender_id": LENDER,
        "borrower_ref": "bref_L-1",
        "channel": "sms",
        "at": clock.now - timedelta(hours=1),
    }
    sms = await handlers.contact_check(NORTH, ASSIGNMENT, Channel.SMS, clock.now)
    assert not sms.allowed
    assert sms.rules
    call = await handlers.contact_check(NORTH, ASSIGNMENT, Channel.PHONE_CALL, clock.now)
    assert call.allowed


async def test_a_return_ends_the_assignment_and_the_case_is_due_again() -> None:
    db, handlers, clock = world()
    row = await handlers.give_back(NORTH, ASSIGNMENT, "cannot reach")
    assert (row["status"], row["end_reason"], row["ended_at"]) == (
        "returned",
        "cannot reach",
        clock.now,
    )
    case = db.cases[(LENDER, LOAN)]
    assert (case["agency_id"], case["placement_due_at"]) == (None, clock.now)
    assert len(db.events(ASSIGNMENT_RETURNED.name)) == 1
    with pytest.raises(AssignmentEndedError):
        await handlers.contact_check(NORTH, ASSIGNMENT, Channel.PHONE_CALL, clock.now)
