"""The consumer's use cases on fakes: a report opens a case; a payment in full, a hold, a
lender's recall or a closure ends the assignment; a STOP reply is recorded; the notifier's
notice lets the agency see the borrower and its sends feed the ledger."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel

from services.agency_gateway.application.lifecycle import LifecycleHandlers
from services.agency_gateway.application.placement import PlacementHandlers
from services.agency_gateway.domain.policy import PlacementPolicy
from shared.crypto import SealedValue
from shared.events.catalog import (
    AGENCY_NOTICE_SENT,
    ASSIGNMENT_PLACED,
    ASSIGNMENT_RECALLED,
    CONTACT_PREFERENCES_UPDATED,
    HOLD_PLACED,
    LOAN_CLOSED,
    NOTIFICATION_EVENTS,
    OPT_OUT_RECORDED,
    OVERDUE_REPORTED,
    PAYMENT_RECEIVED,
    PLACEMENT_RECALLED,
    EventType,
)
from shared.events.envelope import Envelope
from shared.events.models import (
    BorrowerContact,
    BorrowerProfile,
    ClosureReason,
    ContactPreferences,
    ContactPreferencesUpdated,
    HoldPlaced,
    HoldReason,
    LoanClosed,
    OverdueReported,
    PaymentReceived,
    PlacementRecalled,
)
from shared.events.money import Money
from shared.events.notifications import (
    NotificationChanged,
    NotificationKind,
    NotificationStatus,
    OptOutRecorded,
    OptOutSource,
)
from shared.vocabulary import Channel
from tests.unit.agency_gateway.fakes import (
    Database,
    FakeClock,
    FakeContactSealing,
    FakeUnitOfWork,
    agency_row,
)
from tests.unit.agency_gateway.test_assignment_handlers import ASSIGNMENT, LENDER, LOAN, NORTH
from tests.unit.agency_gateway.test_assignment_handlers import world as handoff_world

POLICY = PlacementPolicy(version="test-1", threshold_days=30)
CONTACT = BorrowerContact(name="张三", phone="+8613800138000", email="z@example.com")
AT = datetime(2026, 12, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Got:
    envelope: Envelope
    data: Any


def got(event_type: EventType[Any], data: BaseModel) -> Got:
    envelope = event_type.envelope(source="/test", subject=LOAN, tenant=LENDER, data=data)
    return Got(envelope, data)


def cny(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="CNY")


def handlers(clock: FakeClock) -> LifecycleHandlers:
    return LifecycleHandlers(POLICY, FakeContactSealing(CONTACT), clock=clock)


async def apply(db: Database, use_case: Any, *events: Got) -> None:
    async with FakeUnitOfWork(db) as uow:
        await use_case(uow, list(events))
        await uow.commit()


def report(loan_id: str, days: int, as_of: datetime) -> OverdueReported:
    return OverdueReported(
        loan_id=loan_id,
        borrower=BorrowerProfile(
            ref="bref_1",
            contact=SealedValue(kid="t", ct="AA=="),
            locale="zh-CN",
            timezone="Asia/Shanghai",
            region="CN-GD",
        ),
        jurisdiction="CN",
        product="cash",
        amount_overdue=cny("1250.00"),
        due_date=date(2026, 10, 1),
        days_past_due=days,
        as_of=as_of,
    )


async def test_a_report_opens_a_case_due_for_placement_and_the_newest_wins() -> None:
    db, clock = Database(), FakeClock()
    use_cases = handlers(clock)
    await apply(
        db,
        use_cases.reports,
        got(OVERDUE_REPORTED, report("L-9", 10, AT)),
        got(OVERDUE_REPORTED, report("L-9", 40, AT + timedelta(days=30))),
    )
    case = db.cases[(LENDER, "L-9")]
    assert (case["days_past_due"], case["status"], case["region"]) == (
        40,
        "ready_for_placement",
        "CN-GD",
    )
    assert case["placement_due_at"] == clock.now
    assert use_cases.contacts.opened(case) == CONTACT
    await apply(db, use_cases.reports, got(OVERDUE_REPORTED, report("L-9", 5, AT)))
    assert db.cases[(LENDER, "L-9")]["days_past_due"] == 40  # an older report changes nothing


async def test_given_placement_a_fresh_report_is_decided_in_the_consumers_unit_of_work() -> None:
    db, clock = Database(), FakeClock()
    db.agencies["agency-north"] = agency_row("agency-north")
    use_cases = LifecycleHandlers(
        POLICY, FakeContactSealing(CONTACT), clock=clock, placement=PlacementHandlers(POLICY)
    )
    await apply(db, use_cases.reports, got(OVERDUE_REPORTED, report("L-9", 40, AT)))
    case = db.cases[(LENDER, "L-9")]
    assert (case["status"], case["agency_id"], case["placement_due_at"]) == (
        "placed",
        "agency-north",
        None,  # decided: the placement worker has nothing left to claim
    )
    assert use_cases.contacts.opened(case) == CONTACT
    (assignment,) = db.assignments.values()
    assert (assignment["loan_id"], assignment["agency_id"]) == ("L-9", "agency-north")
    assert len(db.events(ASSIGNMENT_PLACED.name)) == 1
    # a newer report of a placed loan keeps its agency; an older one changes nothing
    await apply(
        db, use_cases.reports, got(OVERDUE_REPORTED, report("L-9", 50, AT + timedelta(days=1)))
    )
    await apply(db, use_cases.reports, got(OVERDUE_REPORTED, report("L-9", 5, AT)))
    case = db.cases[(LENDER, "L-9")]
    assert (case["days_past_due"], case["status"], case["agency_id"]) == (
        50,
        "placed",
        "agency-north",
    )
    assert len(db.assignments) == 1
    assert len(db.events(ASSIGNMENT_PLACED.name)) == 1
    # one under the threshold is decided too: not placed, and why
    await apply(db, use_cases.reports, got(OVERDUE_REPORTED, report("L-10", 5, AT)))
    assert db.cases[(LENDER, "L-10")]["placement_note"] == "below_threshold"


LIFECYCLE = [
    (
        PAYMENT_RECEIVED,
        PaymentReceived(
            loan_id=LOAN,
            payment_id="pay-1",
            amount=cny("1250.00"),
            paid_at=AT,
            outstanding=cny("0"),
            cured=True,
        ),
        "paid_in_full",
    ),
    (
        HOLD_PLACED,
        HoldPlaced(loan_id=LOAN, hold_id="h-1", reason=HoldReason.HARDSHIP, placed_at=AT),
        "hold:hardship",
    ),
    (
        PLACEMENT_RECALLED,
        PlacementRecalled(loan_id=LOAN, reason="lender decision", recalled_at=AT),
        "lender_recall",
    ),
    (
        LOAN_CLOSED,
        LoanClosed(loan_id=LOAN, reason=ClosureReason.SETTLED, closed_at=AT),
        "closed:settled",
    ),
]


@pytest.mark.parametrize(("event_type", "data", "reason"), LIFECYCLE)
async def test_a_lifecycle_event_ends_the_assignment(
    event_type: EventType[Any], data: BaseModel, reason: str
) -> None:
    db, _handoff, clock = handoff_world()
    await apply(db, handlers(clock).lifecycle, got(event_type, data))
    ended = db.assignments[ASSIGNMENT]
    assert (ended["status"], ended["end_reason"], ended["end_policy_version"]) == (
        "recalled",
        reason,
        "test-1",
    )
    [recalled] = db.events(ASSIGNMENT_RECALLED.name)
    assert recalled.data["reason"] == reason
    assert [d["event"] for d in db.deliveries.values()] == ["assignment.recalled"]
    case = db.cases[(LENDER, LOAN)]
    assert (case["agency_id"], case["placement_due_at"]) == (None, clock.now)


async def test_a_payment_is_kept_for_reconciliation_and_a_partial_one_recalls_nothing() -> None:
    db, _handoff, clock = handoff_world()
    partial = PaymentReceived(
        loan_id=LOAN,
        payment_id="pay-1",
        amount=cny("250.00"),
        paid_at=AT,
        outstanding=cny("1000.00"),
        cured=False,
    )
    await apply(db, handlers(clock).lifecycle, got(PAYMENT_RECEIVED, partial))
    assert db.assignments[ASSIGNMENT]["ended_at"] is None
    assert db.cases[(LENDER, LOAN)]["amount_overdue"] == Decimal("1000.00")
    assert list(db.lender_payments) == [(LENDER, LOAN, "pay-1")]


async def test_a_stop_reply_is_recorded_once_the_earliest_kept() -> None:
    db, clock = Database(), FakeClock()

    def stop(at: datetime, source: OptOutSource = OptOutSource.REPLY) -> Got:
        data = OptOutRecorded(
            borrower_ref="bref_1", channel=Channel.SMS, source=source, at=at, loan_ids=[LOAN]
        )
        return got(OPT_OUT_RECORDED, data)

    use_cases = handlers(clock)
    await apply(db, use_cases.opt_outs, stop(AT + timedelta(hours=1)), stop(AT))
    await apply(db, use_cases.opt_outs, stop(AT - timedelta(hours=1), OptOutSource.PREFERENCES))
    assert [(k, r["at"]) for k, r in db.opt_outs.items()] == [((LENDER, "bref_1", "sms"), AT)]


async def test_preferences_are_kept_and_the_borrowers_cases_are_due_again() -> None:
    db, _handoff, clock = handoff_world()
    data = ContactPreferencesUpdated(
        borrower_ref="bref_L-1",
        preferences=ContactPreferences(cease_communication=True),
        effective_at=AT,
    )
    await apply(db, handlers(clock).preferences, got(CONTACT_PREFERENCES_UPDATED, data))
    assert db.preferences[(LENDER, "bref_L-1")]["cease"] is True
    assert db.cases[(LENDER, LOAN)]["placement_due_at"] == clock.now


def notification(kind: NotificationKind, status: NotificationStatus, **more: Any) -> BaseModel:
    return NotificationChanged(
        notification_id=uuid4(),
        loan_id=LOAN,
        borrower_ref="bref_L-1",
        kind=kind,
        step=None,
        channel=Channel.SMS,
        template="t",
        locale="zh-CN",
        policy_id="p",
        policy_version="1",
        pack_version=None,
        status=status,
        at=AT,
        due_at=AT,
        **more,
    )


async def test_the_notice_lets_the_agency_see_the_borrower_and_counts_as_a_contact() -> None:
    db, _handoff, clock = handoff_world()
    notice = notification(NotificationKind.AGENCY_NOTICE, NotificationStatus.SENT, agency_id=NORTH)
    await apply(db, handlers(clock).notices, got(AGENCY_NOTICE_SENT, notice))
    assert db.assignments[ASSIGNMENT]["notice_sent_at"] == AT
    [(contact, key)] = db.contacts.values()
    assert (contact.channel, key) == (Channel.SMS, (LENDER, LOAN))


async def test_a_send_then_its_delivery_is_one_contact_delivered() -> None:
    db, _handoff, clock = handoff_world()
    sent = notification(NotificationKind.REMINDER, NotificationStatus.SENT)
    delivered = NotificationChanged.model_validate(
        sent.model_dump() | {"status": NotificationStatus.DELIVERED}
    )
    sends = handlers(clock).lender_sends
    await apply(
        db,
        sends,
        got(NOTIFICATION_EVENTS[NotificationStatus.SENT], sent),
        got(NOTIFICATION_EVENTS[NotificationStatus.DELIVERED], delivered),
    )
    [(contact, _key)] = db.contacts.values()
    assert contact.outcome.value == "delivered"
