"""Commitments on fakes: promises kept by the lender's payments, reported payments reconciled,
disputes that hold the case, and escalation decided against its prerequisites."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.agency_gateway.application.commitments import (
    CommitmentHandlers,
    Dispute,
    Promise,
    ReportedPayment,
)
from services.agency_gateway.application.errors import (
    InvalidReportError,
    LoanNotFoundError,
    NotPlacedError,
)
from services.agency_gateway.domain.policy import PlacementPolicy
from shared.events.catalog import (
    AGENCY_PAYMENT_REPORTED,
    DISPUTE_RAISED,
    ESCALATION_DECIDED,
    PROMISE_RECORDED,
)
from shared.events.money import Money
from tests.unit.agency_gateway.fakes import Database, FakeClock, FakeUnitOfWork
from tests.unit.agency_gateway.test_assignment_handlers import ASSIGNMENT, LENDER, LOAN, NORTH
from tests.unit.agency_gateway.test_assignment_handlers import world as handoff_world

POLICY = PlacementPolicy(version="test-1")


def world(notified: bool = True) -> tuple[Database, CommitmentHandlers, FakeClock]:
    db, _handoff, clock = handoff_world(notified)
    return db, CommitmentHandlers(lambda: FakeUnitOfWork(db), POLICY, clock=clock), clock


def cny(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="CNY")


def lender_paid(db: Database, payment_id: str, amount: str, clock: FakeClock) -> None:
    db.lender_payments[(LENDER, LOAN, payment_id)] = {
        "lender_id": LENDER,
        "loan_id": LOAN,
        "payment_id": payment_id,
        "amount": Decimal(amount),
        "currency": "CNY",
        "paid_at": clock.now,
    }


async def test_a_promise_is_pending_until_the_lender_is_paid() -> None:
    db, handlers, clock = world()
    due = clock.now.date() + timedelta(days=7)
    state, new = await handlers.promise(NORTH, ASSIGNMENT, Promise("p-1", cny("500.00"), due))
    assert new
    assert state.status == "pending"
    _state, again = await handlers.promise(NORTH, ASSIGNMENT, Promise("p-1", cny("1.00"), due))
    assert not again
    assert len(db.events(PROMISE_RECORDED.name)) == 1
    clock.advance(timedelta(days=1))
    lender_paid(db, "pay-1", "500.00", clock)
    [kept] = (await handlers.commitments(NORTH, ASSIGNMENT)).promises
    assert kept.status == "kept"


async def test_a_promise_not_kept_by_its_date_is_broken() -> None:
    _db, handlers, clock = world()
    due = date(2026, 12, 2)
    await handlers.promise(NORTH, ASSIGNMENT, Promise("p-1", cny("500.00"), due))
    clock.advance(timedelta(days=3))
    [broken] = (await handlers.commitments(NORTH, ASSIGNMENT)).promises
    assert broken.status == "broken"


async def test_a_reported_payment_is_reconciled_with_the_lenders() -> None:
    db, handlers, clock = world()
    reported = ReportedPayment("ap-1", cny("300.00"), clock.now)
    state, new = await handlers.payment(NORTH, ASSIGNMENT, reported)
    assert new
    assert state.reconciled_with is None
    assert len(db.events(AGENCY_PAYMENT_REPORTED.name)) == 1
    lender_paid(db, "pay-9", "300.00", clock)
    state, new = await handlers.payment(NORTH, ASSIGNMENT, reported)
    assert not new
    assert state.reconciled_with == "pay-9"


async def test_an_amount_of_zero_is_refused() -> None:
    _db, handlers, clock = world()
    with pytest.raises(InvalidReportError) as refused:
        await handlers.payment(NORTH, ASSIGNMENT, ReportedPayment("ap-1", cny("0"), clock.now))
    assert [p.field for p in refused.value.problems] == ["amount.amount"]


async def test_a_dispute_holds_the_case_once() -> None:
    db, handlers, _clock = world()
    stored, new = await handlers.dispute(NORTH, ASSIGNMENT, Dispute("d-1", "not my loan"))
    assert new
    assert stored["reason"] == "not my loan"
    assert db.cases[(LENDER, LOAN)]["holds"] == {"agency-dispute:d-1": "dispute"}
    _stored, again = await handlers.dispute(NORTH, ASSIGNMENT, Dispute("d-1", "other"))
    assert not again
    assert len(db.events(DISPUTE_RAISED.name)) == 1
    assert [d["dispute_id"] for d in (await handlers.commitments(NORTH, ASSIGNMENT)).disputes] == [
        "d-1"
    ]


async def test_escalation_is_refused_naming_each_unmet_prerequisite() -> None:
    db, handlers, _clock = world(notified=False)
    await handlers.dispute(NORTH, ASSIGNMENT, Dispute("d-1", "not my loan"))
    decision = await handlers.escalate_by_agency(NORTH, ASSIGNMENT)
    assert not decision.granted
    assert [u.prerequisite for u in decision.unmet] == [
        "validation_period_over",
        "no_open_dispute",
        "lender_approval",
    ]
    [event] = db.events(ESCALATION_DECIDED.name)
    assert event.data["granted"] is False
    assert event.data["requested_by"] == "agency"
    assert db.escalations[0]["policy_version"] == "test-1"


async def test_escalation_is_granted_once_every_prerequisite_holds() -> None:
    db, handlers, clock = world(notified=True)
    db.assignments[ASSIGNMENT]["notice_sent_at"] = clock.now - timedelta(days=31)
    decision = await handlers.escalate_by_lender(LENDER, LOAN, approve=True)
    assert decision.granted
    assert decision.unmet == []
    assert decision.requested_by == "lender"
    assert db.cases[(LENDER, LOAN)]["escalation_approved_at"] == clock.now


async def test_the_lender_escalates_only_a_placed_loan_of_an_open_case() -> None:
    db, handlers, clock = world()
    with pytest.raises(LoanNotFoundError):
        await handlers.escalate_by_lender(LENDER, "L-unknown", approve=True)
    db.assignments[ASSIGNMENT]["ended_at"] = clock.now
    with pytest.raises(NotPlacedError):
        await handlers.escalate_by_lender(LENDER, LOAN, approve=True)
    assert db.cases[(LENDER, LOAN)]["escalation_approved_at"] is None  # rolled back
