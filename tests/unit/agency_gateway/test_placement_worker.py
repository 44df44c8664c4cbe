"""Placement on fakes: the worker claims (a lease and a fencing token), the use cases decide
(placed, not placed and why, retried) only while the claim holds, allocate among agencies,
and end lapsed assignments."""

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from services.agency_gateway.application.placement import CaseClaim, PlacementHandlers
from services.agency_gateway.domain.policy import PlacementPolicy
from services.agency_gateway.workers import PlacementWorker
from shared.events.catalog import ASSIGNMENT_EXPIRED, ASSIGNMENT_PLACED
from tests.unit.agency_gateway.fakes import (
    Database,
    FakeClock,
    FakeUnitOfWork,
    agency_row,
    case_row,
)

POLICY = PlacementPolicy(version="test-1", threshold_days=30, minimum_amount=100)
LENDER = "lender-1"
LEASE = PlacementWorker.lease


def worker(db: Database, clock: FakeClock, policy: PlacementPolicy = POLICY) -> PlacementWorker:
    db.clock = clock  # leases end on the database's clock
    return PlacementWorker(lambda: FakeUnitOfWork(db), PlacementHandlers(policy), clock=clock)


async def claim(db: Database, clock: FakeClock, token: UUID) -> CaseClaim:
    """A worker's claim of every due case, committed (as the worker commits it)."""
    async with FakeUnitOfWork(db) as uow:
        keys = await uow.cases.claim_due(clock.now, 10, LEASE, token)
        await uow.commit()
    return CaseClaim(token, keys)


async def decide(db: Database, clock: FakeClock, claim: CaseClaim) -> int:
    async with FakeUnitOfWork(db) as uow:
        decided = await PlacementHandlers(POLICY).decide(uow, claim, clock.now)
        await uow.commit()
    return decided


async def test_a_due_case_is_placed_with_its_event_and_webhook() -> None:
    db, clock = Database(), FakeClock()
    db.agencies["agency-north"] = agency_row("agency-north")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1")
    assert await worker(db, clock).step() == 1
    [assignment] = db.assignments.values()
    assert (assignment["agency_id"], assignment["status"], assignment["arm"]) == (
        "agency-north",
        "placed",
        "champion",
    )
    assert assignment["ack_due_at"] == clock.now + timedelta(hours=POLICY.ack_lease_hours)
    assert "50 days past due (threshold 30, champion)" in assignment["reason"]
    case = db.cases[(LENDER, "L-1")]
    assert (case["status"], case["agency_id"], case["placement_due_at"]) == (
        "placed",
        "agency-north",
        None,
    )
    [event] = db.events(ASSIGNMENT_PLACED.name)
    assert event.data["assignment_id"] == assignment["assignment_id"]
    [delivery] = db.deliveries.values()
    assert delivery["event"] == "assignment.placed"
    assert await worker(db, clock).step() == 0  # nothing due any more


@pytest.mark.parametrize(
    ("changes", "status", "note"),
    [
        ({"days_past_due": 10}, "awaiting_threshold", "below_threshold"),
        ({"amount_overdue": 50}, "awaiting_threshold", "below_minimum_amount"),
        ({"holds": {"h-1": "hardship"}}, "excluded", "hold:hardship"),
        ({"holds": {"h-1": "dispute"}}, "excluded", "dispute"),
        ({"ended_reason": "cured"}, "ended", "cured"),
    ],
)
async def test_a_case_not_placed_says_why_and_is_not_due_again(
    changes: dict[str, object], status: str, note: str
) -> None:
    db, clock = Database(), FakeClock()
    db.agencies["agency-north"] = agency_row("agency-north")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1", **changes)
    await worker(db, clock).step()
    case = db.cases[(LENDER, "L-1")]
    assert (case["status"], case["placement_note"], case["placement_due_at"]) == (
        status,
        note,
        None,
    )
    assert not db.assignments
    assert not db.outbox


async def test_the_borrowers_cease_request_excludes_the_case() -> None:
    db, clock = Database(), FakeClock()
    db.agencies["agency-north"] = agency_row("agency-north")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1")
    db.preferences[(LENDER, "bref_L-1")] = {"cease": True, "attorney": False}
    await worker(db, clock).step()
    assert db.cases[(LENDER, "L-1")]["placement_note"] == "cease"


async def test_no_agency_able_to_take_it_is_retried_after_the_pause() -> None:
    db, clock = Database(), FakeClock()
    db.agencies["agency-us"] = agency_row("agency-us", jurisdictions=["US"])
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1")
    placing = worker(db, clock)
    await placing.step()
    case = db.cases[(LENDER, "L-1")]
    assert (case["status"], case["placement_note"]) == ("ready_for_placement", "no_eligible_agency")
    assert case["placement_due_at"] == clock.now + POLICY.retry
    db.agencies["agency-cn"] = agency_row("agency-cn", jurisdictions=["CN"])
    clock.advance(POLICY.retry - timedelta(seconds=1))
    assert await placing.step() == 0  # not before the pause is over
    clock.advance(timedelta(seconds=1))
    assert await placing.step() == 1
    assert db.cases[(LENDER, "L-1")]["agency_id"] == "agency-cn"


async def test_allocation_respects_region_capacity_and_never_goes_back() -> None:
    db, clock = Database(), FakeClock()
    db.agencies["agency-gd"] = agency_row("agency-gd", regions=["CN-GD"], share=100)
    db.agencies["agency-full"] = agency_row("agency-full", capacity=0, share=100)
    db.agencies["agency-any"] = agency_row("agency-any")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1", region="CN-BJ")
    db.cases[(LENDER, "L-2")] = case_row(LENDER, "L-2", region="CN-GD")
    await worker(db, clock).step()
    placed = {a["loan_id"]: a["agency_id"] for a in db.assignments.values()}
    assert placed == {"L-1": "agency-any", "L-2": "agency-gd"}
    first = next(a for a in db.assignments.values() if a["loan_id"] == "L-2")
    first.update(ended_at=clock.now, status="returned")  # the agency gave it back
    db.cases[(LENDER, "L-2")].update(agency_id=None, placement_due_at=clock.now)
    await worker(db, clock).step()
    again = [a["agency_id"] for a in db.assignments.values() if a["loan_id"] == "L-2"]
    assert again == ["agency-gd", "agency-any"]  # elsewhere, though the region is gd's


async def test_an_assignment_not_acknowledged_in_time_expires_and_the_case_is_placed_again() -> (
    None
):
    db, clock = Database(), FakeClock()
    db.agencies["agency-north"] = agency_row("agency-north")
    db.agencies["agency-south"] = agency_row("agency-south")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1")
    placing = worker(db, clock)
    await placing.step()
    [first] = db.assignments.values()
    clock.advance(POLICY.ack_deadline)
    await placing.step()
    ended = db.assignments[first["assignment_id"]]
    assert (ended["status"], ended["end_reason"], ended["end_policy_version"]) == (
        "expired",
        "ack_lease_lapsed",
        "test-1",
    )
    [expired] = db.events(ASSIGNMENT_EXPIRED.name)
    assert expired.data["reason"] == "ack_lease_lapsed"
    current = [a for a in db.assignments.values() if a["ended_at"] is None]
    assert [a["agency_id"] for a in current] != [first["agency_id"]]
    assert len(current) == 1


async def test_the_challenger_variant_has_its_own_threshold() -> None:
    policy = PlacementPolicy(challenger={"percent": 100, "threshold_days": 60})
    db, clock = Database(), FakeClock()
    db.agencies["agency-north"] = agency_row("agency-north")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1")
    await worker(db, clock, policy).step()
    assert db.cases[(LENDER, "L-1")]["placement_note"] == "below_threshold"


async def test_a_claim_whose_lease_ran_out_and_was_taken_over_records_nothing() -> None:
    db, clock = Database(), FakeClock()
    db.clock = clock
    db.agencies["agency-north"] = agency_row("agency-north")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1")
    stale = await claim(db, clock, uuid4())
    clock.advance(LEASE + timedelta(seconds=1))
    fresh = await claim(db, clock, uuid4())
    assert fresh.keys == stale.keys == [(LENDER, "L-1")]

    assert await decide(db, clock, stale) == 0
    assert (db.assignments, db.outbox, db.deliveries) == ({}, [], {})
    assert db.cases[(LENDER, "L-1")]["placement_due_at"] is not None

    assert await decide(db, clock, fresh) == 1
    assert len(db.assignments) == 1
    case = db.cases[(LENDER, "L-1")]
    assert (case["agency_id"], case["lease_until"], case["claim_token"]) == (
        "agency-north",
        None,
        None,
    )
    assert len(db.events(ASSIGNMENT_PLACED.name)) == 1


async def test_a_claim_whose_lease_ran_out_records_nothing_even_before_a_new_claim() -> None:
    db, clock = Database(), FakeClock()
    db.clock = clock
    db.agencies["agency-north"] = agency_row("agency-north")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1")
    stale = await claim(db, clock, uuid4())
    clock.advance(LEASE)
    assert await decide(db, clock, stale) == 0
    assert not db.assignments
    clock.advance(timedelta(seconds=1))
    assert await worker(db, clock).step() == 1  # the next claim decides it


async def test_a_case_claimed_by_a_worker_that_died_is_decided_when_its_lease_ends() -> None:
    db, clock = Database(), FakeClock()
    db.agencies["agency-north"] = agency_row("agency-north")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1")
    placing = worker(db, clock)
    await claim(db, clock, uuid4())  # then the worker dies
    assert await placing.step() == 0
    clock.advance(LEASE)
    assert await placing.step() == 0  # held to the end of its lease
    clock.advance(timedelta(seconds=1))
    assert await placing.step() == 1
    assert db.cases[(LENDER, "L-1")]["status"] == "placed"


async def test_a_case_changed_after_its_claim_is_claimed_afresh_and_decided_as_it_is_then() -> None:
    db, clock = Database(), FakeClock()
    db.clock = clock
    db.agencies["agency-north"] = agency_row("agency-north")
    db.cases[(LENDER, "L-1")] = case_row(LENDER, "L-1")
    claimed = await claim(db, clock, uuid4())
    async with FakeUnitOfWork(db) as uow:  # a hold arrives meanwhile
        await uow.cases.change((LENDER, "L-1"), holds={"h-1": "hardship"}, updated_at=clock.now)
        await uow.commit()

    assert await decide(db, clock, claimed) == 0  # that write ended the claim
    assert await worker(db, clock).step() == 1  # claimed again at once
    case = db.cases[(LENDER, "L-1")]
    assert (case["status"], case["placement_note"]) == ("excluded", "hold:hardship")
    assert not db.assignments


async def test_a_loan_a_hold_recalled_may_go_back_to_its_agency_once_lifted() -> None:
    """A dispute (or another hold) recalled it: not the agency's doing, so the agency is not
    passed over when the hold is lifted; one that handed it back or let it lapse still is."""
    db, clock = Database(), FakeClock()
    db.agencies["agency-north"] = agency_row("agency-north")
    for n, (status, reason) in enumerate(
        [("recalled", "dispute"), ("recalled", "hold:hardship"), ("recalled", "illegal_debt")]
    ):
        loan = f"L-{n}"
        db.cases[(LENDER, loan)] = case_row(LENDER, loan)
        await worker(db, clock).step()
        first = next(a for a in db.assignments.values() if a["loan_id"] == loan)
        first.update(ended_at=clock.now, status=status, end_reason=reason)
        db.cases[(LENDER, loan)].update(agency_id=None, placement_due_at=clock.now)
        await worker(db, clock).step()
        assert db.cases[(LENDER, loan)]["agency_id"] == "agency-north", reason
    for status, reason in [("recalled", "lender_recall"), ("returned", "dispute")]:
        loan = f"L-{status}"
        db.cases[(LENDER, loan)] = case_row(LENDER, loan)
        await worker(db, clock).step()
        first = next(a for a in db.assignments.values() if a["loan_id"] == loan)
        first.update(ended_at=clock.now, status=status, end_reason=reason)
        db.cases[(LENDER, loan)].update(agency_id=None, placement_due_at=clock.now)
        await worker(db, clock).step()
        case = db.cases[(LENDER, loan)]
        assert (case["agency_id"], case["placement_note"]) == (None, "no_eligible_agency")
