"""Disputes hold collection and their resolution ends it or resumes it, on real Kafka and
PostgreSQL: the borrower's dispute (intake's ``hold-placed`` with hold id ``dispute:<id>``)
ends the agency's placement and pauses placement until intake's ``hold-lifted`` of that id,
when the loan may go back to that agency;
an agency's own dispute holds the loan under ``agency-dispute:<id>`` (the id every party
derives from its ``dispute-raised`` event) until intake's ``hold-lifted`` of that id; an upheld
dispute closes the loan (``loan-closed``, reason ``dispute_upheld``) and the placement ends as
for any closure."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from shared.contact_rules.sources import dispute_hold
from shared.events.assignments import DisputeRaised
from shared.events.catalog import DISPUTE_RAISED, HOLD_LIFTED, HOLD_PLACED, LOAN_CLOSED
from shared.events.models import ClosureReason, HoldLifted, HoldPlaced, HoldReason, LoanClosed
from shared.events.topics import Topic
from tests.harness import eventually
from tests.integration.agency_gateway.stack import NORTH, SOUTH, GatewayStack
from tests.integration.agency_gateway.test_borrower_limits import Announced, announced
from tests.integration.agency_gateway.test_handoff import notice_sent

INTAKE = "/collections/intake"


def other(agency_id: str) -> str:
    return SOUTH if agency_id == NORTH else NORTH


async def hold(stack: GatewayStack, loan_id: str, hold_id: str) -> None:
    """Intake's hold of a dispute (``dispute:<id>`` for the borrower's)."""
    placed = HoldPlaced(
        loan_id=loan_id, hold_id=hold_id, reason=HoldReason.DISPUTE, placed_at=datetime.now(UTC)
    )
    await stack.publish(HOLD_PLACED, loan_id, placed, source=INTAKE)


async def lift(stack: GatewayStack, loan_id: str, hold_id: str) -> None:
    """Intake's lift of a hold: the lender rejected the dispute."""
    lifted = HoldLifted(loan_id=loan_id, hold_id=hold_id, lifted_at=datetime.now(UTC))
    await stack.publish(HOLD_LIFTED, loan_id, lifted, source=INTAKE)


async def gone(loan: Announced) -> bool:
    """The agency's assignment ended: its contact check is 410."""
    return (await loan.check("sms"))[0] == 410


async def raise_dispute(stack: GatewayStack, loan: Announced) -> str:
    """The holding agency reports the borrower disputes the debt; the hold id it puts."""
    dispute_id = f"D-{uuid4().hex[:8]}"
    raised = await stack.gateway.post(
        f"/v1/assignments/{loan.assignment['assignment_id']}/disputes",
        json={"dispute_id": dispute_id, "reason": "the borrower says it is not theirs"},
        headers=stack.agency(loan.assignment["agency_id"]),
    )
    assert raised.status_code == 201, raised.text
    found = await stack.events(
        Topic.AGENCY_ACTIVITIES,
        loan.loan_id,
        lambda events: any(e.type == DISPUTE_RAISED.name for e in events),
    )
    event = next(e for e in found if e.type == DISPUTE_RAISED.name)
    hold_id = dispute_hold(DisputeRaised.model_validate(event.data)).hold_id
    assert hold_id == f"agency-dispute:{dispute_id}"
    return hold_id


async def replaced(stack: GatewayStack, loan: Announced, agency_id: str) -> Announced:
    """The loan placed again with ``agency_id`` and the borrower told: its contact check."""
    current = await stack.placed(loan.loan_id)
    assert current["agency_id"] == agency_id
    again = Announced(stack, loan.borrower_id)
    again.loan_id, again.assignment, again.borrower_ref = loan.loan_id, current, loan.borrower_ref
    await notice_sent(stack, loan.loan_id, agency_id)
    await eventually(lambda: allowed(again))
    return again


async def test_a_borrowers_dispute_ends_the_placement_until_its_hold_is_lifted(
    stack: GatewayStack,
) -> None:
    loan = await announced(stack)
    holder = loan.assignment["agency_id"]
    hold_id = f"dispute:DSP-{uuid4().hex[:8]}"
    await hold(stack, loan.loan_id, hold_id)

    await eventually(lambda: gone(loan))  # the holding agency's check refuses: 410
    paused = await stack.settled(loan.loan_id, "excluded")
    assert (paused["note"], paused["current"]) == ("dispute", None)  # no agency holds it
    assert [p["end_reason"] for p in paused["placements"]] == ["dispute"]

    await lift(stack, loan.loan_id, hold_id)
    resumed = await replaced(stack, loan, holder)  # back: the hold, not the agency, ended it
    status, answer = await resumed.check("sms")
    assert (status, answer["allowed"]) == (200, True)


async def test_an_agencys_dispute_refuses_contact_until_intake_lifts_its_hold(
    stack: GatewayStack,
) -> None:
    loan = await announced(stack)
    hold_id = await raise_dispute(stack, loan)
    refused = await loan.refused("sms")
    assert refused is not None
    assert refused["rules"] == ["POL-01"]

    await lift(stack, loan.loan_id, hold_id)
    status, answer = await eventually(lambda: allowed(loan))
    assert (status, answer["allowed"]) == (200, True)
    assert (await stack.placed(loan.loan_id))["agency_id"] == loan.assignment["agency_id"]


async def allowed(loan: Announced) -> tuple[int, dict[str, Any]] | None:
    status, answer = await loan.check("sms")
    return (status, answer) if answer.get("allowed") is True else None


async def test_an_agencys_dispute_pauses_placement_until_its_hold_is_lifted(
    stack: GatewayStack,
) -> None:
    loan = await announced(stack)
    holder = loan.assignment["agency_id"]
    hold_id = await raise_dispute(stack, loan)
    handed_back = await stack.gateway.post(
        f"/v1/assignments/{loan.assignment['assignment_id']}/return",
        json={"reason": "disputed"},
        headers=stack.agency(holder),
    )
    assert handed_back.status_code == 200, handed_back.text
    paused = await stack.settled(loan.loan_id, "excluded")
    assert (paused["note"], paused["current"]) == ("dispute", None)  # not placed elsewhere

    await lift(stack, loan.loan_id, hold_id)
    await replaced(stack, loan, other(holder))  # never back to one that handed it back


async def test_an_upheld_dispute_closes_the_loan_and_ends_its_placement(
    stack: GatewayStack,
) -> None:
    loan = await announced(stack)
    await raise_dispute(stack, loan)
    closed = LoanClosed(
        loan_id=loan.loan_id, reason=ClosureReason.DISPUTE_UPHELD, closed_at=datetime.now(UTC)
    )
    await stack.publish(LOAN_CLOSED, loan.loan_id, closed, source=INTAKE)

    await eventually(lambda: gone(loan))
    ended = await stack.settled(loan.loan_id, "ended")
    assert (ended["note"], ended["current"]) == ("closed:dispute_upheld", None)
    assert [p["end_reason"] for p in ended["placements"]] == ["closed:dispute_upheld"]
